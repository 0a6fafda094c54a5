"""CSV uploads: good rows go in, bad rows come back with reasons, repeats add nothing."""

import csv
import io
import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from carhistory.portal import csv_import
from carhistory.portal.models import CsvUpload
from carhistory.sources import schemas
from carhistory.sources.models import PrivateRecord, Submission
from carhistory.sources.services import set_source_status
from ledger.models import Entry, PendingEntry
from tests.sources.factories import MembershipFactory, UserFactory, make_vin

pytestmark = pytest.mark.django_db

INSURER_COLUMNS = [
    "vin",
    "type",
    "occurred_at",
    "severity",
    "airbags_deployed",
    "damage_areas",
    "claim_kind",
    "total_loss",
    "brand",
    "private_claim_number",
]
GOOD_ROWS = 2900
# (row, column, what is wrong): one of each kind of mistake, repeated.
BAD_CELLS = [
    ({"vin": "LSVAU2180N21832"}, "vin"),
    ({"severity": "catastrophic"}, "severity"),
    ({"airbags_deployed": "perhaps"}, "airbags_deployed"),
    ({"type": "service"}, "type"),
    ({"occurred_at": "03/05/2024"}, "occurred_at"),
]


def _good_row(number: int) -> dict:
    kind = ("accident", "insurance_claim", "title_brand")[number % 3]
    row = {"vin": make_vin(number), "type": kind, "occurred_at": "2024-05-03"}
    if kind == "accident":
        row.update(severity="moderate", airbags_deployed="false", damage_areas="front|left door")
    elif kind == "insurance_claim":
        row.update(claim_kind="collision", total_loss="no")
    else:
        row.update(brand="flood")
    row["private_claim_number"] = f"CLM-{number:06d}"
    return row


