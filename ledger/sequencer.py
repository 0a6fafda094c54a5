"""The sequencer: the log's single writer. It gives pending entries their indexes, stores the
new leaves and completed subtrees, signs a checkpoint, and publishes the tree size.

It runs in a Celery worker (`ledger.tasks.integrate_pending`), never inside a user's request;
`ledger.services` enqueues and schedules it.
"""

import json
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from carhistory_verifier import entry as entry_format
from carhistory_verifier import merkle, note, protocol
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from carhistory import garbage_collection, rate_limits

from . import keys, pg_copy, selectors, signals, vin_index
from .models import Checkpoint, Entry, PendingEntry, Subtree

# The PostgreSQL advisory lock key that makes the sequencer a single writer: "clog" in ASCII.
SEQUENCER_LOCK_KEY = 0x636C6F67

# Column widths of the indexed copies on Entry; checked at enqueue so that one bad entry can
# never jam the sequencer later.
INDEXED_FIELD_LIMITS = {"type": 32, "source": 100, "vin": 17, "occurred_at": 40}


@dataclass(frozen=True)
class IntegrationResult:
    tree_size: int
    integrated: int
    checkpoint: Checkpoint | None


def indexed_fields(entry: Mapping[str, Any]) -> dict[str, str | None]:
    """The fields Entry keeps indexed copies of, taken from an entry object; ValueError if
    one is missing or does not fit."""
    fields: dict[str, str | None] = {
        "type": entry.get("type"),
        "source": entry.get("source"),
        "vin": entry.get("vin"),
        "occurred_at": entry.get("occurred_at") or "",
    }
    for name, value in fields.items():
        if value is None and name == "vin":
            continue
        # PostgreSQL text cannot hold NUL: refused here rather than failing every batch later.
        if not isinstance(value, str) or len(value) > INDEXED_FIELD_LIMITS[name] or "\x00" in value:
            raise ValueError(
                f"entry field {name!r} must be a string of at most "
                f"{INDEXED_FIELD_LIMITS[name]} characters, without NUL"
            )
    if not fields["type"] or not fields["source"]:
        raise ValueError("an entry needs a non-empty 'type' and 'source'")
    return fields


# Coalesced scheduling: set from a commit that enqueued entries until a sequencer run that
# holds the lock takes its next look. A commit that finds it set queues no task: a run will
# look after that commit, whether it is queued, or under way and about to look again (a run
# loops while the mark is set when it lets go of the lock). The expiry bounds what a lost task
# message or a crashed run holds back; beat's runs clear it too.
INTEGRATION_QUEUED_KEY = "ledger:integration-queued"
INTEGRATION_QUEUED_SECONDS = 30


def claim_integration_run() -> bool:
    """Mark that entries were committed: True if the caller should queue a sequencer run,
    False if one will look after this commit anyway. One Redis round trip."""
    return cache.add(INTEGRATION_QUEUED_KEY, 1, INTEGRATION_QUEUED_SECONDS)


# Leases: a source's submission takes one in the Redis round trip of its rate limit, before it
# stores anything, and then needs no claim after it commits (a second Redis round trip for
# every submission, and Redis's work for it). The script renews the lease key for
# INTEGRATION_LEASE_SECONDS and counts the lease in a generation number. If a run is under
# way (its `_look_step` marked it so), that is all; otherwise it sets the mark as
# `claim_integration_run` would, and the caller queues a run if the mark was not set. Queuing
# a run costs the web process a Celery publish and the worker a task; at hundreds of
# submissions a second, one was queued after every look, only to find the lock taken.
#
# A run, in one step before each look, clears the mark, marks itself under way and reads
# whether a lease is alive and the generation. It stops only after a look whose step found no
# lease alive, and only if, in one step after that look, the mark is still clear and the
# generation unchanged (that step also clears "under way"). So a commit made while its lease
# was alive is seen by a look: the run that is under way, or the run the mark stands for, has
# a step after the lease began; from that step on it keeps looking while the lease is alive
# (a lease taken between its last step and its stopping changes the generation, and it looks
# again), and looks once more after the lease has ended, which is after the commit. The web
# process checks by its own clock, started before the script was sent, that it committed
# within the lease less a margin (for the two clocks' rates); a slower commit claims as
# before. "Under way" expires by itself (INTEGRATION_UNDER_WAY_SECONDS) if a run dies: the
# submissions of that moment then wait for the next one queued, or beat's.
INTEGRATION_LEASE_KEY = "ledger:integration-lease"
INTEGRATION_LEASE_SECONDS = 1.0
INTEGRATION_LEASE_MARGIN_SECONDS = 0.1
INTEGRATION_LEASE_GENERATION_KEY = "ledger:integration-lease-generation"
INTEGRATION_UNDER_WAY_KEY = "ledger:integration-under-way"
INTEGRATION_UNDER_WAY_SECONDS = 2.0
# Until when, by this thread's monotonic clock, its last lease covers a commit.
_lease_covers_until: ContextVar[float] = ContextVar("integration_lease", default=0.0)

