"""Cosigners' C2SP tlog-cosignatures on checkpoints: which are accepted, and how the log
serves them. (Witnesses' come through the push, tests/witness; mirrors' through the mirror
API, tests/mirror; both end in `services.add_cosignature` or `store_cosignature`.)"""

import pytest
from carhistory_verifier import note

from ledger import services
from ledger.models import Checkpoint, Cosignature, Cosigner
from tests.ledger.factories import EntryFactory


@pytest.fixture
def cosigner_key():
    return note.CosignatureSigner.generate("registry.example/mirror")


@pytest.fixture
def cosigner(cosigner_key, db):
    return Cosigner.objects.create(
        name=cosigner_key.name,
        verifier_key=cosigner_key.verifier().key_string(),
        kind=Cosigner.Kind.MIRROR,
    )


@pytest.fixture
def checkpoint_note(client, db):
    services.enqueue_entries(entries=EntryFactory.build_batch(5))
    services.integrate_pending()
    return client.get("/log/checkpoint").content.decode()


def cosigned(checkpoint_note: str, signer: note.CosignatureSigner, timestamp=1_700_000_000) -> str:
    return checkpoint_note + note.cosign_checkpoint(checkpoint_note, signer, timestamp=timestamp)


def test_a_cosignature_is_served_with_the_checkpoint(
    client, cosigner, cosigner_key, checkpoint_note, log_key
):
    stored = services.add_cosignature(
        cosigner_name=cosigner.name, cosigned_note=cosigned(checkpoint_note, cosigner_key)
    )
    assert (stored.checkpoint_id, stored.timestamp) == (6, 1_700_000_000)
    served = client.get("/log/checkpoint").content.decode()
    assert note.verify_cosignature(served, cosigner_key.verifier()) == 1_700_000_000
    assert note.verify_checkpoint(served, log_key.verifier()).size == 6
    services.add_cosignature(
        cosigner_name=cosigner.name, cosigned_note=cosigned(checkpoint_note, cosigner_key)
    )
    assert Cosignature.objects.count() == 1


def test_a_cosignature_stored_again_is_the_row_kept_the_first_time(
    cosigner, cosigner_key, checkpoint_note
):
    line = cosigned(checkpoint_note, cosigner_key)
    first = services.add_cosignature(cosigner_name=cosigner.name, cosigned_note=line)
    again = services.add_cosignature(cosigner_name=cosigner.name, cosigned_note=line)
    loaded = Cosignature.objects.get()
    assert first.pk == again.pk == loaded.pk
    for stored in (first, again):
        assert [getattr(stored, field.attname) for field in Cosignature._meta.concrete_fields] == [
            getattr(loaded, field.attname) for field in Cosignature._meta.concrete_fields
        ]
        assert not stored._state.adding


def test_only_the_newest_cosignature_of_each_cosigner_is_served(
    client, cosigner, cosigner_key, checkpoint_note
):
    for timestamp in (1_700_000_300, 1_700_000_000, 1_700_000_100):
        services.add_cosignature(
            cosigner_name=cosigner.name,
            cosigned_note=cosigned(checkpoint_note, cosigner_key, timestamp),
        )
    served = client.get("/log/checkpoint").content.decode()
    assert served.count(f"— {cosigner.name} ") == 1
    assert note.verify_cosignature(served, cosigner_key.verifier()) == 1_700_000_300


def test_an_inactive_cosigner_is_neither_accepted_nor_served(
    client, cosigner, cosigner_key, checkpoint_note
):
    services.add_cosignature(
        cosigner_name=cosigner.name, cosigned_note=cosigned(checkpoint_note, cosigner_key)
    )
    Cosigner.objects.update(active=False)
    assert cosigner.name not in client.get("/log/checkpoint").content.decode()
    with pytest.raises(services.CosignatureError, match="not an active"):
        services.add_cosignature(
            cosigner_name=cosigner.name,
            cosigned_note=cosigned(checkpoint_note, cosigner_key, 1_700_000_001),
        )


def test_a_cosignature_by_another_key_is_refused(cosigner, checkpoint_note):
    impostor = note.CosignatureSigner.generate(cosigner.name)
    with pytest.raises(services.CosignatureError, match="no valid cosignature"):
        services.add_cosignature(
            cosigner_name=cosigner.name, cosigned_note=cosigned(checkpoint_note, impostor)
        )
    assert not Cosignature.objects.exists()


def test_a_checkpoint_the_log_never_signed_is_refused(cosigner, cosigner_key, checkpoint_note):
    origin, _size, root, rest = checkpoint_note.split("\n", 3)
    forged = "\n".join([origin, "7", root, rest])
    with pytest.raises(services.CosignatureError, match="never signed"):
        services.add_cosignature(
            cosigner_name=cosigner.name, cosigned_note=cosigned(forged, cosigner_key)
        )
    assert Checkpoint.objects.count() == 1
