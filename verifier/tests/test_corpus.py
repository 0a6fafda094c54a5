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
