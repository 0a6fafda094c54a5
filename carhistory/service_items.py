"""One vocabulary of service items and parts, with labels in both languages.

The portal form offers these as one-tap chips and stores their codes; the CSV importer and the
API accept the codes (and free text); the API docs list them; the report shows each under its
label in the reader's language. Entries already in the log say "oil filter", "oil_filter" or
"机油滤清器" for the same thing: `item_code` reads all three, so the report names them alike
without any logged entry changing.

Free text typed by a person is split on the separators people type in either language: the
ASCII and full-width comma, the ideographic enumeration comma and both semicolons.
"""

import re

from django.db import models
from django.utils.translation import gettext_lazy as _

# `,` `，` `、` `;` `；`: "雨刮片，空调滤芯" is two items, not one.
ITEM_SEPARATORS = re.compile(r"[,\uff0c\u3001;\uff1b]")


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


# Other names the same item goes by, beyond its code and its labels in each language.
_ALIASES = {
    ServiceItem.OIL: ("oil", "engine oil", "oil change", "机油", "更换机油"),
    ServiceItem.OIL_FILTER: ("oil filter", "机油滤清器", "机滤", "机油滤芯"),
    ServiceItem.AIR_FILTER: ("air filter", "空气滤清器", "空滤", "空气滤芯"),
    ServiceItem.CABIN_FILTER: ("cabin filter", "pollen filter", "空调滤清器", "空调滤芯"),
    ServiceItem.FUEL_FILTER: ("fuel filter", "汽油滤清器", "汽油滤芯"),
    ServiceItem.SPARK_PLUGS: ("spark plugs", "spark plug", "火花塞"),
    ServiceItem.BRAKE_PADS: ("brake pads", "刹车片"),
    ServiceItem.BRAKE_DISCS: ("brake discs", "brake rotors", "刹车盘"),
    ServiceItem.BRAKE_FLUID: ("brake fluid", "刹车油", "制动液"),
    ServiceItem.COOLANT: ("coolant", "antifreeze", "冷却液", "防冻液"),
    ServiceItem.TRANSMISSION_FLUID: ("transmission fluid", "gearbox oil", "变速箱油"),
    ServiceItem.TYRES: ("tyres", "tires", "轮胎"),
    ServiceItem.TYRE_ROTATION: ("tyre rotation", "tyres rotated", "tire rotation", "轮胎换位"),
    ServiceItem.ALIGNMENT: ("wheel alignment", "alignment", "四轮定位"),
    ServiceItem.BATTERY: ("battery", "蓄电池", "电瓶"),
    ServiceItem.WIPERS: ("wipers", "wiper blades", "雨刮片", "雨刮"),
    ServiceItem.TIMING_BELT: ("timing belt", "正时皮带"),
    ServiceItem.AIRBAGS: ("airbags", "airbag", "安全气囊", "气囊"),
    ServiceItem.BONNET: ("bonnet", "hood", "发动机盖", "引擎盖"),
    ServiceItem.BUMPER: ("bumper", "保险杠"),
    ServiceItem.WINDSCREEN: ("windscreen", "windshield", "前挡风玻璃"),
}


def _key(text: str) -> str:
    return re.sub(r"[\s_\-]+", " ", text).strip().casefold()


_BY_NAME = {
    _key(name): item for item in ServiceItem for name in (item.value, *_ALIASES.get(item, ()))
}


def split_items(text: str) -> list[str]:
    """Items typed as one line, split on `,` `，` `、` `;` `；`, trimmed, empties dropped."""
    return [item.strip() for item in ITEM_SEPARATORS.split(text or "") if item.strip()]


def item_code(text: object) -> str | None:
    """The vocabulary code for an item written any way we know, or None for free text."""
    if not isinstance(text, str):
        return None
    item = _BY_NAME.get(_key(text))
    return item.value if item else None


def canonical_items(texts: list[str]) -> list[str]:
    """Known items as their codes, the rest as typed: what the form and the CSV store."""
    return [item_code(text) or text for text in texts]


def item_label(text: object) -> str:
    """The item in the reader's language when it is in the vocabulary, else as written."""
    code = item_code(text)
    if code is not None:
        return str(ServiceItem(code).label)
    return "" if text is None else str(text)


def vocabulary_markdown() -> str:
    """The vocabulary as a Markdown list, for the API docs."""
    return "\n".join(f"- `{item.value}`: {item.label}" for item in ServiceItem)
