"""The CSV format versions `carhistory-submit` reads (docs/CSV.md, "Format versions").

Version 1 files (no format line) must give the very statements they gave before versions
existed: a source may already have signed and sent them, and a resend must match.
"""

import pytest
from carhistory_verifier import note
from carhistory_verifier.service_items import read_vocabulary_items
from carhistory_verifier.submit.records import read_records
from carhistory_verifier.submit.statement import RecordSigner, statement

SOURCE = "bj-chaoyang-auto-repair"
SIGNER = RecordSigner(note.Signer.generate(SOURCE))

ROWS = (
    "VIN,type,occurred_at,odometer_km,items,parts,area,external_id\n"
    'lsvau2180n2183294,service,2024-05-03,45210,"机油，机滤|Oil Filter| oil_filter ",,,\n'
    "LSVAU2180N2183294,service,2024-06-03,46000,雨刮片、空调滤芯|燃油滤清器,,,RO-7\n"
    "LSVAU2180N2183294,repair,2024-07-01,47000,,front bumper|左前大灯,front,\n"
)

# What main signed for ROWS before format versions existed, byte for byte (the statement as
# RFC 8785 JSON with source_key "K"), and the ids it derived: regenerating these is a change
# of what sources signed, never a routine update.
VERSION_1_STATEMENTS = [
    (
        "csv-ada8b5d369e9d3aeeb7202df96db3bfdf377bc4e85f58adddbc99f63364f4948",
        '{"facts":{"items":["机油，机滤","Oil Filter","oil_filter"]},"occurred_at":"2024-05-03",'
        '"odometer_km":45210,"source":"bj-shop","source_key":"K","type":"service","v":1,'
        '"vin":"LSVAU2180N2183294"}',
    ),
    (
        "RO-7",
        '{"facts":{"items":["雨刮片、空调滤芯","燃油滤清器"]},"occurred_at":"2024-06-03",'
        '"odometer_km":46000,"source":"bj-shop","source_key":"K","type":"service","v":1,'
        '"vin":"LSVAU2180N2183294"}',
    ),
    (
        "csv-655cbda9db62332e0440e4424679b9ae913f92d0ad0f5e3bb14b54563c452c1d",
        '{"facts":{"area":"front","parts":["front bumper","左前大灯"]},"occurred_at":"2024-07-01",'
        '"odometer_km":47000,"source":"bj-shop","source_key":"K","type":"repair","v":1,'
        '"vin":"LSVAU2180N2183294"}',
    ),
]


def write(tmp_path, text: str):
    path = tmp_path / "records.csv"
    path.write_text(text, encoding="utf-8")
    return path


def signed_statements(path, *, source="bj-shop"):
    prepared = [
        SIGNER.prepared_payload(record.body) for record in read_records(path, source=source)
    ]
    return [
        (payload["external_id"], statement(payload, source=source, source_key="K").decode())
        for payload in prepared
    ]


def test_a_version_1_file_signs_exactly_what_it_signed_before_versions_existed(tmp_path):
    assert signed_statements(write(tmp_path, ROWS)) == VERSION_1_STATEMENTS


def test_version_2_reads_items_through_the_vocabulary_in_either_language(tmp_path):
    path = write(tmp_path, "#carhistory-csv/v2\n" + ROWS)
    records = list(read_records(path, source=SOURCE))
    assert [record.position for record in records] == [3, 4, 5]
    assert records[0].body["facts"]["items"] == ["oil", "oil_filter"]
    assert records[1].body["facts"]["items"] == ["wipers", "cabin_filter", "fuel_filter"]
    # Only the items column changes: parts stay free text split on "|".
    assert records[2].body["facts"]["parts"] == ["front bumper", "左前大灯"]


def test_version_2_signs_the_codes(tmp_path):
    path = write(tmp_path, "#carhistory-csv/v2\n" + ROWS)
    external_id, signed = signed_statements(path)[0]
    assert '"facts":{"items":["oil","oil_filter"]}' in signed
    # The id is derived from the cells as written, as in version 1: the same row converted to
    # version 2 and sent again is a conflict the server names, not a second entry.
    assert external_id == VERSION_1_STATEMENTS[0][0]


def test_a_format_line_padded_by_a_spreadsheet_and_a_byte_order_mark_are_read(tmp_path):
    path = write(tmp_path, "\ufeff#carhistory-csv/v2,,,,,,,\n" + ROWS)
    records = list(read_records(path, source=SOURCE))
    assert records[0].body["facts"]["items"] == ["oil", "oil_filter"]


def test_an_unknown_item_refuses_its_row_only_and_names_the_allowed_values(tmp_path):
    path = write(
        tmp_path,
        "#carhistory-csv/v2\nvin,type,occurred_at,odometer_km,items\n"
        "LSVAU2180N2183294,service,2024-05-03,45210,机油；小灯泡|cabin lamp\n"
        "LSVAU2180N2183294,service,2024-06-03,46000,机油\n",
    )
    refused, accepted = read_records(path, source=SOURCE)
    assert refused.body is None and refused.position == 3
    assert refused.problem_field == "items"
    assert "小灯泡, cabin lamp" in refused.problem
    assert "oil, oil_filter, air_filter" in refused.problem
    assert accepted.body["facts"]["items"] == ["oil"]


@pytest.mark.parametrize(
    "first_line",
    ["#carhistory-csv/v3", "#csv v2", "# exported by WorkshopPro", "#carhistory-csv/v2,x"],
)
def test_a_format_line_naming_no_known_version_stops_the_file(tmp_path, first_line):
    path = write(tmp_path, first_line + "\n" + ROWS)
    with pytest.raises(ValueError, match="names no CSV format this tool reads"):
        list(read_records(path, source=SOURCE))


@pytest.mark.parametrize(
    ("cell", "codes", "unknown"),
    [
        ("oil|oil_filter", ["oil", "oil_filter"], []),
        (
            "机油，机滤、刹车片;火花塞；Brake-Fluid",
            ["oil", "oil_filter", "brake_pads", "spark_plugs", "brake_fluid"],
            [],
        ),
        ("机油|engine oil|oil", ["oil"], []),
        ("雨刮片，门把手", ["wipers"], ["门把手"]),
        (" | ，", [], []),
    ],
)
def test_a_vocabulary_cell_is_split_and_named_like_the_form(cell, codes, unknown):
    reading = read_vocabulary_items(cell)
    assert (reading.codes, reading.unknown) == (codes, unknown)
