"""Something in it for sources: how often buyers saw their records, how often they were
refused, how disputes ended — and never which cars were looked up."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from carhistory.moderation.models import Dispute
from carhistory.sources.services import submit_events
from tests.moderation.factories import logged_entry
from tests.sources.factories import MembershipFactory, OrganisationFactory, event_payload, make_vin

pytestmark = pytest.mark.django_db


def test_the_dashboard_counts_reports_refusals_and_disputes_without_vins(client):
    shop = OrganisationFactory(kind="repair_shop", name="Chaoyang Auto Repair")
    other = OrganisationFactory(kind="repair_shop")
    first = logged_entry(shop, "repair", vin=make_vin(1))
    logged_entry(shop, "repair", vin=make_vin(2))
    logged_entry(other, "repair", vin=make_vin(3))
    submit_events(
        organisation=shop,
        payloads=[event_payload("repair", vin=make_vin(4)), {"vin": "nonsense"}],
    )
    Dispute.objects.create(
        entry_index=first.index,
        vin=make_vin(1),
        source=shop.slug,
        reason="wrong",
        status="under_review",
        accepted_at="2024-01-01T00:00Z",
    )

    for serial in (1, 1, 2, 3):  # buyers open reports; the first car twice
        page = client.get(reverse("vehicles:report", args=[make_vin(serial)]))
        assert "Chaoyang Auto Repair" in page.content.decode() or serial == 3

    member = MembershipFactory(organisation=shop)
    client.force_login(member.user)
    page = client.get(reverse("portal:dashboard"))
    figures = page.context
    assert figures["reports_shown"] == 3
    assert figures["submission_figures"]["refused"] == 1
    assert figures["submission_figures"]["accepted"] == 3
    assert figures["dispute_outcomes"]["under_review"] == 1
    # Nothing the counters keep names a car.
    for key in cache._cache.get_client().keys("*reports-shown*"):
        assert make_vin(1) not in key.decode()
