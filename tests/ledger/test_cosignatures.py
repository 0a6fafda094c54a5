"""Witnesses cosign checkpoints (C2SP tlog-cosignature); the log serves their lines."""

import pytest
from carhistory_verifier import note

from ledger import services
from ledger.models import Cosignature, Witness
from tests.ledger.factories import EntryFactory


@pytest.fixture
def witness_key():
    return note.CosignatureSigner.generate("witness.example/registry")


@pytest.fixture
def witness(witness_key, db):
    return Witness.objects.create(
        name=witness_key.name, verifier_key=witness_key.verifier().key_string()
    )


@pytest.fixture
def checkpoint_note(client, db):
    services.enqueue_entries(entries=EntryFactory.build_batch(5))
    services.integrate_pending()
    return client.get("/log/checkpoint").content.decode()


def cosigned(checkpoint_note: str, signer: note.CosignatureSigner) -> str:
    return checkpoint_note + note.cosign_checkpoint(
        checkpoint_note, signer, timestamp=1_700_000_000
    )


def post(client, witness_name: str, text: str):
    return client.post(
        "/api/v1/log/cosignatures",
        {"witness": witness_name, "note": text},
        content_type="application/json",
    )


def test_a_registered_witness_cosignature_is_served_with_the_checkpoint(
    client, witness, witness_key, checkpoint_note, log_key
):
    response = post(client, witness.name, cosigned(checkpoint_note, witness_key))
    assert response.status_code == 201
    assert response.json() == {"tree_size": 6, "timestamp": 1_700_000_000}
    served = client.get("/log/checkpoint").content.decode()
    assert note.verify_cosignature(served, witness_key.verifier()) == 1_700_000_000
    assert note.verify_checkpoint(served, log_key.verifier()).size == 6
    assert post(client, witness.name, cosigned(checkpoint_note, witness_key)).status_code == 201
    assert Cosignature.objects.count() == 1


def test_a_cosignature_by_another_key_is_refused(client, witness, checkpoint_note):
    impostor = note.CosignatureSigner.generate(witness.name)
    response = post(client, witness.name, cosigned(checkpoint_note, impostor))
    assert response.status_code == 400
    assert "no valid cosignature" in response.json()["note"][0]
    assert not Cosignature.objects.exists()


def test_an_unregistered_or_inactive_witness_is_refused(
    client, witness, witness_key, checkpoint_note
):
    Witness.objects.update(active=False)
    response = post(client, witness.name, cosigned(checkpoint_note, witness_key))
    assert response.status_code == 400
    assert not Cosignature.objects.exists()


def test_a_checkpoint_the_log_never_signed_is_refused(
    client, witness, witness_key, checkpoint_note
):
    origin, _size, root, rest = checkpoint_note.split("\n", 3)
    forged = "\n".join([origin, "7", root, rest])
    response = post(client, witness.name, cosigned(forged, witness_key))
    assert response.status_code == 400
    assert "never signed" in response.json()["note"][0]


@pytest.mark.parametrize("body", [{}, {"witness": "w"}, {"witness": "w", "note": "garbage"}])
def test_malformed_submissions_get_400(client, witness, body):
    response = client.post("/api/v1/log/cosignatures", body, content_type="application/json")
    assert response.status_code == 400


def test_a_body_that_is_not_json_gets_400(client, db):
    response = client.post("/api/v1/log/cosignatures", "{", content_type="application/json")
    assert response.status_code == 400


def test_a_deeply_nested_body_is_400_not_500(client, db):
    # The view once set DRF's plain JSONParser, so `[[[[…` escaped as a RecursionError.
    body = b'{"witness": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = client.post("/api/v1/log/cosignatures", body, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]


def test_a_body_over_the_size_limit_is_413(client, db, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    body = {"witness": "w", "note": "x" * 2_000}
    response = client.post("/api/v1/log/cosignatures", body, content_type="application/json")
    assert response.status_code == 413
    assert "detail" in response.json()