# KEYS: the rate limit's counter, the lease, the mark, under way, the generation. ARGV: the
# counter's window in seconds, the requests it allows, the lease in milliseconds, the mark's
# expiry in seconds. Returns {count, seconds until the window closes, 1 if the caller must
# queue a run, 0 if not, -1 if over the limit (no lease)}.
_COUNT_AND_LEASE_SCRIPT = (
    rate_limits.COUNT_STEPS
    + """
if count > tonumber(ARGV[2]) then return {count, ttl, -1} end
redis.call('SET', KEYS[2], 1, 'PX', ARGV[3])
redis.call('INCR', KEYS[5])
if redis.call('EXISTS', KEYS[4]) == 1 then return {count, ttl, 0} end
if redis.call('SET', KEYS[3], 1, 'NX', 'EX', ARGV[4]) then return {count, ttl, 1} end
return {count, ttl, 0}
"""
)
# KEYS: the mark, the lease, under way, the generation. ARGV: under way's expiry in ms.
# Returns {the lease's milliseconds left (negative once ended), the generation}.
_LOOK_STEP_SCRIPT = """
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[3], 1, 'PX', ARGV[1])
return {redis.call('PTTL', KEYS[2]), redis.call('GET', KEYS[4]) or '0'}
"""
# KEYS: the mark, under way, the generation. ARGV: the generation the last look step read.
# Returns 1 (and clears under way) if the run may stop, else 0.
_STOP_STEP_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if (redis.call('GET', KEYS[3]) or '0') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
return 1
"""


def leases_integration() -> bool:
    """Whether submissions take leases (`count_and_lease`): with Redis and a Celery worker;
    not where tasks run eagerly, inside the request (tests, the embedded default)."""
    return hasattr(cache, "script") and not settings.CELERY_TASK_ALWAYS_EAGER


def count_and_lease(
    *, counter_key: str, window_seconds: int, allowed: int
) -> tuple[int, int, bool]:
    """Count one request against `counter_key` as `rate_limits.count` does and, if it is within
    `allowed`, give this thread a lease: a commit it makes before the lease ends needs no
    `claim_integration_run`. (requests in the window, seconds until it closes, True if the
    caller must queue a sequencer run). One Redis round trip; needs `leases_integration()`."""
    started = time.monotonic()
    counted, seconds_left, marked = cache.script(_COUNT_AND_LEASE_SCRIPT)(
        keys=[
            cache.make_key(counter_key),
            cache.make_key(INTEGRATION_LEASE_KEY),
            cache.make_key(INTEGRATION_QUEUED_KEY),
            cache.make_key(INTEGRATION_UNDER_WAY_KEY),
            cache.make_key(INTEGRATION_LEASE_GENERATION_KEY),
        ],
        args=[
            window_seconds,
            allowed,
            round(INTEGRATION_LEASE_SECONDS * 1000),
            INTEGRATION_QUEUED_SECONDS,
        ],
    )
    leased = marked >= 0
    _lease_covers_until.set(
        started + INTEGRATION_LEASE_SECONDS - INTEGRATION_LEASE_MARGIN_SECONDS if leased else 0.0
    )
    return counted, seconds_left, marked == 1


def lease_covers_now() -> bool:
    """Whether a commit made now is covered by this thread's lease (`count_and_lease`)."""
    return time.monotonic() < _lease_covers_until.get()


