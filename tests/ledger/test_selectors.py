import pytest
from carhistory_verifier import merkle
from carhistory_verifier.tiles import TileAddress
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import selectors, services
from tests.ledger.factories import EntryFactory

VIN = "LSVAU2180N2183294"
OTHER_VIN = "WVWZZZ1JZXW000001"


@pytest.fixture
def mixed_log(db):
    entries = [EntryFactory(vin=VIN if number % 3 else OTHER_VIN) for number in range(9)]
    services.enqueue_entries(entries=entries)
    services.integrate_pending(batch_size=4)


def test_entries_for_a_vin_come_in_index_order(mixed_log):
    # Batches of four, each followed by its vin_index entry (indexes 4, 9 and 11).
    assert [entry.index for entry in selectors.entries_for_vin(VIN)] == [1, 2, 5, 6, 8, 10]
    assert selectors.entries_for_vin("LSVAU2180N0000000") == []


def test_entries_by_index_skips_indexes_the_log_does_not_have(mixed_log):
    found = selectors.entries_by_index([0, 3, 99])
    assert sorted(found) == [0, 3]
    assert found[3].vin == OTHER_VIN


def test_checkpoints_are_found_by_size(mixed_log):
    assert selectors.checkpoint_at(10).tree_size == 10
    assert selectors.checkpoint_at(9) is None
    assert selectors.latest_checkpoint().tree_size == selectors.tree_size() == 12


def test_a_pending_entry_has_no_index_until_integrated(db):
    pending = services.enqueue_entry(entry=EntryFactory())
    assert selectors.entry_for_pending(pending.id) is None
    services.integrate_pending()
    assert selectors.entry_for_pending(pending.id).index == 0


def test_proofs_for_sizes_beyond_the_log_are_refused(mixed_log):
    with pytest.raises(selectors.ProofRequestError):
        selectors.inclusion_proof(index=0, tree_size=13)
    with pytest.raises(selectors.ProofRequestError):
        selectors.consistency_proof(first=3, second=13)
    assert selectors.tile(TileAddress(level=0, index=0, width=13)) is None
    assert len(selectors.tile(TileAddress(level=0, index=0, width=9))) == 9 * 32


@pytest.fixture
def log_of_150(db):
    services.enqueue_entries(entries=EntryFactory.build_batch(150))
    services.integrate_pending(batch_size=37)
    found = selectors.entries_by_index(range(150))
    return [bytes(found[index].leaf_hash) for index in range(150)]


# The log is read, never changed, by the examples, so one fixture serves them all.
@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_proofs_from_storage_equal_the_reference_proofs(log_of_150, data):
    tree_size = data.draw(st.integers(1, 150))
    index = data.draw(st.integers(0, tree_size - 1))
    assert selectors.inclusion_proof(index=index, tree_size=tree_size) == merkle.inclusion_proof(
        index, log_of_150[:tree_size]
    )
    first = data.draw(st.integers(0, tree_size))
    assert selectors.consistency_proof(first=first, second=tree_size) == merkle.consistency_proof(
        first, log_of_150[:tree_size]
    )
