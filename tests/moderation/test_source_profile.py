"""A source's kind (its role), slug and name change only through a logged, audited moderation
action (issue 14 §6): a repair shop cannot quietly become an insurer in the admin."""

import json

import pytest
from django.urls import reverse

from carhistory.moderation.models import AuditEntry
from carhistory.sources.models import Organisation
from ledger.models import Entry
from tests.moderation.factories import integrated_entry, make_moderator
from tests.sources.factories import OrganisationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def repair_shop():
    return OrganisationFactory(kind="repair_shop", slug="bj-garage", name="Beijing Garage")


def test_the_admin_cannot_change_kind_slug_or_name(client, repair_shop):
    client.force_login(make_moderator(is_staff=True, is_superuser=True))
    url = reverse("admin:sources_organisation_change", args=[repair_shop.pk])
    form = client.get(url).context["adminform"].form
    assert not {"kind", "slug", "name", "name_zh_hans"} & set(form.fields)
    data = {name: field.initial or "" for name, field in form.fields.items()}

    client.post(
        url,
        {
            **data,
            "kind": "insurer",
            "slug": "fake-insurer",
            "name": "Fake Insurance",
            "name_zh_hans": "平安保险",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )

    repair_shop.refresh_from_db()
    assert (repair_shop.kind, repair_shop.slug, repair_shop.name, repair_shop.name_zh_hans) == (
        "repair_shop",
        "bj-garage",
        "Beijing Garage",
        "",
    )
    assert not Entry.objects.exists()


def test_a_kind_change_is_logged_and_audited(client, repair_shop):
    moderator = make_moderator()
    client.force_login(moderator)

    response = client.post(
        reverse("moderation:source-profile", args=[repair_shop.pk]),
        {"kind": "insurer", "name": "Beijing Garage", "reason": "licensed as an insurer"},
    )

    assert response.status_code == 302
    assert Organisation.objects.get(pk=repair_shop.pk).kind == "insurer"
    audit = AuditEntry.objects.get(action="change_source_profile")
    assert not Entry.objects.exists()  # enqueued with the audit row; logged by the sequencer
    entry = integrated_entry(audit.pending_id)
    facts = json.loads(bytes(entry.data))["facts"]
    assert facts["source"] == "bj-garage"
    assert facts["status"] == "approved"
    assert "kind repair_shop -> insurer" in facts["reason"]
    assert (facts["name"], facts["kind"]) == ("Beijing Garage", "insurer")
    assert entry.type == "source_status"
    assert audit.moderator == moderator
    assert audit.details == {"kind": ["repair_shop", "insurer"]}


def test_a_chinese_name_is_logged_and_audited_like_the_name(client, repair_shop):
    # Buyers read it on Chinese pages: a source must not pass itself off there unseen.
    client.force_login(make_moderator())

    response = client.post(
        reverse("moderation:source-profile", args=[repair_shop.pk]),
        {
            "kind": "repair_shop",
            "name": "Beijing Garage",
            "name_zh_hans": "北京汽修厂",
            "reason": "its registered Chinese name",
        },
    )

    assert response.status_code == 302
    assert Organisation.objects.get(pk=repair_shop.pk).name_zh_hans == "北京汽修厂"
    audit = AuditEntry.objects.get(action="change_source_profile")
    assert audit.details == {"name_zh_hans": ["", "北京汽修厂"]}
    facts = json.loads(bytes(integrated_entry(audit.pending_id).data))["facts"]
    assert "name_zh_hans  -> 北京汽修厂" in facts["reason"]
    # The names as they are now, which the buyer's browser checks the report against.
    assert (facts["name"], facts["name_zh_hans"], facts["kind"]) == (
        "Beijing Garage",
        "北京汽修厂",
        "repair_shop",
    )


def test_the_profile_form_keeps_the_chinese_name_it_shows(client, repair_shop):
    repair_shop.name_zh_hans = "北京汽修厂"
    repair_shop.save()
    client.force_login(make_moderator())
    url = reverse("moderation:source-profile", args=[repair_shop.pk])

    form = client.get(url).context["form"]
    assert form.initial["name_zh_hans"] == "北京汽修厂"
    client.post(url, {**form.initial, "kind": "insurer", "reason": "licensed as an insurer"})

    changed = Organisation.objects.get(pk=repair_shop.pk)
    assert (changed.kind, changed.name_zh_hans) == ("insurer", "北京汽修厂")


def test_a_revoked_source_cannot_be_changed(client):
    revoked = OrganisationFactory(status="revoked")
    client.force_login(make_moderator())

    response = client.post(
        reverse("moderation:source-profile", args=[revoked.pk]),
        {"kind": "insurer", "name": revoked.name, "reason": "x"},
    )

    assert response.status_code == 200
    assert Organisation.objects.get(pk=revoked.pk).kind == revoked.kind
    assert not Entry.objects.exists()


def test_only_moderators_may_change_a_source(client, repair_shop):
    client.force_login(UserFactory())

    response = client.post(
        reverse("moderation:source-profile", args=[repair_shop.pk]),
        {"kind": "insurer", "name": "x", "reason": "x"},
    )

    assert response.status_code in (302, 403)
    assert Organisation.objects.get(pk=repair_shop.pk).kind == "repair_shop"
