"""One vocabulary of service items and parts, and the names and numbers a Chinese buyer reads."""

import pytest
from django.utils import translation

from carhistory.service_items import (
    CODES,
    NAMES,
    ServiceItem,
    canonical_items,
    item_code,
    item_label,
    split_items,
)
from carhistory.vehicles import formats, names


@pytest.mark.parametrize(
    ("typed", "items"),
    [
        ("雨刮片，空调滤芯", ["雨刮片", "空调滤芯"]),
        ("oil, oil filter", ["oil", "oil filter"]),
        ("机油、机滤;刹车片；火花塞", ["机油", "机滤", "刹车片", "火花塞"]),
        (" , ，", []),
    ],
)
def test_free_text_splits_on_every_separator_people_type(typed, items):
    assert split_items(typed) == items


@pytest.mark.parametrize(
    "written", ["oil filter", "oil_filter", "Oil-Filter", "机油滤清器", "机滤"]
)
def test_an_item_written_any_known_way_is_one_code(written):
    assert item_code(written) == ServiceItem.OIL_FILTER


def test_free_text_is_kept_as_typed():
    assert canonical_items(["cabin lamp", "机油"]) == ["cabin lamp", "oil"]


def test_an_item_reads_in_the_readers_language():
    assert item_label("oil_filter") == "oil filter"
    with translation.override("zh-hans"):
        assert item_label("oil filter") == "机油滤清器"
        assert item_label("cabin lamp") == "cabin lamp"


def test_every_item_has_a_chinese_label():
    with translation.override("zh-hans"):
        untranslated = [item.value for item in ServiceItem if str(item.label).isascii()]
    assert untranslated == []


def test_the_site_and_carhistory_submit_share_one_vocabulary():
    # The labels are gettext strings here and plain names in the verifier package (which
    # cannot import Django): each item's English and Chinese label must be its first two names
    # there, so a CSV read by `carhistory-submit` knows every name the site shows.
    assert [item.value for item in ServiceItem] == list(CODES)
    for item in ServiceItem:
        english, chinese = NAMES[item.value][:2]
        assert str(item.label) == english
        with translation.override("zh-hans"):
            assert str(item.label) == chinese


def test_every_label_in_either_language_reads_back_as_its_code():
    for item in ServiceItem:
        assert item_code(str(item.label)) == item.value
        with translation.override("zh-hans"):
            assert item_code(str(item.label)) == item.value


def test_one_number_format_in_both_languages():
    assert formats.km(30120) == "30,120 km"
    with translation.override("zh-hans"):
        assert formats.km(30120) == "30,120 公里"
        assert formats.joined(["机油", "机油滤清器"]) == "机油、机油滤清器"
    assert formats.joined(["oil", "oil filter"]) == "oil, oil filter"


def test_names_are_chinese_for_a_chinese_reader_only():
    assert names.localised("FAW-Volkswagen") == "FAW-Volkswagen"
    with translation.override("zh-hans"):
        assert names.localised("FAW-Volkswagen") == "一汽-大众"
        assert names.localised("United States") == "美国"
        assert names.localised("Sagitar 1.4T") == "速腾 1.4T"
        assert names.localised("Sagitarius") == "Sagitarius"
        assert names.localised("Unheard-of Motors") == "Unheard-of Motors"
