"""One way to write numbers, distances and lists per language, for every page, alert and card.

The report once showed "30120 公里" in a card beside "61,180 公里" in an alert because the
template filter and the Python messages grouped digits differently. Everything that writes a
distance now calls `km`, and lists are joined with the reader's own separator: Chinese text
takes the ideographic enumeration comma "、", never an ASCII comma.
"""

from collections.abc import Iterable

from django.utils.translation import get_language
from django.utils.translation import gettext as _


def is_chinese() -> bool:
    return (get_language() or "").lower().startswith("zh")


def number(value: int) -> str:
    """Digits grouped in thousands with a comma, as both Chinese and English reports print them."""
    return f"{value:,}"


def km(value: int) -> str:
    """A distance with its unit: "61,180 km", "61,180 公里"."""
    return _("%(km)s km") % {"km": number(value)}


def joined(items: Iterable[str]) -> str:
    """A list read as one phrase: "oil, oil filter" or "机油、机油滤清器"."""
    separator = "、" if is_chinese() else ", "
    return separator.join(item for item in items if item)
