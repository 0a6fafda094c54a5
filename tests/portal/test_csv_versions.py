"""CSV format versions in the portal: version 1 read as it always was, version 2 reading the
`items` column through the service-item vocabulary (docs/CSV.md, "Format versions")."""

import csv
import io
import json

import pytest
from django.utils import translation

from carhistory.portal import csv_import
from carhistory.sources.models import Submission
from ledger.models import Entry
from ledger.services import integrate_pending
from tests.sources.factories import MembershipFactory, make_vin

pytestmark = pytest.mark.django_db

HEADER = "vin,type,occurred_at,odometer_km,items\r\n"


@pytest.fixture
def workshop():
    return MembershipFactory(organisation__kind="repair_shop", organisation__slug="bj-workshop")


def process(workshop, text: str):
    upload = csv_import.create_csv_upload(
        organisation=workshop.organisation,
        uploaded_by=workshop.user,
        filename="services.csv",
        content=text.encode(),
    )
    return csv_import.process_csv_upload(upload_id=upload.pk)


def logged_items() -> dict[str, list[str]]:
    integrate_pending(wait=True)
    entries = [json.loads(bytes(row.data)) for row in Entry.objects.filter(type="service")]
    return {entry["vin"]: entry["facts"]["items"] for entry in entries}


def error_rows(upload) -> list[dict]:
    return list(csv.DictReader(io.StringIO(upload.error_report)))


def test_a_version_1_file_keeps_its_items_as_written(workshop):
    upload = process(
        workshop, HEADER + f"{make_vin(1)},service,2024-05-03,45210,机油，机滤|门把手\r\n"
    )
    assert upload.accepted == 1
    assert logged_items() == {make_vin(1): ["机油，机滤", "门把手"]}


def test_version_2_stores_codes_for_names_in_either_language_and_any_separator(workshop):
    upload = process(
        workshop,
        "#carhistory-csv/v2\r\n"
        + HEADER
        + f"{make_vin(1)},service,2024-05-03,45210,机油，机滤|Oil Filter\r\n"
        + f"{make_vin(2)},service,2024-05-04,30100,雨刮片、空调滤芯;燃油滤清器\r\n",
    )
    assert (upload.accepted, upload.rejected) == (2, 0)
    assert logged_items() == {
        make_vin(1): ["oil", "oil_filter"],
        make_vin(2): ["wipers", "cabin_filter", "fuel_filter"],
    }


def test_version_2_refuses_a_row_with_an_unknown_item_whole_and_lists_the_allowed_values(
    workshop,
):
    upload = process(
        workshop,
        "#carhistory-csv/v2\r\n"
        + HEADER
        + f"{make_vin(1)},service,2024-05-03,45210,机油|门把手\r\n"
        + f"{make_vin(2)},service,2024-05-04,30100,刹车片\r\n",
    )
    assert (upload.total_rows, upload.accepted, upload.rejected) == (2, 1, 1)
    # Row 3 of the spreadsheet: the format line is row 1, the header row 2.
    [error] = error_rows(upload)
    assert (error["row"], error["column"]) == ("3", "items")
    assert "门把手" in error["message"]
    assert "oil_filter (oil filter)" in error["message"]
    # Nothing of the refused row is stored, not even its known item.
    assert logged_items() == {make_vin(2): ["brake_pads"]}
    assert Submission.objects.filter(vin=make_vin(1)).count() == 0


def test_the_unknown_items_report_is_in_chinese_for_a_chinese_source(workshop):
    with translation.override("zh-hans"):
        upload = process(
            workshop,
            "#carhistory-csv/v2\r\n"
            + HEADER
            + f"{make_vin(1)},service,2024-05-03,45210,门把手\r\n",
        )
    [error] = error_rows(upload)
    assert "不在保养项目词表中" in error["message"]
    assert "oil_filter（机油滤清器）" in error["message"]


@pytest.mark.parametrize(
    "first_line", ["#carhistory-csv/v9", "# exported by WorkshopPro", "#carhistory-csv/v2,extra"]
)
def test_a_format_line_naming_no_known_version_refuses_the_file(workshop, first_line):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="names no CSV format this site reads"):
        process(
            workshop, first_line + "\r\n" + HEADER + f"{make_vin(1)},service,2024-05-03,1,oil\r\n"
        )
    assert not Submission.objects.exists()


def test_a_format_line_alone_is_a_file_without_a_header(workshop):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="no header row"):
        process(workshop, "#carhistory-csv/v2\r\n")


def test_a_template_is_a_version_2_file_the_importer_reads(client, workshop):
    template = client.get("/portal/csv/template/repair_shop.csv").content.decode()
    rows = list(csv.reader(io.StringIO(template)))
    assert rows[0] == ["#carhistory-csv/v2"]
    assert "items" in rows[1]
    cells = dict.fromkeys(rows[1], "")
    cells.update(vin=make_vin(3), type="service", occurred_at="2024-05-03", odometer_km="8800")
    cells["items"] = "机油、空滤"
    buffer = io.StringIO()
    csv.DictWriter(buffer, fieldnames=rows[1], lineterminator="\r\n").writerow(cells)
    upload = process(workshop, template + buffer.getvalue())
    assert upload.accepted == 1
    assert logged_items() == {make_vin(3): ["oil", "air_filter"]}


def test_the_upload_page_explains_the_format_line_in_both_languages(client, workshop):
    client.force_login(workshop.user)
    page = client.get("/portal/csv/").content.decode()
    assert "Templates start with the line #carhistory-csv/v2" in page
    with translation.override("zh-hans"):
        page = client.get("/portal/csv/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "模板的第一行是 #carhistory-csv/v2" in page
