"""The vocabulary of service items and parts, and how a typed list of them is read.

Plain Python with no Django, because two sides read item lists the same way: the site (the
portal's form and CSV upload, the report) and `carhistory-submit`, which a source runs on its
own machine to sign statements built from its CSV rows. The site's `carhistory.service_items`
adds the translated labels on top of these codes; a test keeps its labels equal to the
English and Chinese names below.

Entries already in the log say "oil filter", "oil_filter" or "机油滤清器" for the same thing:
`item_code` reads all three, so the report names them alike without any logged entry changing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# code -> (English label, Chinese label, other names the same item goes by).
NAMES: dict[str, tuple[str, ...]] = {
    "oil": ("engine oil", "机油", "oil", "oil change", "更换机油"),
    "oil_filter": ("oil filter", "机油滤清器", "机滤", "机油滤芯"),
    "air_filter": ("air filter", "空气滤清器", "空滤", "空气滤芯"),
    "cabin_filter": ("cabin filter", "空调滤清器", "pollen filter", "空调滤芯"),
    "fuel_filter": ("fuel filter", "燃油滤清器", "汽油滤清器", "汽油滤芯"),
    "spark_plugs": ("spark plugs", "火花塞", "spark plug"),
    "brake_pads": ("brake pads", "刹车片"),
    "brake_discs": ("brake discs", "刹车盘", "brake rotors"),
    "brake_fluid": ("brake fluid", "刹车油", "制动液"),
    "coolant": ("coolant", "冷却液", "antifreeze", "防冻液"),
    "transmission_fluid": ("transmission fluid", "变速箱油", "gearbox oil"),
    "tyres": ("tyres", "轮胎", "tires"),
    "tyre_rotation": ("tyre rotation", "轮胎换位", "tyres rotated", "tire rotation"),
    "alignment": ("wheel alignment", "四轮定位", "alignment"),
    "battery": ("battery", "蓄电池", "电瓶"),
    "wipers": ("wipers", "雨刮片", "wiper blades", "雨刮"),
    "timing_belt": ("timing belt", "正时皮带"),
    "airbags": ("airbags", "安全气囊", "airbag", "气囊"),
    "bonnet": ("bonnet", "发动机盖", "hood", "引擎盖"),
    "bumper": ("bumper", "保险杠"),
    "windscreen": ("windscreen", "前挡风玻璃", "windshield"),
}
CODES = tuple(NAMES)

# `,` `，` `、` `;` `；`: "雨刮片，空调滤芯" is two items, not one. `|` is the list separator
# of a CSV cell (docs/CSV.md).
ITEM_SEPARATORS = re.compile(r"[,\uff0c\u3001;\uff1b]")
CSV_ITEM_SEPARATORS = re.compile(r"[|,\uff0c\u3001;\uff1b]")


def _key(text: str) -> str:
    # "Oil-Filter", "oil_filter" and " oil  filter " are one name.
    return re.sub(r"[\s_\-]+", " ", text).strip().casefold()


_CODE_BY_NAME = {_key(name): code for code, names in NAMES.items() for name in (code, *names)}


def split_items(text: str | None, *, separators: re.Pattern[str] = ITEM_SEPARATORS) -> list[str]:
    """Items typed as one line, split on `,` `，` `、` `;` `；`, trimmed, empties dropped."""
    return [item.strip() for item in separators.split(text or "") if item.strip()]


def item_code(text: object) -> str | None:
    """The vocabulary code for an item written any way we know, or None for free text."""
    if not isinstance(text, str):
        return None
    return _CODE_BY_NAME.get(_key(text))


def canonical_items(texts: Iterable[str]) -> list[str]:
    """Known items as their codes, the rest as typed, each once: what the form stores."""
    return list(dict.fromkeys(item_code(text) or text for text in texts))


@dataclass(frozen=True)
class VocabularyReading:
    """A list of items read strictly against the vocabulary."""

    codes: list[str]  # the known items as codes, each once, in the order written
    unknown: list[str]  # the items the vocabulary does not know, as written


def read_vocabulary_items(text: str | None) -> VocabularyReading:
    """A CSV cell of items (version 2 of docs/CSV.md): split on `|` and on every separator
    people type, each item named by its code or any of its names in either language."""
    items = split_items(text, separators=CSV_ITEM_SEPARATORS)
    return VocabularyReading(
        codes=canonical_items(code for code in map(item_code, items) if code),
        unknown=[item for item in items if item_code(item) is None],
    )
