"""One plain-language line for each logged event, as a buyer reads it in the report.

Values the sources send from closed sets (severity, registration event, use, brand, ...) are
shown with translated labels; anything else (part names, campaign codes) is shown as sent.
"""

from collections.abc import Callable

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from carhistory.service_items import item_code, item_label
from carhistory.vehicles import formats, names

VALUE_LABELS = {
    "minor": gettext_lazy("minor"),
    "moderate": gettext_lazy("moderate"),
    "severe": gettext_lazy("severe"),
    "first_registration": gettext_lazy("First registration"),
    "ownership_transfer": gettext_lazy("Change of owner"),
    "deregistration": gettext_lazy("Deregistered"),
    "private": gettext_lazy("private"),
    "commercial": gettext_lazy("commercial"),
    "rental": gettext_lazy("rental"),
    "taxi": gettext_lazy("taxi"),
    "salvage": gettext_lazy("salvage"),
    "flood": gettext_lazy("flood"),
    "fire": gettext_lazy("fire"),
    "rebuilt": gettext_lazy("rebuilt"),
    "lemon": gettext_lazy("lemon"),
    "scrapped": gettext_lazy("scrapped"),
    "stolen": gettext_lazy("stolen"),
    "recovered": gettext_lazy("recovered"),
    "pass": gettext_lazy("passed"),
    "fail": gettext_lazy("failed"),
    "open": gettext_lazy("open"),
    "remedied": gettext_lazy("remedied"),
}


def label(value: object) -> str:
    """The translated label of a closed-set value, a known name (place, plant, model) in the
    reader's language, or the value as sent."""
    if isinstance(value, str) and value in VALUE_LABELS:
        return str(VALUE_LABELS[value])
    return names.localised(value)


def describe_event(entry: dict) -> str:
    """One line saying what the entry records, in the reader's language."""
    facts = entry.get("facts") if isinstance(entry.get("facts"), dict) else {}
    describe = _DESCRIPTIONS.get(entry.get("type"), _describe_other)
    return describe(entry, facts)


def _km(entry: dict) -> str:
    km = entry.get("odometer_km")
    return formats.number(km) if isinstance(km, int) else "?"


def listed(value: object) -> str:
    """A list of items or parts as one phrase in the reader's language."""
    if isinstance(value, list):
        return formats.joined(_item(item) for item in value)
    return _item(value)


def _item(value: object) -> str:
    return label(value) if item_code(value) is None else item_label(value)


def _odometer(entry: dict, facts: dict) -> str:
    return _("Odometer reading: %(km)s km.") % {"km": _km(entry)}


def _service(entry: dict, facts: dict) -> str:
    if facts.get("items"):
        return _("Service at %(km)s km: %(items)s.") % {
            "km": _km(entry),
            "items": listed(facts["items"]),
        }
    return _("Service at %(km)s km.") % {"km": _km(entry)}


def _repair(entry: dict, facts: dict) -> str:
    return _("Repair (%(area)s): %(parts)s.") % {
        "area": label(facts.get("area")) or _("area not given"),
        "parts": listed(facts.get("parts")) or _("parts not given"),
    }


def _accident(entry: dict, facts: dict) -> str:
    severity = label(facts.get("severity"))
    if facts.get("damage_areas"):
        line = _("Accident, %(severity)s damage to %(areas)s.") % {
            "severity": severity,
            "areas": listed(facts["damage_areas"]),
        }
    else:
        line = _("Accident, %(severity)s damage.") % {"severity": severity}
    if facts.get("airbags_deployed"):
        line += " " + _("Airbags deployed.")
    return line


def _insurance_claim(entry: dict, facts: dict) -> str:
    if facts.get("total_loss"):
        return _("Insurance claim (%(kind)s): declared a total loss.") % {
            "kind": label(facts.get("claim_kind"))
        }
    return _("Insurance claim (%(kind)s).") % {"kind": label(facts.get("claim_kind"))}


def _registration(entry: dict, facts: dict) -> str:
    return _("%(event)s in %(region)s, %(use)s use.") % {
        "event": label(facts.get("event")),
        "region": label(facts.get("region")) or _("region not given"),
        "use": label(facts.get("use")),
    }


def _title_brand(entry: dict, facts: dict) -> str:
    return _("Title branded: %(brand)s.") % {"brand": label(facts.get("brand"))}


def _inspection(entry: dict, facts: dict) -> str:
    return _("Inspection %(result)s at %(km)s km.") % {
        "result": label(facts.get("result")),
        "km": _km(entry),
    }


def _recall(entry: dict, facts: dict) -> str:
    return _("Recall %(campaign)s (%(component)s): %(status)s.") % {
        "campaign": label(facts.get("campaign")),
        "component": label(facts.get("component")),
        "status": label(facts.get("status")),
    }


def _manufacture(entry: dict, facts: dict) -> str:
    return _("Built on %(date)s at %(plant)s: %(model)s, model year %(year)s.") % {
        "date": label(facts.get("built_on")),
        "plant": label(facts.get("plant")),
        "model": label(facts.get("model")),
        "year": label(facts.get("model_year")),
    }


def _correction(entry: dict, facts: dict) -> str:
    return _("Correction of record #%(index)s by the platform: %(reason)s") % {
        "index": label(facts.get("corrects")),
        "reason": label(facts.get("reason")),
    }


def _describe_other(entry: dict, facts: dict) -> str:
    return _("Record of type %(type)s.") % {"type": label(entry.get("type"))}


_DESCRIPTIONS: dict[str, Callable[[dict, dict], str]] = {
    "odometer": _odometer,
    "service": _service,
    "repair": _repair,
    "accident": _accident,
    "insurance_claim": _insurance_claim,
    "registration": _registration,
    "title_brand": _title_brand,
    "inspection": _inspection,
    "recall": _recall,
    "manufacture": _manufacture,
    "correction": _correction,
}
