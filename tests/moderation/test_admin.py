"""The moderation admin: the same actions through the same services, and a read-only audit."""

import pytest
from django.urls import reverse

from carhistory.moderation.models import AuditEntry, Dispute
from carhistory.sources.models import PrivateRecord
from carhistory.sources.services import authenticate_api_key, submit_event
from ledger.models import Entry
from tests.moderation.factories import make_moderator
from tests.sources.factories import OrganisationFactory, UserFactory, event_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def moderator(client):
    user = make_moderator(is_staff=True)
    client.force_login(user)
    return user


def _action(client, model, action, objects, **extra):
    url = reverse(f"admin:moderation_{model}_changelist")
    data = {"action": action, "_selected_action": [obj.pk for obj in objects], **extra}
    return client.post(url, data)


def test_suspending_from_the_admin_asks_for_a_reason_then_logs_and_audits(client, moderator):
    source = OrganisationFactory()

    page = _action(client, "moderatedsource", "suspend", [source])

    assert page.status_code == 200
    assert "reason" in page.content.decode()
    source.refresh_from_db()
    assert source.status == "approved"

    done = _action(client, "moderatedsource", "suspend", [source], apply="1", reason="Fraud")

    assert done.status_code == 302
    source.refresh_from_db()
    assert source.status == "suspended"
    audit = AuditEntry.objects.get()
    assert audit.action == "suspend_source"
    assert audit.ledger_index == Entry.objects.get(type="source_status").index


def test_approving_from_the_admin_shows_each_first_key_once(client, moderator):
    applicant = OrganisationFactory(applied=True)
    response = _action(client, "sourceapplication", "approve", [applicant])
    assert response.status_code == 200
    ((organisation, raw_key),) = response.context["approved"]
    assert organisation == applicant
    assert authenticate_api_key(raw_key).organisation == applicant
    assert AuditEntry.objects.get().action == "approve_application"


def test_rejecting_disputes_from_the_admin(client, moderator):
    dispute = Dispute.objects.create(entry_index=0, vin="LSVAU2180N2183294", reason="wrong")
    _action(client, "dispute", "reject", [dispute], apply="1", reason="Confirmed by invoice")
    dispute.refresh_from_db()
    assert dispute.status == "rejected"
    assert AuditEntry.objects.get().action == "reject_dispute"


def test_staff_without_the_moderate_permission_see_no_moderation_admin(client):
    client.force_login(UserFactory(is_staff=True))
    source = OrganisationFactory()
    assert client.get(reverse("admin:moderation_auditentry_changelist")).status_code == 403
    response = _action(client, "moderatedsource", "suspend", [source], apply="1", reason="x")
    assert response.status_code == 403
    source.refresh_from_db()
    assert source.status == "approved"


def test_the_audit_trail_is_read_only_and_filterable(client, moderator):
    source = OrganisationFactory()
    audit = AuditEntry.objects.create(
        moderator=moderator, action="suspend_source", reason="Fraud", organisation=source
    )
    listing = client.get(
        reverse("admin:moderation_auditentry_changelist"), {"action__exact": "suspend_source"}
    )
    assert listing.status_code == 200
    assert "Fraud" in listing.content.decode()
    assert client.get(reverse("admin:moderation_auditentry_add")).status_code == 403
    change_url = reverse("admin:moderation_auditentry_change", args=[audit.pk])
    client.post(change_url, {"reason": "Nothing happened"})
    delete_url = reverse("admin:moderation_auditentry_delete", args=[audit.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    audit.refresh_from_db()
    assert audit.reason == "Fraud"


def test_erasing_private_details_from_the_admin(client, moderator):
    result = submit_event(
        organisation=OrganisationFactory(),
        payload=event_payload("service", private={"customer_name": "Zhang San"}),
        channel="api",
    )
    listing = client.get(reverse("admin:moderation_submissionwithprivatedetails_changelist"))
    assert result.submission.vin in listing.content.decode()

    _action(
        client,
        "submissionwithprivatedetails",
        "erase",
        [result.submission],
        apply="1",
        reason="Data-subject request",
    )

    assert PrivateRecord.objects.get().is_erased
    assert AuditEntry.objects.get().action == "erase_private_record"
