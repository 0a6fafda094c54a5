"""C2SP signed notes, checkpoints and cosignatures with Ed25519. Plain Python, no Django.

- signed-note: text ending in a newline, a blank line, then `— <name> base64(key id ||
  signature)` lines. Key strings follow Go's golang.org/x/mod/sumdb/note:
  verifier `name+hex8+base64(type || public key)`, signer `PRIVATE+KEY+name+hex8+base64(type
  || seed)`.
- tlog-checkpoint: a note whose text is origin, tree size, base64 root hash, extension lines.
- tlog-cosignature v1 (key type 0x04): a witness signs `cosignature/v1\\ntime <T>\\n` + the
  checkpoint text, and the signature carries T as 8 big-endian bytes before the Ed25519
  signature.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Generic, Self, TypeVar

from carhistory_verifier.entry import b64decode, b64encode
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nacl import bindings as sodium

ED25519 = 0x01
COSIGNATURE_ED25519 = 0x04

KEY_SIZE = 32
SIGNATURE_SIZE = 64
KEY_ID_SIZE = 4
HASH_SIZE = 32
# The spec asks verifiers to cap signatures per note and to accept at least 16.
MAX_SIGNATURES = 100
MAX_TIMESTAMP = 2**63 - 1
SIGNATURE_PREFIX = "— "
PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"
COSIGNATURE_HEADER = "cosignature/v1\n"

_KEY_ID_PATTERN = re.compile(r"[0-9a-f]{8}")
_TREE_SIZE_PATTERN = re.compile(r"0|[1-9][0-9]*")
_MAX_TREE_SIZE = 2**64 - 1


class NoteError(ValueError):
    """A key string, note, checkpoint or cosignature is malformed or does not verify."""


class NoteUnsignedError(NoteError):
    """The note is well formed but carries no signature line by any of the keys asked for."""


class NoteSignatureError(NoteError):
    """A signature line by a key asked for does not verify: the note is forged or altered."""


def key_id(name: str, key_type: int, public_key: bytes) -> bytes:
    """Return the 4-byte key ID: SHA-256(name || 0x0A || type || public key)[:4]."""
    material = name.encode("utf-8") + b"\n" + bytes([key_type]) + public_key
    return hashlib.sha256(material).digest()[:KEY_ID_SIZE]


def _check_name(name: object) -> None:
    # Names sit in signature lines between "— " and a space and in key strings between "+"s,
    # so a space or plus inside one would make those lines ambiguous.
    if not isinstance(name, str) or not name:
        raise NoteError("key name must be a non-empty string")
    if "+" in name or any(character.isspace() for character in name):
        raise NoteError(f"key name {name!r} contains a space or '+'")
    if any(ord(character) < 0x20 for character in name):
        raise NoteError(f"key name {name!r} contains a control character")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteError(f"key name {name!r} is not valid UTF-8") from None


def _check_text(text: object, what: str) -> None:
    if not isinstance(text, str):
        raise NoteError(f"{what} must be a string")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteError(f"{what} is not valid UTF-8") from None
    if any(ord(character) < 0x20 and character != "\n" for character in text):
        raise NoteError(f"{what} contains a control character other than newline")


def _decode_key_string(key: object, key_type: int) -> tuple[str, bytes, bytes]:
    """Split `name+hex8+base64(type || material)` and return (name, key id, material)."""
    if not isinstance(key, str):
        raise NoteError("key must be a string")
    parts = key.split("+", 2)
    if len(parts) != 3:
        raise NoteError("key must have the form name+keyid+base64key")
    name, id_hex, material_base64 = parts
    _check_name(name)
    if not _KEY_ID_PATTERN.fullmatch(id_hex):
        raise NoteError(f"key id {id_hex!r} is not 8 lower-case hex digits")
    try:
        material = b64decode(material_base64)
    except ValueError as error:
        raise NoteError(f"key material: {error}") from None
    if not material or material[0] != key_type:
        found = f"0x{material[0]:02x}" if material else "none"
        raise NoteError(f"key type is {found}, expected 0x{key_type:02x}")
    if len(material) != 1 + KEY_SIZE:
        raise NoteError(f"key material is {len(material) - 1} bytes, expected {KEY_SIZE}")
    return name, bytes.fromhex(id_hex), material[1:]


class _PublicKey:
    """An Ed25519 public key with a note name; `key_type` says which signatures it checks."""

    key_type: ClassVar[int]

    def __init__(self, name: str, public_key: bytes) -> None:
        _check_name(name)
        if not isinstance(public_key, bytes) or len(public_key) != KEY_SIZE:
            raise NoteError(f"public key must be {KEY_SIZE} bytes")
        self.name = name
        self.public_key = public_key
        self.key_id = key_id(name, self.key_type, public_key)
        self._key = Ed25519PublicKey.from_public_bytes(public_key)

    @classmethod
    def from_key_string(cls, vkey: str) -> Self:
        """Parse a verifier key string `name+hex8+base64(type || public key)`.

        NoteError if any part is malformed, the type is not this class's, or the key id does
        not match the name and key.
        """
        name, claimed_id, public_key = _decode_key_string(vkey, cls.key_type)
        verifier = cls(name, public_key)
        if verifier.key_id != claimed_id:
            raise NoteError(f"key id {claimed_id.hex()} does not match the name and key")
        return verifier

    def key_string(self) -> str:
        """Return the verifier key string `name+hex8+base64(type || public key)`."""
        material = bytes([self.key_type]) + self.public_key
        return f"{self.name}+{self.key_id.hex()}+{b64encode(material)}"

    def fingerprint(self) -> str:
        """Return a short name a person can compare on paper: the first 128 bits of SHA-256
        over the key string, as eight groups of four hex digits.

        Not the 4-byte key id, which anyone can match by trying 2**32 keys; the browser shows
        the same fingerprint (verify-core.js).
        """
        digest = hashlib.sha256(self.key_string().encode("utf-8")).hexdigest()[:32]
        return " ".join(digest[start : start + 4] for start in range(0, 32, 4))

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Return whether `signature` is this key's raw Ed25519 signature over `message`."""
        if not isinstance(signature, bytes) or len(signature) != SIGNATURE_SIZE:
            return False
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.key_string() == self.key_string()

    def __hash__(self) -> int:
        return hash(self.key_string())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.key_string()!r})"


