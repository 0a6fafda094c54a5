"""The VIN index trie of SPEC §7, against a literal transcription of its definition."""

import hashlib

import pytest
from carhistory_verifier.vin_index import (
    EMPTY_HASH,
    Branch,
    Leaf,
    MapTrie,
    NodeId,
    VinIndex,
    VinIndexError,
    VinIndexProof,
    apply_updates,
    index_hash,
    key_bit,
    node_of,
    node_path,
    prove,
    root_from_proof,
    verify_proof,
)
from hypothesis import assume, given, settings
from hypothesis import strategies as st


def spec_subtree_hash(entries, depth):
    """SPEC §7 word for word: zeros when empty, the leaf at whatever depth, else 0x01 || L || R."""
    if not entries:
        return bytes(32)
    if len(entries) == 1:
        ((key, indexes),) = entries.items()
        return hashlib.sha256(b"\x00" + key + index_hash(indexes)).digest()
    left = {k: v for k, v in entries.items() if not key_bit(k, depth)}
    right = {k: v for k, v in entries.items() if key_bit(k, depth)}
    return hashlib.sha256(
        b"\x01" + spec_subtree_hash(left, depth + 1) + spec_subtree_hash(right, depth + 1)
    ).digest()


# Keys that share long prefixes, so the trie gets deep, lopsided paths, not only random ones.
def close_keys():
    return st.builds(
        lambda base, flip: (int.from_bytes(base, "big") ^ (1 << flip)).to_bytes(32, "big"),
        st.sampled_from([bytes(32), b"\xff" * 32, b"\x5a" * 32]),
        st.integers(min_value=0, max_value=255),
    )


keys = st.one_of(st.binary(min_size=32, max_size=32), close_keys())
maps = st.dictionaries(
    keys,
    st.lists(st.integers(min_value=0, max_value=2**40), min_size=1, max_size=5, unique=True).map(
        sorted
    ),
    max_size=24,
)


def build(entries, batches=1):
    """A VinIndex fed in `batches` rounds, reading the root between them (incremental path)."""
    index = VinIndex()
    pairs = sorted((i, k) for k, indexes in entries.items() for i in indexes)
    for number, (entry_index, key) in enumerate(pairs):
        index.add(key, entry_index)
        if batches > 1 and number % batches == 0:
            index.root()
    return index


@settings(max_examples=100, deadline=None)
@given(maps, st.integers(min_value=1, max_value=4))
def test_root_matches_the_spec_however_it_was_built(entries, batches):
    assert build(entries, batches).root() == spec_subtree_hash(entries, 0)


@settings(max_examples=100, deadline=None)
@given(maps, keys)
def test_every_inclusion_and_absence_proof_verifies(entries, probe):
    index = build(entries, 2)
    root = index.root()
    for key, indexes in entries.items():
        verify_proof(root=root, key=key, indexes=indexes, proof=index.prove(key))
    if probe not in entries:
        verify_proof(root=root, key=probe, indexes=[], proof=index.prove(probe))


def _altered_indexes(indexes, data):
    choice = data.draw(st.sampled_from(["drop", "add", "change"]))
    if choice == "drop":
        position = data.draw(st.integers(min_value=0, max_value=len(indexes) - 1))
        return indexes[:position] + indexes[position + 1 :]
    extra = data.draw(st.integers(min_value=0, max_value=2**40))
    if choice == "add":
        assume(extra not in indexes)
        return sorted([*indexes, extra])
    assume(extra not in indexes)
    return sorted([*indexes[1:], extra])


@settings(max_examples=100, deadline=None)
@given(maps, st.data())
def test_dropping_adding_or_changing_an_index_fails(entries, data):
    assume(entries)
    index = build(entries)
    key = data.draw(st.sampled_from(sorted(entries)))
    altered = _altered_indexes(entries[key], data)
    with pytest.raises(VinIndexError):
        verify_proof(root=index.root(), key=key, indexes=altered, proof=index.prove(key))


@settings(max_examples=100, deadline=None)
@given(maps, st.data())
def test_a_changed_key_fails(entries, data):
    assume(entries)
    index = build(entries)
    key = data.draw(st.sampled_from(sorted(entries)))
    flip = data.draw(st.integers(min_value=0, max_value=255))
    other = (int.from_bytes(key, "big") ^ (1 << flip)).to_bytes(32, "big")
    with pytest.raises(VinIndexError):
        verify_proof(root=index.root(), key=other, indexes=entries[key], proof=index.prove(key))


@settings(max_examples=100, deadline=None)
@given(maps, st.data())
def test_a_changed_dropped_or_added_sibling_fails(entries, data):
    assume(len(entries) >= 2)
    index = build(entries)
    key = data.draw(st.sampled_from(sorted(entries)))
    proof = index.prove(key)
    siblings = list(proof.siblings)
    choice = data.draw(st.sampled_from(["flip", "drop", "add"]))
    if choice == "flip":
        position = data.draw(st.integers(min_value=0, max_value=len(siblings) - 1))
        siblings[position] = bytes(b ^ 1 for b in siblings[position])
    elif choice == "drop":
        siblings.pop(data.draw(st.integers(min_value=0, max_value=len(siblings) - 1)))
    else:
        siblings.insert(
            data.draw(st.integers(min_value=0, max_value=len(siblings))),
            data.draw(st.sampled_from([EMPTY_HASH, hashlib.sha256(b"x").digest()])),
        )
    tampered = VinIndexProof(siblings=tuple(siblings), leaf=None)
    with pytest.raises(VinIndexError):
        verify_proof(root=index.root(), key=key, indexes=entries[key], proof=tampered)


