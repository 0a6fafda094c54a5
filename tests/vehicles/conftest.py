import pytest

from tests.vehicles.browser.histories import approved_sources, record_rollback_history
from tests.vehicles.logbook import Logbook


@pytest.fixture
def logbook(db, log_key) -> Logbook:
    return Logbook()


@pytest.fixture
def rollback_car(log_key):
    """Four approved sources and the rollback car's history (histories.py), integrated."""
    sources = approved_sources()
    record_rollback_history(sources)
    return sources
