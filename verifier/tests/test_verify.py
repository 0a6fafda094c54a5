"""The offline evidence-bundle verifier (SPEC §6): a realistic bundle verifies, and each kind
of tampering is caught and named."""

import base64

import pytest
from carhistory_verifier.note import Signer
from carhistory_verifier.verify import VerificationFailure, verify_bundle
from memory_log import OTHER_VIN, VIN, MemoryLog


@pytest.fixture
def log():
    return MemoryLog()


@pytest.fixture
def dealer():
    return Signer.generate("sh-anting-vw-4s")


@pytest.fixture
def history(log, dealer):
    """A small history: the dealer's key, three dealer events, one event the platform signed
    for a registry with no key of its own, a correction, and another car's event."""
    key = log.add_source_key("sh-anting-vw-4s", dealer)  # 0
    log.source_entry("sh-anting-vw-4s", dealer, odometer_km=45210, facts={"items": ["oil"]})
    log.source_entry("sh-anting-vw-4s", dealer, vin=OTHER_VIN, facts={"items": []})
    registration = log.source_entry(
        "sh-vehicle-registry",
        None,
        type="registration",
        facts={"event": "first_registration", "region": "SH", "use": "private"},
    )
    typo = log.source_entry("sh-anting-vw-4s", dealer, type="odometer", odometer_km=9520)
    correction = log.platform_entry(
        "correction", {"corrects": typo, "reason": "typo", "odometer_km": 95200}, vin=VIN
    )
    log.source_entry("sh-anting-vw-4s", dealer, type="odometer", odometer_km=96000)
    return {"entries": [1, registration, typo, correction, 6], "source_keys": [key]}


@pytest.fixture
def bundle(log, history):
    return log.bundle(history["entries"], history["source_keys"])


def failure(bundle, **options):
    with pytest.raises(VerificationFailure) as caught:
        verify_bundle(bundle, **options)
    return caught.value


def test_a_realistic_bundle_verifies(log, bundle):
    summary = verify_bundle(bundle, log_key=log.key)
    assert summary.vin == VIN
    assert summary.tree_size == 7
    assert summary.entries_checked == 5
    assert summary.source_keys_checked == 1
    assert summary.platform_signed == 1
    assert summary.platform_entries == 1
    assert summary.sources == ("sh-anting-vw-4s", "sh-vehicle-registry")


def test_a_bundle_verifies_without_a_pinned_key_too(bundle):
    assert verify_bundle(bundle).entries_checked == 5


def test_an_empty_bundle_verifies(log):
    assert verify_bundle(log.bundle([], []), log_key=log.key).entries_checked == 0


def test_a_changed_entry_field_fails_its_inclusion_proof(log, bundle):
    bundle["entries"][0]["entry"]["odometer_km"] = 4521
    error = failure(bundle, log_key=log.key)
    assert error.where == "entries[0] (index 1)"
    assert "inclusion proof does not match the checkpoint root" in error.reason


def test_a_changed_proof_element_fails(log, bundle):
    proof = bundle["entries"][2]["inclusion_proof"]
    proof[1] = base64.b64encode(bytes(32)).decode()
    error = failure(bundle, log_key=log.key)
    assert error.where == "entries[2] (index 4)"
    assert "inclusion proof" in error.reason


def test_a_proof_element_that_is_not_base64_is_named(log, bundle):
    bundle["entries"][1]["inclusion_proof"][0] = "not base64!"
    error = failure(bundle, log_key=log.key)
    assert error.where == "entries[1] (index 3)"
    assert error.reason.startswith("inclusion_proof[0]")


def test_a_changed_checkpoint_text_fails(log, bundle):
    bundle["checkpoint"] = bundle["checkpoint"].replace("\n7\n", "\n8\n")
    error = failure(bundle, log_key=log.key)
    assert error.where == "checkpoint"
    assert "does not verify" in error.reason


def test_a_changed_checkpoint_signature_fails(log, bundle):
    body, signature_line = bundle["checkpoint"].rsplit("\n\n", 1)
    dash, name, blob = signature_line.rstrip("\n").split(" ")
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 1
    bundle["checkpoint"] = f"{body}\n\n{dash} {name} {base64.b64encode(bytes(raw)).decode()}\n"
    assert failure(bundle, log_key=log.key).where == "checkpoint"


