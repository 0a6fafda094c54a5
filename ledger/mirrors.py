"""Mirrors: parties that keep a verified copy of every entry (SPEC §4 keeps entry bundles
private, so a mirror reads them with a token issued here).

A mirror's cosigner identity is a Cosigner row of kind mirror (its cosignatures are stored and
served like a witness's); the Mirror row beside it holds the SHA-256 of its access token. The
raw token is returned once, by `register_mirror`, and never stored.
"""

import hashlib
import secrets
from dataclasses import dataclass

from carhistory_verifier import note
from django.db import transaction

from .models import Cosigner, Mirror

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