def _look_step() -> tuple[bool, bytes | None]:
    """Before a look: clear the mark, mark this run under way; (whether a lease was alive,
    the lease generation, for `_may_stop`)."""
    if not hasattr(cache, "script"):
        cache.delete(INTEGRATION_QUEUED_KEY)
        return False, None
    lease_left, generation = cache.script(_LOOK_STEP_SCRIPT)(
        keys=[
            cache.make_key(INTEGRATION_QUEUED_KEY),
            cache.make_key(INTEGRATION_LEASE_KEY),
            cache.make_key(INTEGRATION_UNDER_WAY_KEY),
            cache.make_key(INTEGRATION_LEASE_GENERATION_KEY),
        ],
        args=[round(INTEGRATION_UNDER_WAY_SECONDS * 1000)],
    )
    return lease_left > 0, generation


def _may_stop(generation: bytes | None) -> bool:
    """After a look whose step found no lease alive: True if no commit has marked new entries
    and no lease was taken since that step (and then this run is no longer under way)."""
    if generation is None:
        return cache.get(INTEGRATION_QUEUED_KEY) is None
    return bool(
        cache.script(_STOP_STEP_SCRIPT)(
            keys=[
                cache.make_key(INTEGRATION_QUEUED_KEY),
                cache.make_key(INTEGRATION_UNDER_WAY_KEY),
                cache.make_key(INTEGRATION_LEASE_GENERATION_KEY),
            ],
            args=[generation],
        )
    )


def integrate_pending(*, batch_size: int | None = None, wait: bool = False) -> IntegrationResult:
    """The sequencer: give every pending entry the next index, store the new leaves and
    completed subtrees, sign a checkpoint, and delete the pending rows, one transaction per
    batch of `batch_size` (default settings.LEDGER_BATCH_SIZE), until none remain.

    A crash at any point leaves the tree as of the last committed batch. On PostgreSQL a
    transaction-scoped advisory lock keeps sequencers from interleaving: if another holds it,
    this returns at once (integrated=0) unless `wait`, since the holder loops until nothing is
    pending and no commit has marked new entries since its last look
    (`claim_integration_run`). SQLite serialises writers by itself.
    """
    batch_size = batch_size or settings.LEDGER_BATCH_SIZE
    integrated = 0
    checkpoint = None
    looked_at = None
    while True:
        with transaction.atomic(), garbage_collection.paused():
            if not _take_sequencer_lock(wait=wait):
                # The mark stays: the holder sees it when it lets go, and looks again.
                return IntegrationResult(selectors.tree_size(), integrated, checkpoint)
            if looked_at is not None:
                _pace(looked_at)
            # Before the look, which sees every commit that found the mark set, and every
            # commit of a lease that had ended by then.
            leased, generation = _look_step()
            looked_at = time.monotonic()
            size, count, new_checkpoint = _integrate_batch(batch_size)
            if count:
                _publish_tree_size(size)
                # After the commit, and robust: what follows (witnessing) never holds up the
                # sequencer, and a receiver that fails does not undo a committed batch.
                transaction.on_commit(_announcement(size), robust=True)
        integrated += count
        checkpoint = new_checkpoint or checkpoint
        if count < batch_size and not leased and _may_stop(generation):
            return IntegrationResult(size, integrated, checkpoint)


def _pace(looked_at: float) -> None:
    """Wait, holding the lock, until LEDGER_BATCH_INTERVAL_SECONDS have passed since the last
    look. A batch costs about 15 ms of CPU whatever its size (1 entry or 20: docs/PERFORMANCE.md,
    "Witnesses"), and its checkpoint a push to each witness; looking again at once under a
    steady stream of single submissions made batches of a few entries, each paying all that.
    Runs queued meanwhile find the lock taken and leave their entries to this look."""
    time.sleep(max(0.0, looked_at + settings.LEDGER_BATCH_INTERVAL_SECONDS - time.monotonic()))


def _announcement(size: int) -> Callable[[], None]:
    def _announce_growth() -> None:
        signals.entries_integrated.send(sender=integrate_pending, tree_size=size)

    return _announce_growth