def test_a_checkpoint_signed_by_another_key_fails(log, bundle):
    impostor = MemoryLog()
    impostor.entries = log.entries
    bundle["checkpoint"] = impostor.checkpoint()
    error = failure(bundle, log_key=log.key)
    assert error.where == "checkpoint"
    assert "not signed by any known key" in error.reason


def test_a_wrong_pinned_log_key_is_refused(bundle):
    other_key = Signer.generate("carhistory.localhost/log").verifier().key_string()
    error = failure(bundle, log_key=other_key)
    assert error.where == "log_key"
    assert "pinned" in error.reason


def test_a_whole_fake_log_is_caught_by_the_pinned_key(log, history):
    # Someone re-signs everything with their own key and ships that key in the bundle: only a
    # key the buyer obtained independently catches it.
    forger = MemoryLog()
    dealer_impostor = Signer.generate("sh-anting-vw-4s")
    forger.add_source_key("sh-anting-vw-4s", dealer_impostor)
    forger.source_entry("sh-anting-vw-4s", dealer_impostor, odometer_km=1000)
    forged = forger.bundle([1], [0])
    assert verify_bundle(forged).entries_checked == 1
    assert failure(forged, log_key=log.key).where == "log_key"


def test_a_malformed_pinned_key_is_reported(bundle):
    error = failure(bundle, log_key="not a key")
    assert error.where == "--log-key"


def test_a_forged_source_signature_is_caught(log, dealer):
    # The log itself accepted an entry in the dealer's name that the dealer never signed.
    key = log.add_source_key("sh-anting-vw-4s", dealer)
    forger = Signer.generate("sh-anting-vw-4s")
    index = log.source_entry("sh-anting-vw-4s", forger, odometer_km=100)
    log.entries[index]["source_key"] = dealer.verifier().key_string()
    error = failure(log.bundle([index], [key]), log_key=log.key)
    assert error.where == "entries[0] (index 1)"
    assert "source_sig is not sh-anting-vw-4s's signature" in error.reason


def test_a_source_key_logged_after_the_entry_does_not_vouch_for_it(log, dealer):
    index = log.source_entry("sh-anting-vw-4s", dealer, odometer_km=100)
    key = log.add_source_key("sh-anting-vw-4s", dealer)
    error = failure(log.bundle([index], [key]), log_key=log.key)
    assert error.where == "entries[0] (index 0)"
    assert "published at index 1, after this entry" in error.reason


def test_a_source_key_missing_from_the_bundle_is_reported(log, bundle):
    bundle["source_keys"] = []
    error = failure(bundle, log_key=log.key)
    assert error.where == "entries[0] (index 1)"
    assert "not proven in the log" in error.reason


def test_one_sources_key_cannot_sign_for_another_source(log, dealer):
    key = log.add_source_key("sh-anting-vw-4s", dealer)
    index = log.source_entry("pudong-insurance", dealer, type="insurance_claim")
    error = failure(log.bundle([index], [key]), log_key=log.key)
    assert "not proven in the log as a key of 'pudong-insurance'" in error.reason


def test_a_source_key_entry_must_be_the_platforms(log, dealer):
    log.add_source_key("sh-anting-vw-4s", dealer)
    # A source tries to publish a key itself.
    rogue = log.source_entry(
        "sh-anting-vw-4s", dealer, type="source_key", vin=None,
        facts={"source": "sh-anting-vw-4s", "key": dealer.verifier().key_string()},
    )  # fmt: skip
    index = log.source_entry("sh-anting-vw-4s", dealer)
    error = failure(log.bundle([index], [rogue]), log_key=log.key)
    assert error.where == "source_keys[0] (index 1)"
    assert "not the platform's" in error.reason


def test_an_ordinary_entry_posing_as_a_source_key_is_refused(log, bundle):
    bundle["source_keys"].append(bundle["entries"][0])
    error = failure(bundle, log_key=log.key)
    assert error.where == "source_keys[1] (index 1)"
    assert "is not a source_key or source_status entry" in error.reason


