"""Witness processes as fixtures, for every test package that pushes to a witness: made
suite-wide by `pytest_plugins` in tests/conftest.py."""

from collections.abc import Iterator

import pytest
from carhistory_verifier import note

from tests.witness.processes import WitnessProcess, free_port


@pytest.fixture
def witness(tmp_path, log_key: note.Signer) -> Iterator[WitnessProcess]:
    """A running `carhistory-witness serve` that trusts the test's log key, not yet
    registered with the log."""
    process = WitnessProcess(
        tmp_path / "w1", "registry.example/w1", log_key.verifier(), free_port()
    )
    yield process.start()
    process.stop()


@pytest.fixture
def second_witness(tmp_path, log_key: note.Signer) -> Iterator[WitnessProcess]:
    """Another, independent witness of the same log."""
    process = WitnessProcess(
        tmp_path / "w2", "insurers.example/w2", log_key.verifier(), free_port()
    )
    yield process.start()
    process.stop()
