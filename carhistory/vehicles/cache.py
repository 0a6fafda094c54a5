"""Reports and evidence bundles, cached in Redis as the JSON bytes the API sends.

A cached report is keyed by the VIN *and the size of the log it was built from*: a new entry
grows the log, so the next request misses and rebuilds. No entry is ever missed and no
invalidation has to be remembered for what the log holds. Reports also show the open disputes,
which live outside the log: whoever opens or settles a dispute calls `forget_vehicle`, which
moves the VIN to a new generation, and a report cached for an older one is built again.
Reports are translated, so the language is part of the key too.
"""

import json

from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import translation

from carhistory.vehicles.evidence import build_evidence_bundle
from carhistory.vehicles.report import build_report
from ledger.selectors import latest_checkpoint

# A backstop only: keys of a grown log are never asked for again and expire on their own.
CACHE_SECONDS = 60 * 60


def report_json(*, vin: str) -> bytes:
    """The report of a valid, normalised `vin` as UTF-8 JSON, built at most once per log size."""
    checkpoint = latest_checkpoint()
    size = checkpoint.tree_size if checkpoint else 0
    key = f"vehicle-report:{vin}:{size}:{translation.get_language()}"
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


def evidence_json(*, vin: str) -> bytes:
    """The evidence bundle of a valid, normalised `vin` as UTF-8 JSON, built once per log size."""
    checkpoint = latest_checkpoint()
    size = checkpoint.tree_size if checkpoint else 0
    key = f"vehicle-evidence:{vin}:{size}"
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


def _generation_key(vin: str) -> str:
    return f"vehicle-generation:{vin}"


def _encode(data: dict) -> bytes:
    return json.dumps(data, ensure_ascii=False, cls=DjangoJSONEncoder).encode()
