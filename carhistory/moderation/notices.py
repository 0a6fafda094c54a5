"""Telling a source that one of its records is disputed, so it can answer before a decision."""

from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from carhistory.moderation.models import Dispute
from carhistory.sources.models import Membership, Organisation


def notify_disputed_source(*, dispute_id: int, site_url: str, language: str = "en") -> int:
    """E-mail the source's contact and members; returns how many addresses were written to.
    A source with no address still sees the dispute in its portal."""
    dispute = Dispute.objects.get(pk=dispute_id)
    organisation = Organisation.objects.filter(slug=dispute.source).first()
    if organisation is None:
        return 0
    addresses = {organisation.contact_email.strip()} | {
        email.strip()
        for email in Membership.objects.filter(organisation=organisation).values_list(
            "user__email", flat=True
        )
    }
    addresses.discard("")
    if not addresses:
        return 0
    context = {
        "organisation": organisation,
        "dispute": dispute,
        "url": site_url.rstrip("/") + reverse("portal:disputes"),
    }
    with translation.override(language):
        subject = render_to_string("moderation/dispute_notice_subject.txt", context).strip()
        body = render_to_string("moderation/dispute_notice_email.txt", context)
    send_mail(subject, body, None, sorted(addresses))
    return len(addresses)
