"""Erasing private details on a data-subject request: the details go, the entry stays."""

import pytest
from django.urls import reverse

from carhistory.moderation.models import AuditEntry
from carhistory.sources.models import PrivateRecord
from carhistory.sources.services import submit_event
from ledger.models import Entry
from ledger.selectors import entry_for_pending
from ledger.services import integrate_pending
from tests.moderation.factories import make_moderator
from tests.sources.factories import OrganisationFactory, event_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def submission():
    payload = event_payload("service", private={"customer_name": "Zhang San", "invoice": "A-1"})
    result = submit_event(organisation=OrganisationFactory(), payload=payload, channel="api")
    integrate_pending(wait=True)
    return result.submission


def test_erasure_removes_the_private_record_and_leaves_the_entry_unchanged(client, submission):
    entry = entry_for_pending(submission.pending_id)
    data, leaf_hash = bytes(entry.data), bytes(entry.leaf_hash)
    moderator = make_moderator()
    client.force_login(moderator)

    response = client.post(
        reverse("moderation:erase"),
        {
            "submission": submission.pk,
            "reason": "Data-subject request #2024-17",
            "confirmed": "yes",
        },
    )

    assert response.status_code == 302
    record = PrivateRecord.objects.get(submission=submission)
    assert record.is_erased
    assert record.details is None
    assert record.salt is None
    entry = Entry.objects.get(index=entry.index)
    assert (bytes(entry.data), bytes(entry.leaf_hash)) == (data, leaf_hash)
    audit = AuditEntry.objects.get()
    assert (audit.action, audit.submission_id, audit.moderator) == (
        "erase_private_record",
        submission.pk,
        moderator,
    )


def test_erasure_needs_a_reason(client, submission):
    client.force_login(make_moderator())
    response = client.post(reverse("moderation:erase"), {"submission": submission.pk})
    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    assert not PrivateRecord.objects.get(submission=submission).is_erased


def test_erasing_an_unknown_submission_is_a_field_error(client, submission):
    client.force_login(make_moderator())
    response = client.post(reverse("moderation:erase"), {"submission": 999999, "reason": "r"})
    assert response.status_code == 200
    assert "submission" in response.context["form"].errors
    assert not AuditEntry.objects.exists()


def test_erasing_a_submission_without_private_details_says_so(client):
    result = submit_event(
        organisation=OrganisationFactory(), payload=event_payload("service"), channel="api"
    )
    client.force_login(make_moderator())
    response = client.post(
        reverse("moderation:erase"),
        {"submission": result.submission.pk, "reason": "request", "confirmed": "yes"},
    )
    assert response.status_code == 200
    assert "no private details" in str(response.context["form"].non_field_errors())
    assert not AuditEntry.objects.exists()


def test_a_moderator_finds_the_submission_by_vin(client, submission):
    client.force_login(make_moderator())
    response = client.get(reverse("moderation:erase"), {"vin": submission.vin.lower()})
    assert list(response.context["records"]) == [submission.private_record]
    assert f"submission={submission.pk}" in response.content.decode()
    empty = client.get(reverse("moderation:erase"), {"vin": "LSVAU2180N2183294"})
    assert "No private details are kept for this VIN." in empty.content.decode()