# The log's size, published for readers that would otherwise ask PostgreSQL on every request
# (the cached report is keyed by it). Published inside the batch's transaction, while the
# sequencer lock is held, so successive sizes arrive in order; a reader that sees a size not
# yet committed finds no report cached under it and builds one from what PostgreSQL shows,
# cached under the size it was built from. A size can therefore run ahead of the database but
# never lag behind it: no report is served stale. If publishing fails, the batch rolls back and
# stays pending. Readers fill in a missing size with `add` (never overwriting a newer one),
# and the short expiry bounds how long any size they race in can live.
PUBLISHED_TREE_SIZE_KEY = "ledger:tree-size"
PUBLISHED_TREE_SIZE_SECONDS = 5


def _publish_tree_size(size: int) -> None:
    cache.set(PUBLISHED_TREE_SIZE_KEY, size, PUBLISHED_TREE_SIZE_SECONDS)


def _take_sequencer_lock(*, wait: bool) -> bool:
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEQUENCER_LOCK_KEY])
            return True
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SEQUENCER_LOCK_KEY])
        return cursor.fetchone()[0]


def _integrate_batch(
    batch_size: int, *, even_if_empty: bool = False
) -> tuple[int, int, Checkpoint | None]:
    size = selectors.tree_size()
    pending = list(PendingEntry.objects.order_by("id").values_list("id", "data")[:batch_size])
    if not pending and not even_if_empty:
        return size, 0, None
    _bring_map_up_to_date(size)
    frontier = _load_frontier(size)
    integrated_at = timezone.now()
    entries = []
    subtrees = []
    new_indexes: dict[str, list[int]] = {}
    for pending_id, data in pending:
        data = bytes(data)
        leaf_hash = merkle.leaf_hash(data)
        fields = indexed_fields(json.loads(data))
        if fields["vin"] is not None:
            new_indexes.setdefault(fields["vin"], []).append(frontier.size)
        entries.append(
            (
                frontier.size,
                leaf_hash,
                data,
                fields["vin"],
                fields["type"],
                fields["source"],
                fields["occurred_at"],
                pending_id,
                integrated_at,
            )
        )
        subtrees.extend(frontier.append(leaf_hash))
    # SPEC §7: the checkpoint's last entry commits to the map over every entry before it.
    if connection.vendor == "postgresql":
        # The entries go in while the map is hashed: the COPY waits on PostgreSQL, the
        # hashing on Python, and the two overlap.
        index_root = vin_index.update_map(
            new_indexes, alongside=_copy_later(ENTRY_COLUMNS, entries)
        )
    else:
        _insert_rows(Entry, ENTRY_COLUMNS, entries)
        index_root = vin_index.update_map(new_indexes)
    commitment = vin_index.commitment_entry(size=frontier.size, root=index_root)
    data = entry_format.entry_bytes(commitment)
    leaf_hash = merkle.leaf_hash(data)
    fields = indexed_fields(commitment)
    commitment_row = (
        frontier.size,
        leaf_hash,
        data,
        None,
        fields["type"],
        fields["source"],
        fields["occurred_at"],
        None,
        integrated_at,
    )
    subtrees.extend(frontier.append(leaf_hash))
    _insert_rows(Entry, ENTRY_COLUMNS, [commitment_row])
    _insert_rows(Subtree, SUBTREE_COLUMNS, subtrees)
    checkpoint = _sign_checkpoint(frontier.size, frontier.root())
    _delete_pending([pending_id for pending_id, _ in pending])
    return frontier.size, len(pending), checkpoint


def _delete_pending(ids: list[int]) -> None:
    if connection.vendor != "postgresql":
        PendingEntry.objects.filter(id__in=ids).delete()
        return
    # One array parameter instead of the ORM's thousands of placeholders. Exactly the rows
    # read: ids are not committed in order, so "every id up to the last" could drop a row
    # committed after this batch looked.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM ledger_pendingentry WHERE id = ANY(%s)", [ids])


EMPTY_MAP_ROOT = bytes(32)


