"""The pure parts of `carhistory-submit`: what is signed, the derived ids, reading files."""

import json

from carhistory_verifier import entry as entry_format
from carhistory_verifier import note
from carhistory_verifier.submit.records import read_records
from carhistory_verifier.submit.statement import RecordSigner, derived_external_id, normalise_vin

SIGNER = note.Signer.generate("bj-chaoyang-auto-repair")


def test_vin_typed_with_spaces_and_dashes_is_signed_in_its_canonical_form():
    assert normalise_vin(" lsvau2180-n2183 294 ") == "LSVAU2180N2183294"


def test_the_statement_is_what_the_server_would_build():
    record = {
        "vin": "lsvau2180n2183294",
        "type": "service",
        "occurred_at": "2024-05-03",
        "odometer_km": 45210,
        "facts": {"items": [" oil ", "filter"]},
        "private": {"invoice": "INV-1"},
    }
    payload = RecordSigner(SIGNER).signed_payload(record)
    statement = {
        "v": 1,
        "type": "service",
        "vin": "LSVAU2180N2183294",
        "occurred_at": "2024-05-03",
        "odometer_km": 45210,
        "facts": {"items": ["oil", "filter"]},
        "source": SIGNER.name,
        "source_key": SIGNER.verifier().key_string(),
    }
    signature = entry_format.b64decode(payload["source_sig"])
    assert SIGNER.verifier().verify(entry_format.canonical_json(statement), signature)
    assert payload["vin"] == "LSVAU2180N2183294"


def test_a_record_without_facts_signs_an_empty_facts_object():
    payload = RecordSigner(SIGNER).signed_payload(
        {"vin": "LSVAU2180N2183294", "type": "odometer", "occurred_at": "2024-05-03"}
    )
    statement = {
        "v": 1,
        "type": "odometer",
        "vin": "LSVAU2180N2183294",
        "occurred_at": "2024-05-03",
        "facts": {},
        "source": SIGNER.name,
        "source_key": SIGNER.verifier().key_string(),
    }
    signature = entry_format.b64decode(payload["source_sig"])
    assert SIGNER.verifier().verify(entry_format.canonical_json(statement), signature)


def test_derived_ids_are_stable_and_differ_between_records_and_sources():
    record = {"vin": "LSVAU2180N2183294", "type": "odometer", "occurred_at": "2024-05-03"}
    first = derived_external_id(record, source="a")
    assert first == derived_external_id(dict(reversed(record.items())), source="a")
    assert first != derived_external_id(record, source="b")
    assert first != derived_external_id({**record, "odometer_km": 1}, source="a")


def test_a_given_external_id_is_kept():
    payload = RecordSigner(SIGNER).signed_payload(
        {"vin": "x", "type": "odometer", "occurred_at": "2024-05-03", "external_id": "RO-1"}
    )
    assert payload["external_id"] == "RO-1"


def test_csv_cells_become_json_values(tmp_path):
    path = tmp_path / "records.csv"
    path.write_text(
        "\ufeffVIN ,type,occurred_at,odometer_km,damage_areas,airbags_deployed,severity,"
        "private_claim\n"
        "lsvau2180n2183294,accident,2024-05-03,,,yes,minor,C-1\n"
        ",,,,,,,\n"
        "lsvau2180n2183294,service,2024-05-04,45 000,,,,\n",
        encoding="utf-8",
    )
    records = list(read_records(path, source="s"))
    assert [record.position for record in records] == [2, 4]
    accident = records[0].body
    assert accident["facts"] == {
        "damage_areas": [],
        "airbags_deployed": True,
        "severity": "minor",
    }
    assert accident["private"] == {"claim": "C-1"}
    assert accident["external_id"].startswith("csv-")
    # Left as text, so the server names the field.
    assert records[1].body["odometer_km"] == "45 000"


def test_json_lines_keep_line_numbers_and_report_broken_lines(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text(json.dumps({"a": 1}) + "\n\n{broken\n")
    records = list(read_records(path, source="s"))
    assert [(r.position, r.problem == "") for r in records] == [(1, True), (3, False)]