def test_a_correction_signed_by_a_source_is_refused(log, dealer):
    key = log.add_source_key("sh-anting-vw-4s", dealer)
    index = log.source_entry("sh-anting-vw-4s", dealer, type="correction", facts={"corrects": 0})
    error = failure(log.bundle([index], [key]), log_key=log.key)
    assert "a correction entry must be signed by the platform" in error.reason


def test_an_entry_for_another_vin_is_refused(log, history):
    bundle = log.bundle([*history["entries"], 2], history["source_keys"])
    error = failure(bundle, log_key=log.key)
    assert error.where == "entries[5] (index 2)"
    assert f"entry is for VIN {OTHER_VIN}, not {VIN}" in error.reason


def test_a_source_entry_without_a_vin_is_refused(log, dealer):
    key = log.add_source_key("sh-anting-vw-4s", dealer)
    index = log.source_entry("sh-anting-vw-4s", dealer, vin=None)
    error = failure(log.bundle([index], [key]), log_key=log.key)
    assert error.reason == "entry has no vin"


def test_platform_entries_without_a_vin_are_allowed(log):
    index = log.platform_entry(
        "source_status", {"source": "x", "status": "suspended", "reason": "fraud"}
    )
    assert verify_bundle(log.bundle([index], []), log_key=log.key).platform_entries == 1


def test_an_entry_beyond_the_checkpoint_is_refused(log, history):
    # A bundle whose entry is newer than the checkpoint it claims to be proven against.
    bundle = log.bundle([6], history["source_keys"])
    bundle["checkpoint"] = log.checkpoint(6)
    error = failure(bundle, log_key=log.key)
    assert error.where == "entries[0] (index 6)"
    assert error.reason == "index is not below the checkpoint's tree size 6"


def test_the_first_failure_is_the_one_reported(log, bundle):
    bundle["entries"][3]["entry"]["reason"] = "changed"
    bundle["entries"][1]["entry"]["vin"] = OTHER_VIN
    assert failure(bundle, log_key=log.key).where == "entries[1] (index 3)"


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda b: b.update(format="carhistory-evidence/v2"), "format"),
        (lambda b: b.pop("checkpoint"), "checkpoint"),
        (lambda b: b.update(vin=17), "vin"),
        (lambda b: b.update(entries={}), "entries"),
        (lambda b: b["entries"].append("x"), "entries[5]"),
        (lambda b: b["entries"][0].update(index=-1), "entries[0]"),
        (lambda b: b["entries"][0].update(index=True), "entries[0]"),
        (lambda b: b["entries"][0].update(index="1"), "entries[0]"),
        (lambda b: b["entries"][0].update(entry=[]), "entries[0]"),
        (lambda b: b["entries"][0]["entry"].pop("source_sig"), "entries[0]"),
        (lambda b: b["entries"][0]["entry"].update(vin=None), "entries[0]"),
        (lambda b: b["entries"][0].update(inclusion_proof="AAAA"), "entries[0]"),
        (lambda b: b["source_keys"][0].update(inclusion_proof=[1]), "source_keys[0]"),
        (lambda b: b.update(log_key="garbage"), "log_key"),
    ],
)
def test_malformed_bundles_name_the_field(bundle, change, where):
    change(bundle)
    assert failure(bundle).where == where


def test_a_bundle_that_is_not_an_object_is_refused():
    assert failure([]).where == "bundle"


def test_entry_values_json_cannot_carry_are_reported_not_crashed(log, bundle):
    bundle["entries"][0]["entry"]["odometer_km"] = 2**60
    error = failure(bundle, log_key=log.key)
    assert "not canonical JSON" in error.reason


def test_entries_signed_before_and_after_a_key_rotation_both_verify(log, dealer):
    old_key = log.add_source_key("sh-anting-vw-4s", dealer)
    before = log.source_entry("sh-anting-vw-4s", dealer, odometer_km=100)
    new_dealer_key = Signer.generate("sh-anting-vw-4s")
    new_key = log.add_source_key("sh-anting-vw-4s", new_dealer_key)
    after = log.source_entry("sh-anting-vw-4s", new_dealer_key, odometer_km=200)
    bundle = log.bundle([before, after], [old_key, new_key])
    assert verify_bundle(bundle, log_key=log.key).entries_checked == 2
