"""The VIN index in the sequencer (SPEC §7): every checkpoint ends with a `vin_index` entry
whose root is the map of every entry before it, proofs come from the stored map, and the
audit rebuilds the map and catches it when it was changed behind the sequencer's back."""

import json
import os
from contextlib import contextmanager

import pytest
from carhistory_verifier import entry as entry_format
from carhistory_verifier import note, protocol, vrf
from carhistory_verifier.vin_index import VinIndex, VinIndexError, node_of, verify_proof
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection

from ledger import selectors, services, vin_index
from ledger.models import Checkpoint, Entry, PendingEntry, VinKey
from tests.ledger.test_verify_ledger import tamper

VINS = ["LSVAU2180N2183294", "WVWZZZ1JZXW000001", "LFV2A21K3J3041877", "1FTEW1EP3MFA17393"]


def map_key(vrf_key, vin: str) -> bytes:
    return vrf.proof_to_hash(vrf.prove(vrf_key, vin.encode()))[:32]


@pytest.fixture(autouse=True, params=["in memory", "read from the table"])
def sequencer_map(request, monkeypatch):
    """Each test twice: with the sequencer holding the whole map in memory (loaded for any
    batch), and as it does for small batches or past `IN_MEMORY_NODE_LIMIT`, reading the
    nodes each batch touches from the table."""
    if request.param == "in memory":
        monkeypatch.setattr(vin_index, "LOAD_FOR_BATCHES_OF_VINS", 0)
    else:
        monkeypatch.setattr(vin_index, "IN_MEMORY_NODE_LIMIT", 0)
    vin_index._node_caches.__dict__.clear()
    yield request.param
    vin_index._node_caches.__dict__.clear()


@pytest.fixture
def log_of_four_vins(db):
    from tests.ledger.factories import EntryFactory

    entries = [EntryFactory(vin=VINS[number % 3]) for number in range(40)]
    services.enqueue_entries(entries=entries)
    services.integrate_pending(batch_size=7)
    # A VIN that arrives later, in a batch of its own.
    services.enqueue_entries(entries=[EntryFactory(vin=VINS[3])])
    services.integrate_pending()


@pytest.mark.django_db
def test_every_checkpoint_ends_with_the_map_of_all_entries_before_it(
    log_of_four_vins, log_key, vrf_key
):
    # Recomputed here from the entry bytes and the VRF itself, not from the stored map.
    keys_by_vin = {vin: map_key(vrf_key, vin) for vin in VINS}
    expected = VinIndex()
    rows = Entry.objects.order_by("index").values_list("index", "data")
    checkpoint_sizes = set(Checkpoint.objects.values_list("tree_size", flat=True))
    seen = 0
    for index, data in rows:
        entry = json.loads(bytes(data))
        if entry["type"] != protocol.VIN_INDEX:
            expected.add(keys_by_vin[entry["vin"]], index)
            continue
        assert index + 1 in checkpoint_sizes
        assert entry["source"] == protocol.PLATFORM_SOURCE
        assert entry["source_key"] == log_key.verifier().key_string()
        assert log_key.verifier().verify(
            entry_format.statement_bytes(entry), entry_format.b64decode(entry["source_sig"])
        )
        assert "vin" not in entry
        assert entry["facts"] == {
            "size": index,
            "root": entry_format.b64encode(expected.root()),
            "vrf_key": entry_format.b64encode(vrf_key.public_key),
        }
        seen += 1
    assert seen == len(checkpoint_sizes) == 7


@pytest.mark.django_db
def test_stored_proofs_verify_for_present_and_absent_vins(log_of_four_vins, vrf_key):
    facts = json.loads(bytes(Entry.objects.order_by("-index").first().data))["facts"]
    root = entry_format.b64decode(facts["root"])
    for vin in [*VINS, "LVSHFFAL9H5226410"]:
        place, proof = vin_index.proof_for(vin)
        key = vrf.verify(vrf_key.public_key, vin.encode(), place.vrf_proof)[:32]
        indexes = [entry.index for entry in selectors.entries_for_vin(vin)]
        verify_proof(root=root, key=key, indexes=indexes, proof=proof)
        if indexes:
            with pytest.raises(VinIndexError):
                verify_proof(root=root, key=key, indexes=indexes[1:], proof=proof)


