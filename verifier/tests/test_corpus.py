"""The shared corpus (corpus/manifest.json): every valid bundle verifies, and every tampered
one fails with the failure its manifest names. The browser verifier runs the same files
(tests/test_corpus_in_browsers.py in the site's suite)."""

import json
from pathlib import Path

import pytest
from carhistory_verifier.verify import VerificationFailure, load_bundle, verify_bundle
from make_corpus import CORPUS, write_corpus

MANIFEST = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))
CASES = {case["name"]: case for case in MANIFEST["cases"]}


def outcome(case: dict) -> str | None:
    """None when the bundle verifies, else the failure's name."""
    bundle = load_bundle((CORPUS / case["file"]).read_text(encoding="utf-8"))
    try:
        verify_bundle(bundle, log_key=MANIFEST["log_key"], vin=case["vin"])
    except VerificationFailure as failure:
        return str(failure.code)
    return None


@pytest.mark.parametrize("name", sorted(CASES))
def test_corpus_case(name):
    case = CASES[name]
    assert outcome(case) == case["failure"], case["description"]


@pytest.mark.parametrize(
    "name", sorted(name for name, case in CASES.items() if case["failure"] is None)
)
def test_a_valid_bundle_proves_completeness_exactly_when_it_has_a_vin_index(name):
    case = CASES[name]
    bundle = load_bundle((CORPUS / case["file"]).read_text(encoding="utf-8"))
    summary = verify_bundle(bundle, log_key=MANIFEST["log_key"], vin=case["vin"])
    if "vin_index" in bundle:
        # SPEC §7: all of the VIN's entries among the first N - 1, N the checkpoint's size.
        assert summary.complete_as_of == bundle["vin_index"]["index"]
    else:
        assert summary.complete_as_of is None


def test_the_corpus_has_the_completeness_cases_of_spec_7():
    completeness = {
        "valid_complete": None,
        "valid_absence_proven": None,
        "vin_index_entry_dropped": "vin_index",
        "vin_index_with_another_vins_entry": "entry_vin",
        "stale_vin_index": "vin_index",
        "another_vins_vrf_proof": "vin_index",
        "vin_index_sibling_flipped": "vin_index",
        "absence_claimed_for_a_vin_with_entries": "vin_index",
    }
    assert {name: CASES[name]["failure"] for name in completeness} == completeness
    assert all("vin_index" in json.loads((CORPUS / CASES[name]["file"]).read_text())
               for name in completeness)  # fmt: skip


def test_the_corpus_has_valid_and_tampered_bundles_of_every_kind_asked_for():
    failures = {case["failure"] for case in CASES.values()}
    assert {
        None,
        "checkpoint_signature",
        "inclusion_proof",
        "platform_only_type",
        "source_signature",
        "key_rotated_out",
        "source_revoked",
        "key_name_mismatch",
        "duplicate_statement",
    } <= failures
    assert sum(case["failure"] is None for case in CASES.values()) >= 3


def test_the_committed_corpus_is_what_the_generator_makes(tmp_path: Path):
    write_corpus(tmp_path)
    made = sorted(path.name for path in tmp_path.iterdir())
    assert made == sorted(path.name for path in CORPUS.iterdir())
    for name in made:
        assert (tmp_path / name).read_bytes() == (CORPUS / name).read_bytes(), name
