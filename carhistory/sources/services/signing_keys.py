"""Signing keys: a source registers the Ed25519 key it signs its events with (logged as a
`source_key` entry), and retires it."""

from carhistory_verifier import note
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from carhistory.sources.errors import SourceError
from carhistory.sources.models import (
    Organisation,
    OrganisationStatus,
    SigningKey,
)
from carhistory.sources.schemas import EventType
from ledger.services import enqueue_platform_entry


def register_signing_key(*, organisation: Organisation, verifier_key: str) -> SigningKey:
    """Put a source's own Ed25519 key in the log, making it the key its signatures must verify
    under. The previous key, if any, is retired; entries it signed stay verifiable through
    their own `source_key` entry.

    The `source_key` entry is enqueued, not waited for, yet no entry the key signs can precede
    it in the log (SPEC §2): the organisation row is locked FOR UPDATE while the entry is
    enqueued and the key stored, and a submission reads the current key only after taking the
    same row FOR SHARE (`submissions._status_and_signing_key`). So an event signed by this key is
    enqueued after this transaction commits, with a larger pending id, and the sequencer
    integrates in pending-id order; an event signed by the old key, enqueued first, stays
    before the rotation.
    """
    verifier_key = (verifier_key or "").strip()
    try:
        verifier = note.Verifier.from_key_string(verifier_key)
    except note.NoteError as error:
        raise SourceError(
            _("This is not an Ed25519 verifier key (name+keyid+base64): %(error)s")
            % {"error": error}
        ) from None
    if verifier.name != organisation.slug:
        raise SourceError(
            _("The key is named %(name)s; it must be named after the source, %(slug)s.")
            % {"name": verifier.name, "slug": organisation.slug}
        )
    if organisation.status not in (OrganisationStatus.APPLIED, OrganisationStatus.APPROVED):
        raise SourceError(_("Only an applying or approved source may register a key."))
    if SigningKey.objects.filter(verifier_key=verifier_key).exists():
        raise SourceError(_("This key is already registered."))
    with transaction.atomic():
        organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
        pending = enqueue_platform_entry(
            type=EventType.SOURCE_KEY, facts={"source": organisation.slug, "key": verifier_key}
        )
        now = timezone.now()
        SigningKey.objects.filter(organisation=organisation, retired_at__isnull=True).update(
            retired_at=now
        )
        return SigningKey.objects.create(
            organisation=organisation,
            verifier_key=verifier_key,
            key_id=verifier.key_id.hex(),
            pending_id=pending.id,
        )


def retire_signing_key(*, signing_key: SigningKey) -> None:
    """Stop accepting signatures by this key; the platform signs for the source until it
    registers another."""
    SigningKey.objects.filter(pk=signing_key.pk, retired_at__isnull=True).update(
        retired_at=timezone.now()
    )
    signing_key.refresh_from_db(fields=["retired_at"])
