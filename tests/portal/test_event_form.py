"""The phone form: a service or an odometer reading in a few taps."""

import datetime
import json

import pytest
from django.urls import reverse

from carhistory.sources.models import Submission
from ledger.selectors import entry_for_pending
from ledger.services import integrate_pending
from tests.sources.factories import MembershipFactory, make_vin

pytestmark = pytest.mark.django_db


@pytest.fixture
def dealer_staff(client):
    membership = MembershipFactory(organisation__kind="dealer_4s")
    client.force_login(membership.user)
    return membership


def _form_data(client, **overrides):
    form = client.get(reverse("portal:event-new")).context["form"]
    data = {
        "event_type": "service",
        "vin": make_vin(3).lower(),
        "occurred_at": form.initial["occurred_at"].isoformat(),
        "odometer_km": "45210",
        "items": ["oil", "oil_filter"],
        "other_items": "cabin lamp",
        "form_token": str(form.initial["form_token"]),
    }
    data.update(overrides)
    return data


def test_the_form_defaults_to_today_and_checks_the_vin_as_you_type(client, dealer_staff):
    response = client.get(reverse("portal:event-new"))
    content = response.content.decode()
    assert response.context["form"].initial["occurred_at"] == datetime.date.today()
    assert "data-vin-check" in content
    assert "js/vin-check.js" in content
    assert 'value="service"' in content
    assert 'value="odometer"' in content


def test_a_service_is_submitted_and_shown_with_its_index_once_integrated(client, dealer_staff):
    response = client.post(reverse("portal:event-new"), _form_data(client))
    assert response.status_code == 302
    submission = Submission.objects.get()
    assert (submission.channel, submission.event_type, submission.vin) == (
        "form",
        "service",
        make_vin(3),
    )
    assert "pending" in client.get(response["Location"]).content.decode()

    integrate_pending(wait=True)

    page = client.get(response["Location"]).content.decode()
    assert "integrated" in page
    dashboard = client.get(reverse("portal:dashboard")).content.decode()
    assert make_vin(3) in dashboard
    assert "integrated" in dashboard


def test_an_odometer_reading_needs_no_items(client, dealer_staff):
    data = _form_data(client, event_type="odometer", items=[], other_items="")
    assert client.post(reverse("portal:event-new"), data).status_code == 302
    assert Submission.objects.get().event_type == "odometer"


def test_a_double_tap_on_save_stores_one_submission(client, dealer_staff):
    data = _form_data(client)
    client.post(reverse("portal:event-new"), data)
    client.post(reverse("portal:event-new"), data)
    assert Submission.objects.count() == 1


def test_a_mistyped_vin_is_shown_next_to_the_field_and_nothing_is_stored(client, dealer_staff):
    vin = make_vin(3)
    wrong_check_digit = vin[:8] + ("0" if vin[8] != "0" else "1") + vin[9:]
    response = client.post(reverse("portal:event-new"), _form_data(client, vin=wrong_check_digit))
    assert response.status_code == 200
    assert "check digit" in " ".join(response.context["form"].errors["vin"])
    assert not Submission.objects.exists()


def test_a_service_without_items_is_a_field_error(client, dealer_staff):
    response = client.post(
        reverse("portal:event-new"), _form_data(client, items=[], other_items="")
    )
    assert response.status_code == 200
    assert "items" in response.context["form"].errors
    assert not Submission.objects.exists()


def test_a_date_in_the_future_is_refused(client, dealer_staff):
    future = (datetime.date.today() + datetime.timedelta(days=10)).isoformat()
    response = client.post(reverse("portal:event-new"), _form_data(client, occurred_at=future))
    assert "occurred_at" in response.context["form"].errors
    assert not Submission.objects.exists()


def test_types_outside_the_role_matrix_are_not_offered_or_accepted(client):
    membership = MembershipFactory(organisation__kind="insurer")
    client.force_login(membership.user)
    response = client.get(reverse("portal:event-new"))
    assert not response.context["form"].has_types
    assert "CSV" in response.content.decode()
    response = client.post(
        reverse("portal:event-new"),
        {
            "event_type": "service",
            "vin": make_vin(3),
            "occurred_at": "2024-05-03",
            "odometer_km": "1",
            "items": ["oil"],
            "form_token": "5b3e1a9e-9f5d-4b8e-9a39-3f1ad7f5a001",
        },
    )
    assert "event_type" in response.context["form"].errors
    assert not Submission.objects.exists()


def test_an_inspection_station_may_log_only_odometer_readings(client):
    membership = MembershipFactory(organisation__kind="inspection_station")
    client.force_login(membership.user)
    choices = dict(
        client.get(reverse("portal:event-new")).context["form"].fields["event_type"].choices
    )
    assert list(choices) == ["odometer"]


def test_a_suspended_source_cannot_log_events(client):
    membership = MembershipFactory(organisation__kind="dealer_4s", organisation__status="suspended")
    client.force_login(membership.user)
    assert "cannot submit events" in client.get(reverse("portal:dashboard")).content.decode()
    response = client.post(reverse("portal:event-new"), _form_data(client))
    assert response.status_code == 200
    assert "not approved" in str(response.context["form"].non_field_errors())
    assert not Submission.objects.exists()


def test_other_items_split_on_chinese_separators_and_known_names_become_codes(client, dealer_staff):
    data = _form_data(client, items=["oil"], other_items="雨刮片，空调滤芯、cabin lamp；机油")
    assert client.post(reverse("portal:event-new"), data).status_code == 302
    integrate_pending(wait=True)
    entry = entry_for_pending(Submission.objects.get().pending_id)
    items = json.loads(bytes(entry.data))["facts"]["items"]
    assert items == ["oil", "wipers", "cabin_filter", "cabin lamp"]
