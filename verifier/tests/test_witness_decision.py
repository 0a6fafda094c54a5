"""The witness's decision, status by status (C2SP tlog-witness v1.0.0), with no server."""

import pytest
from carhistory_verifier import merkle
from carhistory_verifier.entry import b64encode
from carhistory_verifier.note import CosignatureSigner, Signer, cosign_checkpoint
from carhistory_verifier.witness.client import request_body
from carhistory_verifier.witness.decision import (
    NEVER_COSIGNED,
    Cosigned,
    Refusal,
    Status,
    authenticate,
    extend,
    parse_add_checkpoint,
)
from witness_support import TreeLog, other_root


@pytest.fixture
def log():
    log = TreeLog()
    log.grow(10)
    return log


def decide(log: TreeLog, body: bytes, cosigned: Cosigned = NEVER_COSIGNED) -> Cosigned:
    request = parse_add_checkpoint(body)
    checkpoint = authenticate(request, {log.signer.name: [log.key]})
    return extend(request=request, checkpoint=checkpoint, cosigned=cosigned)


def refusal(log: TreeLog, body: bytes, cosigned: Cosigned = NEVER_COSIGNED) -> Refusal:
    with pytest.raises(Refusal) as caught:
        decide(log, body, cosigned)
    return caught.value


def test_a_first_checkpoint_is_cosigned_from_size_zero(log):
    new = decide(log, log.body(0))
    assert (new.size, new.root_hash) == (10, merkle.root_from_leaf_hashes(log.leaves))


def test_growth_with_a_valid_proof_is_accepted(log):
    first = decide(log, log.body(0))
    log.grow(7)
    assert decide(log, log.body(10), first).size == 17


def test_the_same_checkpoint_again_is_cosigned_again(log):
    first = decide(log, log.body(0))
    assert decide(log, log.body(10), first) == first


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"old 01\n\nx",
        b"old -1\n\nx",
        b"old 1\n",
        b"new 1\n\nx",
        b"old 1\nnot base64!\n\nx",
        b"old 1\nAAAA\n\nx",
        b"old 0\n\xff\xfe\n\nx",
        b"old 1\n" + b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n" * 64 + b"\nx",
    ],
)
def test_a_malformed_body_is_a_bad_request(body):
    with pytest.raises(Refusal) as caught:
        parse_add_checkpoint(body)
    assert caught.value.status == Status.BAD_REQUEST


def test_an_unknown_origin_is_not_found(log):
    stranger = TreeLog("stranger.example/log")
    stranger.grow(3)
    assert refusal(log, stranger.body(0)).status == Status.UNKNOWN_LOG


def test_a_checkpoint_signed_by_another_key_for_the_same_origin_is_forbidden(log):
    impostor = TreeLog(log.signer.name)
    impostor.leaves = list(log.leaves)
    assert refusal(log, impostor.body(0)).status == Status.FORBIDDEN


def test_a_trusted_signature_that_fails_is_forbidden_even_beside_a_good_one(log):
    note = log.checkpoint()
    # The same key name and id with a corrupted signature: the note is malformed.
    good_line = note.rstrip("\n").rsplit("\n", 1)[1]
    name, blob = good_line[2:].split(" ")
    bad_line = f"— {name} {blob[:10]}{'A' if blob[10] != 'A' else 'B'}{blob[11:]}\n"
    body = request_body(old_size=0, proof=[], checkpoint_note=note + bad_line)
    assert refusal(log, body).status == Status.FORBIDDEN


def test_signatures_by_other_keys_are_ignored(log):
    witness = CosignatureSigner.generate("witness.example/other")
    note = log.checkpoint()
    note += cosign_checkpoint(note, witness, timestamp=1)
    stranger = Signer.generate("unrelated.example/key")
    note += f"— {stranger.name} {b64encode(bytes(68))}\n"
    body = request_body(old_size=0, proof=[], checkpoint_note=note)
    assert decide(log, body).size == 10


def test_an_old_size_above_the_checkpoint_is_a_bad_request(log):
    body = request_body(old_size=11, proof=[], checkpoint_note=log.checkpoint())
    assert refusal(log, body).status == Status.BAD_REQUEST


def test_an_old_size_other_than_the_last_cosigned_is_a_conflict_with_that_size(log):
    first = decide(log, log.body(0))
    log.grow(5)
    refused = refusal(log, log.body(4), first)
    assert (refused.status, refused.latest_size) == (Status.CONFLICT, 10)
    refused = refusal(log, log.body(0), first)
    assert (refused.status, refused.latest_size) == (Status.CONFLICT, 10)


def test_the_same_size_with_another_root_is_a_conflict(log):
    first = decide(log, log.body(0))
    forked = log.checkpoint(root=other_root("fork"))
    body = request_body(old_size=10, proof=[], checkpoint_note=forked)
    refused = refusal(log, body, first)
    assert (refused.status, refused.latest_size) == (Status.CONFLICT, 10)


def test_a_proof_that_does_not_verify_is_unprocessable(log):
    first = decide(log, log.body(0))
    log.grow(6)
    proof = log.proof(10)
    proof[0] = other_root("tampered")
    body = request_body(old_size=10, proof=proof, checkpoint_note=log.checkpoint())
    assert refusal(log, body, first).status == Status.BAD_PROOF


def test_a_fork_after_the_last_cosigned_size_is_unprocessable(log):
    first = decide(log, log.body(0))
    fork = TreeLog(log.signer.name)
    fork.signer = log.signer
    fork.leaves = [other_root(str(i)) for i in range(16)]
    body = request_body(old_size=10, proof=fork.proof(10), checkpoint_note=fork.checkpoint())
    assert refusal(log, body, first).status == Status.BAD_PROOF


def test_a_proof_from_size_zero_must_be_empty(log):
    body = request_body(old_size=0, proof=[other_root("x")], checkpoint_note=log.checkpoint())
    assert refusal(log, body).status == Status.BAD_PROOF


def test_an_empty_checkpoint_must_have_the_empty_root(log):
    body = request_body(
        old_size=0, proof=[], checkpoint_note=log.checkpoint(0, root=other_root("x"))
    )
    assert refusal(log, body).status == Status.BAD_PROOF
    assert decide(log, log.body(0, 0)).size == 0
