"""ECVRF-EDWARDS25519-SHA512-TAI against RFC 9381 Appendix B.3, and proofs that must fail."""

import pytest
from carhistory_verifier import vrf

# RFC 9381 Appendix B.3, Examples 16, 17 and 18: (SK, PK, alpha, pi, beta), hex.
RFC9381_VECTORS = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "8657106690b5526245a92b003bb079ccd1a92130477671f6fc01ad16f26f723f"
        "26f8a57ccaed74ee1b190bed1f479d9727d2d0f9b005a6e456a35d4fb0daab12"
        "68a1b0db10836d9826a528ca76567805",
        "90cf1df3b703cce59e2a35b925d411164068269d7b2d29f3301c03dd757876ff"
        "66b71dda49d2de59d03450451af026798e8f81cd2e333de5cdf4f3e140fdd8ae",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "f3141cd382dc42909d19ec5110469e4feae18300e94f304590abdced48aed593"
        "3bf0864a62558b3ed7f2fea45c92a465301b3bbf5e3e54ddf2d935be3b67926d"
        "a3ef39226bbc355bdc9850112c8f4b02",
        "eb4440665d3891d668e7e0fcaf587f1b4bd7fbfe99d0eb2211ccec90496310eb"
        "5e33821bc613efb94db5e5b54c70a848a0bef4553a41befc57663b56373a5031",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "9bc0f79119cc5604bf02d23b4caede71393cedfbb191434dd016d30177ccbf80"
        "96bb474e53895c362d8628ee9f9ea3c0e52c7a5c691b6c18c9979866568add7a"
        "2d41b00b05081ed0f58ee5e31b3a970e",
        "645427e5d00c62a23fb703732fa5d892940935942101e456ecca7bb217c61c45"
        "2118fec1219202a0edcf038bb6373241578be7217ba85a2687f7a0310b2df19f",
    ),
]
# The H of Example 18 (RFC 9381 B.3), pinning try-and-increment on its own.
EXAMPLE_18_H = "bf4339376f5542811de615e3313d2b36f6f53c0acfebb482159711201192576a"


@pytest.mark.parametrize(("sk", "pk", "alpha", "pi", "beta"), RFC9381_VECTORS)
def test_rfc9381_vectors_prove_and_verify(sk, pk, alpha, pi, beta):
    key = vrf.VrfKey.from_seed(bytes.fromhex(sk))
    assert key.public_key.hex() == pk
    assert vrf.prove(key, bytes.fromhex(alpha)).hex() == pi
    assert vrf.verify(key.public_key, bytes.fromhex(alpha), bytes.fromhex(pi)).hex() == beta
    assert vrf.proof_to_hash(bytes.fromhex(pi)).hex() == beta


def test_try_and_increment_matches_the_rfc():
    _sk, pk, alpha, _pi, _beta = RFC9381_VECTORS[2]
    assert vrf.encode_to_curve(bytes.fromhex(pk), bytes.fromhex(alpha)).hex() == EXAMPLE_18_H


@pytest.fixture(scope="module")
def key():
    return vrf.VrfKey.generate()


def test_proof_for_another_vin_is_refused(key):
    proof = vrf.prove(key, b"LSVAU2180N2183294")
    with pytest.raises(vrf.VrfError):
        vrf.verify(key.public_key, b"LSVAU2180N2183295", proof)


def test_proof_under_another_key_is_refused(key):
    proof = vrf.prove(key, b"LSVAU2180N2183294")
    with pytest.raises(vrf.VrfError):
        vrf.verify(vrf.VrfKey.generate().public_key, b"LSVAU2180N2183294", proof)


@pytest.mark.parametrize("position", [0, 31, 32, 47, 48, 79])
def test_any_flipped_bit_is_refused(key, position):
    proof = bytearray(vrf.prove(key, b"LSVAU2180N2183294"))
    proof[position] ^= 0x01
    with pytest.raises(vrf.VrfError):
        vrf.verify(key.public_key, b"LSVAU2180N2183294", bytes(proof))


def test_unreduced_s_is_refused(key):
    proof = vrf.prove(key, b"LSVAU2180N2183294")
    group_order = 2**252 + 27742317777372353535851937790883648493
    s = int.from_bytes(proof[48:], "little") + group_order
    with pytest.raises(vrf.VrfError, match="reduced"):
        vrf.verify(key.public_key, b"LSVAU2180N2183294", proof[:48] + s.to_bytes(32, "little"))


@pytest.mark.parametrize("length", [0, 79, 81])
def test_wrong_length_is_refused(key, length):
    with pytest.raises(vrf.VrfError, match="80 bytes"):
        vrf.verify(key.public_key, b"LSVAU2180N2183294", bytes(length))


def test_small_order_public_key_is_refused(key):
    identity = (1).to_bytes(32, "little")
    with pytest.raises(vrf.VrfError, match="public key"):
        vrf.verify(identity, b"LSVAU2180N2183294", vrf.prove(key, b"LSVAU2180N2183294"))


def test_outputs_differ_per_vin_and_repeat_per_vin(key):
    first = vrf.proof_to_hash(vrf.prove(key, b"LSVAU2180N2183294"))
    assert first == vrf.proof_to_hash(vrf.prove(key, b"LSVAU2180N2183294"))
    assert first != vrf.proof_to_hash(vrf.prove(key, b"LSVAU2180N2183295"))
