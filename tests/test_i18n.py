"""The site speaks Simplified Chinese: the catalogue is complete and the pages use it."""

import ast
import gettext
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from carhistory_verifier import note
from django.conf import settings

from carhistory.sources.models import Organisation
from ledger import witnessing
from tests.vehicles.logbook import VIN, Logbook

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
COMPILED = CATALOGUE.with_suffix(".mo")

# What must survive translation untouched: Python placeholders (a missing or renamed one makes
# `%` raise at render time) and the HTML tags the templates' JavaScript looks for.
PRESERVED = re.compile(r"%\(\w+\)[-+ #0]*\d*(?:\.\d+)?[sdf]|%[sd]|\{\w*\}|<[^>]+>")


@dataclass
class Message:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    translations: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False


def read_catalogue(path: Path) -> list[Message]:
    """Every message of a .po file, header included, read with the standard library only."""
    messages: list[Message] = []
    current: Message | None = None
    target: str | None = None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if current is not None:
                messages.append(current)
            current, target = None, None
            continue
        current = current or Message()
        if line.startswith("#~"):
            current.obsolete = True
        elif line.startswith("#,"):
            current.flags.update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            _append(current, target, ast.literal_eval(line))
        else:
            keyword, _space, text = line.partition(" ")
            target = keyword
            if keyword.startswith("msgstr"):
                current.translations.append("")
            elif keyword == "msgid_plural":
                current.msgid_plural = ""
            elif keyword == "msgctxt":
                current.msgctxt = ""
            _append(current, target, ast.literal_eval(text))
    return messages


def _append(message: Message, target: str | None, text: str) -> None:
    if target == "msgid":
        message.msgid += text
    elif target == "msgctxt":
        message.msgctxt = (message.msgctxt or "") + text
    elif target == "msgid_plural":
        message.msgid_plural = (message.msgid_plural or "") + text
    elif target and target.startswith("msgstr"):
        message.translations[-1] += text


@pytest.fixture(scope="module")
def catalogue() -> list[Message]:
    return read_catalogue(CATALOGUE)


def _translated(catalogue: list[Message]) -> list[Message]:
    return [message for message in catalogue if message.msgid and not message.obsolete]


def test_catalogue_declares_chinese_with_one_plural_form(catalogue):
    header = catalogue[0]
    assert header.msgid == ""
    assert "Language: zh_Hans\n" in header.translations[0]
    assert "charset=UTF-8" in header.translations[0]
    assert "Plural-Forms: nplurals=1; plural=0;" in header.translations[0]


def test_every_message_is_translated(catalogue):
    untranslated = [m.msgid for m in _translated(catalogue) if not all(m.translations)]
    assert untranslated == []


def test_no_message_is_fuzzy(catalogue):
    # gettext skips fuzzy entries when compiling: the page would quietly stay in English.
    assert [m.msgid for m in catalogue if "fuzzy" in m.flags] == []


def test_plural_messages_have_exactly_one_chinese_form(catalogue):
    plurals = [m for m in _translated(catalogue) if m.msgid_plural is not None]
    assert plurals
    assert [m.msgid for m in plurals if len(m.translations) != 1] == []


def test_translations_keep_every_placeholder_and_tag(catalogue):
    changed = [
        (m.msgid, translation)
        for m in _translated(catalogue)
        for translation in m.translations
        if sorted(PRESERVED.findall(m.msgid)) != sorted(PRESERVED.findall(translation))
    ]
    assert changed == []


def test_translations_are_chinese(catalogue):
    # Words that read the same in both languages (API, SHA-256, carhistory) are the exceptions.
    kept = {"API", "SHA-256", "carhistory"}
    # A translation with no letters at all (a list separator "、", a format "%(a)s（%(b)s）") is
    # punctuation, not English.
    english = [
        m.msgid
        for m in _translated(catalogue)
        if m.msgid not in kept
        and not re.search(r"[\u4e00-\u9fff]", m.translations[0])
        and re.search(r"[A-Za-z]", PRESERVED.sub("", m.translations[0]))
    ]
    assert english == []


def test_compiled_catalogue_matches_its_source(catalogue):
    # `make` compiles the .mo the site serves; a stale one shows old or missing translations.
    assert COMPILED.is_file(), "run `make messages` to compile the catalogue"
    with COMPILED.open("rb") as compiled:
        served = gettext.GNUTranslations(compiled)
    stale = [
        m.msgid
        for m in _translated(catalogue)
        if m.msgid_plural is None and _served(served, m) != m.translations[0]
    ]
    assert stale == [], "run `make messages` to recompile the catalogue"


def _served(served: gettext.GNUTranslations, message: Message) -> str:
    if message.msgctxt is None:
        return served.gettext(message.msgid)
    return served.pgettext(message.msgctxt, message.msgid)


