"""The moderation admin shows, searches and links; the actions are the queue's alone."""

import pytest
from django.urls import reverse

from carhistory.moderation.models import AuditEntry, Dispute
from carhistory.sources.models import PrivateRecord
from carhistory.sources.services import submit_event
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


CHANGELISTS = ["sourceapplication", "moderatedsource", "dispute", "submissionwithprivatedetails"]


@pytest.mark.parametrize("model", CHANGELISTS)
def test_the_admin_offers_no_actions_the_queue_does(client, moderator, model):
    # One moderator UI: the admin shows and links, the queue acts (and audits).
    response = client.get(reverse(f"admin:moderation_{model}_changelist"))
    assert response.status_code == 200
    assert response.context["action_form"] is None
    assert not response.context["cl"].model_admin.get_actions(response.wsgi_request)


def test_an_action_posted_to_the_admin_changes_nothing(client, moderator):
    source = OrganisationFactory()
    _action(client, "moderatedsource", "suspend", [source], apply="1", reason="Fraud")
    source.refresh_from_db()
    assert source.status == "approved"
    assert not AuditEntry.objects.exists()
    assert not Entry.objects.filter(type="source_status").exists()


def test_each_list_links_to_the_queue_page_that_acts(client, moderator):
    applicant = OrganisationFactory(applied=True)
    source = OrganisationFactory()
    dispute = Dispute.objects.create(entry_index=0, vin="LSVAU2180N2183294", reason="wrong")

    def listing(model: str) -> str:
        return client.get(reverse(f"admin:moderation_{model}_changelist")).content.decode()

    assert applicant.name in listing("sourceapplication")
    assert reverse("moderation:queue") in listing("sourceapplication")
    assert reverse("moderation:source-status", args=[source.pk]) in listing("moderatedsource")
    assert reverse("moderation:dispute", args=[dispute.pk]) in listing("dispute")


def test_staff_without_the_moderate_permission_see_no_moderation_admin(client):
    client.force_login(UserFactory(is_staff=True))
    for model in [*CHANGELISTS, "auditentry"]:
        assert client.get(reverse(f"admin:moderation_{model}_changelist")).status_code == 403


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


def test_submissions_with_private_details_link_to_the_erasure_page(client, moderator):
    result = submit_event(
        organisation=OrganisationFactory(),
        payload=event_payload("service", private={"customer_name": "Zhang San"}),
        channel="api",
    )
    listing = client.get(reverse("admin:moderation_submissionwithprivatedetails_changelist"))
    html = listing.content.decode()
    assert result.submission.vin in html
    assert f"{reverse('moderation:erase')}?submission={result.submission.pk}" in html
    assert not PrivateRecord.objects.get().is_erased
