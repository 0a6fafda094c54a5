"""Suspending, reinstating and revoking sources."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from carhistory.moderation.models import AuditEntry
from ledger.models import Entry
from ledger.services import integrate_pending
from tests.moderation.factories import (
    audit_row,
    entry_object,
    integrated_entry,
    make_moderator,
)
from tests.sources.factories import OrganisationFactory, api_key_for, event_payload

pytestmark = pytest.mark.django_db


def _set_status(client, source, status, reason="Odometer readings rolled back on 40 cars"):
    return client.post(
        reverse("moderation:source-status", args=[source.pk]),
        {"status": status, "reason": reason, "confirmed": "yes"},
    )


def _submit(raw_key: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client.post("/api/v1/events", event_payload("service"), format="json")


def test_suspension_is_logged_and_the_sources_api_key_is_refused_afterwards(client):
    source = OrganisationFactory(kind="dealer_4s")
    raw_key = api_key_for(source)
    assert _submit(raw_key).status_code == 202
    moderator = make_moderator()
    client.force_login(moderator)

    response = _set_status(client, source, "suspended")

    assert response.status_code == 302
    source.refresh_from_db()
    assert source.status == "suspended"
    assert _submit(raw_key).status_code in (401, 403)
    # The request enqueued the suspension with its audit row; the queue says "pending" until
    # the sequencer logs it, after the event the source sent before it was suspended.
    audit = AuditEntry.objects.get()
    assert not Entry.objects.exists()
    assert ">pending<" in audit_row(client, audit)
    entry = integrated_entry(audit.pending_id)
    assert f"#{entry.index}" in audit_row(client, audit)
    logged = Entry.objects.exclude(type="vin_index").order_by("index")
    assert list(logged.values_list("type", flat=True)) == [
        "service",
        "source_status",
    ]
    # The name and kind are logged too, so a buyer's browser can check the report's "Source:".
    assert entry_object(entry)["facts"] == {
        "source": source.slug,
        "status": "suspended",
        "reason": "Odometer readings rolled back on 40 cars",
        "name": source.name,
        "kind": "dealer_4s",
    }
    assert entry_object(entry)["source"] == "platform"
    assert (audit.action, audit.organisation, audit.moderator) == (
        "suspend_source",
        source,
        moderator,
    )


def test_reinstating_lets_the_source_submit_again(client):
    source = OrganisationFactory(status="suspended")
    raw_key = api_key_for(source)
    client.force_login(make_moderator())

    _set_status(client, source, "reinstated", reason="Explained: a replaced cluster")

    source.refresh_from_db()
    assert source.status == "approved"
    assert _submit(raw_key).status_code == 202
    assert AuditEntry.objects.get().action == "reinstate_source"


def test_revocation_is_final(client):
    source = OrganisationFactory()
    client.force_login(make_moderator())
    _set_status(client, source, "revoked", reason="Licence withdrawn")

    response = _set_status(client, source, "reinstated", reason="Changed my mind")

    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    source.refresh_from_db()
    assert source.status == "revoked"
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["revoke_source"]
    integrate_pending(wait=True)
    assert Entry.objects.filter(type="source_status").count() == 1


def test_a_status_change_without_a_reason_changes_nothing(client):
    source = OrganisationFactory()
    client.force_login(make_moderator())
    response = _set_status(client, source, "suspended", reason="")
    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    source.refresh_from_db()
    assert source.status == "approved"
    assert not Entry.objects.exists()


def test_an_unknown_status_is_a_form_error_not_a_crash(client):
    source = OrganisationFactory()
    client.force_login(make_moderator())
    response = _set_status(client, source, "approved-forever")
    assert response.status_code == 200
    assert "status" in response.context["form"].errors


def test_the_queue_lists_sources_with_their_actions(client):
    OrganisationFactory(name="Anting VW 4S")
    client.force_login(make_moderator())
    content = client.get(reverse("moderation:queue")).content.decode()
    assert "Anting VW 4S" in content
    assert "?status=suspended" in content


def test_the_queue_pages_a_long_list_of_sources(client):
    names = [f"Source {number:02d}" for number in range(30)]
    for name in names:
        OrganisationFactory(name=name)
    client.force_login(make_moderator())

    first = client.get(reverse("moderation:queue")).content.decode()
    second = client.get(reverse("moderation:queue"), {"sources_page": 2}).content.decode()

    assert [name for name in names if name in first] == names[:25]
    assert [name for name in names if name in second] == names[25:]
    assert "?sources_page=2" in first


@pytest.mark.parametrize("status", ["suspended", "revoked"])
def test_suspending_or_revoking_asks_for_confirmation_first(client, status):
    source = OrganisationFactory(kind="dealer_4s")
    client.force_login(make_moderator())
    asked = client.post(
        reverse("moderation:source-status", args=[source.pk]),
        {"status": status, "reason": "fraud"},
    )
    assert asked.status_code == 200
    page = asked.content.decode()
    assert "cannot be undone" in page and 'name="reason" value="fraud"' in page
    source.refresh_from_db()
    assert source.status == "approved"
