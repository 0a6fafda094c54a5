import pytest

from tests.vehicles.logbook import Logbook


@pytest.fixture
def logbook(db, log_key) -> Logbook:
    return Logbook()
