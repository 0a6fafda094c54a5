"""The mirror's SQLite store: entries kept as bundles of 256, the tree's right edge beside
them, and a file changed behind the mirror's back refused."""

import sqlite3
from types import SimpleNamespace

import pytest
from carhistory_verifier import merkle, note
from carhistory_verifier.mirror.store import MirrorStore, StoreError


@pytest.fixture
def log_key():
    return note.Signer.generate("carhistory.localhost/log").verifier()


def entries(start: int, end: int) -> list[bytes]:
    return [f'{{"n":{number}}}'.encode() for number in range(start, end)]


def append(store: MirrorStore, new: list[bytes]) -> None:
    frontier = store.frontier()
    first = frontier.size
    for data in new:
        frontier.append(merkle.leaf_hash(data))
    store.append(first, new, frontier)


def test_entries_grow_across_partial_bundles_and_survive_reopening(tmp_path, log_key):
    store = MirrorStore(tmp_path / "m.sqlite3", log_key)
    append(store, entries(0, 100))
    append(store, entries(100, 600))
    append(store, entries(600, 601))
    store.close()
    reopened = MirrorStore(tmp_path / "m.sqlite3", log_key)
    assert reopened.size == 601
    assert [data for _, data in reopened.iter_entries()] == entries(0, 601)
    assert reopened.entries(250, 520) == entries(250, 520)
    assert reopened.frontier().root() == merkle.root_from_leaf_hashes(
        [merkle.leaf_hash(data) for data in entries(0, 601)]
    )
    rows = sqlite3.connect(tmp_path / "m.sqlite3").execute("SELECT COUNT(*) FROM bundles")
    assert rows.fetchone()[0] == 3


def test_truncating_keeps_the_partial_bundle_it_ends_in(tmp_path, log_key):
    store = MirrorStore(tmp_path / "m.sqlite3", log_key)
    append(store, entries(0, 300))
    store.truncate_to(None)
    assert store.size == 0
    assert list(store.iter_entries()) == []


def test_a_store_for_another_log_is_refused(tmp_path, log_key):
    MirrorStore(tmp_path / "m.sqlite3", log_key).close()
    other = note.Signer.generate("carhistory.localhost/log").verifier()
    with pytest.raises(StoreError, match="mirrors the log with key"):
        MirrorStore(tmp_path / "m.sqlite3", other)


def test_a_bundle_removed_behind_the_mirrors_back_is_noticed(tmp_path, log_key):
    store = MirrorStore(tmp_path / "m.sqlite3", log_key)
    append(store, entries(0, 600))
    store.close()
    with sqlite3.connect(tmp_path / "m.sqlite3") as database:
        database.execute("DELETE FROM bundles WHERE tile = 1")
    with pytest.raises(StoreError, match="changed by something other than carhistory-mirror"):
        MirrorStore(tmp_path / "m.sqlite3", log_key)


def test_the_vin_index_state_round_trips_into_the_map_audit(tmp_path, log_key):
    from carhistory_verifier.mirror.map_audit import MapAudit

    store = MirrorStore(tmp_path / "m.sqlite3", log_key)
    new = entries(0, 3)
    frontier = store.frontier()
    for data in new:
        frontier.append(merkle.leaf_hash(data))
    key, proof = bytes(range(32)), bytes(80)
    store.append(0, new, frontier, {"LSVAU2180N2183294": (key, proof, [0, 2])})
    known = store.known_vins()
    assert known == {"LSVAU2180N2183294": (key, proof, [0, 2])}
    audit = MapAudit(vrf_key=bytes(32), known=store.vin_rows())
    assert audit.index.indexes(key) == (0, 2)
    assert audit.keys == {"LSVAU2180N2183294": key}


def test_the_vin_index_grows_across_appends_and_a_truncation_takes_it_back(tmp_path, log_key):
    store = MirrorStore(tmp_path / "m.sqlite3", log_key)
    first_key, second_key, proof = bytes(32), bytes(range(32)), bytes(80)
    frontier = store.frontier()
    for data in entries(0, 3):
        frontier.append(merkle.leaf_hash(data))
    store.append(0, entries(0, 3), frontier, {"LSVAU2180N2183294": (first_key, proof, [0, 2])})
    verified = store.frontier()
    for data in entries(3, 6):
        frontier.append(merkle.leaf_hash(data))
    store.append(
        3,
        entries(3, 6),
        frontier,
        {
            "LSVAU2180N2183294": (first_key, proof, [4]),
            "LFV2A21K3J3041877": (second_key, proof, [3, 5]),
        },
    )
    assert store.known_vins() == {
        "LSVAU2180N2183294": (first_key, proof, [0, 2, 4]),
        "LFV2A21K3J3041877": (second_key, proof, [3, 5]),
    }
    # A refused checkpoint: the store goes back to the tree of the last verified one.
    store.truncate_to(SimpleNamespace(frontier=verified))
    store.close()
    reopened = MirrorStore(tmp_path / "m.sqlite3", log_key)
    assert reopened.size == 3
    assert reopened.known_vins() == {"LSVAU2180N2183294": (first_key, proof, [0, 2])}


def test_a_recorded_checkpoint_folds_the_vin_index_rows_of_many_appends(tmp_path, log_key):
    from carhistory_verifier.mirror import store as store_module

    store = MirrorStore(tmp_path / "m.sqlite3", log_key)
    key, proof = bytes(range(32)), bytes(80)
    frontier = store.frontier()
    appends = store_module.FOLD_VIN_ENTRIES_AFTER + 2
    for number in range(appends):
        frontier.append(merkle.leaf_hash(entries(number, number + 1)[0]))
        store.append(number, entries(number, number + 1), frontier, {"A": (key, proof, [number])})
    store.record_checkpoint("the log's signed note\n", "— the mirror's line\n")
    rows = store._db.execute("SELECT COUNT(*) FROM vin_entries").fetchone()[0]
    assert rows == 1
    assert store.known_vins() == {"A": (key, proof, list(range(appends)))}


def test_a_store_made_with_small_pages_keeps_them_and_its_entries(tmp_path, log_key):
    # Stores made before pages of 16 KiB have SQLite's 4 KiB: they open and grow as before.
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)
    old.execute("PRAGMA page_size=4096")
    old.execute("PRAGMA journal_mode=WAL")
    old.close()
    store = MirrorStore(path, log_key)
    append(store, entries(0, 300))
    store.close()
    reopened = MirrorStore(path, log_key)
    append(reopened, entries(300, 310))
    assert [data for _, data in reopened.iter_entries()] == entries(0, 310)
    assert sqlite3.connect(path).execute("PRAGMA page_size").fetchone()[0] == 4096
    new = MirrorStore(tmp_path / "new.sqlite3", log_key)
    append(new, entries(0, 10))
    assert new._db.execute("PRAGMA page_size").fetchone()[0] == 16384
