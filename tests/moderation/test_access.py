"""Only moderators moderate; every form carries a CSRF token."""

import pytest
from django.test import Client
from django.urls import reverse

from carhistory.moderation.models import AuditEntry
from tests.moderation.factories import make_moderator
from tests.sources.factories import MembershipFactory, OrganisationFactory, UserFactory

pytestmark = pytest.mark.django_db

MODERATION_PAGES = [
    ("moderation:queue", []),
    ("moderation:erase", []),
]


@pytest.mark.parametrize(("name", "args"), MODERATION_PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, name, args):
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(("name", "args"), MODERATION_PAGES)
def test_staff_without_the_moderate_permission_are_refused(client, name, args):
    client.force_login(UserFactory(is_staff=True))
    assert client.get(reverse(name, args=args)).status_code == 403


def test_source_staff_cannot_moderate(client):
    client.force_login(MembershipFactory(role="source_admin").user)
    assert client.get(reverse("moderation:queue")).status_code == 403


def test_a_non_moderator_cannot_suspend_a_source(client):
    source = OrganisationFactory()
    client.force_login(UserFactory(is_staff=True))
    response = client.post(
        reverse("moderation:source-status", args=[source.pk]),
        {"status": "suspended", "reason": "I do not like them"},
    )
    assert response.status_code == 403
    source.refresh_from_db()
    assert source.status == "approved"
    assert not AuditEntry.objects.exists()


def test_a_non_moderator_cannot_approve_an_application(client):
    applicant = OrganisationFactory(applied=True)
    client.force_login(UserFactory(is_staff=True))
    response = client.post(reverse("moderation:approve-application", args=[applicant.pk]))
    assert response.status_code == 403
    applicant.refresh_from_db()
    assert applicant.status == "applied"


def test_moderation_forms_refuse_a_post_without_csrf_token():
    source = OrganisationFactory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_moderator())
    response = client.post(
        reverse("moderation:source-status", args=[source.pk]),
        {"status": "suspended", "reason": "fraud"},
    )
    assert response.status_code == 403
    source.refresh_from_db()
    assert source.status == "approved"


def test_the_empty_queue_says_there_is_nothing_to_do(client):
    client.force_login(make_moderator())
    response = client.get(reverse("moderation:queue"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "No applications are waiting." in content
    assert "No open disputes." in content
    assert "No moderator actions yet." in content


def test_superusers_moderate_without_an_explicit_permission(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert client.get(reverse("moderation:queue")).status_code == 200


def test_the_sign_in_page_is_ours_and_lands_a_moderator_on_the_queue(client):
    make_moderator(username="mod")
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert "Sign in" in response.content.decode()
    response = client.post(
        reverse("login"), {"username": "mod", "password": "correct horse battery staple"}
    )
    assert response.status_code == 302
    assert client.get(response["Location"])["Location"] == reverse("moderation:queue")
