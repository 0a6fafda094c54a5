"""Demo data: one approved source of each kind with a published API key, and a few cars with
multi-year histories (one with a rolled-back odometer, one with a salvage title).

Everything goes in through the sources' own services, exactly as real submissions would, and
every event has an `external_id`, so loading twice adds nothing. The demo keys are published
here, so they are `is_demo` keys, refused whenever DEBUG is off.
"""

import hashlib
from dataclasses import dataclass
from typing import Any

from carhistory_verifier import entry as entry_format
from carhistory_verifier import note
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from carhistory.demo.logins import DemoLogin, install_demo_logins
from carhistory.sources.models import (
    Organisation,
    OrganisationKind,
    OrganisationStatus,
    SigningKey,
    Submission,
)
from carhistory.sources.services import (
    Outcome,
    install_demo_api_key,
    register_signing_key,
    set_source_status,
    submission_statement,
    submit_event,
)
from carhistory.vin import expected_check_digit
from ledger.selectors import vins_with_entries
from ledger.services import integrate_pending


def _vin(first_eight: str, year: str, plant: str, serial: str) -> str:
    """A VIN whose ISO 3779 check digit (position 9) is right."""
    body = f"{first_eight}0{year}{plant}{serial}"
    return body[:8] + expected_check_digit(body) + body[9:]


LAVIDA = _vin("LSVAU218", "K", "2", "183294")  # SAIC Volkswagen Lavida, 2019
SAGITAR = _vin("LFV2A21K", "J", "3", "041877")  # FAW-Volkswagen Sagitar, 2018
FOCUS = _vin("LVSHFFAL", "H", "5", "226410")  # Changan Ford Focus, 2017
CAMRY = _vin("LVGBE40K", "L", "G", "065521")  # GAC Toyota Camry, 2020
F150 = _vin("1FTEW1EP", "M", "F", "A17393")  # Ford F-150 built in the USA, 2021

DEMO_VINS: list[tuple[str, str]] = [
    (LAVIDA, _("2019 Volkswagen Lavida: regular dealer servicing, an open recall")),
    (SAGITAR, _("2018 Volkswagen Sagitar: odometer rolled back before a sale")),
    (FOCUS, _("2017 Ford Focus: severe accident, total loss, salvage title")),
    (CAMRY, _("2020 Toyota Camry: taxi, recall remedied, two owners")),
    (F150, _("2021 Ford F-150: North American import")),
]


@dataclass(frozen=True)
class DemoSource:
    slug: str
    name: str
    name_zh_hans: str
    kind: str
    region: str
    api_key: str


DEMO_SOURCES = [
    DemoSource(
        "sh-anting-vw-4s",
        "Shanghai Anting Volkswagen 4S (demo)",
        "【演示】上海安亭大众4S店",
        OrganisationKind.DEALER_4S,
        "Shanghai",
        "demo-dealer-4s.local-trials-only",
    ),
    DemoSource(
        "bj-chaoyang-auto-repair",
        "Beijing Chaoyang Auto Repair (demo)",
        "【演示】北京朝阳汽车维修厂",
        OrganisationKind.REPAIR_SHOP,
        "Beijing",
        "demo-repair-shop.local-trials-only",
    ),
    DemoSource(
        "donghai-insurance",
        "Donghai Property Insurance (demo)",
        "【演示】东海财产保险",
        OrganisationKind.INSURER,
        "Shanghai",
        "demo-insurer.local-trials-only",
    ),
    DemoSource(
        "sh-vehicle-registry",
        "Shanghai Vehicle Registration Office (demo)",
        "【演示】上海市机动车登记所",
        OrganisationKind.REGISTRY,
        "Shanghai",
        "demo-registry.local-trials-only",
    ),
    DemoSource(
        "sh-minhang-inspection",
        "Minhang Motor Vehicle Inspection Station (demo)",
        "【演示】闵行机动车检测站",
        OrganisationKind.INSPECTION_STATION,
        "Shanghai",
        "demo-inspection-station.local-trials-only",
    ),
    DemoSource(
        "anting-motor-works",
        "Anting Motor Works (demo OEM)",
        "【演示】安亭汽车制造厂",
        OrganisationKind.OEM,
        "Shanghai",
        "demo-oem.local-trials-only",
    ),
]
# The dealer signs its own events; its key is derived from a published phrase, so it is a
# demo key and nothing more.
SIGNING_SOURCE = "sh-anting-vw-4s"
_SIGNING_SEED = hashlib.sha256(b"carhistory demo signing key: sh-anting-vw-4s").digest()

DEALER, REPAIR, INSURER, REGISTRY, INSPECTION, OEM = (source.slug for source in DEMO_SOURCES)


