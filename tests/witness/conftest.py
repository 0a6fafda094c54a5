from tests.ledger.fixtures import log_key  # noqa: F401 - the end-to-end tests sign with it