def _insurer_file() -> tuple[bytes, dict[int, str]]:
    """A few thousand rows, every 30th one bad; returns the bytes and {line: bad column}."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=INSURER_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    bad_lines = {}
    number = 0
    line = 1
    while number < GOOD_ROWS + len(bad_lines):
        line += 1
        row = {
            "vin": make_vin(number),
            "type": "accident",
            "occurred_at": "2024-05-03",
            "severity": "minor",
            "airbags_deployed": "true",
            "damage_areas": "rear",
        }
        if line % 30 == 0:
            cells, column = BAD_CELLS[(line // 30) % len(BAD_CELLS)]
            row.update(cells)
            if column == "type":
                row["odometer_km"] = None
            bad_lines[line] = column
        else:
            row = _good_row(number)
        writer.writerow({key: value for key, value in row.items() if key in INSURER_COLUMNS})
        number += 1
    return buffer.getvalue().encode(), bad_lines


@pytest.fixture
def insurer_staff(client):
    membership = MembershipFactory(organisation__kind="insurer", organisation__slug="pingan-sh")
    client.force_login(membership.user)
    return membership


def _upload(client, content: bytes, name: str = "claims.csv", capture=None):
    file = SimpleUploadedFile(name, content, content_type="text/csv")
    if capture is None:
        return client.post(reverse("portal:csv-upload"), {"file": file})
    with capture(execute=True):
        return client.post(reverse("portal:csv-upload"), {"file": file})


def test_the_whole_flow_good_rows_in_bad_rows_back_repeats_add_nothing(
    client, insurer_staff, django_capture_on_commit_callbacks
):
    content, bad_lines = _insurer_file()
    total = GOOD_ROWS + len(bad_lines)

    response = _upload(client, content, capture=django_capture_on_commit_callbacks)

    assert response.status_code == 302
    upload = CsvUpload.objects.get()
    assert response["Location"] == reverse("portal:csv-detail", args=[upload.pk])
    assert (upload.status, upload.total_rows, upload.processed_rows) == ("done", total, total)
    assert (upload.accepted, upload.rejected, upload.duplicates) == (GOOD_ROWS, len(bad_lines), 0)
    accepted = Submission.objects.filter(status="accepted", channel="csv")
    assert accepted.count() == GOOD_ROWS
    # Integrated once the upload committed (the batch's vin_index entry aside).
    assert Entry.objects.exclude(type="vin_index").count() == GOOD_ROWS
    assert PrivateRecord.objects.get(submission__vin=make_vin(1)).details == {
        "claim_number": "CLM-000001"
    }

    progress = client.get(reverse("portal:csv-progress", args=[upload.pk])).json()
    assert progress["finished"] is True
    assert progress["percent"] == 100
    assert progress["accepted"] == GOOD_ROWS
    assert progress["error_report_url"] == reverse("portal:csv-errors", args=[upload.pk])

    report = client.get(progress["error_report_url"])
    assert report["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(report.content.decode())))
    assert {int(row["row"]): row["column"] for row in rows} == bad_lines
    assert all(row["message"] for row in rows)
    by_column = {row["column"]: row["message"] for row in rows}
    assert "Choose one of: minor, moderate, severe." in by_column["severity"]
    assert "true or false" in by_column["airbags_deployed"]
    assert "may not submit" in by_column["type"]

    # The same file again: every good row is recognised, nothing is appended.
    _upload(client, content, name="claims-again.csv", capture=django_capture_on_commit_callbacks)

    again = CsvUpload.objects.order_by("-pk").first()
    assert (again.accepted, again.rejected, again.duplicates) == (0, len(bad_lines), GOOD_ROWS)
    assert again.sha256 == upload.sha256
    assert Submission.objects.filter(status="accepted").count() == GOOD_ROWS
    assert Entry.objects.exclude(type="vin_index").count() == GOOD_ROWS
    assert not PendingEntry.objects.exists()
    page = client.get(reverse("portal:csv-detail", args=[again.pk])).content.decode()
    assert "Download the error report" in page


def test_a_queued_upload_shows_a_progress_bar_that_polls(client, insurer_staff):
    content = "vin,type,occurred_at,brand\r\n" + f"{make_vin(1)},title_brand,2024-05-03,flood\r\n"
    _upload(client, content.encode())  # no commit in this test: the task is not run
    upload = CsvUpload.objects.get()
    page = client.get(reverse("portal:csv-detail", args=[upload.pk])).content.decode()
    assert "<progress" in page
    assert reverse("portal:csv-progress", args=[upload.pk]) in page
    assert "js/portal/csv-progress.js" in page
    progress = client.get(reverse("portal:csv-progress", args=[upload.pk])).json()
    assert (progress["status"], progress["finished"], progress["percent"]) == ("queued", False, 0)


def test_rows_are_submitted_in_chunks_with_progress_after_each(insurer_staff, monkeypatch):
    monkeypatch.setattr(csv_import, "CHUNK_SIZE", 2)
    seen = []
    original = csv_import.submit_events

    def watching(**arguments):
        seen.append(CsvUpload.objects.get().processed_rows)
        return original(**arguments)

    monkeypatch.setattr(csv_import, "submit_events", watching)
    lines = [f"{make_vin(n)},title_brand,2024-05-03,flood" for n in range(5)]
    upload = csv_import.create_csv_upload(
        organisation=insurer_staff.organisation,
        uploaded_by=insurer_staff.user,
        filename="five.csv",
        content=("vin,type,occurred_at,brand\n" + "\n".join(lines)).encode(),
    )

    csv_import.process_csv_upload(upload_id=upload.pk)

    assert seen == [0, 2, 4]
    upload.refresh_from_db()
    assert (upload.processed_rows, upload.accepted) == (5, 5)


def test_rows_with_their_own_external_id_are_told_apart_by_it(client, insurer_staff):
    content = (
        "vin,type,occurred_at,brand,external_id\r\n"
        f"{make_vin(1)},title_brand,2024-05-03,flood,A-1\r\n"
        f"{make_vin(1)},title_brand,2024-05-03,flood,A-2\r\n"
        f"{make_vin(1)},title_brand,2024-05-03,flood,A-1\r\n"
    ).encode()
    upload = csv_import.create_csv_upload(
        organisation=insurer_staff.organisation,
        uploaded_by=insurer_staff.user,
        filename="ids.csv",
        content=content,
    )
    upload = csv_import.process_csv_upload(upload_id=upload.pk)
    assert (upload.accepted, upload.duplicates) == (2, 1)
    assert set(Submission.objects.values_list("external_id", flat=True)) == {"A-1", "A-2"}


def test_an_excel_byte_order_mark_and_capitalised_headers_are_accepted(client, insurer_staff):
    content = (
        "\ufeffVIN, Type ,occurred_at,Brand\r\n" + f"{make_vin(1)},title_brand,2024-05-03,flood\r\n"
    )
    assert _upload(client, content.encode()).status_code == 302
    upload = csv_import.process_csv_upload(upload_id=CsvUpload.objects.get().pk)
    assert (upload.total_rows, upload.accepted) == (1, 1)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"vin,type\r\nX,Y\r\n", "Missing columns: occurred_at."),
        (
            b"vin,type,occurred_at,colour,owner_phone\r\nX,Y,Z,red,1\r\n",
            "Unknown columns: colour, owner_phone.",
        ),
        (b"vin,type,occurred_at,vin\r\nX,Y,Z,W\r\n", "Repeated columns: vin."),
        ("vin,type,occurred_at\r\n粤B12345,事故,昨天\r\n".encode("gbk"), "not UTF-8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "not UTF-8"),
        (b"vin,type,occurred_at\r\nA,\x00B,C\r\n", "binary data"),
        (b"", "empty"),
        (b"vin,type,occurred_at\r\n", "no rows"),
        (b'vin,type,occurred_at\r\n"unterminated,x,y\r\n', "cannot be read as CSV"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_with_a_clear_message_and_nothing_stored(
    client, insurer_staff, content, message
):
    response = _upload(client, content)
    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors["file"])
    assert message in errors
    assert not CsvUpload.objects.exists()
    assert not Submission.objects.exists()


def test_a_file_over_the_size_limit_is_refused(client, insurer_staff, settings):
    settings.CSV_UPLOAD_MAX_BYTES = 1024
    content = b"vin,type,occurred_at\r\n" + b"x,y,z\r\n" * 500
    response = _upload(client, content)
    assert "too large" in " ".join(response.context["form"].errors["file"])
    assert not CsvUpload.objects.exists()


def test_the_upload_page_without_uploads_says_so_and_links_the_template(client, insurer_staff):
    content = client.get(reverse("portal:csv-upload")).content.decode()
    assert "No uploads yet." in content
    assert reverse("portal:csv-template", args=["insurer"]) in content


def test_each_kind_of_source_has_a_template_with_its_columns(client):
    response = client.get(reverse("portal:csv-template", args=["insurer"]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="carhistory-insurer.csv"'
    format_line, header = list(csv.reader(io.StringIO(response.content.decode())))
    assert format_line == ["#carhistory-csv/v2"]
    assert header[:4] == ["vin", "type", "occurred_at", "external_id"]
    assert {
        "severity",
        "airbags_deployed",
        "damage_areas",
        "claim_kind",
        "total_loss",
        "brand",
    } <= set(header)
    assert "items" not in header
    assert "odometer_km" not in header  # no insurer event carries a reading
    _format_line, registry = csv.reader(
        io.StringIO(client.get("/portal/csv/template/registry.csv").content.decode())
    )
    assert {"odometer_km", "event", "region", "use", "result", "brand", "severity"} <= set(registry)
    assert client.get("/portal/csv/template/spaceship.csv").status_code == 404


def test_every_template_header_is_accepted_by_the_importer():
    from carhistory.portal.csv_format import header_problems, template_columns
    from carhistory.sources.models import OrganisationKind

    for kind in OrganisationKind.values:
        assert header_problems(template_columns(kind)) == [], kind


def test_a_suspended_source_cannot_upload(client):
    membership = MembershipFactory(organisation__kind="insurer", organisation__status="suspended")
    client.force_login(membership.user)
    content = "vin,type,occurred_at,brand\r\n" + f"{make_vin(1)},title_brand,2024-05-03,flood\r\n"
    response = _upload(client, content.encode())
    assert "not approved" in " ".join(response.context["form"].errors["file"])
    assert not CsvUpload.objects.exists()


def test_a_source_suspended_mid_upload_stops_between_chunks(insurer_staff, monkeypatch):
    monkeypatch.setattr(csv_import, "CHUNK_SIZE", 2)
    original = csv_import.submit_events

    def suspend_after_first_chunk(**arguments):
        results = original(**arguments)
        type(insurer_staff.organisation).objects.filter(pk=insurer_staff.organisation.pk).update(
            status="suspended"
        )
        return results

    monkeypatch.setattr(csv_import, "submit_events", suspend_after_first_chunk)
    lines = [f"{make_vin(n)},title_brand,2024-05-03,flood" for n in range(5)]
    upload = csv_import.create_csv_upload(
        organisation=insurer_staff.organisation,
        uploaded_by=insurer_staff.user,
        filename="five.csv",
        content=("vin,type,occurred_at,brand\n" + "\n".join(lines)).encode(),
    )

    upload = csv_import.process_csv_upload(upload_id=upload.pk)

    assert upload.status == "failed"
    assert "Suspended" in upload.failure
    assert (upload.processed_rows, upload.accepted) == (2, 2)
    assert Submission.objects.count() == 2


def test_a_row_with_more_cells_than_columns_comes_back_instead_of_losing_cells(insurer_staff):
    content = (
        "vin,type,occurred_at,brand\r\n"
        f"{make_vin(1)},title_brand,2024-05-03,flood\r\n"
        "\r\n"
        f'{make_vin(2)},title_brand,2024-05-03,"fire",stolen\r\n'
    ).encode()
    upload = csv_import.create_csv_upload(
        organisation=insurer_staff.organisation,
        uploaded_by=insurer_staff.user,
        filename="extra.csv",
        content=content,
    )
    upload = csv_import.process_csv_upload(upload_id=upload.pk)
    assert (upload.total_rows, upload.accepted, upload.rejected) == (2, 1, 1)
    rows = list(csv.DictReader(io.StringIO(upload.error_report)))
    assert rows == [
        {
            "row": "4",
            "column": "",
            "message": "This row has 5 cells but the header names 4 columns.",
        }
    ]


def test_uploads_are_listed_read_only_in_the_admin(client, insurer_staff):
    upload = csv_import.create_csv_upload(
        organisation=insurer_staff.organisation,
        uploaded_by=insurer_staff.user,
        filename="claims-march.csv",
        content=f"vin,type,occurred_at,brand\n{make_vin(1)},title_brand,2024-05-03,flood\n".encode(),
    )
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert "claims-march.csv" in client.get("/admin/portal/csvupload/").content.decode()
    assert client.get(f"/admin/portal/csvupload/{upload.pk}/change/").status_code == 200
    assert client.get("/admin/portal/csvupload/add/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_a_suspension_during_a_chunk_stops_the_upload_at_the_next_row(insurer_staff, monkeypatch):
    organisation = insurer_staff.organisation
    lines = [f"{make_vin(n)},title_brand,2024-05-03,flood" for n in range(20)]
    upload = csv_import.create_csv_upload(
        organisation=organisation,
        uploaded_by=insurer_staff.user,
        filename="twenty.csv",
        content=("vin,type,occurred_at,brand\n" + "\n".join(lines)).encode(),
    )
    real_validate = schemas.validate_submission
    seen = []

    def suspend_at_the_third_row(payload):
        seen.append(payload)
        if len(seen) == 3:
            # A moderator suspends the source from another connection, mid-chunk.
            moderator = threading.Thread(
                target=lambda: (
                    set_source_status(organisation=organisation, status="suspended", reason="x"),
                    connection.close(),
                )
            )
            moderator.start()
            moderator.join()
        return real_validate(payload)

    monkeypatch.setattr(schemas, "validate_submission", suspend_at_the_third_row)

    upload = csv_import.process_csv_upload(upload_id=upload.pk)

    assert upload.status == "failed"
    assert "Suspended" in upload.failure
    assert upload.accepted == 0
    assert not Submission.objects.filter(organisation=organisation).exists()