def _histories() -> list[tuple[str, str, dict[str, Any]]]:
    """(source slug, vin, submission) in the order things happened."""

    def event(event_type: str, vin: str, day: str, km: int | None = None, **facts):
        payload: dict[str, Any] = {"type": event_type, "vin": vin, "occurred_at": day}
        if km is not None:
            payload["odometer_km"] = km
        payload["facts"] = facts
        return payload

    return [
        # 2017 Ford Focus: crashed, written off, branded salvage, then sold on anyway.
        (
            REGISTRY,
            FOCUS,
            event(
                "registration",
                FOCUS,
                "2017-06-12",
                event="first_registration",
                region="Shanghai",
                use="private",
            ),
        ),
        (REPAIR, FOCUS, event("service", FOCUS, "2018-06-20", 14820, items=["oil", "oil filter"])),
        (INSPECTION, FOCUS, event("inspection", FOCUS, "2019-06-03", 31240, result="pass")),
        (
            INSURER,
            FOCUS,
            event(
                "accident",
                FOCUS,
                "2020-11-08",
                severity="severe",
                airbags_deployed=True,
                damage_areas=["front", "left side"],
            ),
        ),
        (
            INSURER,
            FOCUS,
            event("insurance_claim", FOCUS, "2020-11-09", claim_kind="collision", total_loss=True),
        ),
        (INSURER, FOCUS, event("title_brand", FOCUS, "2020-12-15", brand="salvage")),
        (
            REPAIR,
            FOCUS,
            event(
                "repair",
                FOCUS,
                "2021-03-02",
                46100,
                parts=["front subframe", "airbags", "bonnet"],
                area="front",
            ),
        ),
        (
            REGISTRY,
            FOCUS,
            event(
                "registration",
                FOCUS,
                "2021-04-19",
                event="ownership_transfer",
                region="Jiangsu",
                use="private",
            ),
        ),
        # 2018 Sagitar: serviced every year, then the odometer is wound back before a sale.
        (
            OEM,
            SAGITAR,
            event(
                "manufacture",
                SAGITAR,
                "2018-02-26",
                plant="Changchun",
                built_on="2018-02-26",
                model="Sagitar 1.4T",
                model_year=2018,
            ),
        ),
        (
            REGISTRY,
            SAGITAR,
            event(
                "registration",
                SAGITAR,
                "2018-04-02",
                event="first_registration",
                region="Shanghai",
                use="private",
            ),
        ),
        (
            DEALER,
            SAGITAR,
            event(
                "service", SAGITAR, "2019-03-28", 15230, items=["oil", "oil filter", "cabin filter"]
            ),
        ),
        (
            DEALER,
            SAGITAR,
            event(
                "service", SAGITAR, "2020-04-07", 38410, items=["oil", "oil filter", "brake fluid"]
            ),
        ),
        (
            DEALER,
            SAGITAR,
            event(
                "service", SAGITAR, "2021-04-15", 61180, items=["oil", "oil filter", "spark plugs"]
            ),
        ),
        (REPAIR, SAGITAR, event("odometer", SAGITAR, "2022-05-09", 29450)),
        (
            REGISTRY,
            SAGITAR,
            event(
                "registration",
                SAGITAR,
                "2022-05-20",
                event="ownership_transfer",
                region="Zhejiang",
                use="private",
            ),
        ),
        (INSPECTION, SAGITAR, event("inspection", SAGITAR, "2022-06-14", 30120, result="pass")),
        # 2019 Lavida: a model history, except for a recall nobody has fixed.
        (
            OEM,
            LAVIDA,
            event(
                "manufacture",
                LAVIDA,
                "2019-03-11",
                plant="Anting",
                built_on="2019-03-11",
                model="Lavida 1.5L",
                model_year=2019,
            ),
        ),
        (
            REGISTRY,
            LAVIDA,
            event(
                "registration",
                LAVIDA,
                "2019-05-06",
                event="first_registration",
                region="Shanghai",
                use="private",
            ),
        ),
        (
            DEALER,
            LAVIDA,
            event("service", LAVIDA, "2020-05-12", 11250, items=["oil", "oil filter"]),
        ),
        (
            DEALER,
            LAVIDA,
            event(
                "service", LAVIDA, "2021-05-18", 23980, items=["oil", "oil filter", "air filter"]
            ),
        ),
        (INSPECTION, LAVIDA, event("inspection", LAVIDA, "2021-06-01", 24410, result="pass")),
        (
            OEM,
            LAVIDA,
            event(
                "recall",
                LAVIDA,
                "2022-01-20",
                campaign="SAMR-2022-017",
                status="open",
                component="fuel pump",
            ),
        ),
        (
            DEALER,
            LAVIDA,
            event(
                "service", LAVIDA, "2022-05-23", 36720, items=["oil", "oil filter", "brake pads"]
            ),
        ),
        (
            DEALER,
            LAVIDA,
            event("repair", LAVIDA, "2023-02-14", 44090, parts=["rear bumper cover"], area="rear"),
        ),
        (
            DEALER,
            LAVIDA,
            event("service", LAVIDA, "2024-05-30", 58310, items=["oil", "oil filter", "coolant"]),
        ),
        # 2020 Camry: a taxi, so high mileage; its recall was remedied at the dealer.
        (
            REGISTRY,
            CAMRY,
            event(
                "registration",
                CAMRY,
                "2020-08-03",
                event="first_registration",
                region="Guangzhou",
                use="taxi",
            ),
        ),
        (INSPECTION, CAMRY, event("inspection", CAMRY, "2021-08-10", 98400, result="pass")),
        (
            OEM,
            CAMRY,
            event(
                "recall",
                CAMRY,
                "2021-10-05",
                campaign="SAMR-2021-088",
                status="open",
                component="airbag inflator",
            ),
        ),
        (
            DEALER,
            CAMRY,
            event(
                "recall",
                CAMRY,
                "2021-11-22",
                campaign="SAMR-2021-088",
                status="remedied",
                component="airbag inflator",
            ),
        ),
        (INSPECTION, CAMRY, event("inspection", CAMRY, "2022-08-16", 201350, result="fail")),
        (
            REPAIR,
            CAMRY,
            event(
                "repair",
                CAMRY,
                "2022-08-18",
                201390,
                parts=["brake discs", "brake pads"],
                area="brakes",
            ),
        ),
        (INSPECTION, CAMRY, event("inspection", CAMRY, "2022-08-19", 201420, result="pass")),
        (
            REGISTRY,
            CAMRY,
            event(
                "registration",
                CAMRY,
                "2023-09-01",
                event="ownership_transfer",
                region="Guangzhou",
                use="private",
            ),
        ),
        # 2021 F-150: imported from North America.
        (
            REGISTRY,
            F150,
            event(
                "registration",
                F150,
                "2021-09-14",
                event="first_registration",
                region="Tianjin",
                use="commercial",
            ),
        ),
        (REPAIR, F150, event("service", F150, "2022-09-20", 18700, items=["oil", "oil filter"])),
        (
            REPAIR,
            F150,
            event(
                "service", F150, "2023-09-25", 37420, items=["oil", "oil filter", "tyres rotated"]
            ),
        ),
        (INSPECTION, F150, event("inspection", F150, "2023-10-09", 37800, result="pass")),
    ]


