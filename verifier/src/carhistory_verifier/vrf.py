"""ECVRF-EDWARDS25519-SHA512-TAI, RFC 9381 suite 0x03: the VRF that keys the VIN index (SPEC §7).

Every operation on secret data (the secret scalar, the nonce, `s = k + c·x`, scalar
multiplication) goes through libsodium by PyNaCl's `nacl.bindings`. Only two small steps are
written here, and both touch public data only:

- `_times_cofactor_if_point`, the RFC 8032 §5.1.3 decoding rules libsodium's point addition
  does not apply, then multiplication by the cofactor 8 as three doublings with that addition.
  libsodium's own point check (`crypto_core_ed25519_is_valid_point`) also demands the
  prime-order subgroup, and its scalar multiplication refuses points outside it, but
  try-and-increment (RFC 9381 §5.4.1.1) must accept any curve point and clear the cofactor
  afterwards; using libsodium's check would pick a different `H` for most inputs.

Both are pinned by the RFC 9381 Appendix B.3 vectors in `tests/test_vrf.py`.

Verification is stricter than the RFC in one way: the public key and the proof's `Gamma` must
lie in the prime-order subgroup (libsodium's scalar multiplication requires it). An honest
prover always produces such points, so no genuine proof is refused.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from dataclasses import dataclass

from nacl import bindings as sodium
from nacl.exceptions import CryptoError

SUITE = b"\x03"  # RFC 9381 §5.5: ECVRF-EDWARDS25519-SHA512-TAI
PROOF_SIZE = 80  # Gamma (32) || c (16) || s (32)
OUTPUT_SIZE = 64  # beta, a SHA-512 output
PUBLIC_KEY_SIZE = 32
SECRET_KEY_SIZE = 32  # the RFC 8032 seed
_CHALLENGE_SIZE = 16

# The field prime of edwards25519 (RFC 8032 §5.1), and the y of its two points with x = 0.
_P = 2**255 - 19
_Y_WITH_ZERO_X = frozenset({1, _P - 1})


class VrfError(ValueError):
    """A VRF proof or key did not verify; the message says which part failed."""


@dataclass(frozen=True)
class VrfKey:
    """An ECVRF secret key: the 32-byte RFC 8032 seed, and the public key derived from it."""

    seed: bytes
    public_key: bytes

    @classmethod
    def generate(cls) -> VrfKey:
        """A fresh random key pair (libsodium's `crypto_sign_keypair`)."""
        public_key, secret = sodium.crypto_sign_keypair()
        return cls(seed=secret[:SECRET_KEY_SIZE], public_key=public_key)

    @classmethod
    def from_seed(cls, seed: bytes) -> VrfKey:
        """The key pair of a 32-byte seed, as RFC 8032 §5.1.5 derives it."""
        if len(seed) != SECRET_KEY_SIZE:
            raise ValueError(f"a VRF secret key is {SECRET_KEY_SIZE} bytes, not {len(seed)}")
        public_key, _secret = sodium.crypto_sign_seed_keypair(seed)
        return cls(seed=seed, public_key=public_key)

    def __repr__(self) -> str:
        return f"VrfKey(public_key={self.public_key.hex()})"


def prove(key: VrfKey, alpha: bytes) -> bytes:
    """Return the 80-byte proof `pi` for `alpha` (RFC 9381 §5.1)."""
    # The secret scalar x: SHA-512 of the seed, first half clamped (RFC 8032 §5.1.5). libsodium's
    # Ed25519-to-X25519 conversion computes exactly that clamped half; reducing it mod L keeps
    # every later scalar operation within libsodium's documented input range.
    x = sodium.crypto_sign_ed25519_sk_to_curve25519(key.seed + key.public_key)
    x = sodium.crypto_core_ed25519_scalar_reduce(x + bytes(32))
    h_point = encode_to_curve(key.public_key, alpha)
    gamma = sodium.crypto_scalarmult_ed25519_noclamp(x, h_point)
    # RFC 9381 §5.4.2.2: the nonce as RFC 8032 derives it, from the seed's hash and H.
    seed_hash = hashlib.sha512(key.seed).digest()
    nonce = sodium.crypto_core_ed25519_scalar_reduce(
        hashlib.sha512(seed_hash[32:] + h_point).digest()
    )
    u_point = sodium.crypto_scalarmult_ed25519_base_noclamp(nonce)
    v_point = sodium.crypto_scalarmult_ed25519_noclamp(nonce, h_point)
    challenge = _challenge(key.public_key, h_point, gamma, u_point, v_point)
    s = sodium.crypto_core_ed25519_scalar_add(
        nonce, sodium.crypto_core_ed25519_scalar_mul(_scalar(challenge), x)
    )
    return gamma + challenge + s


def proof_to_hash(pi: bytes) -> bytes:
    """Return `beta`, the 64-byte VRF output of a proof (RFC 9381 §5.2). Does not verify it."""
    if len(pi) != PROOF_SIZE:
        raise VrfError(f"a VRF proof is {PROOF_SIZE} bytes, not {len(pi)}")
    return hashlib.sha512(SUITE + b"\x03" + _times_cofactor(pi[:32]) + b"\x00").digest()


def verify(public_key: bytes, alpha: bytes, pi: bytes) -> bytes:
    """Check `pi` for `alpha` under `public_key` and return `beta` (RFC 9381 §5.3).

    Raises VrfError naming what failed.
    """
    check_proof(public_key, alpha, pi)
    return proof_to_hash(pi)


def check_proof(public_key: bytes, alpha: bytes, pi: bytes) -> None:
    """`verify` without computing `beta`: for a caller that reads `beta` from the proof at
    once (`proof_to_hash`) and checks the proof elsewhere, as a mirror does in worker
    processes. Raises VrfError naming what failed.
    """
    _check_public_key(public_key)
    if len(pi) != PROOF_SIZE:
        raise VrfError(f"a VRF proof is {PROOF_SIZE} bytes, not {len(pi)}")
    gamma, challenge, s = pi[:32], pi[32:48], pi[48:]
    # RFC 9381 §5.4.4: s must be a canonical scalar, s < L.
    if sodium.crypto_core_ed25519_scalar_reduce(s + bytes(32)) != s:
        raise VrfError("the proof's s is not reduced modulo the group order")
    try:
        # libsodium's scalar multiplication checks that Gamma is a canonical point of the
        # prime-order subgroup, as `crypto_core_ed25519_is_valid_point` would: a mirror
        # verifies a proof per VIN, so that check is not paid twice.
        c_gamma = sodium.crypto_scalarmult_ed25519_noclamp(_scalar(challenge), gamma)
    except CryptoError as error:
        if not sodium.crypto_core_ed25519_is_valid_point(gamma):
            raise VrfError(
                "the proof's Gamma is not a valid edwards25519 point of prime order"
            ) from None
        raise VrfError("the VRF proof does not verify") from error
    h_point = encode_to_curve(public_key, alpha)
    try:
        # U = s·B − c·Y and V = s·H − c·Gamma.
        u_point = sodium.crypto_core_ed25519_sub(
            sodium.crypto_scalarmult_ed25519_base_noclamp(s),
            sodium.crypto_scalarmult_ed25519_noclamp(_scalar(challenge), public_key),
        )
        v_point = sodium.crypto_core_ed25519_sub(
            sodium.crypto_scalarmult_ed25519_noclamp(s, h_point), c_gamma
        )
    except CryptoError as error:
        # libsodium refuses a zero scalar or an identity result: no honest proof has either.
        raise VrfError("the VRF proof does not verify") from error
    expected = _challenge(public_key, h_point, gamma, u_point, v_point)
    if not hmac.compare_digest(expected, challenge):
        raise VrfError("the VRF proof does not verify")


@functools.lru_cache(maxsize=8)
def _check_public_key(public_key: bytes) -> None:
    # A log has one VRF key and a mirror checks a hundred thousand proofs under it: the
    # subgroup check (a scalar multiplication) is done once per key, and refusals not cached.
    if len(public_key) != PUBLIC_KEY_SIZE or not sodium.crypto_core_ed25519_is_valid_point(
        public_key
    ):
        raise VrfError("the VRF public key is not a valid edwards25519 point of prime order")


def encode_to_curve(public_key: bytes, alpha: bytes) -> bytes:
    """Hash `alpha` to a point of the prime-order subgroup (RFC 9381 §5.4.1.1, try and
    increment)."""
    prefix = SUITE + b"\x01" + public_key + alpha
    for counter in range(256):
        candidate = hashlib.sha512(prefix + bytes((counter,)) + b"\x00").digest()[:32]
        point = _times_cofactor_if_point(candidate)
        if point is not None:
            return point
    # Each try succeeds with probability about 1/2; 256 failures do not happen.
    raise VrfError("try-and-increment found no curve point")


def _challenge(*points: bytes) -> bytes:
    """RFC 9381 §5.4.3: the first cLen bytes of Hash(suite || 0x02 || points || 0x00)."""
    digest = hashlib.sha512(SUITE + b"\x02" + b"".join(points) + b"\x00").digest()
    return digest[:_CHALLENGE_SIZE]


def _scalar(challenge: bytes) -> bytes:
    """The 16-byte little-endian challenge as a 32-byte scalar (int_to_string, RFC 8032 §5.1.2)."""
    return challenge + bytes(32 - len(challenge))


def _times_cofactor(point: bytes) -> bytes:
    """8·P by three doublings; public data only (a hash output, or a proof's Gamma)."""
    result = _times_cofactor_if_point(point)
    if result is None:
        raise VrfError("the proof's Gamma is not a point of edwards25519")
    return result


def _times_cofactor_if_point(encoded: bytes) -> bytes | None:
    """8·P if 32 bytes decode to a curve point P under RFC 8032 §5.1.3, else None.

    Public data only. libsodium's point addition decodes its inputs and fails when x² = (y² − 1)
    / (d·y² + 1) has no square root (RFC 8032 §5.1.3 step 2), so the first doubling doubles as
    that check. It neither refuses a non-canonical y nor x = 0 with the sign bit set, so those
    two rules (steps 1 and 4) are checked here: x = 0 exactly when y = ±1.
    """
    y = int.from_bytes(encoded, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= _P or (sign and y in _Y_WITH_ZERO_X):
        return None
    try:
        point = sodium.crypto_core_ed25519_add(encoded, encoded)
    except CryptoError:
        return None
    for _ in range(2):
        point = sodium.crypto_core_ed25519_add(point, point)
    return point