@pytest.mark.django_db
def test_each_vins_vrf_proof_is_computed_once_at_enqueue(db, monkeypatch):
    from tests.ledger.factories import EntryFactory

    services.enqueue_entries(entries=[EntryFactory(vin=VINS[0])])
    stored = bytes(VinKey.objects.get(vin=VINS[0]).vrf_proof)
    calls = []
    monkeypatch.setattr(vin_index, "vrf_place", lambda vin: calls.append(vin))
    services.enqueue_entries(entries=[EntryFactory(vin=VINS[0])])
    services.integrate_pending()
    assert calls == []
    assert bytes(VinKey.objects.get(vin=VINS[0]).vrf_proof) == stored


@pytest.mark.django_db
def test_a_batch_proves_only_its_new_vins_and_keeps_its_order(db, monkeypatch):
    from tests.ledger.factories import EntryFactory

    services.enqueue_entries(entries=[EntryFactory(vin=VINS[0])])
    proved = []
    place = vin_index.vrf_place
    monkeypatch.setattr(vin_index, "vrf_place", lambda vin: proved.append(vin) or place(vin))
    entries = [EntryFactory(vin=VINS[1]), EntryFactory(vin=VINS[0]), EntryFactory(vin=VINS[1])]
    pending = services.enqueue_entries(entries=entries)
    assert proved == [VINS[1]]
    assert bytes(VinKey.objects.get(vin=VINS[1]).vrf_proof) == place(VINS[1])[0]
    assert [item.id for item in pending] == sorted(item.id for item in pending)
    stored = PendingEntry.objects.in_bulk([item.id for item in pending])
    vins = [json.loads(bytes(stored[item.id].data))["vin"] for item in pending]
    assert vins == [VINS[1], VINS[0], VINS[1]]


@pytest.mark.django_db
def test_the_audit_passes_an_intact_map(log_of_four_vins, capsys):
    call_command("verify_ledger")
    assert "7 vin_index entries and the stored VIN index match" in capsys.readouterr().out


@pytest.mark.django_db
def test_a_map_node_changed_behind_the_sequencers_back_is_caught(log_of_four_vins):
    tamper("UPDATE ledger_vinindexnode SET hash = %s WHERE path = %s", [bytes(32), b"\x00\x01\x80"])
    tamper(
        "UPDATE ledger_vinindexnode SET hash = %s WHERE path = (SELECT path FROM "
        "ledger_vinindexnode ORDER BY path DESC LIMIT 1)",
        [bytes(32)],
    )
    with pytest.raises(CommandError, match="stored VIN index node"):
        call_command("verify_ledger")


@pytest.mark.django_db
def test_an_entry_hidden_from_the_map_is_named_at_the_next_vin_index_entry(log_of_four_vins):
    from tests.ledger.factories import EntryFactory

    # An insider drops a car's first entry from its stored list, hoping an accident will not
    # show; the car's next entry makes the sequencer commit a map without it.
    indexes = bytes(VinKey.objects.get(vin=VINS[0]).indexes)
    tamper("UPDATE ledger_vinkey SET indexes = %s WHERE vin = %s", [indexes[8:], VINS[0]])
    size = selectors.tree_size()
    services.enqueue_entries(entries=[EntryFactory(vin=VINS[0])])
    services.integrate_pending()
    with pytest.raises(CommandError, match=f"vin_index entry {size + 1}: its root"):
        call_command("verify_ledger")


@pytest.mark.django_db
def test_stored_indexes_changed_behind_the_sequencers_back_are_caught(log_of_four_vins):
    tamper("UPDATE ledger_vinkey SET indexes = %s WHERE vin = %s", [b"", VINS[0]])
    with pytest.raises(CommandError, match=f"stored entry indexes of {VINS[0]}"):
        call_command("verify_ledger")


