"""The verifier's tests run alone (`pytest verifier/tests`) or inside the site's suite."""

import hypothesis
import pytest
from carhistory_verifier import vrf

# The default 200 ms deadline per example measures the machine, not the code: a loaded CI
# machine fails correct property tests on it. max_examples still bounds each test.
hypothesis.settings.register_profile("carhistory-verifier", deadline=None)
hypothesis.settings.load_profile("carhistory-verifier")


@pytest.fixture(scope="module")
def vrf_key() -> vrf.VrfKey:
    """A fresh ECVRF key, one per test module."""
    return vrf.VrfKey.generate()
