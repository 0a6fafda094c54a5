"""The witness's one decision, with no network and no Django: cosign a checkpoint only if the
log signed it and it extends the last checkpoint the witness saw."""

import json

import pytest
from carhistory_verifier import merkle
from carhistory_verifier.entry import b64decode, b64encode
from carhistory_verifier.note import (
    CosignatureSigner,
    cosign_checkpoint,
    parse_checkpoint,
    sign_note,
    verify_checkpoint,
    verify_cosignature,
)
from carhistory_verifier.witness import (
    ForkError,
    WitnessError,
    WitnessState,
    check_and_cosign,
    load_state,
    save_state,
    state_from_json,
    state_to_json,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from memory_log import ORIGIN, MemoryLog

NOW = 1_750_000_000


@pytest.fixture
def witness_key():
    return CosignatureSigner.generate("registry.example/witness")


def grow(log: MemoryLog, count: int) -> None:
    for _ in range(count):
        log.source_entry("sh-vehicle-registry", None, type="registration")


def log_of(size: int) -> MemoryLog:
    log = MemoryLog()
    grow(log, size)
    return log


def state_at(log: MemoryLog, size: int) -> WitnessState:
    note = log.checkpoint(size)
    return WitnessState(note=note, checkpoint=verify_checkpoint(note, log.signer.verifier()))


def proof(log: MemoryLog, first: int, second: int) -> list[bytes]:
    return merkle.consistency_proof(first, log.leaf_hashes(second))


def cosign(log, witness_key, *, seen, note=None, consistency_proof=(), log_key=None):
    return check_and_cosign(
        seen=seen,
        checkpoint_note=note or log.checkpoint(),
        log_key=log_key or log.signer.verifier(),
        consistency_proof=list(consistency_proof),
        witness_key=witness_key,
        timestamp=NOW,
    )


def test_the_first_checkpoint_is_cosigned_and_becomes_the_state(witness_key):
    log = log_of(5)
    result = cosign(log, witness_key, seen=None)
    assert verify_cosignature(result.cosigned_note, witness_key.verifier()) == NOW
    assert verify_checkpoint(result.cosigned_note, log.signer.verifier()).size == 5
    assert result.cosigned_note == log.checkpoint() + result.signature_line
    assert result.state == state_at(log, 5)


@pytest.mark.parametrize(("seen_size", "new_size"), [(1, 2), (3, 7), (4, 8), (8, 9), (5, 70)])
def test_consistent_growth_is_cosigned(witness_key, seen_size, new_size):
    log = log_of(new_size)
    result = cosign(
        log,
        witness_key,
        seen=state_at(log, seen_size),
        consistency_proof=proof(log, seen_size, new_size),
    )
    assert verify_cosignature(result.cosigned_note, witness_key.verifier()) == NOW
    assert result.state.checkpoint.size == new_size


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=0, max_value=40), st.integers(min_value=0, max_value=40))
def test_every_honest_growth_is_cosigned(first, extra):
    log = log_of(first + extra)
    witness_key = CosignatureSigner.generate("registry.example/witness")
    seen = state_at(log, first) if first else None
    result = cosign(log, witness_key, seen=seen, consistency_proof=proof(log, first, first + extra))
    assert result.state.checkpoint.size == first + extra


def test_the_same_checkpoint_is_cosigned_again(witness_key):
    log = log_of(6)
    result = cosign(log, witness_key, seen=state_at(log, 6))
    assert result.state == state_at(log, 6)


def test_a_different_root_at_the_size_seen_is_a_fork(witness_key):
    log = log_of(6)
    seen = state_at(log, 6)
    # The same log key signs a second, different history of the same length.
    other = log_of(6)
    other.signer, other.key = log.signer, log.key
    forked_note = other.checkpoint()
    with pytest.raises(ForkError, match="THE LOG FORKED") as raised:
        cosign(log, witness_key, seen=seen, note=forked_note)
    assert raised.value.seen_note == seen.note
    assert raised.value.new_note == forked_note


def test_a_smaller_tree_than_the_one_seen_is_refused(witness_key):
    log = log_of(9)
    with pytest.raises(WitnessError, match="smaller than the size 9"):
        cosign(log, witness_key, seen=state_at(log, 9), note=log.checkpoint(4))


