"""Reports and evidence bundles, cached in Redis as the JSON bytes the API sends.

A cached report is keyed by the VIN *and the size of the log it was built from*: a new entry
grows the log, so the next request misses and rebuilds. No entry is ever missed and no
invalidation has to be remembered for what the log holds. Reports also show the open disputes,
which live outside the log: when a dispute is opened or settled, moderation's
`dispute_changed` signal reaches `vehicles.receivers`, which calls `forget_vehicle`; that moves
the VIN to a new generation, and a report cached for an older one is built again.
Reports are translated, so the language is part of the key too.

The log's size comes from the sequencer, which publishes it to the cache with every batch
(`ledger.sequencer.PUBLISHED_TREE_SIZE_KEY`, the reasoning is there); when it is missing, from
PostgreSQL. With the Redis backend, `count_and_find_report` does a repeated lookup's whole
work in one round trip: count it against the client's limit, read the published size and the
VIN's generation, and fetch the report they name.
"""

import json

from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import translation

from carhistory.vehicles.evidence import build_evidence_bundle
from carhistory.vehicles.report import build_report
from ledger.selectors import Checkpoint, cosigned_marker, latest_checkpoint
from ledger.services import PUBLISHED_TREE_SIZE_KEY, PUBLISHED_TREE_SIZE_SECONDS

# A backstop only: keys of a grown log are never asked for again and expire on their own.
CACHE_SECONDS = 60 * 60

# KEYS: the client's lookup counter, the published log size, the VIN's generation.
# ARGV: the counter's window in seconds, then the report's key around its log size (the size is
# only known inside the script), or nothing to count alone. The counter's window opens with its
# first lookup. Builds a key it was not given, so it needs one Redis server, not a cluster.
COUNT_AND_FIND_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local seconds_left = redis.call('TTL', KEYS[1])
if not ARGV[2] then return {count, seconds_left} end
local size = redis.call('GET', KEYS[2])
if not size then return {count, seconds_left} end
local generation = redis.call('GET', KEYS[3]) or '0'
return {count, seconds_left, generation, redis.call('GET', ARGV[2] .. size .. ARGV[3])}
"""


def report_json(*, vin: str) -> bytes:
    """The report of a valid, normalised `vin` as UTF-8 JSON, built at most once per log size."""
    checkpoint = latest_checkpoint()
    size = _known_size(checkpoint)
    key = _report_key(vin, size)
    generation_key = _generation_key(vin)
    # One round trip for both: this is the path every repeated lookup takes.
    found = cache.get_many([key, generation_key])
    generation = found.get(generation_key, 0)
    cached = found.get(key)
    if cached is not None and cached[0] == generation:
        return cached[1]
    content = _encode(build_report(vin=vin, checkpoint=checkpoint))
    cache.set(key, (generation, content), CACHE_SECONDS)
    return content


def count_and_find_report(
    *, vin: str, counter_key: str, window_seconds: int
) -> tuple[int, int, bytes | None] | None:
    """Count one lookup against `counter_key` and find the cached report of `vin` in the
    current language, in one round trip: (lookups in the window, seconds until it closes, the
    report's JSON or None). None when the cache cannot run scripts (it is not Redis): then the
    throttle counts and `report_json` answers."""
    if not hasattr(cache, "script"):
        return None
    head, tail = cache.make_key(_report_key(vin, "|")).split("|")
    keys = [counter_key, PUBLISHED_TREE_SIZE_KEY, _generation_key(vin)]
    count, seconds_left, *found = cache.script(COUNT_AND_FIND_SCRIPT)(
        keys=[cache.make_key(key) for key in keys], args=[window_seconds, head, tail]
    )
    if len(found) < 2 or found[1] is None:
        return count, seconds_left, None
    generation, content = cache.loads(found[1])
    return count, seconds_left, content if generation == int(found[0]) else None


def evidence_json(*, vin: str) -> bytes:
    """The evidence bundle of a valid, normalised `vin` as UTF-8 JSON, built once per log size
    and cosignature."""
    checkpoint = latest_checkpoint()
    # The bundle carries the checkpoint's cosignatures, which arrive after it is signed.
    cosigned = cosigned_marker(checkpoint)
    key = f"vehicle-evidence:{vin}:{_known_size(checkpoint)}:{cosigned}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    content = _encode(build_evidence_bundle(vin=vin, checkpoint=checkpoint))
    cache.set(key, content, CACHE_SECONDS)
    return content


def forget_vehicle(*, vin: str) -> None:
    """Stop serving cached reports of `vin`: call it when something outside the log that the
    report shows (a dispute) changes."""
    key = _generation_key(vin)
    if not cache.add(key, 1, timeout=None):
        cache.incr(key)


def _known_size(checkpoint: Checkpoint | None) -> int:
    """The size of `checkpoint`, read from PostgreSQL, published for the next lookups if the
    sequencer's own publication has expired (`add` never replaces a newer size)."""
    size = checkpoint.tree_size if checkpoint else 0
    cache.add(PUBLISHED_TREE_SIZE_KEY, size, PUBLISHED_TREE_SIZE_SECONDS)
    return size


def _report_key(vin: str, size: int | str) -> str:
    return f"vehicle-report:{vin}:{size}:{translation.get_language()}"


def _generation_key(vin: str) -> str:
    return f"vehicle-generation:{vin}"


def _encode(data: dict) -> bytes:
    return json.dumps(data, ensure_ascii=False, cls=DjangoJSONEncoder).encode()
