"""Writes a car's history straight into the log, as the sources' submissions would, for the
report, evidence and API tests: organisations with or without keys of their own, signed
entries, moderators' corrections and status changes."""

import datetime
from dataclasses import dataclass, field

from carhistory_verifier import entry as entry_format
from carhistory_verifier import note
from django.utils import timezone

from carhistory.sources.models import Organisation
from carhistory.sources.services import register_signing_key, set_source_status
from ledger.selectors import entry_for_pending
from ledger.services import (
    enqueue_entry,
    enqueue_platform_entry,
    integrate_pending,
    sign_as_platform,
)

VIN = "LFV2A21K0E3000001"  # FAW-Volkswagen, valid check digit
OTHER_VIN = "LSVAU218XN2183294"


@dataclass
class Source:
    organisation: Organisation
    signer: note.Signer | None = None  # None: the platform signs on its behalf

    @property
    def slug(self) -> str:
        return self.organisation.slug


@dataclass
class Logbook:
    sources: dict[str, Source] = field(default_factory=dict)

    def source(self, slug: str, *, kind: str = "dealer_4s", own_key: bool = True) -> Source:
        organisation = Organisation.objects.create(
            slug=slug,
            name=slug.replace("-", " ").title(),
            kind=kind,
            status="approved",
            decided_at=timezone.now(),
        )
        self.sources[slug] = Source(organisation)
        if own_key:
            self.rotate_key(self.sources[slug])
        return self.sources[slug]

    def rotate_key(self, source: Source) -> None:
        """Give the source a new key of its own, logged before anything it signs."""
        source.signer = note.Signer.generate(source.slug)
        register_signing_key(
            organisation=source.organisation, verifier_key=source.signer.verifier().key_string()
        )
        integrate_pending(wait=True)

    def event(
        self,
        source: Source,
        type: str,
        occurred_at: str | datetime.date,
        *,
        vin: str = VIN,
        odometer_km: int | None = None,
        integrate: bool = True,
        **facts,
    ) -> int | None:
        """Log one event; returns its index once integrated."""
        entry = {
            "v": 1,
            "type": type,
            "vin": vin,
            "occurred_at": str(occurred_at),
            "facts": facts,
            "source": source.slug,
            "private_commitment": None,
            "submitted_at": "2024-05-03T09:12:44Z",
            "nonce": entry_format.new_nonce(),
        }
        if odometer_km is not None:
            entry["odometer_km"] = odometer_km
        if source.signer is None:
            entry = sign_as_platform(entry)
        else:
            entry["source_key"] = source.signer.verifier().key_string()
            statement = entry_format.statement_bytes(entry)
            entry["source_sig"] = entry_format.b64encode(source.signer.sign(statement))
        pending = enqueue_entry(entry=entry)
        if not integrate:
            return None
        integrate_pending(wait=True)
        return entry_for_pending(pending.id).index

    def correct(self, index: int, *, vin: str = VIN, reason: str = "typing error", **fields) -> int:
        facts = {"corrects": index, "reason": reason, **fields}
        pending = enqueue_platform_entry(type="correction", facts=facts, vin=vin)
        integrate_pending(wait=True)
        return entry_for_pending(pending.id).index

    def set_status(self, source: Source, status: str) -> None:
        set_source_status(organisation=source.organisation, status=status, reason="test")
        integrate_pending(wait=True)
        source.organisation.refresh_from_db()
