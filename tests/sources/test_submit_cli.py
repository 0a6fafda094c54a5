"""`carhistory-submit` as a source runs it: keygen, register and send against the real site
over HTTP (pytest-django's live server on PostgreSQL), the CLI in-process."""

import csv
import json

import pytest
from carhistory_verifier import entry as entry_format
from carhistory_verifier import note
from carhistory_verifier.submit.cli import EXIT_OK, EXIT_REFUSED, EXIT_UNUSABLE, main

from carhistory.portal import csv_format
from carhistory.sources.models import SigningKey, Submission
from ledger.models import Entry
from ledger.services import integrate_pending
from tests.sources.factories import OrganisationFactory, api_key_for, event_payload, make_vin

SLUG = "bj-chaoyang-auto-repair"


@pytest.fixture
def shop(transactional_db):
    return OrganisationFactory(kind="repair_shop", slug=SLUG)


@pytest.fixture
def token_file(shop, tmp_path):
    path = tmp_path / "token"
    path.write_text(api_key_for(shop) + "\n")
    return path


@pytest.fixture
def key_file(tmp_path, capsys):
    path = tmp_path / "shop.key"
    assert main(["keygen", SLUG, "--out", str(path)]) == EXIT_OK
    capsys.readouterr()
    return path


@pytest.fixture
def registered(live_server, token_file, key_file, capsys):
    arguments = ["--url", live_server.url, "--token", f"@{token_file}", "--key", f"@{key_file}"]
    assert main(["register", *arguments]) == EXIT_OK
    capsys.readouterr()
    return arguments


def signer_of(key_file) -> note.Signer:
    return note.Signer.from_key_string(key_file.read_text().strip())


def write_lines(path, records):
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def results_of(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_keygen_writes_a_private_key_file_and_prints_the_verifier_key(tmp_path, capsys):
    path = tmp_path / "shop.key"
    assert main(["keygen", SLUG, "--out", str(path)]) == EXIT_OK
    printed = capsys.readouterr().out.strip()
    assert path.stat().st_mode & 0o777 == 0o600
    assert signer_of(path).verifier().key_string() == printed
    assert printed.startswith(f"{SLUG}+")


def test_keygen_never_overwrites_a_key(tmp_path, capsys):
    path = tmp_path / "shop.key"
    path.write_text("keep me")
    assert main(["keygen", SLUG, "--out", str(path)]) == EXIT_UNUSABLE
    assert path.read_text() == "keep me"
    assert "exists" in capsys.readouterr().err


def test_register_logs_the_key_as_a_source_key_entry(shop, registered, key_file):
    verifier_key = signer_of(key_file).verifier().key_string()
    signing_key = SigningKey.objects.get(organisation=shop, retired_at__isnull=True)
    assert signing_key.verifier_key == verifier_key
    logged = json.loads(bytes(Entry.objects.get(pending_id=signing_key.pending_id).data))
    assert logged["type"] == "source_key"
    assert logged["facts"] == {"source": SLUG, "key": verifier_key}


def test_register_refuses_a_key_named_after_another_source(
    live_server, token_file, tmp_path, capsys
):
    other = tmp_path / "other.key"
    main(["keygen", "someone-else", "--out", str(other)])
    arguments = ["--url", live_server.url, "--token", f"@{token_file}", "--key", f"@{other}"]
    assert main(["register", *arguments]) == EXIT_REFUSED
    assert "must be named after the source" in capsys.readouterr().err
    assert not SigningKey.objects.exists()


def test_a_wrong_token_stops_the_command(live_server, shop, key_file, capsys):
    arguments = ["--url", live_server.url, "--token", "ch-nope.nope", "--key", f"@{key_file}"]
    assert main(["register", *arguments]) == EXIT_UNUSABLE
    assert "refused the token" in capsys.readouterr().err


def test_send_signs_every_record_with_the_sources_own_key(registered, key_file, tmp_path):
    records = [event_payload("repair", vin=make_vin(n).lower()) for n in range(1, 4)]
    source_file = write_lines(tmp_path / "records.jsonl", records)

    assert main(["send", str(source_file), *registered]) == EXIT_OK
    integrate_pending(wait=True)

    verifier = signer_of(key_file).verifier()
    logged = [json.loads(bytes(row.data)) for row in Entry.objects.filter(type="repair")]
    assert sorted(entry["vin"] for entry in logged) == sorted(make_vin(n) for n in range(1, 4))
    for entry in logged:
        # The evidence carries the shop's key and signature, not the platform's.
        assert entry["source_key"] == verifier.key_string()
        signature = entry_format.b64decode(entry["source_sig"])
        assert verifier.verify(entry_format.statement_bytes(entry), signature)
    results = results_of(tmp_path / "records.jsonl.results.jsonl")
    assert [result["record"] for result in results] == [1, 2, 3]
    assert {result["status"] for result in results} <= {"pending", "integrated"}


def test_a_rerun_logs_nothing_new_with_or_without_the_result_file(registered, tmp_path, capsys):
    source_file = write_lines(
        tmp_path / "records.jsonl",
        [event_payload("service", vin=make_vin(n), odometer_km=1000 + n) for n in range(5)],
    )
    assert main(["send", str(source_file), *registered]) == EXIT_OK
    integrate_pending(wait=True)
    logged = Entry.objects.count()

    assert main(["send", str(source_file), *registered]) == EXIT_OK
    assert "5 skipped" in capsys.readouterr().err
    # Without the result file the server recognises each derived external_id.
    (tmp_path / "records.jsonl.results.jsonl").unlink()
    assert main(["send", str(source_file), *registered]) == EXIT_OK
    integrate_pending(wait=True)
    assert Entry.objects.count() == logged
    assert Submission.objects.filter(status="accepted").count() == 5


def test_a_crash_mid_file_resumes_without_logging_twice(registered, tmp_path):
    records = [event_payload("service", vin=make_vin(n), odometer_km=2000 + n) for n in range(7)]
    source_file = write_lines(tmp_path / "records.jsonl", records)
    assert main(["send", str(source_file), "--batch", "3", *registered]) == EXIT_OK
    # As if the process died after the first batch's answer was written, with the second
    # batch accepted by the server but its answer lost, and a torn last line.
    result_file = tmp_path / "records.jsonl.results.jsonl"
    lines = result_file.read_text().splitlines()
    result_file.write_text("\n".join(lines[:3]) + "\n" + lines[3][:20])

    assert main(["send", str(source_file), "--batch", "3", *registered]) == EXIT_OK
    integrate_pending(wait=True)
    assert Entry.objects.filter(type="service").count() == 7
    accepted = {r["external_id"] for r in results_of_lenient(result_file)}
    assert len(accepted) == 7


def results_of_lenient(path):
    results = []
    for line in path.read_text().splitlines():
        try:
            results.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return results


def test_refused_records_are_reported_and_the_exit_status_says_so(registered, tmp_path):
    good = event_payload("repair", vin=make_vin(9))
    bad_odometer = event_payload("service", vin=make_vin(10), odometer_km="36,100")
    forbidden = event_payload("accident", vin=make_vin(11))  # a repair shop may not
    source_file = tmp_path / "records.jsonl"
    source_file.write_text(
        "\n".join([json.dumps(good), json.dumps(bad_odometer), "{not json", json.dumps(forbidden)])
    )

    assert main(["send", str(source_file), *registered]) == EXIT_REFUSED
    results = {r["record"]: r for r in results_of(tmp_path / "records.jsonl.results.jsonl")}
    assert results[1]["status"] in {"pending", "integrated"}
    assert "odometer_km" in results[2]["errors"]
    assert results[3]["status"] == "refused" and "not JSON" in results[3]["errors"]["record"][0]
    assert "type" in results[4]["errors"]


def test_csv_rows_get_the_same_ids_as_a_portal_upload(registered, tmp_path):
    source_file = tmp_path / "records.csv"
    with source_file.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["VIN", "type", "occurred_at", "odometer_km", "parts", "area"])
        writer.writerow([make_vin(20), "repair", "2024-03-01", "52000", "bumper|grille", "front"])

    assert main(["send", str(source_file), *registered]) == EXIT_OK
    submission = Submission.objects.get(status="accepted")
    row = {
        "vin": make_vin(20),
        "type": "repair",
        "occurred_at": "2024-03-01",
        "odometer_km": "52000",
        "parts": "bumper|grille",
        "area": "front",
    }
    expected = csv_format.row_payload(row, organisation_slug=SLUG)["external_id"]
    assert submission.external_id == expected


