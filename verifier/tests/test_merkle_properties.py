"""Properties of the Merkle code for every tree size up to ~300, checked against a literal
transcription of the RFC 9162 §2.1 recursive definitions."""

import hashlib

import pytest
from carhistory_verifier.merkle import (
    EMPTY_ROOT,
    Frontier,
    ProofError,
    consistency_proof,
    consistency_proof_ranges,
    hash_range,
    inclusion_proof,
    inclusion_proof_ranges,
    leaf_hash,
    node_hash,
    range_subtrees,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from hypothesis import given, settings
from hypothesis import strategies as st

MAX_SIZE = 300
sizes = st.integers(min_value=1, max_value=MAX_SIZE)


def leaves(count):
    return [leaf_hash(number.to_bytes(4, "big")) for number in range(count)]


def _k(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def rfc_mth(hashes):
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = _k(len(hashes))
    return node_hash(rfc_mth(hashes[:k]), rfc_mth(hashes[k:]))


def rfc_path(m, hashes):
    if len(hashes) == 1:
        return []
    k = _k(len(hashes))
    if m < k:
        return [*rfc_path(m, hashes[:k]), rfc_mth(hashes[k:])]
    return [*rfc_path(m - k, hashes[k:]), rfc_mth(hashes[:k])]


def rfc_subproof(m, hashes, whole):
    if m == len(hashes):
        return [] if whole else [rfc_mth(hashes)]
    k = _k(len(hashes))
    if m <= k:
        return [*rfc_subproof(m, hashes[:k], whole), rfc_mth(hashes[k:])]
    return [*rfc_subproof(m - k, hashes[k:], False), rfc_mth(hashes[:k])]


def all_subtrees(hashes):
    """{(level, index): hash} for every complete aligned subtree, as storage keeps them."""
    table = {}
    level = 0
    while 1 << level <= len(hashes):
        width = 1 << level
        for index in range(len(hashes) // width):
            table[(level, index)] = root_from_leaf_hashes(
                hashes[index * width : (index + 1) * width]
            )
        level += 1
    return table


def flipped(value, bit=0):
    return bytes([value[0] ^ (1 << bit)]) + value[1:]


@settings(max_examples=60, deadline=None)
@given(size=st.integers(min_value=0, max_value=MAX_SIZE))
def test_tree_hash_is_the_rfc_tree_hash(size):
    hashes = leaves(size)
    assert root_from_leaf_hashes(hashes) == rfc_mth(hashes)


@settings(max_examples=40, deadline=None)
@given(size=sizes)
def test_every_inclusion_proof_is_the_rfc_path_and_verifies(size):
    hashes = leaves(size)
    root = rfc_mth(hashes)
    for index in range(size):
        proof = inclusion_proof(index, hashes)
        assert proof == rfc_path(index, hashes)
        verify_inclusion(
            index=index, tree_size=size, leaf_hash=hashes[index], proof=proof, root=root
        )


@settings(max_examples=40, deadline=None)
@given(size=sizes)
def test_every_consistency_proof_is_the_rfc_proof_and_verifies(size):
    hashes = leaves(size)
    for first in range(1, size + 1):
        proof = consistency_proof(first, hashes)
        assert proof == rfc_subproof(first, hashes, True)
        verify_consistency(
            first=first,
            second=size,
            first_root=rfc_mth(hashes[:first]),
            second_root=rfc_mth(hashes),
            proof=proof,
        )


@settings(max_examples=40, deadline=None)
@given(size=sizes)
def test_proofs_built_from_stored_subtrees_equal_the_direct_proofs(size):
    hashes = leaves(size)
    table = all_subtrees(hashes)

    def from_storage(ranges):
        return [
            hash_range(start, end, lambda level, index: table[(level, index)])
            for start, end in ranges
        ]

    for index in range(size):
        assert from_storage(inclusion_proof_ranges(index, size)) == inclusion_proof(index, hashes)
    for first in range(size + 1):
        assert from_storage(consistency_proof_ranges(first, size)) == consistency_proof(
            first, hashes
        )


@settings(max_examples=40, deadline=None)
@given(size=sizes)
def test_range_subtrees_are_complete_aligned_and_cover_the_range(size):
    for start, end in [*inclusion_proof_ranges(size - 1, size), (0, size)]:
        subtrees = range_subtrees(start, end)
        covered = []
        for level, index in subtrees:
            covered.extend(range(index << level, (index + 1) << level))
        assert covered == list(range(start, end))
        levels = [level for level, _ in subtrees]
        assert levels == sorted(levels, reverse=True)
        assert len(set(levels)) == len(levels)


def test_a_misaligned_range_is_refused():
    with pytest.raises(ValueError, match="not a node"):
        range_subtrees(2, 6)
    with pytest.raises(ValueError, match="empty"):
        range_subtrees(4, 4)


@settings(max_examples=30, deadline=None)
@given(size=sizes)
def test_frontier_appends_give_every_root_and_every_completed_subtree(size):
    hashes = leaves(size)
    table = all_subtrees(hashes)
    frontier = Frontier()
    completed = {}
    assert frontier.root() == EMPTY_ROOT
    for count, leaf in enumerate(hashes, start=1):
        for level, index, value in frontier.append(leaf):
            assert level >= 1
            completed[(level, index)] = value
        assert frontier.size == count
        assert frontier.root() == rfc_mth(hashes[:count])
        subtrees = Frontier.subtrees_for_size(count)
        assert frontier.hashes == [table[subtree] for subtree in subtrees]
    assert completed == {key: value for key, value in table.items() if key[0] >= 1}


@settings(max_examples=30, deadline=None)
@given(size=st.integers(min_value=0, max_value=MAX_SIZE), extra=st.integers(1, 40))
def test_a_frontier_rebuilt_from_stored_hashes_continues_the_same_tree(size, extra):
    hashes = leaves(size + extra)
    table = all_subtrees(hashes[:size])
    stored = [table[subtree] for subtree in Frontier.subtrees_for_size(size)]
    frontier = Frontier.from_hashes(size, stored)
    for leaf in hashes[size:]:
        frontier.append(leaf)
    assert frontier.root() == rfc_mth(hashes)


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(min_value=0, max_value=MAX_SIZE),
    runs=st.lists(st.integers(min_value=0, max_value=40), max_size=5),
)
def test_a_frontier_extended_by_runs_of_leaves_is_the_one_appended_leaf_by_leaf(size, runs):
    hashes = leaves(size + sum(runs))
    extended, appended = Frontier(), Frontier()
    extended.extend(hashes[:size])
    start = size
    for run in runs:
        extended.extend(hashes[start : start + run])
        start += run
    for leaf in hashes:
        appended.append(leaf)
    assert (extended.size, extended.hashes) == (appended.size, appended.hashes)
    assert extended.root() == rfc_mth(hashes)


def test_a_frontier_refuses_to_extend_by_a_leaf_that_is_no_hash():
    frontier = Frontier()
    with pytest.raises(ValueError, match="leaf hash 1 is not"):
        frontier.extend([bytes(32), b"short"])
    assert frontier.size == 0


def test_a_frontier_with_the_wrong_number_of_hashes_is_refused():
    with pytest.raises(ValueError, match="3 frontier hashes"):
        Frontier.from_hashes(7, leaves(2))


def inclusion_must_fail(**arguments):
    with pytest.raises(ProofError):
        verify_inclusion(**arguments)


@settings(max_examples=40, deadline=None)
@given(size=sizes, data=st.data())
def test_a_tampered_inclusion_proof_fails(size, data):
    index = data.draw(st.integers(0, size - 1))
    # One tree with room to claim a larger size, so every tampered claim is about real roots.
    hashes = leaves(size + 2)
    roots = {n: rfc_mth(hashes[:n]) for n in range(size + 3)}
    proof = inclusion_proof(index, hashes[:size])
    good = {
        "index": index,
        "tree_size": size,
        "leaf_hash": hashes[index],
        "proof": proof,
        "root": roots[size],
    }
    verify_inclusion(**good)

    for position in range(len(proof)):
        for bit in (0, 7):
            tampered = list(proof)
            tampered[position] = flipped(proof[position], bit)
            inclusion_must_fail(**{**good, "proof": tampered})
    inclusion_must_fail(**{**good, "leaf_hash": flipped(hashes[index])})
    inclusion_must_fail(**{**good, "root": flipped(roots[size])})
    if proof:
        inclusion_must_fail(**{**good, "proof": proof[:-1]})
        inclusion_must_fail(**{**good, "proof": proof[1:]})
    inclusion_must_fail(**{**good, "proof": [*proof, roots[size]]})
    inclusion_must_fail(**{**good, "proof": [roots[size], *proof]})
    for other in {index - 1, index + 1, index ^ 2} - {index}:
        if 0 <= other < size:
            inclusion_must_fail(**{**good, "index": other})
            inclusion_must_fail(**{**good, "index": other, "leaf_hash": hashes[other]})
    for other_size in {size - 1, size + 1, size + 2, size * 2} - {size}:
        if other_size > 0:
            root = roots.get(other_size, rfc_mth(leaves(other_size)))
            inclusion_must_fail(**{**good, "tree_size": other_size, "root": root})


def test_the_signed_root_not_the_size_binds_an_inclusion_proof():
    # Leaf 0 has the same proof shape in trees of 3 and 4 leaves, so a size-3 proof also
    # "verifies" as size 4 against the size-3 root. No verifier can tell the two apart from
    # hashes alone; that is why the evidence verifier takes size and root together from one
    # signed checkpoint.
    hashes = leaves(4)
    proof = inclusion_proof(0, hashes[:3])
    root_3 = rfc_mth(hashes[:3])
    verify_inclusion(index=0, tree_size=4, leaf_hash=hashes[0], proof=proof, root=root_3)
    inclusion_must_fail(
        index=0, tree_size=4, leaf_hash=hashes[0], proof=proof, root=rfc_mth(hashes)
    )


def consistency_must_fail(**arguments):
    with pytest.raises(ProofError):
        verify_consistency(**arguments)


@settings(max_examples=40, deadline=None)
@given(size=st.integers(min_value=2, max_value=MAX_SIZE), data=st.data())
def test_a_tampered_consistency_proof_fails(size, data):
    first = data.draw(st.integers(1, size - 1))
    hashes = leaves(size * 2)
    roots = {n: rfc_mth(hashes[:n]) for n in range(size * 2 + 1)}
    proof = consistency_proof(first, hashes[:size])
    good = {
        "first": first,
        "second": size,
        "first_root": roots[first],
        "second_root": roots[size],
        "proof": proof,
    }
    verify_consistency(**good)

    for position in range(len(proof)):
        tampered = list(proof)
        tampered[position] = flipped(proof[position], 4)
        consistency_must_fail(**{**good, "proof": tampered})
    consistency_must_fail(**{**good, "first_root": flipped(roots[first])})
    consistency_must_fail(**{**good, "second_root": flipped(roots[size])})
    consistency_must_fail(**{**good, "first_root": roots[size], "second_root": roots[first]})
    consistency_must_fail(**{**good, "proof": []})
    consistency_must_fail(**{**good, "proof": proof[:-1]})
    consistency_must_fail(**{**good, "proof": [*proof, roots[first]]})
    consistency_must_fail(**{**good, "proof": [proof[0], *proof]})
    for other in {first - 1, first + 1, first ^ 2} - {first}:
        if 0 < other < size:
            consistency_must_fail(**{**good, "first": other, "first_root": roots[other]})
    for other in {size - 1, size + 1, size * 2} - {size}:
        if other > first:
            consistency_must_fail(**{**good, "second": other, "second_root": roots[other]})


def test_consistency_edge_cases():
    hashes = leaves(5)
    root = rfc_mth(hashes)
    verify_consistency(first=5, second=5, first_root=root, second_root=root, proof=[])
    verify_consistency(first=0, second=5, first_root=EMPTY_ROOT, second_root=root, proof=[])
    consistency_must_fail(first=5, second=5, first_root=root, second_root=flipped(root), proof=[])
    consistency_must_fail(first=0, second=5, first_root=root, second_root=root, proof=[])
    consistency_must_fail(first=5, second=4, first_root=root, second_root=root, proof=[])
    consistency_must_fail(first=5, second=5, first_root=root, second_root=root, proof=[root])


def test_malformed_inputs_raise_proof_errors_not_crashes():
    hashes = leaves(4)
    proof = inclusion_proof(1, hashes)
    root = rfc_mth(hashes)
    for arguments in (
        {"index": -1},
        {"index": 4},
        {"tree_size": 0},
        {"leaf_hash": b"short"},
        {"root": b""},
        {"proof": [b"short", proof[1]]},
        {"proof": ["not bytes", proof[1]]},
    ):
        good = {"index": 1, "tree_size": 4, "leaf_hash": hashes[1], "proof": proof, "root": root}
        inclusion_must_fail(**{**good, **arguments})
    assert root_from_inclusion_proof(index=1, tree_size=4, leaf_hash=hashes[1], proof=proof) == root


def test_proof_generation_refuses_impossible_requests():
    with pytest.raises(ValueError):
        inclusion_proof_ranges(5, 5)
    with pytest.raises(ValueError):
        consistency_proof_ranges(6, 5)
    with pytest.raises(ValueError):
        Frontier().append(b"short")
