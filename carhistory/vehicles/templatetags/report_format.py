"""Template filters that write numbers and lists the one way `formats.py` does."""

from django import template

from carhistory.vehicles import formats

register = template.Library()


@register.filter
def km(value: object) -> str:
    """`{{ reading|km }}`: "61,180 km" or "61,180 公里"."""
    return formats.km(value) if isinstance(value, int) and not isinstance(value, bool) else ""
