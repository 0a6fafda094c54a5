"""Who sees what in the portal: members only, each only their own organisation."""

import pytest
from django.test import Client
from django.urls import reverse

from carhistory.portal.models import CsvUpload
from carhistory.sources.models import ApiKey
from carhistory.sources.services import create_api_key, submit_event
from tests.sources.factories import MembershipFactory, UserFactory, event_payload

pytestmark = pytest.mark.django_db

MEMBER_PAGES = ["portal:dashboard", "portal:event-new", "portal:csv-upload"]


@pytest.mark.parametrize("name", [*MEMBER_PAGES, "portal:keys"])
def test_anonymous_visitors_are_sent_to_sign_in(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", [*MEMBER_PAGES, "portal:keys"])
def test_a_user_of_no_organisation_is_refused(client, name):
    client.force_login(UserFactory(is_staff=True))
    assert client.get(reverse(name)).status_code == 403


def test_the_empty_dashboard_says_there_are_no_submissions_yet(client):
    membership = MembershipFactory()
    client.force_login(membership.user)
    response = client.get(reverse("portal:dashboard"))
    assert response.status_code == 200
    assert "No submissions yet." in response.content.decode()
    assert membership.organisation.name in response.content.decode()


def test_staff_of_another_organisation_cannot_see_a_submission(client):
    mine, theirs = MembershipFactory(), MembershipFactory()
    result = submit_event(
        organisation=theirs.organisation, payload=event_payload("service"), channel="api"
    )
    client.force_login(mine.user)
    url = reverse("portal:submission", args=[result.submission.public_id])
    assert client.get(url).status_code == 404
    assert (
        str(result.submission.vin) not in client.get(reverse("portal:dashboard")).content.decode()
    )
    client.force_login(theirs.user)
    assert client.get(url).status_code == 200


def test_staff_of_another_organisation_cannot_see_an_upload(client):
    mine, theirs = MembershipFactory(), MembershipFactory()
    upload = CsvUpload.objects.create(
        organisation=theirs.organisation,
        uploaded_by=theirs.user,
        filename="theirs.csv",
        content="vin,type,occurred_at\n",
        sha256="0" * 64,
        total_rows=1,
        error_report="row,column,message\r\n2,vin,bad\r\n",
    )
    client.force_login(mine.user)
    for name in ("portal:csv-detail", "portal:csv-progress", "portal:csv-errors"):
        assert client.get(reverse(name, args=[upload.pk])).status_code == 404


def test_a_source_admin_cannot_revoke_another_organisations_key(client):
    mine = MembershipFactory(role="source_admin")
    theirs = MembershipFactory(role="source_admin")
    api_key, _raw = create_api_key(organisation=theirs.organisation, label="theirs")
    client.force_login(mine.user)
    response = client.post(
        reverse("portal:revoke-api-key", args=[api_key.pk]), {"confirmed": "yes"}
    )
    assert response.status_code == 404
    assert ApiKey.objects.get(pk=api_key.pk).is_active


def test_portal_forms_refuse_a_post_without_csrf_token():
    membership = MembershipFactory(role="source_admin")
    client = Client(enforce_csrf_checks=True)
    client.force_login(membership.user)
    assert client.post(reverse("portal:keys"), {"api-label": "x"}).status_code == 403
    assert client.post(reverse("portal:event-new"), {}).status_code == 403
    assert client.post(reverse("portal:csv-upload"), {}).status_code == 403
    assert not ApiKey.objects.exists()


def test_signing_in_lands_source_staff_on_their_dashboard(client):
    membership = MembershipFactory(user__username="shop")
    response = client.post(
        reverse("login"),
        {"username": "shop", "password": "correct horse battery staple"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("portal:dashboard")
    assert membership.organisation.name in response.content.decode()
