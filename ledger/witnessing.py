"""The log as a C2SP tlog-witness client (SPEC §8): push each new checkpoint to every active
witness and keep the cosignatures they return.

After the sequencer commits a checkpoint, a task per witness sends `add-checkpoint` with the
consistency proof from the size that witness last cosigned. A 409 names the size the witness
really holds (after a lost answer, or a witness shared with another copy of the log): the push
starts again from it. Failures are recorded and back off exponentially; the sequencer never
waits for a witness, and a witness that is down only delays its own cosignatures. A witness
asked again about a checkpoint it already cosigned signs it again with a newer time, which is
how an idle log keeps showing buyers fresh cosignatures.

One push per witness at a time: the witness's row is locked (`skip_locked`) for the push, and
a push that finds it locked leaves the work to the holder, which queues another push once it
is done if the log grew meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from carhistory_verifier import note
from carhistory_verifier.witness import client
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from . import selectors, services
from .models import Checkpoint, Cosigner

# 409s in a row within one push before giving up: each names a size to start from, so more
# than two means the witness's state keeps moving under us.
MAX_CONFLICTS = 2


class Outcome(StrEnum):
    COSIGNED = "cosigned"
    UP_TO_DATE = "up to date"
    BUSY = "busy"
    BACKING_OFF = "backing off"
    FAILED = "failed"


@dataclass(frozen=True)
class PushResult:
    witness: str
    outcome: Outcome
    size: int | None = None
    detail: str = ""


class PushFailed(Exception):
    """Pushing a checkpoint to one witness failed; the message is what the admin shows."""


def active_witness_ids() -> list[int]:
    """The witnesses the log pushes to: active, with a submission URL."""
    witnesses = Cosigner.objects.filter(kind=Cosigner.Kind.WITNESS, active=True).exclude(url="")
    return list(witnesses.order_by("id").values_list("id", flat=True))


# Coalesced pushes, as integration is (`sequencer.claim_integration_run`): set from a queued
# push until that push is done. A checkpoint committed while it is set queues no other push:
# the queued one has yet to read the latest checkpoint, or it is under way and, once done,
# queues the next if the log grew meanwhile (`push_to_witness`). Beat's pushes every 10 s
# cover a lost task message; the expiry bounds what it holds back.
PUSH_QUEUED_KEY = "ledger:push-queued:{witness_id}"
PUSH_QUEUED_SECONDS = 30


def claim_push(*, witness_id: int) -> bool:
    """Mark that a checkpoint was committed: True if the caller should queue a push to this
    witness, False if one queued or under way will bring the witness up to it anyway."""
    return cache.add(PUSH_QUEUED_KEY.format(witness_id=witness_id), 1, PUSH_QUEUED_SECONDS)


def queue_push(*, witness_id: int) -> None:
    """Queue a push to this witness unless one is queued or under way. It starts
    WITNESS_PUSH_INTERVAL_SECONDS later, so that under a stream of batches (ten a second at 200
    single submissions a second) one push carries the checkpoints of that interval instead of
    each costing a push of its own."""
    from . import tasks  # tasks imports this module

    if claim_push(witness_id=witness_id):
        tasks.push_to_witness.apply_async(
            (witness_id,), countdown=settings.WITNESS_PUSH_INTERVAL_SECONDS
        )


def push_to_witness(*, witness_id: int, now: datetime | None = None) -> PushResult:
    """Bring one witness up to the latest checkpoint and store its cosignature; if the log
    grew meanwhile, queue the next push (`queue_push`)."""
    with transaction.atomic():
        witness = (
            Cosigner.objects.select_for_update(skip_locked=True)
            .filter(pk=witness_id, active=True)
            .first()
        )
        if witness is None:
            # Inactive, or another push holds the row: the holder looks at the log's size
            # when it is done.
            return PushResult("", Outcome.BUSY)
        result = _push_latest(witness, now or timezone.now())
    # Cleared after the push, not before: a checkpoint committed during it found the mark set
    # and queued nothing, so the size read next must see it; one committed after the clearing
    # queues a push of its own. A push that found the row taken left its checkpoint to this
    # check too.
    cache.delete(PUSH_QUEUED_KEY.format(witness_id=witness_id))
    caught_up = result.outcome in (Outcome.COSIGNED, Outcome.UP_TO_DATE)
    if caught_up and selectors.tree_size() > (result.size or 0):
        queue_push(witness_id=witness_id)
    return result


def _push_latest(witness: Cosigner, now: datetime) -> PushResult:
    if witness.retry_at is not None and witness.retry_at > now:
        return PushResult(witness.name, Outcome.BACKING_OFF, witness.cosigned_size)
    checkpoint = _checkpoint_to_push(witness)
    if checkpoint is None or not _due(witness, checkpoint, now):
        return PushResult(witness.name, Outcome.UP_TO_DATE, witness.cosigned_size)
    try:
        timestamp = _add_checkpoint(witness, checkpoint)
    except PushFailed as error:
        _record_failure(witness, str(error), now)
        return PushResult(witness.name, Outcome.FAILED, witness.cosigned_size, str(error))
    witness.cosigned_size = checkpoint.tree_size
    witness.cosigned_at = now
    witness.failures = 0
    witness.retry_at = None
    witness.last_error = ""
    witness.save(update_fields=_PUSH_FIELDS)
    return PushResult(witness.name, Outcome.COSIGNED, checkpoint.tree_size, str(timestamp))


# The checkpoint the witnesses are asked to cosign this round. Each witness's pushes run on
# a schedule of their own, so under a stream of batches two witnesses read the latest
# checkpoint a batch apart and cosign different ones; a buyer who needs both cosignatures on
# one checkpoint then waits until their schedules happen to meet (seconds, at 200 submissions
# a second). The first push of a round names its checkpoint here; the other witnesses push
# that one while it is newer than what they cosigned. A witness never follows its own naming
# (it had its turn: it names the latest), and a name lasts a second at most.
PUSH_TARGET_KEY = "ledger:push-target"
PUSH_TARGET_SECONDS = 1.0


def _checkpoint_to_push(witness: Cosigner) -> Checkpoint | None:
    latest = selectors.latest_checkpoint()
    if latest is None:
        return None
    size, named_by = cache.get(PUSH_TARGET_KEY) or (0, None)
    if named_by != witness.pk and (witness.cosigned_size or 0) < size <= latest.tree_size:
        checkpoint = selectors.checkpoint_at(size)
        if checkpoint is not None:
            return checkpoint
    cache.set(PUSH_TARGET_KEY, (latest.tree_size, witness.pk), PUSH_TARGET_SECONDS)
    return latest


_PUSH_FIELDS = ["cosigned_size", "cosigned_at", "failures", "retry_at", "last_error"]


def _due(witness: Cosigner, checkpoint: Checkpoint, now: datetime) -> bool:
    """A witness is asked when the log has grown past what it cosigned, or when its newest
    cosignature is old enough to be refreshed."""
    if witness.cosigned_size != checkpoint.tree_size or witness.cosigned_at is None:
        return True
    return now - witness.cosigned_at >= timedelta(seconds=settings.WITNESS_REFRESH_SECONDS)


def _add_checkpoint(witness: Cosigner, checkpoint: Checkpoint) -> int:
    """Send `checkpoint` to the witness, following its 409s; store and return the time of the
    cosignature. PushFailed when it cannot be had."""
    try:
        witness_key = note.CosignatureVerifier.from_key_string(witness.verifier_key)
    except note.NoteError as error:
        raise PushFailed(f"the registered verifier key is not a cosignature key: {error}") from None
    old_size = witness.cosigned_size or 0
    for _ in range(MAX_CONFLICTS + 1):
        if old_size > checkpoint.tree_size:
            raise PushFailed(
                f"the witness has cosigned size {old_size}, larger than this log's "
                f"{checkpoint.tree_size}: is it witnessing another copy of the log?"
            )
        try:
            line, timestamp = client.add_checkpoint(
                url=witness.url,
                old_size=old_size,
                proof=_proof(old_size, checkpoint.tree_size),
                checkpoint_note=checkpoint.note,
                witness_key=witness_key,
                timeout=settings.WITNESS_TIMEOUT_SECONDS,
            )
        except client.WitnessConflict as conflict:
            old_size = conflict.latest_size
            continue
        except (client.WitnessRefused, client.WitnessUnreachable) as error:
            raise PushFailed(str(error)) from None
        services.store_cosignature(
            cosigner=witness, checkpoint=checkpoint, signature_line=line, timestamp=timestamp
        )
        return timestamp
    raise PushFailed(f"the witness answered 409 {MAX_CONFLICTS + 1} times in a row")


def _proof(old_size: int, size: int) -> list[bytes]:
    # From the empty tree, or to the same size, the proof is empty (tlog-witness).
    if old_size == 0 or old_size == size:
        return []
    return selectors.consistency_proof(first=old_size, second=size)


def _record_failure(witness: Cosigner, error: str, now: datetime) -> None:
    witness.failures += 1
    delay = min(
        settings.WITNESS_BACKOFF_SECONDS * 2 ** (witness.failures - 1),
        settings.WITNESS_BACKOFF_MAX_SECONDS,
    )
    witness.retry_at = now + timedelta(seconds=delay)
    witness.last_error = error[:1000]
    witness.save(update_fields=_PUSH_FIELDS)


def add_witness(
    *, verifier_key: str, url: str, title: str = "", title_zh_hans: str = ""
) -> tuple[Cosigner, bool]:
    """Register a witness by its cosignature verifier key (type 0x04) and submission URL, or
    update the URL (and titles, if given) of the one with that key; returns it and whether it
    was created. `title` is what buyers read on the report, `title_zh_hans` what they read
    on Chinese pages.

    ValueError naming the problem for a key that is not a cosignature verifier key, a URL
    that is not http(s), or a name already taken by another key.
    """
    try:
        key = note.CosignatureVerifier.from_key_string(verifier_key.strip())
    except note.NoteError as error:
        raise ValueError(f"verifier key: {error}") from None
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"url: {url!r} is not an http:// or https:// URL")
    existing = Cosigner.objects.filter(name=key.name).first()
    if existing is not None and existing.verifier_key != key.key_string():
        raise ValueError(f"verifier key: the name {key.name!r} is registered with another key")
    if existing is not None:
        existing.url = url
        existing.title = title or existing.title
        existing.title_zh_hans = title_zh_hans or existing.title_zh_hans
        existing.kind = Cosigner.Kind.WITNESS
        existing.save(update_fields=["url", "title", "title_zh_hans", "kind"])
        return existing, False
    witness = Cosigner.objects.create(
        name=key.name,
        title=title,
        title_zh_hans=title_zh_hans,
        verifier_key=key.key_string(),
        kind=Cosigner.Kind.WITNESS,
        url=url,
    )
    return witness, True