@dataclass(frozen=True)
class DemoSummary:
    sources: list[DemoSource]
    accepted: int
    already_there: int
    logins: list[DemoLogin]


def load_demo() -> DemoSummary:
    """Create the demo sources, keys and histories; running it again adds nothing."""
    organisations = {source.slug: _demo_source(source) for source in DEMO_SOURCES}
    signer = note.Signer(SIGNING_SOURCE, _SIGNING_SEED)
    _demo_signing_key(organisations[SIGNING_SOURCE], signer)

    accepted = already_there = 0
    restored = _restored_demo_vins()
    for position, (slug, vin, payload) in enumerate(_histories()):
        if vin in restored:
            already_there += 1
            continue
        organisation = organisations[slug]
        payload = {**payload, "external_id": f"demo-{vin}-{position}"}
        if slug == SIGNING_SOURCE:
            payload = _signed(organisation, signer, payload)
        result = submit_event(organisation=organisation, payload=payload, channel="api")
        if result.outcome == Outcome.ACCEPTED:
            accepted += 1
        elif result.outcome in (Outcome.DUPLICATE, Outcome.CONFLICT):
            # Dates are relative to today: a later run's body differs from the logged one.
            already_there += 1
        else:
            raise ValueError(f"demo event {position} was refused: {result.errors}")
    integrate_pending(wait=True)
    logins = install_demo_logins(organisations.values())
    return DemoSummary(DEMO_SOURCES, accepted, already_there, logins)


def _restored_demo_vins() -> set[str]:
    """Demo VINs the log holds entries for although no demo submission of them is recorded:
    the log was rebuilt from a mirror (`restore_from_mirror`), which holds entries but not
    submissions. Their histories are in the log already; submitting them again would log
    every event twice."""
    demo_vins = {vin for vin, _description in DEMO_VINS}
    submitted = set(
        Submission.objects.filter(vin__in=demo_vins, external_id__startswith="demo-")
        .values_list("vin", flat=True)
        .distinct()
    )
    return vins_with_entries(demo_vins - submitted)


def _demo_source(source: DemoSource) -> Organisation:
    with transaction.atomic():
        organisation, _created = Organisation.objects.get_or_create(
            slug=source.slug,
            defaults={
                "name": source.name,
                "name_zh_hans": source.name_zh_hans,
                "kind": source.kind,
                "region": source.region,
                "licence_number": f"DEMO-{source.slug.upper()}",
                "contact_name": "Demo Contact",
                "contact_email": f"demo@{source.slug}.example.cn",
            },
        )
    if organisation.status == OrganisationStatus.APPLIED:
        set_source_status(organisation=organisation, status="approved", reason="demo source")
        organisation.refresh_from_db()
    install_demo_api_key(organisation=organisation, raw_key=source.api_key, label="demo key")
    return organisation


def _demo_signing_key(organisation: Organisation, signer: note.Signer) -> None:
    verifier_key = signer.verifier().key_string()
    if not SigningKey.objects.filter(verifier_key=verifier_key).exists():
        register_signing_key(organisation=organisation, verifier_key=verifier_key)


def _signed(organisation: Organisation, signer: note.Signer, payload: dict) -> dict:
    statement = submission_statement(
        organisation=organisation, payload=payload, source_key=signer.verifier().key_string()
    )
    return {**payload, "source_sig": entry_format.b64encode(signer.sign(statement))}
