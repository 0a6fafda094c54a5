"""A buyer's witness policy: `carhistory-verify BUNDLE --witness KEY … --quorum K`."""

import json
import time

import pytest
from carhistory_verifier.note import CosignatureSigner, Signer, cosign_checkpoint
from carhistory_verifier.quorum import QuorumFailure, require_quorum
from carhistory_verifier.verify import main
from memory_log import MemoryLog

NOW = 1_790_000_000


@pytest.fixture
def log():
    return MemoryLog()


@pytest.fixture
def witnesses():
    return [CosignatureSigner.generate(f"witness{n}.example/w") for n in range(3)]


@pytest.fixture
def bundle(log):
    dealer = Signer.generate("sh-anting-vw-4s")
    key = log.add_source_key("sh-anting-vw-4s", dealer)
    first = log.source_entry("sh-anting-vw-4s", dealer, odometer_km=45210)
    return log.bundle([first], [key])


def cosign(bundle: dict, *signers: CosignatureSigner, at: int = NOW) -> dict:
    note = bundle["checkpoint"]
    for signer in signers:
        note += cosign_checkpoint(bundle["checkpoint"], signer, timestamp=at)
    return {**bundle, "checkpoint": note}


def write(tmp_path, bundle: dict):
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    return str(path)


def witness_arguments(*signers: CosignatureSigner) -> list[str]:
    return [argument for s in signers for argument in ("--witness", s.verifier().key_string())]


def test_a_quorum_of_trusted_cosignatures_verifies_and_prints_their_times(
    tmp_path, log, bundle, witnesses, capsys
):
    path = write(tmp_path, cosign(bundle, witnesses[0], witnesses[2], at=int(time.time()) - 12))
    code = main([path, "--log-key", log.key, *witness_arguments(*witnesses), "--quorum", "2"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Witnesses: 2 of 3 cosigned (quorum 2)" in out
    assert "witness0.example/w at " in out and "witness2.example/w at " in out
    assert "12 seconds ago" in out


def test_too_few_cosignatures_fail(tmp_path, log, bundle, witnesses, capsys):
    path = write(tmp_path, cosign(bundle, witnesses[0]))
    code = main([path, "--log-key", log.key, *witness_arguments(*witnesses), "--quorum", "2"])
    assert code == 1
    assert "1 of the 3 trusted witnesses cosigned" in capsys.readouterr().err


def test_cosignatures_by_untrusted_or_impostor_keys_do_not_count(bundle, witnesses):
    impostor = CosignatureSigner.generate(witnesses[1].name)
    stranger = CosignatureSigner.generate("stranger.example/w")
    cosigned = cosign(bundle, impostor, stranger, witnesses[0])
    keys = [w.verifier() for w in witnesses]
    assert [c.name for c in require_quorum(cosigned["checkpoint"], keys, 1, now=NOW)] == [
        witnesses[0].name
    ]
    with pytest.raises(QuorumFailure):
        require_quorum(cosigned["checkpoint"], keys, 2, now=NOW)


def test_one_witness_listed_twice_counts_once(bundle, witnesses):
    cosigned = cosign(bundle, witnesses[0], witnesses[0])
    key = witnesses[0].verifier()
    with pytest.raises(QuorumFailure):
        require_quorum(cosigned["checkpoint"], [key, key], 2, now=NOW)


def test_a_cosignature_on_another_checkpoint_does_not_count(log, bundle, witnesses):
    older = log.checkpoint(size=1)
    line = cosign_checkpoint(older, witnesses[0], timestamp=NOW)
    moved = bundle["checkpoint"] + line
    with pytest.raises(QuorumFailure):
        require_quorum(moved, [witnesses[0].verifier()], 1, now=NOW)


def test_a_cosignature_dated_in_the_future_fails(bundle, witnesses):
    cosigned = cosign(bundle, witnesses[0], at=NOW + 3600)
    with pytest.raises(QuorumFailure, match="future"):
        require_quorum(cosigned["checkpoint"], [witnesses[0].verifier()], 1, now=NOW)


def test_a_quorum_larger_than_the_keys_given_is_a_usage_error(
    tmp_path, log, bundle, witnesses, capsys
):
    path = write(tmp_path, cosign(bundle, *witnesses))
    code = main([path, "--log-key", log.key, *witness_arguments(witnesses[0]), "--quorum", "2"])
    assert code == 2
    assert "--quorum 2" in capsys.readouterr().err


def test_a_log_key_is_not_a_witness_key(tmp_path, log, bundle, capsys):
    code = main([write(tmp_path, bundle), "--witness", log.key])
    assert code == 2
    assert "--witness" in capsys.readouterr().err
