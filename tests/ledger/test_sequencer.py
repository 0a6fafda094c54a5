import contextlib
import json
import threading

import pytest
from carhistory_verifier import entry as entry_format
from carhistory_verifier import merkle, note
from django.core.management import call_command
from django.db import connection, connections
from django.utils import timezone

from ledger import selectors, sequencer, services
from ledger.models import Checkpoint, Entry, PendingEntry, Subtree
from tests.ledger.factories import EntryFactory


def _stored_leaf_hashes() -> list[bytes]:
    return [
        bytes(value)
        for value in Entry.objects.order_by("index").values_list("leaf_hash", flat=True)
    ]


def _all_subtrees(leaf_hashes: list[bytes]) -> dict[tuple[int, int], bytes]:
    """Every complete subtree of level >= 1, recomputed from the leaves."""
    subtrees = {}
    level, hashes = 0, leaf_hashes
    while len(hashes) > 1:
        level += 1
        hashes = [merkle.node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes) - 1, 2)]
        subtrees.update({(level, index): value for index, value in enumerate(hashes)})
    return subtrees


@contextlib.contextmanager
def sequencer_lock_held_elsewhere():
    """Hold the sequencer's advisory lock from another connection, as a busy sequencer does."""
    holder = connections.create_connection("default")
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [services.SEQUENCER_LOCK_KEY])
            yield
            # Unlock explicitly: a closed connection's lock lingers until its backend exits.
            cursor.execute("SELECT pg_advisory_unlock(%s)", [services.SEQUENCER_LOCK_KEY])
    finally:
        holder.close()


def enqueue_without_integrating(count: int) -> None:
    # In a transactional test the eager task runs at commit; a held lock makes it back off.
    with sequencer_lock_held_elsewhere():
        services.enqueue_entries(entries=EntryFactory.build_batch(count))


@pytest.mark.django_db
def test_entries_get_consecutive_indexes_in_submission_order():
    entries = EntryFactory.build_batch(7)
    pending = services.enqueue_entries(entries=entries)
    result = services.integrate_pending()
    # Seven entries, then the batch's vin_index entry (SPEC §7).
    assert (result.tree_size, result.integrated) == (8, 7)
    for position, row in enumerate(pending):
        stored = selectors.entry_for_pending(row.id)
        assert stored.index == position
        assert bytes(stored.data) == entry_format.entry_bytes(entries[position])
        assert bytes(stored.leaf_hash) == merkle.leaf_hash(bytes(stored.data))
    assert not PendingEntry.objects.exists()


@pytest.mark.django_db
def test_indexed_copies_come_from_the_entry_bytes():
    services.enqueue_entry(entry=EntryFactory(vin="LSVAU2180N2183294", type="odometer"))
    services.integrate_pending()
    stored = Entry.objects.get(index=0)
    assert (stored.vin, stored.type, stored.source, stored.occurred_at) == (
        "LSVAU2180N2183294",
        "odometer",
        "sh-anting-vw-4s",
        "2024-05-03",
    )


@pytest.mark.django_db
def test_stored_rows_keep_their_pending_id_integration_time_and_exact_bytes():
    # The sequencer writes rows in PostgreSQL's binary COPY format: every column must come
    # back as it was meant, non-ASCII text and NULLs included.
    entry = EntryFactory(source="上海安亭-4s", facts={"note": "tab\there, newline\nthere"})
    before = timezone.now()
    pending = services.enqueue_entry(entry=entry)
    services.integrate_pending()
    after = timezone.now()
    stored = Entry.objects.get(index=0)
    assert stored.pending_id == pending.id
    assert stored.source == "上海安亭-4s"
    assert bytes(stored.data) == entry_format.entry_bytes(entry)
    assert before <= stored.integrated_at <= after
    commitment = Entry.objects.get(index=1)
    assert (commitment.vin, commitment.pending_id) == (None, None)
    assert commitment.integrated_at == stored.integrated_at


