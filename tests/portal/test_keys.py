"""API keys and signing keys: source admins manage them, other staff cannot."""

import pytest
from carhistory_verifier import note
from django.urls import reverse

from carhistory.sources.models import ApiKey, SigningKey
from carhistory.sources.services import authenticate_api_key, create_api_key
from ledger.models import Entry
from ledger.services import integrate_pending
from tests.sources.factories import MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def source_admin(client):
    membership = MembershipFactory(role="source_admin")
    client.force_login(membership.user)
    return membership


def test_staff_who_are_not_source_admins_cannot_manage_keys(client):
    membership = MembershipFactory(role="staff")
    api_key, _raw = create_api_key(organisation=membership.organisation, label="workshop")
    client.force_login(membership.user)
    assert client.get(reverse("portal:keys")).status_code == 403
    assert client.post(reverse("portal:keys"), {"api-label": "mine"}).status_code == 403
    assert client.post(reverse("portal:revoke-api-key", args=[api_key.pk])).status_code == 403
    assert ApiKey.objects.get().is_active
    assert "Keys" not in client.get(reverse("portal:dashboard")).content.decode()


def test_an_empty_key_page_says_so(client, source_admin):
    content = client.get(reverse("portal:keys")).content.decode()
    assert "No API keys yet." in content
    assert "No signing key" in content


def test_a_new_api_key_is_shown_once_and_works(client, source_admin):
    response = client.post(reverse("portal:keys"), {"api-label": "workshop system"})
    raw_key = response.context["raw_key"]
    assert raw_key in response.content.decode()
    assert authenticate_api_key(raw_key).organisation == source_admin.organisation

    listing = client.get(reverse("portal:keys")).content.decode()
    assert "workshop system" in listing
    assert raw_key not in listing


def test_a_revoked_key_is_refused(client, source_admin):
    api_key, raw_key = create_api_key(organisation=source_admin.organisation, label="old")
    # The first click asks again; nothing is revoked yet.
    asked = client.post(reverse("portal:revoke-api-key", args=[api_key.pk]))
    assert asked.status_code == 200
    assert "cannot be undone" in asked.content.decode()
    assert authenticate_api_key(raw_key) is not None
    response = client.post(
        reverse("portal:revoke-api-key", args=[api_key.pk]), {"confirmed": "yes"}
    )
    assert response.status_code == 302
    assert authenticate_api_key(raw_key) is None
    assert "revoked" in client.get(reverse("portal:keys")).content.decode()


def test_revoking_is_post_only(client, source_admin):
    api_key, _raw = create_api_key(organisation=source_admin.organisation, label="old")
    assert client.get(reverse("portal:revoke-api-key", args=[api_key.pk])).status_code == 405
    assert ApiKey.objects.get().is_active


def test_registering_a_signing_key_shows_its_log_entry(client, source_admin):
    signer = note.Signer.generate(source_admin.organisation.slug)
    verifier_line = signer.verifier().key_string()

    response = client.post(reverse("portal:keys"), {"signing-verifier_key": verifier_line})

    signing_key = SigningKey.objects.get()
    assert response.context["new_signing_key"] == signing_key
    # Enqueued by the request; the list says "pending" until the sequencer has logged it.
    assert not Entry.objects.exists()
    assert ">pending<" in _signing_key_row(client, signing_key)
    integrate_pending(wait=True)
    entry = Entry.objects.get(pending_id=signing_key.pending_id)
    assert entry.type == "source_key"
    assert f"<td>#{entry.index}</td>" in _signing_key_row(client, signing_key)


def test_a_key_named_after_someone_else_is_a_field_error(client, source_admin):
    impostor = note.Signer.generate("someone-else").verifier().key_string()
    response = client.post(reverse("portal:keys"), {"signing-verifier_key": impostor})
    assert "verifier_key" in response.context["signing_key_form"].errors
    assert not SigningKey.objects.exists()
    assert not Entry.objects.exists()


def test_garbage_instead_of_a_key_is_a_field_error(client, source_admin):
    response = client.post(reverse("portal:keys"), {"signing-verifier_key": "hello+zz+!!"})
    assert response.status_code == 200
    assert "verifier_key" in response.context["signing_key_form"].errors


def _signing_key_row(client, signing_key) -> str:
    page = client.get(reverse("portal:keys")).content.decode()
    start = page.index(f"<code>{signing_key.key_id}</code>")
    return page[start : page.index("</tr>", start)]
