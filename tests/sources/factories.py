"""Test data for sources: organisations, members, keys, and valid submission bodies.

Other apps' tests import these: `OrganisationFactory(kind="insurer")`, `api_key_for(org)`,
`event_payload("service", vin=...)`, `signed_payload(signer, org, payload)`, `make_vin(n)`.
"""

import datetime

import factory
from carhistory_verifier import entry as entry_format
from carhistory_verifier import note
from django.contrib.auth import get_user_model
from django.utils import timezone

from carhistory.sources.models import Membership, MembershipRole, Organisation
from carhistory.sources.services import create_api_key
from carhistory.vin import expected_check_digit


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    slug = factory.Sequence(lambda number: f"source-{number}")
    name = factory.Sequence(lambda number: f"Source {number}")
    kind = "dealer_4s"
    licence_number = factory.Sequence(lambda number: f"LIC-{number:06d}")
    region = "Shanghai"
    contact_name = "Li Wei"
    contact_email = factory.LazyAttribute(lambda org: f"ops@{org.slug}.example.cn")
    status = "approved"
    decided_at = factory.LazyFunction(timezone.now)

    class Params:
        applied = factory.Trait(status="applied", decided_at=None)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda number: f"user{number}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.cn")
    password = factory.django.Password("correct horse battery staple")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organisation = factory.SubFactory(OrganisationFactory)
    role = MembershipRole.STAFF


def api_key_for(organisation: Organisation, *, label: str = "test") -> str:
    """A fresh raw API key for `organisation`."""
    return create_api_key(organisation=organisation, label=label)[1]


def make_vin(serial: int, *, wmi: str = "LSV", descriptor: str = "AU218", year: str = "N") -> str:
    """A VIN with a valid ISO 3779 check digit: WMI, 5 descriptor characters, check digit,
    model year, plant '2', and a 6-digit serial."""
    body = f"{wmi}{descriptor}0{year}2{serial % 1_000_000:06d}"
    return body[:8] + expected_check_digit(body) + body[9:]


_FACTS = {
    "odometer": {},
    "service": {"items": ["oil", "oil filter"]},
    "repair": {"parts": ["front bumper"], "area": "front"},
    "accident": {"severity": "moderate", "airbags_deployed": False, "damage_areas": ["front"]},
    "insurance_claim": {"claim_kind": "collision", "total_loss": False},
    "registration": {"event": "first_registration", "region": "Shanghai", "use": "private"},
    "title_brand": {"brand": "salvage"},
    "inspection": {"result": "pass"},
    "recall": {"campaign": "RC-2023-041", "status": "remedied", "component": "airbag inflator"},
    "manufacture": {
        "plant": "Anting",
        "built_on": "2021-03-02",
        "model": "Lavida",
        "model_year": 2021,
    },
}
_WITH_ODOMETER = {"odometer", "service", "repair", "inspection"}


def event_payload(event_type: str = "service", **overrides) -> dict:
    """A submission body (SPEC §5) that passes validation; `overrides` replace top-level fields
    (pass `facts=` to replace the facts)."""
    payload = {
        "vin": make_vin(1),
        "type": event_type,
        "occurred_at": (timezone.now().date() - datetime.timedelta(days=30)).isoformat(),
        "facts": dict(_FACTS[event_type]),
    }
    if event_type in _WITH_ODOMETER:
        payload["odometer_km"] = 45210
    payload.update(overrides)
    return payload


def signed_payload(signer: note.Signer, organisation: Organisation, payload: dict) -> dict:
    """What a source with its own key sends: the payload plus its signature over the statement
    (SPEC §2), built here as the spec describes it rather than by the server's own code."""
    statement = {
        "v": 1,
        "type": payload["type"],
        "vin": payload["vin"],
        "occurred_at": payload["occurred_at"],
        "facts": payload.get("facts", {}),
        "source": organisation.slug,
        "source_key": signer.verifier().key_string(),
    }
    if "odometer_km" in payload:
        statement["odometer_km"] = payload["odometer_km"]
    signature = signer.sign(entry_format.statement_bytes(statement))
    return {**payload, "source_sig": entry_format.b64encode(signature)}
