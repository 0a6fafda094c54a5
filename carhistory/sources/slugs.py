"""Public ids (slugs) for sources, readable whatever script the name is written in.

A source's slug is its name in the log (`"source": "bj-chaoyang-auto-repair"`) and in its key
names, so it must be ASCII. A Chinese name is spelt in pinyin, a syllable per character
(`浦东汽修` -> `pu-dong-qi-xiu`), rather than replaced by the kind of
source, so that a reader of the log can still tell sources apart and recognise one.
"""

from django.utils.text import slugify
from pypinyin import Style, lazy_pinyin

SLUG_MAX_LENGTH = 48  # leaves room for a "-1a2b3c" suffix within the model's 64


def slug_from_name(name: str) -> str:
    """The slug a name reads as: pinyin for Chinese characters, Latin letters and digits kept,
    everything else a separator. Empty when nothing readable is left."""
    syllables = lazy_pinyin(name, style=Style.NORMAL, errors=lambda text: text)
    slug = slugify(" ".join(syllables)).replace("_", "-")
    if len(slug) > SLUG_MAX_LENGTH:
        # Cut between syllables, never inside one.
        slug = slug[: SLUG_MAX_LENGTH + 1].rsplit("-", 1)[0]
    return slug.strip("-")
