"""Vehicle histories written the way production writes them: organisations apply and are
approved, one registers its own signing key, and events go through `submit_event` and the
sequencer. Shared by the page tests and the browser tests."""

from dataclasses import dataclass

from carhistory_verifier import entry as entry_format
from carhistory_verifier import note

from carhistory.sources.models import Organisation
from carhistory.sources.services import (
    apply_for_source,
    register_signing_key,
    set_source_status,
    submit_event,
)
from ledger.services import integrate_pending

# Valid Chinese VINs (GB 16735: the check digit is mandatory and correct).
ROLLBACK_VIN = "LFV2A21K0E3000001"
UNKNOWN_VIN = "LGBH52E05LY000003"


@dataclass
class Sources:
    oem: Organisation
    dealer: Organisation
    registry: Organisation
    insurer: Organisation
    oem_signer: note.Signer


def approved_sources() -> Sources:
    """Four approved sources; the maker signs its own events, the others are signed for."""
    made = {
        kind: apply_for_source(slug=slug, name=name, kind=kind)
        for kind, slug, name in (
            ("oem", "faw-vw-changchun", "FAW-Volkswagen Changchun Plant"),
            ("dealer_4s", "sh-anting-vw-4s", "Shanghai Anting VW 4S"),
            ("registry", "sh-vehicle-registry", "Shanghai Vehicle Registry"),
            ("insurer", "pingan-auto", "Ping An Auto Insurance"),
        )
    }
    for organisation in made.values():
        set_source_status(organisation=organisation, status="approved", reason="vetted")
        organisation.refresh_from_db()
    oem_signer = note.Signer.generate(made["oem"].slug)
    register_signing_key(organisation=made["oem"], verifier_key=oem_signer.verifier().key_string())
    return Sources(
        oem=made["oem"],
        dealer=made["dealer_4s"],
        registry=made["registry"],
        insurer=made["insurer"],
        oem_signer=oem_signer,
    )


def submit(organisation: Organisation, payload: dict, signer: note.Signer | None = None) -> None:
    """Submit one event as that source would, signing the SPEC §2 statement when it has a key."""
    payload = {"facts": {}, **payload}
    if signer is not None:
        statement = {
            "v": 1,
            "type": payload["type"],
            "vin": payload["vin"],
            "occurred_at": payload["occurred_at"],
            "facts": payload["facts"],
            "source": organisation.slug,
            "source_key": signer.verifier().key_string(),
        }
        if "odometer_km" in payload:
            statement["odometer_km"] = payload["odometer_km"]
        signature = signer.sign(entry_format.statement_bytes(statement))
        payload["source_sig"] = entry_format.b64encode(signature)
    result = submit_event(organisation=organisation, payload=payload)
    assert result.is_accepted, result.errors


def record_rollback_history(sources: Sources, vin: str = ROLLBACK_VIN) -> None:
    """A car built and registered, serviced twice, then read 15,000 km lower, crashed and
    branded salvage: the report must show the rollback and the brand."""
    submit(
        sources.oem,
        {
            "vin": vin,
            "type": "manufacture",
            "occurred_at": "2019-03-02",
            "facts": {
                "plant": "Changchun",
                "built_on": "2019-03-02",
                "model": "Sagitar 1.4T",
                "model_year": 2019,
            },
        },
        signer=sources.oem_signer,
    )
    events = [
        (
            sources.registry,
            {
                "type": "registration",
                "occurred_at": "2019-04-01",
                "facts": {"event": "first_registration", "region": "Shanghai", "use": "private"},
            },
        ),
        (
            sources.dealer,
            {
                "type": "service",
                "occurred_at": "2020-05-01",
                "odometer_km": 15000,
                "facts": {"items": ["oil", "filter"]},
            },
        ),
        (
            sources.dealer,
            {
                "type": "service",
                "occurred_at": "2021-06-01",
                "odometer_km": 45000,
                "facts": {"items": ["oil", "brake pads"]},
            },
        ),
        (
            sources.registry,
            {
                "type": "inspection",
                "occurred_at": "2022-07-01",
                "odometer_km": 30000,
                "facts": {"result": "pass"},
            },
        ),
        (
            sources.insurer,
            {
                "type": "accident",
                "occurred_at": "2022-09-01",
                "facts": {
                    "severity": "severe",
                    "airbags_deployed": True,
                    "damage_areas": ["front"],
                },
            },
        ),
        (
            sources.registry,
            {"type": "title_brand", "occurred_at": "2023-01-05", "facts": {"brand": "salvage"}},
        ),
    ]
    for organisation, payload in events:
        submit(organisation, {"vin": vin, **payload})
    integrate_pending(wait=True)