def test_growth_from_a_different_history_is_refused(witness_key):
    log = log_of(5)
    seen = state_at(log, 5)
    other = log_of(12)
    other.signer, other.key = log.signer, log.key
    with pytest.raises(WitnessError, match="consistency proof from size 5 to 12 does not verify"):
        cosign(
            log,
            witness_key,
            seen=seen,
            note=other.checkpoint(),
            consistency_proof=proof(other, 5, 12),
        )


def test_a_tampered_consistency_proof_is_refused(witness_key):
    log = log_of(12)
    tampered = proof(log, 5, 12)
    tampered[0] = bytes(32)
    with pytest.raises(WitnessError, match="does not verify"):
        cosign(log, witness_key, seen=state_at(log, 5), consistency_proof=tampered)


def test_a_missing_consistency_proof_is_refused(witness_key):
    log = log_of(12)
    with pytest.raises(WitnessError, match="does not verify"):
        cosign(log, witness_key, seen=state_at(log, 5), consistency_proof=[])


def test_a_checkpoint_signed_by_another_key_is_refused(witness_key):
    log = log_of(5)
    impostor = log_of(5)  # same origin name, its own key
    with pytest.raises(WitnessError, match="not the log's"):
        cosign(log, witness_key, seen=None, note=impostor.checkpoint())


def test_a_checkpoint_with_a_mangled_signature_is_refused(witness_key):
    log = log_of(5)
    note = log.checkpoint()
    # Change one byte of the Ed25519 signature, keeping the name and key id.
    blob = bytearray(b64decode(note.rsplit(" ", 1)[1].strip()))
    blob[-1] ^= 0x01
    mangled = note.rsplit(" ", 1)[0] + " " + b64encode(bytes(blob)) + "\n"
    with pytest.raises(WitnessError, match="does not verify"):
        cosign(log, witness_key, seen=None, note=mangled)


def test_a_checkpoint_for_another_origin_under_the_log_key_is_refused(witness_key):
    log = log_of(3)
    body = log.checkpoint().split("\n\n")[0] + "\n"
    forged = sign_note(body.replace(ORIGIN, "elsewhere.example/log", 1), [log.signer])
    with pytest.raises(WitnessError, match="origin"):
        cosign(log, witness_key, seen=None, note=forged)


def test_the_cosigned_note_keeps_other_witnesses_and_replaces_its_own_old_line(witness_key):
    log = log_of(4)
    other_witness = CosignatureSigner.generate("insurers.example/witness")
    served = log.checkpoint()
    served += cosign_checkpoint(served, other_witness, timestamp=NOW - 10)
    served += cosign_checkpoint(served, witness_key, timestamp=NOW - 5)
    result = cosign(log, witness_key, seen=state_at(log, 4), note=served)
    assert verify_cosignature(result.cosigned_note, other_witness.verifier()) == NOW - 10
    assert verify_cosignature(result.cosigned_note, witness_key.verifier()) == NOW
    assert result.cosigned_note.count(f"— {witness_key.name} ") == 1
    assert result.state.checkpoint == parse_checkpoint(log.checkpoint().split("\n\n")[0] + "\n")


def test_the_state_file_round_trips_and_is_replaced_whole(tmp_path):
    log = log_of(5)
    directory = tmp_path / "witness"
    directory.mkdir()
    path = directory / "witness.json"
    assert load_state(path, log.signer.verifier()) is None
    save_state(path, state_at(log, 3))
    save_state(path, state_at(log, 5))
    assert load_state(path, log.signer.verifier()) == state_at(log, 5)
    assert [p.name for p in directory.iterdir()] == ["witness.json"]


def test_a_state_file_of_another_log_is_refused():
    log, other = log_of(5), log_of(5)
    with pytest.raises(WitnessError, match="not this log's"):
        state_from_json(state_to_json(state_at(other, 5)), log.signer.verifier())


@pytest.mark.parametrize(
    "text",
    ["", "{", "[]", '{"format": "x"}', json.dumps({"format": "carhistory-witness-state/v1"})],
)
def test_a_damaged_state_file_is_an_error_not_a_fresh_start(tmp_path, text):
    log = log_of(2)
    path = tmp_path / "witness.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(WitnessError):
        load_state(path, log.signer.verifier())
