"""Abuse of the public doors (issue 14 §6): password guessing, floods of disputes, applications
and reset e-mails, and the dispute page as an oracle for which VINs have records."""

import re

import pytest
from django.urls import reverse

from carhistory.moderation.models import Dispute
from carhistory.sources.models import Organisation
from carhistory.vehicles.throttling import VinLookupThrottle
from tests.moderation.factories import logged_entry
from tests.sources.factories import OrganisationFactory, UserFactory, make_vin

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # tests.sources.factories.UserFactory


@pytest.fixture
def rates(settings):
    def set_rates(**scopes: str) -> None:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {
                **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
                **scopes,
            },
        }

    return set_rates


@pytest.mark.parametrize("login_url", ["/accounts/login/", "/admin/login/"])
def test_guessing_passwords_locks_sign_in_even_for_the_right_one(client, settings, login_url):
    user = UserFactory(is_staff=True, is_superuser=True)
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        client.post(login_url, {"username": user.username, "password": f"guess-{attempt}"})

    right = client.post(login_url, {"username": user.username, "password": PASSWORD})

    assert right.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_few_mistakes_do_not_lock_anyone_out(client):
    user = UserFactory()
    client.post("/accounts/login/", {"username": user.username, "password": "typo"})

    right = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})

    assert right.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_disputes_are_rate_limited_per_address(client, rates):
    rates(dispute="3/hour")
    entry = logged_entry(OrganisationFactory())
    url = reverse("vehicles:dispute-new", args=[entry.vin, entry.index])

    codes = [client.post(url, {"reason": f"wrong {n}"}).status_code for n in range(4)]

    assert codes == [200, 200, 200, 429]
    assert Dispute.objects.count() == 3


def test_applications_are_rate_limited_per_address(client, rates):
    rates(application="2/hour")

    def apply(number: int) -> int:
        return client.post(
            "/sources/apply",
            {
                "name": f"Garage {number}",
                "kind": "repair_shop",
                "licence_number": f"LIC-{number}",
                "region": "Shanghai",
                "contact_name": "Li Wei",
                "contact_email": f"ops{number}@garage.example.cn",
            },
        ).status_code

    codes = [apply(number) for number in range(3)]

    assert codes[2] == 429
    assert Organisation.objects.count() == 2


def test_password_reset_is_rate_limited_per_address(client, rates):
    rates(password_reset="2/hour")
    user = UserFactory()

    codes = [
        client.post("/accounts/password_reset/", {"email": user.email}).status_code
        for _ in range(3)
    ]

    assert codes == [302, 302, 429]


def _outline(html: str) -> list[str]:
    """The page's headings and landmarks, without what they say about the line."""
    return re.findall(r"<h1>[^<]*</h1>|<section[^>]*>|<main[^>]*>", html)


# Issue 13 asks the form to show the disputed line, issue 14 that the page be no oracle: it
# answers 200 in the same outline either way, saying what the report would say (the line, or
# that there is none), and costs a report lookup (below).
def test_the_dispute_page_answers_in_one_shape_whether_or_not_the_entry_is_the_vins(client):
    entry = logged_entry(OrganisationFactory())
    other_vin = make_vin(424242)

    own = client.get(reverse("vehicles:dispute-new", args=[entry.vin, entry.index]))
    foreign = client.get(reverse("vehicles:dispute-new", args=[other_vin, entry.index]))

    assert own.status_code == foreign.status_code == 200
    assert _outline(own.content.decode()) == _outline(foreign.content.decode())
    assert "data-disputed-line" in foreign.content.decode()

    sent = client.post(
        reverse("vehicles:dispute-new", args=[other_vin, entry.index]), {"reason": "wrong"}
    )
    assert sent.status_code == 200
    assert not Dispute.objects.exists()


def test_the_dispute_page_counts_against_the_lookup_limit(client, rates, monkeypatch):
    rates(vin_lookup="2/minute")
    # DRF's throttle classes read their rates once, at import.
    monkeypatch.setattr(VinLookupThrottle, "THROTTLE_RATES", {"vin_lookup": "2/minute"})
    entry = logged_entry(OrganisationFactory())
    url = reverse("vehicles:dispute-new", args=[entry.vin, entry.index])

    codes = [client.get(url).status_code for _ in range(3)]

    assert codes == [200, 200, 429]
    assert client.get(f"/api/v1/vehicles/{entry.vin}/report").status_code == 429


def test_asking_about_entries_of_other_vins_costs_lookups_too(client, rates, monkeypatch):
    rates(vin_lookup="2/minute")
    monkeypatch.setattr(VinLookupThrottle, "THROTTLE_RATES", {"vin_lookup": "2/minute"})
    entry = logged_entry(OrganisationFactory())

    codes = [
        client.get(
            reverse("vehicles:dispute-new", args=[make_vin(number), entry.index])
        ).status_code
        for number in (11, 12, 13)
    ]

    assert codes == [200, 200, 429]
    assert client.get(reverse("vehicles:report", args=[entry.vin])).status_code == 429
