"""RFC 6962 / RFC 9162 reference vectors.

The leaf inputs, node hashes, roots and proofs are the public Certificate Transparency test
data published in transparency-dev/merkle (testonly/constants.go and proof/verify_test.go).
"""

import pytest
from carhistory_verifier.merkle import (
    EMPTY_ROOT,
    Frontier,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

LEAF_INPUTS = [
    bytes.fromhex(value)
    for value in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]

# NODE_HASHES[level][index]: the hash of every complete subtree of the 8-leaf tree.
NODE_HASHES = [
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    [
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]

# ROOTS[size] for sizes 0 to 8.
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

# (index, tree size, proof); the published table numbers leaves from 1, these from 0.
INCLUSION_PROOFS = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

# (first, second, proof)
CONSISTENCY_PROOFS = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

LEAF_HASHES = [leaf_hash(data) for data in LEAF_INPUTS]


def hashes(values):
    return [bytes.fromhex(value) for value in values]


def test_empty_tree_hash_is_sha256_of_nothing():
    assert EMPTY_ROOT.hex() == ROOTS[0]
    assert root_from_leaf_hashes([]) == EMPTY_ROOT


def test_leaf_hashes_match_the_reference():
    assert [h.hex() for h in LEAF_HASHES] == NODE_HASHES[0]


def test_every_complete_subtree_hash_matches_the_reference():
    for level in range(1, len(NODE_HASHES)):
        for index, expected in enumerate(NODE_HASHES[level]):
            children = (
                bytes.fromhex(NODE_HASHES[level - 1][2 * index]),
                bytes.fromhex(NODE_HASHES[level - 1][2 * index + 1]),
            )
            assert node_hash(*children).hex() == expected


@pytest.mark.parametrize("size", range(9))
def test_tree_hash_of_every_size_matches_the_reference(size):
    assert root_from_leaf_hashes(LEAF_HASHES[:size]).hex() == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_PROOFS)
def test_inclusion_proofs_match_the_reference_and_verify(index, size, proof):
    assert inclusion_proof(index, LEAF_HASHES[:size]) == hashes(proof)
    verify_inclusion(
        index=index,
        tree_size=size,
        leaf_hash=LEAF_HASHES[index],
        proof=hashes(proof),
        root=bytes.fromhex(ROOTS[size]),
    )


@pytest.mark.parametrize(("first", "second", "proof"), CONSISTENCY_PROOFS)
def test_consistency_proofs_match_the_reference_and_verify(first, second, proof):
    assert consistency_proof(first, LEAF_HASHES[:second]) == hashes(proof)
    verify_consistency(
        first=first,
        second=second,
        first_root=bytes.fromhex(ROOTS[first]),
        second_root=bytes.fromhex(ROOTS[second]),
        proof=hashes(proof),
    )


def test_frontier_holds_the_reference_compact_ranges():
    node = [hashes(level) for level in NODE_HASHES]
    expected = {
        1: [node[0][0]],
        2: [node[1][0]],
        3: [node[1][0], node[0][2]],
        4: [node[2][0]],
        5: [node[2][0], node[0][4]],
        6: [node[2][0], node[1][2]],
        7: [node[2][0], node[1][2], node[0][6]],
        8: [node[3][0]],
    }
    frontier = Frontier()
    for size, leaf in enumerate(LEAF_HASHES, start=1):
        frontier.append(leaf)
        assert frontier.hashes == expected[size]
        assert frontier.root().hex() == ROOTS[size]


def test_a_wrong_root_is_refused_with_a_reason():
    with pytest.raises(ProofError, match="does not lead to the root"):
        verify_inclusion(
            index=0,
            tree_size=8,
            leaf_hash=LEAF_HASHES[0],
            proof=hashes(INCLUSION_PROOFS[1][2]),
            root=bytes.fromhex(ROOTS[7]),
        )
