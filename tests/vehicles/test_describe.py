"""Each logged event reads as one plain sentence, whatever the source put in its facts."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carhistory.vehicles.describe import describe_event

TYPES = [
    "odometer", "service", "repair", "accident", "insurance_claim", "registration",
    "title_brand", "inspection", "recall", "manufacture", "correction", "something_new",
]  # fmt: skip


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"type": "service", "odometer_km": 45210, "facts": {"items": ["oil", "filter"]}},
         "Service at 45,210 km: engine oil, filter."),
        ({"type": "accident", "facts": {"severity": "severe", "airbags_deployed": True,
                                        "damage_areas": ["front", "left"]}},
         "Accident, severe damage to front, left. Airbags deployed."),
        ({"type": "registration", "facts": {"event": "ownership_transfer", "region": "SH",
                                            "use": "taxi"}},
         "Change of owner in SH, taxi use."),
        ({"type": "title_brand", "facts": {"brand": "flood"}}, "Title branded: flood."),
        ({"type": "insurance_claim", "facts": {"claim_kind": "collision", "total_loss": True}},
         "Insurance claim (collision): declared a total loss."),
        ({"type": "correction", "facts": {"corrects": 17, "reason": "typing error"}},
         "Correction of record #17 by the platform: typing error"),
    ],
)  # fmt: skip
def test_event_reads_as_a_sentence(entry, expected):
    assert describe_event(entry) == expected


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)


@given(
    st.sampled_from(TYPES),
    json_values,
    st.dictionaries(st.text(max_size=15), json_values, max_size=6),
)
def test_odd_facts_never_break_the_sentence(type, odometer_km, facts):
    line = describe_event({"type": type, "odometer_km": odometer_km, "facts": facts})
    assert isinstance(line, str) and line
