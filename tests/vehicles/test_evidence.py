"""The evidence bundle: a buyer checks it offline, with no trust in the server."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from carhistory_verifier.verify import VerificationFailure, verify_bundle

from carhistory.vehicles.evidence import build_evidence_bundle
from ledger.keys import log_verifier_key
from tests.vehicles.logbook import OTHER_VIN, VIN

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def history(logbook):
    dealer = logbook.source("sh-anting-vw-4s")
    registry = logbook.source("sh-vehicle-registry", kind="registry", own_key=False)
    logbook.event(dealer, "service", "2019-05-01", odometer_km=45210, items=["oil"])
    logbook.event(registry, "registration", "2014-04-01", event="first_registration",
                  region="SH", use="private")  # fmt: skip
    logbook.event(dealer, "service", "2019-05-01", vin=OTHER_VIN, odometer_km=5, items=[])
    typo = logbook.event(dealer, "odometer", "2020-05-01", odometer_km=9520)
    logbook.correct(typo, odometer_km=95200)
    return logbook


def test_bundle_has_the_spec_shape(history):
    bundle = build_evidence_bundle(vin=VIN)
    assert set(bundle) == {
        "format",
        "vin",
        "checkpoint",
        "log_key",
        "entries",
        "source_keys",
        "vin_index",
    }
    assert bundle["format"] == "carhistory-evidence/v1"
    assert bundle["vin"] == VIN
    assert bundle["log_key"] == log_verifier_key()
    assert [item["entry"]["vin"] for item in bundle["entries"]] == [VIN] * 4
    # Only the dealer has a key of its own; the registry and the corrections use the log key.
    [source_key] = bundle["source_keys"]
    assert source_key["entry"]["facts"]["source"] == "sh-anting-vw-4s"
    assert source_key["index"] < bundle["entries"][0]["index"]


def test_bundle_verifies_offline(history):
    bundle = build_evidence_bundle(vin=VIN)
    summary = verify_bundle(json.loads(json.dumps(bundle)), log_key=log_verifier_key())
    assert summary.vin == VIN
    assert summary.entries_checked == 4
    assert summary.source_keys_checked == 1


def test_bundle_verifies_with_the_command_line_verifier(history, tmp_path):
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(build_evidence_bundle(vin=VIN)), encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "carhistory_verifier.verify",
            str(path),
            "--log-key",
            log_verifier_key(),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_tampered_odometer_fails_verification(history):
    bundle = json.loads(json.dumps(build_evidence_bundle(vin=VIN)))
    bundle["entries"][0]["entry"]["odometer_km"] = 5000
    with pytest.raises(VerificationFailure):
        verify_bundle(bundle, log_key=log_verifier_key())


def test_empty_vin_bundle_still_verifies(logbook):
    logbook.source("sh-anting-vw-4s")
    bundle = build_evidence_bundle(vin=VIN)
    assert bundle["entries"] == [] and bundle["source_keys"] == []
    verify_bundle(bundle, log_key=log_verifier_key())


def test_every_key_that_signed_an_entry_is_included_after_rotation(history):
    dealer = history.sources["sh-anting-vw-4s"]
    old_key = dealer.signer.verifier().key_string()
    history.rotate_key(dealer)
    history.event(dealer, "service", "2021-01-01", odometer_km=99999, items=[])
    bundle = build_evidence_bundle(vin=VIN)
    keys = [item["entry"]["facts"]["key"] for item in bundle["source_keys"]]
    assert keys == [old_key, dealer.signer.verifier().key_string()]
    verify_bundle(bundle, log_key=log_verifier_key())
