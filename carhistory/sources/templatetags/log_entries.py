"""How a page names a log entry that a request may only have enqueued: `#index` once the
sequencer has integrated it, "pending" until then (`ledger.selectors.with_log_indexes` looks the
index up)."""

from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _

register = template.Library()


def log_entry_label(index: int | None) -> str:
    """Plain text, for the admin and messages."""
    return _("pending") if index is None else f"#{index}"


@register.filter
def log_entry(index: int | None) -> str:
    """`#index`, or a "pending" badge while the entry waits for the sequencer."""
    if index is None:
        return format_html('<span class="badge warn">{}</span>', _("pending"))
    return f"#{index}"