@pytest.mark.django_db
def test_a_stored_key_that_is_not_the_proofs_output_is_caught(log_of_four_vins):
    tamper("UPDATE ledger_vinkey SET key = %s WHERE vin = %s", [b"\x07" * 32, VINS[1]])
    with pytest.raises(CommandError, match=f"VIN index key of {VINS[1]}"):
        call_command("verify_ledger")


@pytest.mark.django_db
def test_the_checkpoint_and_its_vin_index_entry_are_signed_by_the_log(log_of_four_vins, log_key):
    latest = selectors.latest_checkpoint()
    signed = note.verify_checkpoint(latest.note, log_key.verifier())
    last = Entry.objects.get(index=signed.size - 1)
    assert last.type == protocol.VIN_INDEX


@contextmanager
def checkpoints_refused(table: str = "ledger_checkpoint"):
    """A fault in one of the batch's writes: the database refuses the rows of `table` (by
    default the checkpoint, the last write, after the map's), so the whole batch rolls back."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_refuse_checkpoint() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'checkpoint refused by the test'; END $$"
        )
        cursor.execute(
            f"CREATE TRIGGER test_refuse_checkpoint BEFORE INSERT ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION test_refuse_checkpoint()"
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER test_refuse_checkpoint ON {table}")
            cursor.execute("DROP FUNCTION test_refuse_checkpoint()")


@pytest.mark.django_db
def test_a_batch_rolled_back_after_its_map_update_leaves_nothing_in_the_next_root(
    log_of_four_vins,
):
    from tests.ledger.factories import EntryFactory

    # The sequencer keeps the map's nodes in memory between batches. This batch writes (and
    # caches) new nodes for every VIN, then rolls back.
    size = selectors.tree_size()
    services.enqueue_entries(
        entries=[EntryFactory(vin=vin) for vin in [*VINS, "LVSHFFAL9H5226410"]]
    )
    with checkpoints_refused(), pytest.raises(DatabaseError, match="checkpoint refused"):
        services.integrate_pending()
    assert selectors.tree_size() == size

    # Retried one entry a batch: the first batch leaves out the VINs whose rolled-back nodes a
    # stale cache would still hold, so their old leaves must come from the committed map.
    services.integrate_pending(batch_size=1)
    assert selectors.tree_size() == size + 10
    call_command("verify_ledger")


@pytest.mark.django_db
def test_a_restarted_sequencer_carries_on_from_the_stored_map(log_of_four_vins, capsys):
    from tests.ledger.factories import EntryFactory

    # A new worker process holds nothing: it loads the committed map from its stored nodes.
    vin_index._node_caches.__dict__.clear()
    services.enqueue_entries(
        entries=[EntryFactory(vin=vin) for vin in [*VINS, "LVSHFFAL9H5226410", VINS[0]]]
    )
    services.integrate_pending(batch_size=4)
    call_command("verify_ledger")
    assert "9 vin_index entries and the stored VIN index match" in capsys.readouterr().out


@pytest.mark.django_db
def test_worker_processes_taking_turns_each_start_from_the_committed_map(log_of_four_vins):
    from tests.ledger.factories import EntryFactory

    # Two worker processes, each with its own memory (here: its own copy of the per-thread
    # state), take turns at the sequencer. A process whose map in memory is not the committed
    # one must reload it or read the table, never carry on from its own stale copy.
    memories = {"A": {}, "B": {}}

    def batch(process: str, vins: list[str], *, expect_loaded: bool) -> None:
        state = vin_index._node_caches.__dict__
        state.clear()
        state.update(memories[process])
        services.enqueue_entries(entries=[EntryFactory(vin=vin) for vin in vins])
        services.integrate_pending()
        assert (state.get("trie") is not None) == expect_loaded
        memories[process] = dict(state)

    two, one = [VINS[0], "LVSHFFAL9H5226410"], [VINS[1]]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(vin_index, "LOAD_FOR_BATCHES_OF_VINS", 2)
        patch.setattr(vin_index, "IN_MEMORY_NODE_LIMIT", 10**9)
        batch("A", two, expect_loaded=True)
        batch("B", one, expect_loaded=False)  # small: the table
        batch("A", one, expect_loaded=False)  # A's map is stale, the batch small: the table
        batch("A", two, expect_loaded=True)  # reloaded
        batch("B", two, expect_loaded=True)
        batch("A", [VINS[2], "WDB1240821A000001"], expect_loaded=True)  # reloaded again
    call_command("verify_ledger")


@pytest.mark.django_db
def test_a_batch_whose_map_write_fails_leaves_no_trace_in_the_map_in_memory(
    log_of_four_vins, monkeypatch
):
    from tests.ledger.factories import EntryFactory

    # The map in memory is changed before the nodes are written; the write fails and the
    # batch rolls back. The next batch must not start from the changed copy.
    size = selectors.tree_size()

    def refuse(*args, **kwargs):
        raise DatabaseError("node write refused by the test")

    services.enqueue_entries(entries=[EntryFactory(vin=vin) for vin in [*VINS, VINS[0]]])
    with monkeypatch.context() as patch, pytest.raises(DatabaseError, match="refused"):
        patch.setattr(vin_index, "_write_nodes", refuse)
        services.integrate_pending()
    assert selectors.tree_size() == size
    services.integrate_pending(batch_size=2)
    call_command("verify_ledger")


@pytest.mark.django_db
def test_entries_refused_while_the_map_is_hashed_roll_the_batch_back(log_of_four_vins):
    from tests.ledger.factories import EntryFactory

    # The entries are copied in a second thread while the map is hashed in the first: the
    # copy's failure must reach the sequencer and undo the batch, map included.
    size = selectors.tree_size()
    services.enqueue_entries(entries=[EntryFactory(vin=vin) for vin in [*VINS, VINS[1]]])
    with checkpoints_refused("ledger_entry"), pytest.raises(DatabaseError, match="refused"):
        services.integrate_pending()
    assert selectors.tree_size() == size
    services.integrate_pending()
    assert selectors.tree_size() == size + 6
    call_command("verify_ledger")


@pytest.mark.django_db
@pytest.mark.parametrize("levels_a_query", [24, 1, 2])
def test_a_bundles_one_read_proves_present_and_absent_vins(
    log_of_four_vins, vrf_key, monkeypatch, levels_a_query
):
    # One statement reads the VIN's rows, its place and the top of its map path; with fewer
    # levels a query than the path is deep, the rest comes from the table as `prove` asks.
    monkeypatch.setattr(vin_index, "MAP_LEVELS_A_QUERY", levels_a_query)
    checkpoint = selectors.latest_checkpoint()
    root = entry_format.b64decode(
        json.loads(bytes(Entry.objects.order_by("-index").first().data))["facts"]["root"]
    )
    for vin in [*VINS, "LVSHFFAL9H5226410"]:
        history = selectors.vin_history(vin, checkpoint, with_map_proof=True)
        vrf_proof, proof = history.map_proof
        place, expected = vin_index.proof_for(vin)
        assert (vrf_proof, proof) == (place.vrf_proof, expected)
        key = vrf.verify(vrf_key.public_key, vin.encode(), vrf_proof)[:32]
        indexes = [entry.index for entry in history.entries]
        assert indexes == [entry.index for entry in selectors.entries_for_vin(vin)]
        verify_proof(root=root, key=key, indexes=indexes, proof=proof)
        assert history.last_entry.index == checkpoint.tree_size - 1


@pytest.mark.django_db
def test_the_sql_node_path_is_the_verifiers_node_id(db):
    # Migration 0009's function names the nodes a bundle reads; it must be NodeId.to_bytes.
    keys = [bytes(32), bytes([255]) * 32, *(os.urandom(32) for _ in range(6))]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT key, depth, sibling, ledger_map_node_path(key, depth, sibling) "
            "FROM unnest(%s::bytea[]) AS key, generate_series(0, 256) AS depth, "
            "(VALUES (false), (true)) AS side (sibling) WHERE depth > 0 OR NOT sibling",
            [keys],
        )
        rows = cursor.fetchall()
    assert len(rows) == len(keys) * 513
    for key, depth, sibling, path in rows:
        node = node_of(bytes(key), depth)
        assert bytes(path) == (node.sibling() if sibling else node).to_bytes()