_V = TypeVar("_V", bound=_PublicKey)


class _PrivateKey(Generic[_V]):
    """An Ed25519 private key with a note name."""

    key_type: ClassVar[int]
    verifier_class: type[_V]

    def __init__(self, name: str, seed: bytes) -> None:
        _check_name(name)
        if not isinstance(seed, bytes) or len(seed) != KEY_SIZE:
            raise NoteError(f"private key seed must be {KEY_SIZE} bytes")
        self.name = name
        self._seed = seed
        # libsodium signs in half OpenSSL's time, and Ed25519 signatures are deterministic
        # (RFC 8032 §5.1.6): the same bytes either way. A source signs every record it sends.
        public_key, self._secret_key = sodium.crypto_sign_seed_keypair(seed)
        self._verifier = self.verifier_class(name, public_key)
        self.key_id = self._verifier.key_id

    @classmethod
    def from_key_string(cls, skey: str) -> Self:
        """Parse a signer key string `PRIVATE+KEY+name+hex8+base64(type || 32-byte seed)`."""
        if not isinstance(skey, str) or not skey.startswith(PRIVATE_KEY_PREFIX):
            raise NoteError(f"private key must start with {PRIVATE_KEY_PREFIX!r}")
        name, claimed_id, seed = _decode_key_string(
            skey.removeprefix(PRIVATE_KEY_PREFIX), cls.key_type
        )
        signer = cls(name, seed)
        if signer.key_id != claimed_id:
            raise NoteError(f"key id {claimed_id.hex()} does not match the name and key")
        return signer

    @classmethod
    def generate(cls, name: str) -> Self:
        """Return a new random key with this name."""
        return cls(name, secrets.token_bytes(KEY_SIZE))

    def key_string(self) -> str:
        """Return the private key string; keep it secret."""
        material = bytes([self.key_type]) + self._seed
        return f"{PRIVATE_KEY_PREFIX}{self.name}+{self.key_id.hex()}+{b64encode(material)}"

    def verifier(self) -> _V:
        """Return the public key that checks this key's signatures."""
        return self._verifier

    def sign(self, message: bytes) -> bytes:
        """Return the raw 64-byte Ed25519 signature over `message`."""
        return sodium.crypto_sign(message, self._secret_key)[:SIGNATURE_SIZE]

    def __repr__(self) -> str:
        # Never print the seed.
        return f"{type(self).__name__}({self._verifier.key_string()!r})"


