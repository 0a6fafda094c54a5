"""The log's public HTTP surface (SPEC §4), checked the way an outside client checks it."""

import pytest
from carhistory_verifier import merkle, note
from carhistory_verifier.entry import b64decode
from carhistory_verifier.tiles import TileAddress, tile_path
from django.conf import settings

from ledger import services
from ledger.models import Checkpoint, Entry
from tests.ledger.factories import EntryFactory

SIZE = 70


@pytest.fixture
def log_of_70(db):
    # Seven batches of nine, each ending with its vin_index entry (SPEC §7): 63 + 7 = 70.
    services.enqueue_entries(entries=EntryFactory.build_batch(63))
    services.integrate_pending(batch_size=9)
    return [
        bytes(value)
        for value in Entry.objects.order_by("index").values_list("leaf_hash", flat=True)
    ]


def signed_checkpoint(client, log_key) -> note.Checkpoint:
    response = client.get("/log/checkpoint")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    return note.verify_checkpoint(
        response.content.decode(), log_key.verifier(), origin=settings.LEDGER_ORIGIN
    )


def test_the_key_endpoint_serves_the_log_verifier_key(client, log_key, db):
    response = client.get("/log/key")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode().strip() == log_key.verifier().key_string()


def test_an_empty_log_serves_a_checkpoint_of_its_lone_vin_index_entry(client, log_key, db):
    checkpoint = signed_checkpoint(client, log_key)
    only = Entry.objects.get()
    assert (checkpoint.size, checkpoint.root_hash) == (1, merkle.leaf_hash(bytes(only.data)))


def test_the_vrf_key_endpoint_serves_the_public_key(client, vrf_key, db):
    response = client.get("/log/vrf-key")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert b64decode(response.content.decode().strip()) == vrf_key.public_key


def test_the_checkpoint_is_the_latest_signed_tree(client, log_key, log_of_70):
    checkpoint = signed_checkpoint(client, log_key)
    assert checkpoint.size == SIZE
    assert checkpoint.root_hash == merkle.root_from_leaf_hashes(log_of_70)


@pytest.mark.parametrize("tree_size", [1, 2, 9, 27, 33, 64, SIZE])
def test_inclusion_proofs_verify_against_the_signed_root(client, log_key, log_of_70, tree_size):
    root = merkle.root_from_leaf_hashes(log_of_70[:tree_size])
    if Checkpoint.objects.filter(tree_size=tree_size).exists():
        assert bytes(Checkpoint.objects.get(tree_size=tree_size).root_hash) == root
    for index in sorted({0, tree_size // 2, tree_size - 1}):
        response = client.get(
            "/api/v1/log/proof/inclusion", {"index": index, "tree_size": tree_size}
        )
        assert response.status_code == 200
        body = response.json()
        assert (body["index"], body["tree_size"]) == (index, tree_size)
        assert b64decode(body["leaf_hash"]) == log_of_70[index]
        proof = [b64decode(value) for value in body["proof"]]
        assert proof == merkle.inclusion_proof(index, log_of_70[:tree_size])
        merkle.verify_inclusion(
            index=index, tree_size=tree_size, leaf_hash=log_of_70[index], proof=proof, root=root
        )


@pytest.mark.parametrize(("first", "second"), [(0, 9), (1, 70), (9, 18), (27, 64), (63, 70)])
def test_consistency_proofs_verify_between_signed_checkpoints(client, log_of_70, first, second):
    response = client.get("/api/v1/log/proof/consistency", {"first": first, "second": second})
    assert response.status_code == 200
    body = response.json()
    assert (body["first"], body["second"]) == (first, second)
    proof = [b64decode(value) for value in body["proof"]]
    assert proof == merkle.consistency_proof(first, log_of_70[:second])
    merkle.verify_consistency(
        first=first,
        second=second,
        first_root=merkle.root_from_leaf_hashes(log_of_70[:first]),
        second_root=merkle.root_from_leaf_hashes(log_of_70[:second]),
        proof=proof,
    )


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"index": "0"},
        {"index": "abc", "tree_size": "5"},
        {"index": "-1", "tree_size": "5"},
        {"index": "5", "tree_size": "5"},
        {"index": "0", "tree_size": "71"},
        {"index": "0", "tree_size": "0"},
        {"index": "0", "tree_size": "1e3"},
        {"index": "0", "tree_size": str(2**80)},
    ],
)
def test_bad_inclusion_requests_get_400_with_a_reason(client, log_of_70, query):
    response = client.get("/api/v1/log/proof/inclusion", query)
    assert response.status_code == 400
    assert response.json()


@pytest.mark.parametrize(
    "query",
    [
        {"first": "1"},
        {"first": "x", "second": "2"},
        {"first": "5", "second": "4"},
        {"first": "0", "second": "71"},
        {"first": "-2", "second": "4"},
    ],
)
def test_bad_consistency_requests_get_400_with_a_reason(client, log_of_70, query):
    response = client.get("/api/v1/log/proof/consistency", query)
    assert response.status_code == 400
    assert response.json()


def test_a_full_level_zero_tile_is_immutable(client, db):
    services.enqueue_entries(entries=EntryFactory.build_batch(300))
    services.integrate_pending()
    leaves = list(Entry.objects.order_by("index").values_list("leaf_hash", flat=True))
    response = client.get("/log/tile/0/000")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert "immutable" in response["Cache-Control"]
    assert response.content == b"".join(bytes(value) for value in leaves[:256])
    partial = client.get("/log/tile/0/001.p/44")
    assert partial.status_code == 200
    assert "immutable" not in partial["Cache-Control"]
    assert partial.content == b"".join(bytes(value) for value in leaves[256:300])


def test_a_level_one_tile_holds_level_eight_subtree_hashes(client, log_of_70, db):
    services.enqueue_entries(entries=EntryFactory.build_batch(256 * 3 - SIZE))
    services.integrate_pending()
    leaves = [bytes(v) for v in Entry.objects.order_by("index").values_list("leaf_hash", flat=True)]
    response = client.get("/" + "log/tile/" + tile_path(TileAddress(level=1, index=0, width=3)))
    assert response.status_code == 200
    assert response.content == b"".join(
        merkle.root_from_leaf_hashes(leaves[start : start + 256]) for start in (0, 256, 512)
    )


@pytest.mark.parametrize("path", ["0/001", "0/000.p/71", "1/000.p/1", "2/000"])
def test_tiles_beyond_the_tree_are_404(client, log_of_70, path):
    assert client.get(f"/log/tile/{path}").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "",
        "0",
        "0/1",
        "00/000",
        "0/000.p/0",
        "0/000.p/256",
        "x/000",
        "entries/000",
        "0/x000/001",
        "64/000",
    ],
)
def test_malformed_tile_paths_are_400(client, log_of_70, path):
    assert client.get(f"/log/tile/{path}").status_code == 400


def test_the_openapi_schema_documents_the_proof_endpoints(client, db):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"index", "tree_size"} <= {
        parameter["name"] for parameter in paths["/api/v1/log/proof/inclusion"]["get"]["parameters"]
    }
    assert "/api/v1/log/proof/consistency" in paths
