"""Moderators and log entries for the moderation tests."""

import json

from django.contrib.auth.models import Permission
from django.urls import reverse

from carhistory.sources.services import submit_event
from ledger.selectors import entry_for_pending
from ledger.services import integrate_pending
from tests.sources.factories import UserFactory, event_payload


def make_moderator(**fields):
    user = UserFactory(**fields)
    user.user_permissions.add(Permission.objects.get(codename="moderate"))
    return user


def logged_entry(organisation, event_type: str = "service", **overrides):
    """Submit one event for `organisation` and integrate it; returns the ledger Entry."""
    result = submit_event(
        organisation=organisation, payload=event_payload(event_type, **overrides), channel="api"
    )
    assert result.is_accepted, result.errors
    integrate_pending(wait=True)
    return entry_for_pending(result.submission.pending_id)


def integrated_entry(pending_id: int):
    """Run the sequencer, as the worker would after the request, and return the Entry the
    pending entry became."""
    integrate_pending(wait=True)
    return entry_for_pending(pending_id)


def audit_row(client, audit) -> str:
    """The row of the moderation queue's audit trail that shows `audit`."""
    page = client.get(reverse("moderation:queue")).content.decode()
    start = page.index(f'data-audit="{audit.pk}"')
    return page[start : page.index("</tr>", start)]


def entry_object(entry) -> dict:
    return json.loads(bytes(entry.data))