@pytest.mark.django_db
def test_every_batch_signs_a_checkpoint_of_the_stored_leaves(log_key):
    services.enqueue_entries(entries=EntryFactory.build_batch(23))
    result = services.integrate_pending(batch_size=5)
    assert result.integrated == 23
    # Each batch of five ends with its vin_index entry.
    assert list(Checkpoint.objects.order_by("tree_size").values_list("tree_size", flat=True)) == [
        6,
        12,
        18,
        24,
        28,
    ]
    leaves = _stored_leaf_hashes()
    for checkpoint in Checkpoint.objects.all():
        signed = note.verify_checkpoint(checkpoint.note, log_key.verifier())
        assert signed.size == checkpoint.tree_size
        assert signed.root_hash == merkle.root_from_leaf_hashes(leaves[: checkpoint.tree_size])
        assert bytes(checkpoint.root_hash) == signed.root_hash


@pytest.mark.django_db
def test_exactly_the_complete_subtrees_are_stored_across_batches():
    services.enqueue_entries(entries=EntryFactory.build_batch(45))
    services.integrate_pending(batch_size=7)
    stored = {(row.level, row.index): bytes(row.hash) for row in Subtree.objects.all()}
    assert stored == _all_subtrees(_stored_leaf_hashes())


@pytest.mark.django_db
def test_integrating_nothing_writes_nothing():
    result = services.integrate_pending()
    assert (result.tree_size, result.integrated, result.checkpoint) == (0, 0, None)
    assert not Checkpoint.objects.exists()


@pytest.mark.django_db
def test_appending_reads_only_the_frontier_not_the_tree(django_assert_max_num_queries):
    services.enqueue_entries(entries=EntryFactory.build_batch(300))
    services.integrate_pending()
    services.enqueue_entries(entries=EntryFactory.build_batch(3))
    # size, pending, last entry's type, frontier, entries, subtrees, checkpoint, delete, the
    # VIN index (VRF keys, map nodes one query per depth, node and index writes), plus
    # savepoint/lock noise: none of it grows with the log.
    with django_assert_max_num_queries(40):
        services.integrate_pending()
    assert selectors.tree_size() == 305


@pytest.mark.django_db
def test_an_entry_that_would_not_fit_is_refused_at_enqueue_and_nothing_is_stored():
    with pytest.raises(ValueError, match="type"):
        services.enqueue_entries(entries=[EntryFactory(), EntryFactory(type="x" * 33)])
    with pytest.raises(ValueError, match="source"):
        services.enqueue_entry(entry=EntryFactory(source=None))
    with pytest.raises(ValueError, match="vin"):
        services.enqueue_entry(entry=EntryFactory(vin="LSVAU2180N218329\x00"))
    assert not PendingEntry.objects.exists()