class Verifier(_PublicKey):
    """A signed-note Ed25519 verifier key (type 0x01): the log's key and sources' keys."""

    key_type = ED25519


class Signer(_PrivateKey[Verifier]):
    """A signed-note Ed25519 signer key (type 0x01)."""

    key_type = ED25519
    verifier_class = Verifier


class CosignatureVerifier(_PublicKey):
    """A witness's tlog-cosignature/v1 Ed25519 verifier key (type 0x04)."""

    key_type = COSIGNATURE_ED25519


class CosignatureSigner(_PrivateKey[CosignatureVerifier]):
    """A witness's tlog-cosignature/v1 Ed25519 signer key (type 0x04)."""

    key_type = COSIGNATURE_ED25519
    verifier_class = CosignatureVerifier


@dataclass(frozen=True)
class _NoteSignature:
    name: str
    key_id: bytes
    signature: bytes


def _split_note(note: str) -> tuple[str, list[_NoteSignature]]:
    """Split a signed note into its text and its parsed signature lines."""
    _check_text(note, "note")
    # The text ends at the last blank line; the text itself may contain blank lines.
    split_at = note.rfind("\n\n")
    if split_at < 0:
        raise NoteError("note has no blank line before its signatures")
    text, signature_block = note[: split_at + 1], note[split_at + 2 :]
    if not signature_block.endswith("\n"):
        raise NoteError("note signatures must end with a newline")
    lines = signature_block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has more than {MAX_SIGNATURES} signatures")
    signatures = []
    for number, line in enumerate(lines, start=1):
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError(f"signature line {number} does not start with '— '")
        parts = line.removeprefix(SIGNATURE_PREFIX).split(" ")
        if len(parts) != 2:
            raise NoteError(f"signature line {number} is not '— <name> <base64>'")
        name, encoded = parts
        _check_name(name)
        try:
            blob = b64decode(encoded)
        except ValueError as error:
            raise NoteError(f"signature line {number}: {error}") from None
        if len(blob) <= KEY_ID_SIZE:
            raise NoteError(f"signature line {number} is too short")
        signatures.append(_NoteSignature(name, blob[:KEY_ID_SIZE], blob[KEY_ID_SIZE:]))
    return text, signatures


def _signature_line(name: str, key_id_bytes: bytes, signature: bytes) -> str:
    return f"{SIGNATURE_PREFIX}{name} {b64encode(key_id_bytes + signature)}\n"


def sign_note(text: str, signers: Sequence[Signer]) -> str:
    """Return `text` signed by every signer: text, a blank line, one signature line each."""
    _check_text(text, "note text")
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    if not signers:
        raise NoteError("a note needs at least one signer")
    message = text.encode("utf-8")
    lines = [_signature_line(s.name, s.key_id, s.sign(message)) for s in signers]
    return text + "\n" + "".join(lines)


def open_note(note: str, verifiers: Sequence[Verifier]) -> tuple[str, list[Verifier]]:
    """Verify a signed note; return its text and the verifiers whose signatures verified.

    Signatures by keys not among `verifiers` (name and key id both matching) are ignored, as
    the spec requires, so witnesses can add cosignatures. A known key whose signature fails
    rejects the whole note; so does a note no known key signed.
    """
    text, signatures = _split_note(note)
    known = {(v.name, v.key_id): v for v in verifiers}
    message = text.encode("utf-8")
    verified: list[Verifier] = []
    for signature in signatures:
        verifier = known.get((signature.name, signature.key_id))
        if verifier is None:
            continue
        if not verifier.verify(message, signature.signature):
            raise NoteSignatureError(f"signature by {verifier.name} does not verify")
        if verifier not in verified:
            verified.append(verifier)
    if not verified:
        raise NoteUnsignedError("note is not signed by any known key")
    return text, verified


