"""One vocabulary of service items and parts, with labels in both languages.

The portal form offers these as one-tap chips and stores their codes; the CSV importer and the
API accept the codes (and free text); the API docs list them; the report shows each under its
label in the reader's language. The codes, every name each item goes by and how a typed list is
split live in `carhistory_verifier.service_items`, which `carhistory-submit` shares; this module
adds the translated labels.
"""

from carhistory_verifier.service_items import (
    CODES,
    NAMES,
    canonical_items,
    item_code,
    read_vocabulary_items,
    split_items,
)
from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = [
    "CODES",
    "NAMES",
    "ServiceItem",
    "canonical_items",
    "item_code",
    "item_label",
    "read_vocabulary_items",
    "split_items",
    "vocabulary_markdown",
]


class ServiceItem(models.TextChoices):
    OIL = "oil", _("engine oil")
    OIL_FILTER = "oil_filter", _("oil filter")
    AIR_FILTER = "air_filter", _("air filter")
    CABIN_FILTER = "cabin_filter", _("cabin filter")
    FUEL_FILTER = "fuel_filter", _("fuel filter")
    SPARK_PLUGS = "spark_plugs", _("spark plugs")
    BRAKE_PADS = "brake_pads", _("brake pads")
    BRAKE_DISCS = "brake_discs", _("brake discs")
    BRAKE_FLUID = "brake_fluid", _("brake fluid")
    COOLANT = "coolant", _("coolant")
    TRANSMISSION_FLUID = "transmission_fluid", _("transmission fluid")
    TYRES = "tyres", _("tyres")
    TYRE_ROTATION = "tyre_rotation", _("tyre rotation")
    ALIGNMENT = "alignment", _("wheel alignment")
    BATTERY = "battery", _("battery")
    WIPERS = "wipers", _("wipers")
    TIMING_BELT = "timing_belt", _("timing belt")
    AIRBAGS = "airbags", _("airbags")
    BONNET = "bonnet", _("bonnet")
    BUMPER = "bumper", _("bumper")
    WINDSCREEN = "windscreen", _("windscreen")


def item_label(text: object) -> str:
    """The item in the reader's language when it is in the vocabulary, else as written."""
    code = item_code(text)
    if code is not None:
        return str(ServiceItem(code).label)
    return "" if text is None else str(text)


def vocabulary_markdown() -> str:
    """The vocabulary as a Markdown list, for the API docs."""
    return "\n".join(f"- `{item.value}`: {item.label}" for item in ServiceItem)
