"""Who may submit what (SPEC §5): the role matrix, in one place.

The API, the web form and the CSV importer ask `refusal_reason` before accepting an event; the
form offers only `event_types_for(kind)`. Platform-only types (source_key, source_status,
correction) appear in no row, so no source may ever submit them.
"""

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _

from carhistory.sources.models import OrganisationKind as Kind
from carhistory.sources.schemas import EventType

ROLE_MATRIX: dict[str, frozenset[str]] = {
    EventType.ODOMETER: frozenset(
        {Kind.DEALER_4S, Kind.REPAIR_SHOP, Kind.REGISTRY, Kind.INSPECTION_STATION}
    ),
    EventType.SERVICE: frozenset({Kind.DEALER_4S, Kind.REPAIR_SHOP}),
    EventType.REPAIR: frozenset({Kind.DEALER_4S, Kind.REPAIR_SHOP}),
    EventType.ACCIDENT: frozenset({Kind.INSURER, Kind.REGISTRY}),
    EventType.INSURANCE_CLAIM: frozenset({Kind.INSURER}),
    EventType.REGISTRATION: frozenset({Kind.REGISTRY}),
    EventType.TITLE_BRAND: frozenset({Kind.REGISTRY, Kind.INSURER}),
    EventType.INSPECTION: frozenset({Kind.REGISTRY, Kind.INSPECTION_STATION}),
    EventType.RECALL: frozenset({Kind.OEM, Kind.DEALER_4S}),
    EventType.MANUFACTURE: frozenset({Kind.OEM}),
}

# Narrower rules for one kind and type: the facts the kind may state. A dealer fixes recalls
# but only the maker may open one.
FACT_LIMITS: dict[tuple[str, str], dict[str, frozenset[str]]] = {
    (Kind.DEALER_4S, EventType.RECALL): {"status": frozenset({"remedied"})},
}


def may_submit_type(*, kind: str, event_type: str) -> bool:
    return kind in ROLE_MATRIX.get(event_type, frozenset())


def event_types_for(kind: str) -> list[str]:
    """The event types an organisation of `kind` may submit, in SPEC order."""
    return [event_type for event_type, kinds in ROLE_MATRIX.items() if kind in kinds]


def refusal_reason(*, kind: str, event_type: Any, facts: Mapping[str, Any] | None) -> str | None:
    """Why an organisation of `kind` may not submit this event, or None if it may.

    An unknown type is not refused here: the schema reports it as bad input.
    """
    if not isinstance(event_type, str):
        return None
    if event_type in ROLE_MATRIX and not may_submit_type(kind=kind, event_type=event_type):
        return _("A %(kind)s may not submit %(type)s events.") % {
            "kind": Kind(kind).label,
            "type": EventType(event_type).label,
        }
    if event_type in (EventType.SOURCE_KEY, EventType.SOURCE_STATUS, EventType.CORRECTION):
        return _("Only the platform writes %(type)s entries.") % {
            "type": EventType(event_type).label
        }
    limits = FACT_LIMITS.get((kind, event_type), {})
    for name, allowed in limits.items():
        value = (facts or {}).get(name) if isinstance(facts, Mapping) else None
        if value is not None and value not in allowed:
            return _("A %(kind)s may submit %(type)s events only with %(name)s %(allowed)s.") % {
                "kind": Kind(kind).label,
                "type": EventType(event_type).label,
                "name": name,
                "allowed": ", ".join(sorted(allowed)),
            }
    return None