@settings(max_examples=100, deadline=None)
@given(maps)
def test_absence_cannot_be_claimed_for_a_present_key(entries):
    assume(entries)
    index = build(entries)
    root = index.root()
    for key in entries:
        proof = index.prove(key)
        with pytest.raises(VinIndexError):
            verify_proof(root=root, key=key, indexes=[], proof=proof)
        # Nor by pointing at the key's own leaf, or at a neighbour's leaf.
        with pytest.raises(VinIndexError):
            verify_proof(
                root=root,
                key=key,
                indexes=[],
                proof=VinIndexProof(proof.siblings, Leaf(key, index_hash(entries[key]))),
            )
        for other in entries:
            if other != key:
                lying = VinIndexProof(proof.siblings, Leaf(other, index_hash(entries[other])))
                with pytest.raises(VinIndexError):
                    verify_proof(root=root, key=key, indexes=[], proof=lying)


@settings(max_examples=100, deadline=None)
@given(maps, keys)
def test_an_absence_proof_cannot_show_entries(entries, probe):
    assume(probe not in entries)
    index = build(entries)
    with pytest.raises(VinIndexError):
        verify_proof(root=index.root(), key=probe, indexes=[3], proof=index.prove(probe))


def test_empty_map_root_is_zeros_and_proves_any_absence():
    index = VinIndex()
    assert index.root() == EMPTY_HASH
    proof = index.prove(b"\x07" * 32)
    assert proof == VinIndexProof(siblings=(), leaf=None)
    verify_proof(root=EMPTY_HASH, key=b"\x07" * 32, indexes=[], proof=proof)


def test_single_leaf_sits_at_the_root_whatever_its_key():
    index = VinIndex()
    index.add(b"\x80" + bytes(31), 5)
    assert index.root() == hashlib.sha256(b"\x00" + b"\x80" + bytes(31) + index_hash([5])).digest()


def test_indexes_must_arrive_in_order():
    index = VinIndex()
    index.add(bytes(32), 5)
    with pytest.raises(ValueError, match="after entry 5"):
        index.add(bytes(32), 5)


def test_unsorted_indexes_are_refused():
    with pytest.raises(VinIndexError, match="increasing"):
        root_from_proof(key=bytes(32), indexes=[2, 1], proof=VinIndexProof((), None))


@given(st.integers(min_value=0, max_value=256), st.binary(min_size=32, max_size=32))
def test_node_ids_round_trip_through_bytes(depth, key):
    node_id = node_of(key, depth)
    assert NodeId.from_bytes(node_id.to_bytes()) == node_id


@settings(max_examples=100, deadline=None)
@given(maps, st.integers(min_value=1, max_value=4))
def test_the_in_memory_map_holds_the_nodes_the_sequencer_stores(entries, batches):
    # The audit compares the database's nodes with `VinIndex.nodes()`: both must be the one
    # stored-node form of the map, however the in-memory one was grown.
    root, stored = apply_updates(
        {key: index_hash(indexes) for key, indexes in entries.items()}, lambda node_ids: {}
    )
    index = build(entries, batches)
    assert index.root() == root
    assert dict(index.nodes()) == stored


@settings(max_examples=200)
@given(maps, maps)
def test_a_tracked_trie_reports_exactly_the_stored_nodes_a_batch_rewrote(before, batch):
    # The sequencer writes only what `take_changes` names, inserting the nodes it calls new and
    # updating the others: a node left out would leave the stored map stale, and a node
    # wrongly called new would collide with its stored row.
    trie = MapTrie(track_changes=True)
    for key, indexes in before.items():
        trie.set(key, index_hash(indexes))
    trie.take_changes()
    stored = dict(trie.nodes())
    reloaded = MapTrie.from_nodes(stored.items(), track_changes=True)
    assert reloaded.root() == trie.root()
    for key, indexes in batch.items():
        reloaded.set(key, index_hash(indexes))
    existing, new = reloaded.take_changes()
    changed = {
        NodeId.from_bytes(path): Leaf(key, index_hash_) if key else Branch(node_hash)
        for path, node_hash, key, index_hash_ in [*existing, *new]
    }
    after = dict(reloaded.nodes())
    assert {NodeId.from_bytes(row[0]) for row in new} == set(after) - set(stored)
    assert {NodeId.from_bytes(row[0]) for row in existing} <= set(stored)
    assert {node_id for node_id, node in after.items() if stored.get(node_id) != node} <= set(
        changed
    )
    assert {**stored, **changed} == after
    assert reloaded.root() == spec_subtree_hash({**before, **batch}, 0)


@given(st.integers(min_value=0, max_value=256), st.integers(min_value=0))
def test_a_node_numbers_path_is_its_node_ids_bytes(depth, prefix):
    prefix %= 1 << depth
    assert node_path(1 << depth | prefix) == NodeId(depth, prefix).to_bytes()


@settings(max_examples=100)
@given(maps, keys)
def test_a_proof_is_the_same_whatever_the_levels_read_a_query(entries, probe):
    # The server reads 24 levels a query (ledger/vin_index.py), the default is 40: a path
    # deeper than one step must come out the same as one read in a single query.
    trie = MapTrie()
    for key, indexes in entries.items():
        trie.set(key, index_hash(indexes))
    trie.root()
    for key in [*entries, probe]:
        proofs = {step: prove(key, trie._fetch, depth_step=step) for step in (1, 7, 24, 256)}
        assert len(set(proofs.values())) == 1
