"""Text as the database and UTF-8 can hold it, and the sender's text as a message may quote it.

JSON may spell a lone UTF-16 surrogate (`"\\ud800"`) and U+0000; neither survives the trip into
PostgreSQL or back out as UTF-8, so every text field refuses them with a field error instead of
failing deep inside the database driver or the response renderer.
"""

import re

from django.utils.translation import gettext as _

# One C-level scan instead of a Python loop over every character: every text of every
# submission passes here.
_SURROGATE = re.compile("[\ud800-\udfff]")
QUOTE_MAX_LENGTH = 40


def unstorable_reason(text: str) -> str | None:
    """Why `text` cannot be stored as sent, or None when it can."""
    if "\x00" in text:
        return _("Remove the NUL character (U+0000).")
    if _SURROGATE.search(text):
        return _("Remove the lone UTF-16 surrogate: send text as valid Unicode.")
    return None


def is_storable(text: str) -> bool:
    return unstorable_reason(text) is None


def escaped(text: str) -> str:
    """`text` with each character the database or UTF-8 cannot hold written as U+XXXX."""
    return "".join(char if is_storable(char) else shown_character(char) for char in text)


def quoted(text: str, *, limit: int = QUOTE_MAX_LENGTH) -> str:
    """`text` safe to echo back (a field name the sender made up): escaped, and no longer than
    `limit` characters."""
    shown = escaped(text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def shown_character(char: str) -> str:
    """One character as a message shows it: itself when printable ASCII, else U+XXXX."""
    if char.isascii() and char.isprintable():
        return char
    return f"U+{ord(char):04X}"
