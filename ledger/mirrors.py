"""Mirrors: parties that keep a verified copy of every entry (SPEC §4 keeps entry bundles
private, so a mirror reads them with a token issued here).

A mirror's cosigner identity is a Cosigner row of kind mirror (its cosignatures are stored and
served like a witness's); the Mirror row beside it holds the SHA-256 of its access token. The
raw token is returned once, by `register_mirror`, and never stored.
"""

import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

from carhistory_verifier import note
from carhistory_verifier.tiles import TILE_WIDTH
from django.db import connection, transaction

from carhistory.errors import DomainError

from .models import Cosigner, Mirror, VinKey

TOKEN_PREFIX = "mirror_"  # noqa: S105 - a label, not a secret
TOKEN_BYTES = 32


class MirrorRegistrationError(ValueError):
    """A mirror could not be registered; the message says why."""


@dataclass(frozen=True)
class RegisteredMirror:
    mirror: Mirror
    token: str


def token_hash(token: str) -> str:
    """SHA-256 of a token, hex. The token is 256 random bits, so a fast hash suffices: there
    is nothing to guess that a slow hash would protect."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def register_mirror(*, name: str, verifier_key: str) -> RegisteredMirror:
    """Register a mirror by its name and tlog-cosignature verifier key; return the row and
    its access token (shown once)."""
    try:
        verifier = note.CosignatureVerifier.from_key_string(verifier_key.strip())
    except note.NoteError as error:
        raise MirrorRegistrationError(f"--key: {error}") from None
    if verifier.name != name:
        raise MirrorRegistrationError(
            f"the key is named {verifier.name!r}, not {name!r}: a cosignature line carries the "
            "key's name, so they must match"
        )
    if Cosigner.objects.filter(name=name).exists():
        raise MirrorRegistrationError(f"a witness or mirror named {name!r} already exists")
    if Cosigner.objects.filter(verifier_key=verifier.key_string()).exists():
        raise MirrorRegistrationError("this key is already registered")
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    with transaction.atomic():
        cosigner = Cosigner.objects.create(
            name=name, verifier_key=verifier.key_string(), kind=Cosigner.Kind.MIRROR
        )
        mirror = Mirror.objects.create(cosigner=cosigner, token_hash=token_hash(token))
    return RegisteredMirror(mirror=mirror, token=token)


def mirror_for_token(token: str) -> Mirror | None:
    """The mirror this token belongs to, active or not; None for an unknown token."""
    return Mirror.objects.select_related("cosigner").filter(token_hash=token_hash(token)).first()


# --- what a mirror reads ---------------------------------------------------------------------
# A mirror catching up reads millions of entries; one request per range of bundles (not per
# bundle) keeps the per-request cost of the site out of the per-entry cost.

MAX_RANGE_ENTRIES = 256 * TILE_WIDTH
# Rows per query while a range streams: about 2 MB of entries in memory at a time.
RANGE_CHUNK_ENTRIES = 16 * TILE_WIDTH
MAX_VRF_PROOF_VINS = MAX_RANGE_ENTRIES

# PostgreSQL builds the bundle encoding itself (each entry prefixed by its length as a
# big-endian uint16, the low two bytes of int4send), so the site only passes bytes through.
# The count tells a gap (an entry missing behind the log's back) from a short range.
_ENTRY_RANGE_SQL = (
    "SELECT count(*), string_agg(substring(int4send(length(data)) FROM 3) || data, "
    '%s::bytea ORDER BY "index") FROM ledger_entry WHERE "index" >= %s AND "index" < %s'
)


class EntryRangeError(DomainError):
    """A range of entries a mirror may not ask for; the message says why."""

    # The range as a whole is refused: `end` is where a mirror fixes it.
    field = "end"


def check_entry_range(*, start: int, end: int, tree_size: int) -> None:
    """Refuse a range that is not tile-aligned, is empty, too long, or beyond the latest
    checkpoint (a mirror reads only what a checkpoint covers)."""
    if start < 0 or start % TILE_WIDTH:
        raise EntryRangeError(f"start must be a multiple of {TILE_WIDTH}: ranges are whole bundles")
    if not start < end <= start + MAX_RANGE_ENTRIES:
        raise EntryRangeError(
            f"end must be greater than start and at most start + {MAX_RANGE_ENTRIES}"
        )
    if end > tree_size:
        raise EntryRangeError(f"the latest checkpoint covers {tree_size} entries, not {end}")


def entry_range(*, start: int, end: int) -> Iterator[bytes]:
    """Entries [start, end) encoded as the C2SP tlog-tiles entry bundles they span, one after
    the other, yielded a chunk at a time. Call `check_entry_range` first."""
    for first in range(start, end, RANGE_CHUNK_ENTRIES):
        last = min(end, first + RANGE_CHUNK_ENTRIES)
        with connection.cursor() as cursor:
            cursor.execute(_ENTRY_RANGE_SQL, [b"", first, last])
            count, data = cursor.fetchone()
        if count != last - first:
            # Mid-stream nothing better can be said: the mirror sees a short body and stops.
            raise LookupError(f"stored entries are missing in [{first}, {last})")
        yield bytes(data)


def vrf_proofs(vins: list[str]) -> dict[str, bytes]:
    """The stored VRF proof (SPEC §7) of each of these VINs the log has one for."""
    rows = VinKey.objects.filter(vin__in=vins).values_list("vin", "vrf_proof")
    return {vin: bytes(proof) for vin, proof in rows.iterator(chunk_size=10_000)}