def test_a_version_2_csv_is_signed_with_vocabulary_codes_and_unknown_items_are_refused(
    registered, key_file, tmp_path, client
):
    source_file = tmp_path / "services.csv"
    source_file.write_text(
        "#carhistory-csv/v2\n"
        "vin,type,occurred_at,odometer_km,items\n"
        f"{make_vin(30)},service,2024-03-01,52000,机油，机滤|Brake Pads\n"
        f"{make_vin(31)},service,2024-03-02,61000,机油|门把手\n",
        encoding="utf-8",
    )

    assert main(["send", str(source_file), *registered]) == EXIT_REFUSED
    integrate_pending(wait=True)

    [logged] = [json.loads(bytes(row.data)) for row in Entry.objects.filter(type="service")]
    assert logged["vin"] == make_vin(30)
    assert logged["facts"]["items"] == ["oil", "oil_filter", "brake_pads"]
    verifier = signer_of(key_file).verifier()
    signature = entry_format.b64decode(logged["source_sig"])
    assert verifier.verify(entry_format.statement_bytes(logged), signature)
    results = {r["record"]: r for r in results_of(tmp_path / "services.csv.results.jsonl")}
    assert results[4]["status"] == "refused"
    assert "门把手" in results[4]["errors"]["items"][0]
    # Nothing of the refused row reached the server.
    assert not Submission.objects.filter(vin=make_vin(31)).exists()


def test_a_version_2_file_sent_with_the_tool_then_uploaded_appends_nothing_twice(
    registered, shop, tmp_path
):
    from carhistory.portal import csv_import
    from tests.sources.factories import MembershipFactory

    content = (
        "\ufeff#carhistory-csv/v2,,,,\r\n"
        "vin,type,occurred_at,odometer_km,items\r\n"
        f"{make_vin(32)},service,2024-03-01,52000,雨刮片、空调滤芯\r\n"
    )
    source_file = tmp_path / "services.csv"
    source_file.write_bytes(content.encode())
    assert main(["send", str(source_file), *registered]) == EXIT_OK

    member = MembershipFactory(organisation=shop)
    upload = csv_import.create_csv_upload(
        organisation=shop,
        uploaded_by=member.user,
        filename="services.csv",
        content=content.encode(),
    )
    upload = csv_import.process_csv_upload(upload_id=upload.pk)
    # Both ways read the row alike and derive the same id; the portal's unsigned body differs
    # from the source-signed one only by its signature, so the server names the first.
    assert (upload.accepted, upload.rejected) == (0, 1)
    [sent] = Submission.objects.filter(status="accepted")
    assert str(sent.public_id) in upload.error_report
    integrate_pending(wait=True)
    [logged] = [json.loads(bytes(row.data)) for row in Entry.objects.filter(type="service")]
    assert logged["facts"]["items"] == ["wipers", "cabin_filter"]
