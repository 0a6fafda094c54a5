"""Applying to become a source, and a moderator's decision on it."""

import pytest
from django.test import Client
from django.urls import reverse

from carhistory.moderation.models import AuditEntry
from carhistory.sources.models import ApiKey, Organisation
from carhistory.sources.services import authenticate_api_key
from ledger.models import Entry, PendingEntry
from tests.moderation.factories import audit_row, entry_object, integrated_entry, make_moderator
from tests.sources.factories import OrganisationFactory

pytestmark = pytest.mark.django_db

APPLICATION = {
    "name": "Pudong Auto Repair",
    "kind": "repair_shop",
    "licence_number": "SH-REP-0042",
    "region": "Shanghai",
    "contact_name": "Wang Fang",
    "contact_email": "wang@pudong-repair.example.cn",
    "contact_phone": "+86 21 5555 0101",
}


def test_applying_stores_an_application_and_thanks(client):
    response = client.post(reverse("portal:apply"), APPLICATION, follow=True)
    assert response.status_code == 200
    assert "Thank you" in response.content.decode()
    organisation = Organisation.objects.get()
    assert organisation.status == "applied"
    assert organisation.slug == "pudong-auto-repair"
    assert organisation.licence_number == "SH-REP-0042"


def test_an_application_may_give_a_name_in_chinese(client):
    client.post(reverse("portal:apply"), {**APPLICATION, "name_zh_hans": "浦东汽车维修"})
    organisation = Organisation.objects.get()
    assert (organisation.name, organisation.name_zh_hans) == ("Pudong Auto Repair", "浦东汽车维修")
    assert organisation.slug == "pudong-auto-repair"


def test_a_chinese_name_gets_a_pinyin_slug(client):
    client.post(reverse("portal:apply"), {**APPLICATION, "name": "浦东汽修"})
    client.post(reverse("portal:apply"), {**APPLICATION, "name": "浦东汽修"})
    client.post(reverse("portal:apply"), {**APPLICATION, "name": "！！！"})
    slugs = sorted(Organisation.objects.values_list("slug", flat=True))
    assert slugs[0] == "pu-dong-qi-xiu"
    assert slugs[1].startswith("pu-dong-qi-xiu-")
    assert slugs[2] == "repair-shop"


def test_an_incomplete_application_shows_field_errors_and_stores_nothing(client):
    response = client.post(
        reverse("portal:apply"),
        {**APPLICATION, "name": "", "kind": "spaceship", "contact_email": "not-an-email"},
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"name", "kind", "contact_email"}
    assert not Organisation.objects.exists()


def test_applying_without_csrf_token_is_forbidden():
    response = Client(enforce_csrf_checks=True).post(reverse("portal:apply"), APPLICATION)
    assert response.status_code == 403
    assert not Organisation.objects.exists()


def test_approval_logs_the_decision_and_shows_a_working_api_key_once(client):
    applicant = OrganisationFactory(applied=True, kind="insurer")
    moderator = make_moderator()
    client.force_login(moderator)
    queue = client.get(reverse("moderation:queue")).content.decode()
    assert applicant.name in queue

    asked = client.post(reverse("moderation:approve-application", args=[applicant.pk]))
    assert "cannot be undone" in asked.content.decode()
    assert not Entry.objects.filter(type="source_status").exists()
    response = client.post(
        reverse("moderation:approve-application", args=[applicant.pk]), {"confirmed": "yes"}
    )

    assert response.status_code == 200
    raw_key = response.context["raw_key"]
    assert raw_key in response.content.decode()
    assert authenticate_api_key(raw_key).organisation == applicant
    applicant.refresh_from_db()
    assert applicant.status == "approved"
    # The request only enqueued the decision, in the transaction of the audit row; the
    # sequencer logs it afterwards, and the audit trail shows "pending" until it has.
    audit = AuditEntry.objects.get()
    assert audit.pending_id == PendingEntry.objects.get().id
    assert not Entry.objects.exists()
    assert ">pending<" in audit_row(client, audit)
    entry = integrated_entry(audit.pending_id)
    assert f"#{entry.index}" in audit_row(client, audit)
    assert entry_object(entry)["facts"] == {
        "source": applicant.slug,
        "status": "approved",
        "reason": "application approved",
        "name": applicant.name,
        "kind": applicant.kind,
    }
    assert audit.action == "approve_application"
    assert audit.moderator == moderator
    assert audit.organisation == applicant
    # The key is never shown again: the queue and the keys list hold only its prefix.
    assert raw_key not in client.get(reverse("moderation:queue")).content.decode()
    assert ApiKey.objects.get().secret_hash not in raw_key


def test_rejection_needs_a_reason(client):
    applicant = OrganisationFactory(applied=True)
    client.force_login(make_moderator())
    response = client.post(
        reverse("moderation:reject-application", args=[applicant.pk]), {"reason": "  "}
    )
    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    applicant.refresh_from_db()
    assert applicant.status == "applied"
    assert not AuditEntry.objects.exists()


def test_rejection_appends_nothing_to_the_log_and_is_audited(client):
    applicant = OrganisationFactory(applied=True)
    moderator = make_moderator()
    client.force_login(moderator)
    response = client.post(
        reverse("moderation:reject-application", args=[applicant.pk]),
        {"reason": "Licence number unknown to the SAMR register"},
    )
    assert response.status_code == 302
    applicant.refresh_from_db()
    assert applicant.status == "rejected"
    assert not Entry.objects.exists()
    audit = AuditEntry.objects.get()
    assert (audit.action, audit.reason, audit.pending_id) == (
        "reject_application",
        "Licence number unknown to the SAMR register",
        None,
    )


def test_an_application_needs_a_licence_and_a_way_to_reach_the_applicant(client):
    response = client.post(
        reverse("portal:apply"),
        {"name": "Pudong Auto Repair", "kind": "repair_shop"},
    )
    assert set(response.context["form"].errors) == {
        "licence_number",
        "region",
        "contact_name",
        "contact_email",
    }
    assert not Organisation.objects.exists()


def test_the_moderator_may_change_the_public_id_before_approving(client):
    applicant = OrganisationFactory(applied=True, slug="pu-dong-qi-xiu")
    taken = OrganisationFactory(slug="taken-slug")
    client.force_login(make_moderator())
    url = reverse("moderation:approve-application", args=[applicant.pk])

    client.post(url, {"slug": taken.slug, "confirmed": "yes"})
    client.post(url, {"slug": "Not A Slug!", "confirmed": "yes"})
    applicant.refresh_from_db()
    assert (applicant.slug, applicant.status) == ("pu-dong-qi-xiu", "applied")

    client.post(url, {"slug": "pudong-auto-repair", "confirmed": "yes"})
    applicant.refresh_from_db()
    assert (applicant.slug, applicant.status) == ("pudong-auto-repair", "approved")
    entry = integrated_entry(AuditEntry.objects.get().pending_id)
    assert entry_object(entry)["facts"]["source"] == "pudong-auto-repair"