@pytest.mark.django_db
def test_search_page_speaks_chinese_when_the_browser_asks(client):
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9,en;q=0.8").content.decode()
    assert '<html lang="zh-hans">' in html
    assert "查询二手车历史" in html
    assert "查询 VIN" in html
    assert "Check a VIN" not in html


@pytest.mark.django_db
def test_search_page_speaks_english_by_default(client):
    html = client.get("/").content.decode()
    assert '<html lang="en">' in html
    assert "Check a VIN" in html


@pytest.mark.django_db
def test_language_cookie_chooses_chinese_over_the_browser(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="zh-hans">' in html
    assert "查询 VIN" in html


@pytest.mark.django_db
def test_language_switcher_remembers_chinese(client):
    response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert response.status_code == 302
    html = client.get("/").content.decode()
    assert '<html lang="zh-hans">' in html


@pytest.mark.django_db
def test_vin_error_is_explained_in_chinese_with_its_numbers(client):
    response = client.get("/vehicles/ABC123/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 400
    assert "车辆识别代号（VIN）有 17 个字符；您输入的有 6 个。" in response.content.decode()


@pytest.mark.django_db
def test_report_reads_in_chinese_from_summary_to_verifier(client, log_key):
    logbook = Logbook()
    dealer = logbook.source("anting-vw-4s", kind="dealer_4s")
    logbook.event(dealer, "service", "2021-04-15", odometer_km=61180, items=["oil"])
    logbook.event(dealer, "odometer", "2022-05-09", odometer_km=29450)

    html = client.get(f"/vehicles/{VIN}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    assert f"{VIN} · 车辆历史" in html
    assert "一汽-大众" in html  # the maker decoded from the VIN, named in Chinese
    assert "61,180 公里保养：机油。" in html
    assert "（4S店）" in html
    assert "里程表读数倒退（疑似调表）：2021-04-15 为 61,180 公里" in html
    # verify.js and the chart take their words from the page, so they speak Chinese too.
    verify_messages = json.loads(_json_script(html, "verify-messages"))
    assert verify_messages["checking"] == "正在验证…"
    assert verify_messages["platform_entry"] == "已验证 · 由平台写入并签名"
    assert "里程回调：低于更早的读数" in json.loads(_json_script(html, "chart-messages")).values()


@pytest.mark.django_db
def test_chinese_pages_name_witnesses_by_their_chinese_title(client, log_key):
    # Display only: the page still matches cosignatures by the key's name.
    registry, insurers = (
        note.CosignatureSigner.generate(name).verifier().key_string()
        for name in ("registry.example/w", "insurers.example/w")
    )
    witnessing.add_witness(
        verifier_key=registry,
        url="https://registry.example",
        title="Shanghai Vehicle Registry",
        title_zh_hans="上海市机动车登记所",
    )
    witnessing.add_witness(
        verifier_key=insurers, url="https://insurers.example", title="Insurers' Association"
    )
    logbook = Logbook()
    logbook.event(logbook.source("anting-vw-4s"), "odometer", "2022-05-09", odometer_km=1)

    def cosigners(language: str) -> list[tuple[str, str]]:
        html = client.get(f"/vehicles/{VIN}/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
        config = json.loads(_json_script(html, "verify-config"))
        return [(cosigner["name"], cosigner["title"]) for cosigner in config["cosigners"]]

    assert cosigners("zh-hans") == [
        ("registry.example/w", "上海市机动车登记所"),
        # None given: the English title rather than nothing.
        ("insurers.example/w", "Insurers' Association"),
    ]
    assert cosigners("en") == [
        ("registry.example/w", "Shanghai Vehicle Registry"),
        ("insurers.example/w", "Insurers' Association"),
    ]


def _json_script(html: str, element_id: str) -> str:
    return re.search(rf'<script id="{element_id}"[^>]*>(.*?)</script>', html, re.S).group(1)


@pytest.mark.django_db
def test_chinese_pages_name_sources_by_their_chinese_name(client, log_key):
    logbook = Logbook()
    dealer = logbook.source("anting-vw-4s")
    Organisation.objects.filter(slug="anting-vw-4s").update(name_zh_hans="上海安亭大众4S店")
    garage = logbook.source("pudong-garage", kind="repair_shop")
    logbook.event(dealer, "odometer", "2022-05-09", odometer_km=1)
    logbook.event(garage, "odometer", "2023-05-09", odometer_km=2)

    def source_names(language: str) -> list[str]:
        html = client.get(f"/vehicles/{VIN}/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
        return re.findall(r'<span class="source-name">([^<]*)</span>', html)

    # Reports are cached per language: the English one asked first is not served in Chinese.
    assert source_names("en") == ["Anting Vw 4S", "Pudong Garage"]
    # None given: the name rather than nothing.
    assert source_names("zh-hans") == ["上海安亭大众4S店", "Pudong Garage"]
