"""The ledger audit's second half: the stored log checked against what others hold of it.

`ledger.audit` proves the stored log agrees with itself. An owner who rolls it back (rows
deleted behind the triggers' back, or a restore from an old dump) or rewrites it under the
same key leaves a log that still agrees with itself. What it cannot roll back is what other
parties signed or copied, so after the self-check the audit compares the log with:

1. the cosignatures the log itself stored (`Cosignature`), each verified with its cosigner's
   key, and the size the log last recorded each witness as holding: a rollback that left
   these rows behind is caught without the network;
2. each active witness, asked: C2SP tlog-witness has no "latest" call, but its spec lets a
   client without that knowledge send `add-checkpoint` with old size 0, and the 409 answer
   carries the size the witness last cosigned for our origin. That size is then shown to
   hold our tree by pushing the log's latest checkpoint with a consistency proof from it
   (exactly what the pusher sends): a witness that cosigned more than the log now has,
   or a tree the log's latest checkpoint does not extend (422, or 409 at the same size),
   proves a rollback or a fork. Its cosignature on the audited checkpoint is the harmless
   side effect, as the same push from the log would have had;
3. a mirror's store (`carhistory-mirror sync` keeps every checkpoint the log signed for
   it): the newest checkpoint in it, signed by the log key, must be one the log still
   extends.

Every failure names the party that holds the larger or other tree. A witness that cannot be
reached proves nothing either way: it is reported, not failed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from carhistory_verifier import merkle, note
from carhistory_verifier.mirror.store import MirrorStore, StoreError
from carhistory_verifier.witness import client
from django.conf import settings

from . import keys, selectors
from .audit import LedgerDamage
from .models import Checkpoint, Cosignature, Cosigner


@dataclass(frozen=True)
class HeldCheckpoint:
    """What one party holds of the log: a tree size and, when known, its root hash."""

    party: str
    size: int
    root_hash: bytes | None
    how: str


def check_held(held: HeldCheckpoint, latest: Checkpoint | None) -> None:
    """LedgerDamage naming the party when the log's latest checkpoint is smaller than what
    the party holds, or does not extend its tree. The stored subtrees the proof is built
    from were checked against the entries by `verify_ledger` first."""
    log_size = latest.tree_size if latest is not None else 0
    if held.size > log_size:
        raise LedgerDamage(
            f"{held.party} holds checkpoint {held.size} ({held.how}), but the log's latest "
            f"checkpoint is {log_size}: the log was rolled back (entries removed, or a restore "
            "from an old backup)"
        )
    if held.root_hash is None or held.size == 0 or latest is None:
        return
    try:
        merkle.verify_consistency(
            first=held.size,
            second=log_size,
            first_root=held.root_hash,
            second_root=bytes(latest.root_hash),
            proof=selectors.consistency_proof(first=held.size, second=log_size),
        )
    except merkle.ProofError:
        raise LedgerDamage(
            f"{held.party} holds checkpoint {held.size} ({held.how}) with another tree than "
            f"the log's: the log was forked or rewritten since {held.party} saw it"
        ) from None


# --- 1. what the log stored of its cosigners ---------------------------------------------------


def stored_cosignatures() -> list[HeldCheckpoint]:
    """For each cosigner, its cosignature on the largest stored checkpoint, verified with its
    key, and the size the log last recorded it cosigning. LedgerDamage for a cosignature that
    does not verify, or that belongs to a checkpoint no longer stored."""
    held = []
    # Rows deleted with the foreign-key triggers off leave the cosignatures behind.
    orphaned = Cosignature.objects.exclude(checkpoint_id__in=Checkpoint.objects.values("pk"))
    orphan = orphaned.values_list("cosigner__kind", "cosigner__name").first()
    if orphan is not None:
        raise LedgerDamage(
            f"{orphan[0]} {orphan[1]} cosigned checkpoints that are no longer stored: the log "
            "was rolled back beneath its cosignatures"
        )
    for cosigner in Cosigner.objects.order_by("id"):
        party = f"{cosigner.kind} {cosigner.name}"
        if cosigner.cosigned_size:
            held.append(
                HeldCheckpoint(party, cosigner.cosigned_size, None, "its last push, per the log")
            )
        newest = (
            Cosignature.objects.filter(cosigner=cosigner)
            .select_related("checkpoint")
            .order_by("-checkpoint__tree_size", "-timestamp")
            .first()
        )
        if newest is not None:
            held.append(_verified_cosignature(party, cosigner, newest))
    return held


def _verified_cosignature(
    party: str, cosigner: Cosigner, cosignature: Cosignature
) -> HeldCheckpoint:
    checkpoint = cosignature.checkpoint
    try:
        key = note.CosignatureVerifier.from_key_string(cosigner.verifier_key)
        note.verify_cosignature(checkpoint.note + cosignature.signature_line + "\n", key)
    except note.NoteError:
        raise LedgerDamage(
            f"{party}'s stored cosignature on checkpoint {checkpoint.tree_size} does not verify "
            "with its key: the checkpoint was rewritten after it was cosigned"
        ) from None
    return HeldCheckpoint(
        party, checkpoint.tree_size, bytes(checkpoint.root_hash), "its stored cosignature"
    )


# --- 2. the witnesses, asked -------------------------------------------------------------------


def ask_witnesses(latest: Checkpoint | None) -> list[str]:
    """Ask every active witness what it last cosigned and check it against `latest`; return
    one line per witness saying what it answered. LedgerDamage naming the witness when it
    holds a larger tree or another one."""
    if latest is None:
        return ["witnesses not asked: the log has no checkpoint to show them"]
    witnesses = Cosigner.objects.filter(kind=Cosigner.Kind.WITNESS, active=True).exclude(url="")
    return [_ask_witness(witness, latest) for witness in witnesses.order_by("id")]


def _ask_witness(witness: Cosigner, latest: Checkpoint) -> str:
    party = f"witness {witness.name}"
    try:
        key = note.CosignatureVerifier.from_key_string(witness.verifier_key)
        held_size = _witness_size(witness, key, latest)
    except (note.NoteError, client.WitnessUnreachable, client.WitnessRefused) as error:
        return f"{party}: not checked ({error})"
    if held_size is None:
        return f"{party}: had cosigned nothing of this log; now holds {latest.tree_size}"
    check_held(HeldCheckpoint(party, held_size, None, "as it answered"), latest)
    try:
        _push(witness, key, old_size=held_size, latest=latest)
    except client.WitnessRefused as refusal:
        if refusal.status != 422:
            return f"{party}: holds {held_size}; not checked further ({refusal})"
        raise _fork(party, held_size) from None
    except client.WitnessConflict as conflict:
        if conflict.latest_size != held_size:
            return f"{party}: moved from {held_size} to {conflict.latest_size} while asked"
        # The same size sent back for the same size: it cosigned another root (decision.py).
        raise _fork(party, held_size) from None
    except client.WitnessUnreachable as error:
        return f"{party}: holds {held_size}; not checked further ({error})"
    return f"{party}: held {held_size}, extended by checkpoint {latest.tree_size}"


def _witness_size(
    witness: Cosigner, key: note.CosignatureVerifier, latest: Checkpoint
) -> int | None:
    """The size the witness last cosigned for our origin (tlog-witness: a client without that
    knowledge MAY ask with old size 0 and read the 409). None when it answered 200: it had
    cosigned nothing of this log, and now holds `latest`."""
    try:
        _push(witness, key, old_size=0, latest=latest)
    except client.WitnessConflict as conflict:
        return conflict.latest_size
    return None


def _push(
    witness: Cosigner, key: note.CosignatureVerifier, *, old_size: int, latest: Checkpoint
) -> None:
    proof = []
    if 0 < old_size < latest.tree_size:
        proof = selectors.consistency_proof(first=old_size, second=latest.tree_size)
    client.add_checkpoint(
        url=witness.url,
        old_size=old_size,
        proof=proof,
        checkpoint_note=latest.note,
        witness_key=key,
        timeout=settings.WITNESS_TIMEOUT_SECONDS,
    )


def _fork(party: str, size: int) -> LedgerDamage:
    return LedgerDamage(
        f"{party} cosigned a tree of size {size} that the log's latest checkpoint does not "
        "extend: the log was forked or rewritten since it was witnessed"
    )


# --- 3. mirrors' stores ------------------------------------------------------------------------


def mirrored_checkpoints(paths: Iterable[Path]) -> list[HeldCheckpoint]:
    """The newest checkpoint in each mirror store, its log signature verified by the store.
    LedgerDamage when a store is missing or not a store of this log."""
    held = []
    log_key = keys.log_signer().verifier()
    for path in paths:
        if not Path(path).is_file():
            raise LedgerDamage(f"mirror store {path}: no such file")
        try:
            store = MirrorStore(Path(path), log_key)
        except (StoreError, OSError) as error:
            raise LedgerDamage(f"mirror store {path}: {error}") from None
        try:
            newest = store.latest_checkpoint()
        except StoreError as error:
            raise LedgerDamage(f"mirror store {path}: {error}") from None
        finally:
            store.close()
        if newest is not None:
            party = f"mirror {_cosigner_name(newest.cosignature) or path}"
            held.append(
                HeldCheckpoint(
                    party,
                    newest.size,
                    newest.checkpoint.root_hash,
                    f"signed by the log, in {path}",
                )
            )
    return held


def _cosigner_name(signature_line: str) -> str:
    name, _, _ = signature_line.removeprefix(note.SIGNATURE_PREFIX).partition(" ")
    return name


def check_cosigners(*, mirror_stores: Sequence[Path] = (), ask: bool = True) -> list[str]:
    """Check the (already self-verified) log against its stored cosignatures, each mirror
    store given and, if `ask`, every active witness; return what was checked, one line per
    party. LedgerDamage naming the first party whose view the log contradicts."""
    latest = selectors.latest_checkpoint()
    held = stored_cosignatures() + mirrored_checkpoints(mirror_stores)
    for view in held:
        check_held(view, latest)
    lines = [f"{view.party}: {view.size} ({view.how}) is in the log" for view in held]
    if ask:
        lines += ask_witnesses(latest)
    return lines