@dataclass(frozen=True)
class Checkpoint:
    """A C2SP tlog-checkpoint: the origin, size and root hash of a tree."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_text(self.origin, "checkpoint origin")
        if not self.origin or "\n" in self.origin:
            raise NoteError("checkpoint origin must be one non-empty line")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise NoteError("checkpoint size must be an integer")
        if not 0 <= self.size <= _MAX_TREE_SIZE:
            raise NoteError(f"checkpoint size {self.size} is out of range")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise NoteError(f"checkpoint root hash must be {HASH_SIZE} bytes")
        for line in self.extensions:
            _check_text(line, "checkpoint extension line")
            if not line or "\n" in line:
                raise NoteError("checkpoint extension lines must be single non-empty lines")

    def body(self) -> str:
        """Return the note text: origin, size, base64 root hash, extension lines."""
        lines = [self.origin, str(self.size), b64encode(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse checkpoint note text strictly; NoteError on a bad size (leading zeros, signs),
    bad base64, a root hash that is not 32 bytes, or empty lines."""
    _check_text(text, "checkpoint")
    if not text.endswith("\n"):
        raise NoteError("checkpoint must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError("checkpoint needs an origin, a size and a root hash line")
    origin, size_text, root_text, *extensions = lines
    if not _TREE_SIZE_PATTERN.fullmatch(size_text):
        raise NoteError(f"checkpoint size {size_text!r} is not a decimal without leading zeros")
    try:
        root_hash = b64decode(root_text)
    except ValueError as error:
        raise NoteError(f"checkpoint root hash: {error}") from None
    return Checkpoint(origin, int(size_text), root_hash, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> str:
    """Return the checkpoint as a note signed by `signer`."""
    return sign_note(checkpoint.body(), [signer])


def verify_checkpoint(note: str, verifier: Verifier, *, origin: str | None = None) -> Checkpoint:
    """Verify a checkpoint note signed by `verifier` and return it; NoteError otherwise,
    including when `origin` is given and the checkpoint names another log."""
    text, _ = open_note(note, [verifier])
    checkpoint = parse_checkpoint(text)
    if origin is not None and checkpoint.origin != origin:
        raise NoteError(f"checkpoint origin {checkpoint.origin!r} is not {origin!r}")
    return checkpoint


def _cosigned_message(body: str, timestamp: int) -> bytes:
    return f"{COSIGNATURE_HEADER}time {timestamp}\n{body}".encode()


def cosign_checkpoint(note: str, witness: CosignatureSigner, *, timestamp: int) -> str:
    """Return the witness's tlog-cosignature/v1 signature line for a signed checkpoint note.

    The caller (the witness) must already have verified the log's signature and the
    consistency with the last checkpoint it saw; this only signs.
    """
    body, _ = _split_note(note)
    parse_checkpoint(body)
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise NoteError("cosignature timestamp must be an integer")
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise NoteError(f"cosignature timestamp {timestamp} is out of range")
    timestamp_bytes = timestamp.to_bytes(8, "big")
    signature = witness.sign(_cosigned_message(body, timestamp))
    return _signature_line(witness.name, witness.key_id, timestamp_bytes + signature)


def verify_cosignature(note: str, witness: CosignatureVerifier) -> int:
    """Verify the witness's tlog-cosignature/v1 on a checkpoint note; return its timestamp.

    NoteError if the note carries no cosignature line for this witness or it does not verify.
    """
    body, signatures = _split_note(note)
    parse_checkpoint(body)
    for signature in signatures:
        if (signature.name, signature.key_id) != (witness.name, witness.key_id):
            continue
        if len(signature.signature) != 8 + SIGNATURE_SIZE:
            raise NoteError(f"cosignature by {witness.name} has the wrong length")
        timestamp = int.from_bytes(signature.signature[:8], "big")
        if timestamp > MAX_TIMESTAMP:
            raise NoteError(f"cosignature by {witness.name} has an out-of-range timestamp")
        message = _cosigned_message(body, timestamp)
        if not witness.verify(message, signature.signature[8:]):
            raise NoteError(f"cosignature by {witness.name} does not verify")
        return timestamp
    raise NoteError(f"note has no cosignature by {witness.name}")