@pytest.mark.django_db
def test_enqueue_schedules_integration_when_the_transaction_commits(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        pending = services.enqueue_entry(entry=EntryFactory())
        assert selectors.entry_for_pending(pending.id) is None
    # Integration, then (once it has committed a checkpoint) the news that the log grew, on
    # which ledger.receivers pushes to the witnesses; receivers may queue work of their own.
    assert [callback.__name__ for callback in callbacks][:2] == [
        "_schedule_integration",
        "_announce_growth",
    ]
    assert selectors.entry_for_pending(pending.id).index == 0


@pytest.mark.django_db
def test_sign_as_platform_signs_the_statement_with_the_log_key(log_key):
    signed = services.sign_as_platform(EntryFactory(source="small-garage", source_sig="forged"))
    assert signed["source"] == "small-garage"
    assert signed["source_key"] == log_key.verifier().key_string()
    signature = entry_format.b64decode(signed["source_sig"])
    assert log_key.verifier().verify(entry_format.statement_bytes(signed), signature)


@pytest.mark.django_db
def test_platform_entries_are_enqueued_in_order_and_signed_by_the_log(log_key):
    services.enqueue_entries(entries=EntryFactory.build_batch(3))
    pending = services.enqueue_platform_entry(
        type="source_key", facts={"source": "shop", "key": "shop+00000000+AQ=="}
    )
    # Only enqueued, like any other entry: the caller's request never waits for the sequencer.
    assert not Entry.objects.exists()
    services.integrate_pending(wait=True)
    stored = Entry.objects.get(pending_id=pending.id)
    assert stored.index == 3  # after the three enqueued before it
    assert stored.vin is None
    entry = Entry.objects.get(index=3)
    body = json.loads(bytes(entry.data))
    assert body["source"] == "platform"
    assert "vin" not in body
    assert body["source_key"] == log_key.verifier().key_string()
    assert log_key.verifier().verify(
        entry_format.statement_bytes(body), entry_format.b64decode(body["source_sig"])
    )


@pytest.mark.django_db(transaction=True)
def test_a_sequencer_that_finds_the_lock_taken_does_nothing():
    with sequencer_lock_held_elsewhere():
        services.enqueue_entries(entries=EntryFactory.build_batch(4))
        result = services.integrate_pending()
        assert result.integrated == 0
        assert not Entry.objects.exists()
        assert PendingEntry.objects.count() == 4
    assert services.integrate_pending().integrated == 4


@pytest.mark.django_db(transaction=True)
def test_concurrent_sequencers_and_submitters_never_interleave():
    enqueue_without_integrating(1000)
    start = threading.Barrier(4)
    failures = []

    def in_thread(work):
        def run():
            try:
                start.wait()
                work()
            except Exception as error:  # reported by the assertion below
                failures.append(error)
            finally:
                connection.close()

        return threading.Thread(target=run)

    def sequence(wait: bool):
        for _ in range(5):
            services.integrate_pending(batch_size=97, wait=wait)

    def submit():
        # Each commit also runs the eager task, a fourth sequencer racing the others.
        for _ in range(10):
            services.enqueue_entries(entries=EntryFactory.build_batch(100))

    threads = [
        in_thread(lambda: sequence(wait=False)),
        in_thread(lambda: sequence(wait=True)),
        in_thread(lambda: sequence(wait=True)),
        in_thread(submit),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    services.integrate_pending()
    assert not PendingEntry.objects.exists()
    indexes = list(Entry.objects.order_by("index").values_list("index", "pending_id"))
    assert [index for index, _ in indexes] == list(range(len(indexes)))
    submitted = {pending_id for _, pending_id in indexes if pending_id is not None}
    assert len(submitted) == 2000
    # Every checkpoint ends with its batch's vin_index entry, and only those are extra.
    assert len(indexes) == 2000 + Checkpoint.objects.count()
    stored = {(row.level, row.index): bytes(row.hash) for row in Subtree.objects.all()}
    assert stored == _all_subtrees(_stored_leaf_hashes())
    call_command("verify_ledger")


@pytest.mark.django_db(transaction=True)
def test_a_failed_batch_leaves_the_old_tree(monkeypatch):
    services.enqueue_entries(entries=EntryFactory.build_batch(5))
    enqueue_without_integrating(5)

    def crash(size, root_hash):
        raise RuntimeError("power cut while signing")

    monkeypatch.setattr(sequencer, "_sign_checkpoint", crash)
    with pytest.raises(RuntimeError):
        services.integrate_pending()
    assert Entry.objects.count() == 6
    assert PendingEntry.objects.count() == 5
    assert selectors.tree_size() == 6
    monkeypatch.undo()
    assert services.integrate_pending().tree_size == 12


@pytest.mark.django_db
def test_the_empty_log_signs_a_first_checkpoint_of_its_empty_vin_index(log_key):
    checkpoint = services.ensure_checkpoint()
    signed = note.verify_checkpoint(checkpoint.note, log_key.verifier())
    only = Entry.objects.get()
    assert (signed.size, signed.root_hash) == (1, merkle.leaf_hash(bytes(only.data)))
    facts = json.loads(bytes(only.data))["facts"]
    assert (facts["size"], facts["root"]) == (0, "A" * 43 + "=")
    assert services.ensure_checkpoint().tree_size == 1
    assert Checkpoint.objects.count() == 1
