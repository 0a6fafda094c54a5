"""Example vehicles the search page offers to try.

The buyer-side pages must not depend on demonstration data, so the data comes to them: an app
that loads example histories (the demo) offers its VINs here when Django starts, and the search
page lists those the log actually holds (none on a fresh install, none in production).
"""

from collections.abc import Iterable

_examples: list[tuple[str, str]] = []


def offer_examples(examples: Iterable[tuple[str, str]]) -> None:
    """Add (VIN, description) pairs to the search page's examples; each VIN is kept once."""
    known = {vin for vin, _description in _examples}
    _examples.extend((vin, description) for vin, description in examples if vin not in known)


def offered_examples() -> list[tuple[str, str]]:
    """The (VIN, description) pairs offered so far, in the order they were offered."""
    return list(_examples)
