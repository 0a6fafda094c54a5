"""The verifier's tests run alone (`pytest verifier/tests`) or inside the site's suite."""

import hypothesis

# The default 200 ms deadline per example measures the machine, not the code: a loaded CI
# machine fails correct property tests on it. max_examples still bounds each test.
hypothesis.settings.register_profile("carhistory-verifier", deadline=None)
hypothesis.settings.load_profile("carhistory-verifier")