def _bring_map_up_to_date(size: int) -> None:
    """Build the VIN index again from every entry when the stored map is not the one the log's
    last entry commits to: a log created before the VIN index existed (its last entry is no
    `vin_index` entry; README, "Logs from before this version"), or a log restored from a
    mirror without its map. Otherwise the stored map is current and nothing is rebuilt."""
    stored_root = vin_index.map_root()
    if size == 0:
        if stored_root != EMPTY_MAP_ROOT:
            # An empty log has an empty map, whatever an earlier history left behind.
            vin_index.rebuild_map([])
        return
    last = Entry.objects.filter(index=size - 1).values_list("type", "data").first()
    if last is not None and last[0] == protocol.VIN_INDEX:
        committed = json.loads(bytes(last[1])).get("facts", {}).get("root")
        if committed == entry_format.b64encode(stored_root):
            return
    vin_index.rebuild_map(
        Entry.objects.filter(vin__isnull=False)
        .order_by("index")
        .values_list("index", "vin")
        .iterator(chunk_size=10_000)
    )


# Each column with its binary COPY encoding (`pg_copy`), in the order of the rows built above.
ENTRY_COLUMNS = {
    "index": pg_copy.bigint,
    "leaf_hash": pg_copy.binary,
    "data": pg_copy.binary,
    "vin": pg_copy.text,
    "type": pg_copy.text,
    "source": pg_copy.text,
    "occurred_at": pg_copy.text,
    "pending_id": pg_copy.bigint,
    "integrated_at": pg_copy.timestamp,
}
SUBTREE_COLUMNS = {"level": pg_copy.smallint, "index": pg_copy.bigint, "hash": pg_copy.binary}


def _insert_rows(
    model: type[Entry] | type[Subtree], columns: Mapping[str, Callable], rows: list
) -> None:
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(model(**dict(zip(columns, row, strict=True))) for row in rows)
        return
    # COPY is several times faster than INSERT through the ORM, and the sequencer is the one
    # writer every submission waits for; the binary form spares the hex of every entry.
    with connection.cursor() as cursor:
        pg_copy.copy_rows(
            cursor.cursor,
            model._meta.db_table,
            [connection.ops.quote_name(column) for column in columns],
            _encoded(columns, rows),
        )


def _copy_later(columns: Mapping[str, Callable], rows: list) -> Callable[[], None]:
    """A COPY of `rows` into Entry, encoded now, to run later in another thread: through the
    driver's own connection, since Django's refuses use from a thread other than its own."""
    encoded = _encoded(columns, rows)
    columns_sql = [connection.ops.quote_name(column) for column in columns]
    cursor = connection.connection.cursor()

    def copy() -> None:
        # Django's own exceptions, as its cursors raise (DatabaseError, IntegrityError...).
        with connection.wrap_database_errors, cursor:
            pg_copy.copy_rows(cursor, Entry._meta.db_table, columns_sql, encoded)

    return copy


def _encoded(columns: Mapping[str, Callable], rows: list) -> list[bytes]:
    encoders = tuple(columns.values())
    return [
        pg_copy.row([encode(value) for encode, value in zip(encoders, row, strict=True)])
        for row in rows
    ]


def _load_frontier(size: int) -> merkle.Frontier:
    positions = merkle.Frontier.subtrees_for_size(size)
    stored = selectors.subtree_hashes(positions)
    return merkle.Frontier.from_hashes(size, [stored[position] for position in positions])


def _sign_checkpoint(size: int, root_hash: bytes) -> Checkpoint:
    body = note.Checkpoint(origin=settings.LEDGER_ORIGIN, size=size, root_hash=root_hash)
    text = note.sign_checkpoint(body, keys.log_signer())
    return Checkpoint.objects.create(tree_size=size, root_hash=root_hash, note=text)


def ensure_checkpoint() -> Checkpoint:
    """The latest checkpoint; a log that has never signed one signs its first now, of size 1:
    its lone entry is the `vin_index` entry of the empty map (SPEC §7), so that
    /log/checkpoint always serves something a client can verify and extend, and any VIN's
    absence can be proven from the start."""
    latest = selectors.latest_checkpoint()
    if latest is not None:
        return latest
    with transaction.atomic():
        _take_sequencer_lock(wait=True)
        latest = selectors.latest_checkpoint()
        if latest is not None:
            return latest
        size, _count, checkpoint = _integrate_batch(settings.LEDGER_BATCH_SIZE, even_if_empty=True)
        _publish_tree_size(size)
        return checkpoint
