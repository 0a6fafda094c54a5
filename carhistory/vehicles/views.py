"""The buyer's pages: the search page, the HTML report, its printable form, QR code and evidence.

Each view checks the VIN with `carhistory.vin.check_vin`, takes the report or evidence bundle from
`cache` (the same JSON the API serves, built once per log size), and renders it. The proofs on
the report page are checked in the buyer's browser by static/js/verify.js, never taken from the
server's word.
"""

import datetime
import functools
import json
import shlex
from collections.abc import Callable
from itertools import groupby

from carhistory_verifier import note, protocol
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_safe

from carhistory.sources.credit import note_report_shown
from carhistory.sources.models import OrganisationKind
from carhistory.sources.schemas import EventType
from carhistory.vehicles import formats, names, verdict
from carhistory.vehicles.cache import evidence_json, report_json
from carhistory.vehicles.compression import compressed_public_response
from carhistory.vehicles.describe import VALUE_LABELS, label
from carhistory.vehicles.qr import qr_svg, qr_svg_inline
from carhistory.vehicles.showcase import offered_examples
from carhistory.vehicles.throttling import VinLookupThrottle, page_token
from carhistory.vin import VinCheck, check_vin
from ledger.selectors import log_verifier_key, trusted_cosigners, vins_with_entries, witnesses_of

# The invalid-VIN page shows input this long character by character; longer input is no
# mistyped VIN, and its length error says enough.
MAX_CHARACTERS_SHOWN = 24
# Report flag severities mapped onto the site's badge colours.
SEVERITY_CLASSES = {"danger": "bad", "warning": "warn", "info": "info"}


def throttled_lookup(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Count a page that reads a history against the same `vin_lookup` limit as the API, so
    harvesting through the HTML pages is no easier than through the JSON."""

    @functools.wraps(view)
    def counted(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        throttle = VinLookupThrottle()
        if throttle.allow_request(request, None):
            return view(request, *args, **kwargs)
        retry_after = throttle.wait()
        response = render(
            request, "vehicles/throttled.html", {"retry_after": retry_after}, status=429
        )
        response["Retry-After"] = str(retry_after)
        return response

    return counted


@require_safe
def search(request: HttpRequest) -> HttpResponse:
    """`GET /`: the VIN field; `GET /?vin=...` goes to that VIN's report or says what is wrong."""
    raw = request.GET.get("vin")
    check = None
    if raw is not None:
        check = check_vin(raw)
        if check.is_valid:
            return redirect("vehicles:report", vin=check.vin)
    context = {"check": check, "demo_vehicles": _demo_vehicles_present()}
    return render(request, "vehicles/search.html", context, status=400 if check else 200)


@require_safe
@compressed_public_response
@throttled_lookup
def report(request: HttpRequest, vin: str) -> HttpResponse:
    """`GET /vehicles/<VIN>/`: the history report; every line is verified by verify.js."""
    check = check_vin(vin)
    if not check.is_valid:
        return _invalid_vin(request, check)
    if check.vin != vin:
        return redirect("vehicles:report", vin=check.vin, permanent=True)
    data = json.loads(report_json(vin=check.vin))
    evidence_url = reverse("vehicles:api-evidence", kwargs={"vin": check.vin})
    token = page_token(request=request, vin=check.vin)
    cosigners = trusted_cosigners(language=translation.get_language())
    verifying = {
        "evidence_api_url": f"{evidence_url}?{urlencode({'page': token})}",
        "verify_messages": _verify_messages(),
        "verify_config": {
            "log_key": log_verifier_key(),
            "words_url": reverse("vehicles:verify-words"),
            # The cosignatures the page checks, and how old the newest may be (SPEC §8).
            "cosigners": cosigners,
            "witness_freshness_seconds": settings.WITNESS_FRESHNESS_SECONDS,
        },
        "offline_witnesses": _offline_witnesses(cosigners),
    }
    if data["empty"]:
        # The page still checks the evidence: its VIN index proof shows the absence is real.
        context = (
            {
                "report": data,
                "check": check,
                "vin": check.vin,
                "vehicle": _presentable_vehicle(data["vehicle"]),
            }
            | _share(request, data)
            | verifying
        )
        return render(request, "vehicles/no_records.html", context)
    # Credit for the sources (their dashboard): which sources were shown, never which VIN.
    note_report_shown(
        source_slugs=[
            event["source"]["slug"]
            for event in data["events"]
            if event["source"]["slug"] != protocol.PLATFORM_SOURCE
        ]
    )
    context = _report_context(data) | _share(request, data) | verifying
    return render(request, "vehicles/report.html", context)


@require_safe
@throttled_lookup
def print_report(request: HttpRequest, vin: str) -> HttpResponse:
    """`GET /vehicles/<VIN>/print`: the report on paper, with its checkpoint and a QR code."""
    check = check_vin(vin)
    if not check.is_valid:
        return _invalid_vin(request, check)
    if check.vin != vin:
        return redirect("vehicles:print", vin=check.vin, permanent=True)
    data = json.loads(report_json(vin=check.vin))
    context = _report_context(data) | {
        "report_url": _report_url(request, check.vin),
        "qr_svg": qr_svg_inline(url=_report_url(request, check.vin)),
        "printed_at": timezone.now(),
    }
    return render(request, "vehicles/print.html", context)


@require_safe
def report_qr(request: HttpRequest, vin: str) -> HttpResponse:
    """`GET /vehicles/<VIN>/qr.svg`: a QR code leading to the live report."""
    check = check_vin(vin)
    if not check.is_valid:
        return _invalid_vin(request, check)
    svg = qr_svg(url=_report_url(request, check.vin))
    return HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")


@require_safe
@throttled_lookup
def evidence_download(request: HttpRequest, vin: str) -> HttpResponse:
    """`GET /vehicles/<VIN>/evidence.json`: the bundle as a file, for `carhistory-verify`."""
    check = check_vin(vin)
    if not check.is_valid:
        return _invalid_vin(request, check)
    response = HttpResponse(
        evidence_json(vin=check.vin), content_type="application/json; charset=utf-8"
    )
    # The VIN is 17 characters of [0-9A-Z], so it is safe inside the quoted filename.
    filename = f"carhistory-evidence-{check.vin}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _invalid_vin(request: HttpRequest, check: VinCheck) -> HttpResponse:
    positions = {problem.position for problem in check.errors if problem.position}
    characters = [
        {"position": position, "char": char, "bad": position in positions}
        for position, char in enumerate(check.vin, start=1)
        if len(check.vin) <= MAX_CHARACTERS_SHOWN
    ]
    context = {"check": check, "characters": characters}
    return render(request, "vehicles/invalid_vin.html", context, status=400)


def _report_url(request: HttpRequest, vin: str) -> str:
    return request.build_absolute_uri(reverse("vehicles:report", kwargs={"vin": vin}))


def _demo_vehicles_present() -> list[dict]:
    """The offered example VINs that have entries in this log (none on a fresh install)."""
    examples = offered_examples()
    present = vins_with_entries(vin for vin, _description in examples)
    return [
        {"vin": vin, "description": description} for vin, description in examples if vin in present
    ]


def _report_context(data: dict) -> dict:
    events = [presentable_event(event) for event in data["events"]]
    summary = data["summary"]
    flags = [
        flag | {"css_class": SEVERITY_CLASSES.get(flag["severity"], "info")}
        for flag in data["flags"]
    ]
    return {
        "report": data,
        "vin": data["vin"],
        "vehicle": _presentable_vehicle(data["vehicle"]),
        "summary": summary,
        "title_brands": formats.joined(label(brand) for brand in summary["title_brands"]),
        "uses": formats.joined(label(use) for use in summary["uses"]),
        "flags": flags,
        "risks": [flag for flag in flags if flag["severity"] != "info"],
        "notes": [flag for flag in flags if flag["severity"] == "info"],
        "risk_level": data.get("risk_level"),
        "cards": verdict.card_states(data["flags"]),
        "years": _group_by_year(events),
        "checkpoint": data["checkpoint"],
        "odometer": data["odometer"],
        "odometer_readings": _presentable_readings(data["odometer"]["readings"]),
        "chart_messages": _chart_messages(),
        "checked": verdict.what_was_checked(data),
        # The key this site signs with, from its settings: the browser verifies against it (not
        # against the key a bundle carries), and the fingerprint lets a buyer compare it with
        # the printed report or a witness's list.
        "log_key_fingerprint": note.Verifier.from_key_string(log_verifier_key()).fingerprint(),
    }


def _offline_witnesses(cosigners: list[dict[str, str]]) -> dict[str, str] | None:
    """The offline step that requires the site's witnesses too (SPEC §8): what to add to
    `carhistory-verify`, quoted for a shell, and who they are; None when there are none."""
    witnesses = witnesses_of(cosigners)
    if not witnesses:
        return None
    arguments = [part for witness in witnesses for part in ("--witness", witness["key"])]
    return {
        "arguments": shlex.join([*arguments, "--quorum", str(len(witnesses))]),
        "names": _("Witnesses: %(names)s")
        % {"names": formats.joined(witness["title"] for witness in witnesses)},
    }


def _presentable_vehicle(vehicle: dict) -> dict:
    manufacture = vehicle.get("manufacture") or None
    return vehicle | {
        "manufacturer_name": names.localised(vehicle.get("manufacturer")),
        "country_name": names.localised(vehicle.get("country")),
        "region_name": names.localised(vehicle.get("region")),
        "model_name": names.model_name(manufacture["model"])
        if manufacture and isinstance(manufacture.get("model"), str) and formats.is_chinese()
        else (manufacture or {}).get("model"),
        "plant_name": names.localised((manufacture or {}).get("plant")),
    }


def _share(request: HttpRequest, data: dict) -> dict:
    """Preview tags for links shared in chat apps: the car, never who owned it or where."""
    vehicle = _presentable_vehicle(data["vehicle"])
    year = (data["vehicle"].get("model_year") or {}).get("year")
    car = " ".join(
        str(part) for part in (year, vehicle["manufacturer_name"], vehicle["model_name"]) if part
    )
    records = data["summary"]["records"] if not data["empty"] else 0
    return {
        "share": {
            "title": _("%(car)s · VIN %(vin)s") % {"car": car or _("Vehicle"), "vin": data["vin"]},
            "description": ngettext(
                "%(count)d record in the carhistory log, each with its own proof.",
                "%(count)d records in the carhistory log, each with its own proof.",
                records,
            )
            % {"count": records},
            "url": _report_url(request, data["vin"]),
        }
    }


def presentable_event(event: dict) -> dict:
    """A report event (`report.build_report`) with what the page shows of it: its date, the
    type's label and its facts as text. The timeline and the dispute page show lines so."""
    return event | {
        "date": _parse_date(event.get("occurred_at")),
        "type_label": _event_type_label(event["type"]),
        "is_platform_source": event["source"]["slug"] == "platform",
        "fact_items": [(name, _fact_text(value)) for name, value in event["facts"].items()],
        "change_items": [
            change
            | {
                "old": "" if change["old"] is None else _fact_text(change["old"]),
                "new": _fact_text(change["new"]),
            }
            for change in event.get("changes", [])
        ],
    }


def _event_type_label(event_type: str) -> str:
    if event_type in EventType.values:
        return EventType(event_type).label
    return event_type


def _fact_text(value: object) -> str:
    if isinstance(value, list):
        return formats.joined(_fact_text(item) for item in value)
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _parse_date(value: str | None) -> datetime.date | None:
    """`occurred_at` is a date or an RFC 3339 UTC time (SPEC §2); the page shows the day."""
    if not value:
        return None
    try:
        return datetime.date.fromisoformat(value[:10])
    except ValueError:
        return None


def _group_by_year(events: list[dict]) -> list[dict]:
    """Oldest year first, as the story and the odometer chart run; ties in log order."""
    dated = sorted(
        (event for event in events if event["date"]),
        key=lambda event: (event["date"], event["index"]),
    )
    undated = [event for event in events if not event["date"]]
    years = [
        {"year": year, "events": list(group)}
        for year, group in groupby(dated, key=lambda event: event["date"].year)
    ]
    if undated:
        years.append({"year": None, "events": undated})
    return years


@require_safe
@compressed_public_response
def verify_words(request: HttpRequest) -> JsonResponse:
    """`GET /verify/words.json`: the words a report uses for logged values, in the reader's
    language, so verify.js can hold each line's labels and summary to its verified entry.

    Served apart from the page: text altered in a report's HTML cannot alter these too.
    """
    return JsonResponse(_verify_words())


def _verify_words() -> dict:
    return {
        "type_labels": {str(value): str(name) for value, name in EventType.choices},
        "kind_labels": {str(value): str(name) for value, name in OrganisationKind.choices},
        "value_labels": {value: label(value) for value in VALUE_LABELS},
        # The words a summary uses for a true yes/no fact (describe.py's sentences); the total
        # loss is the part of its sentence after the claim kind.
        "true_phrases": {
            "airbags_deployed": _("Airbags deployed."),
            "total_loss": _("Insurance claim (%(kind)s): declared a total loss.").split("%(kind)s")[
                -1
            ],
        },
    }


def _verify_messages() -> dict[str, str]:
    """What verify.js says, translated here so one catalogue holds every string of the page."""
    # The summary claims authenticity only: that no record was left out is the completeness
    # line's to say, once the browser has checked the VIN index proof (a bundle whose proof
    # fails must not read "none left out" anywhere on the page). Shown only when every line
    # verified, so a translation may say "all" (the Chinese one does).
    summary_ok = _(
        "%(verified)s of %(total)s records are authentic and signed by their sources "
        "(checkpoint of size %(size)s). Authentic means the records are genuine, not that "
        "the car is sound: read the risks above."
    )
    return {
        "checking": _("checking…"),
        "retrying": _("The evidence could not be loaded yet (%(status)s); trying again…"),
        "verified": _("verified"),
        "platform_signed": _("verified · signed by the platform on the source's behalf"),
        "platform_entry": _("verified · written and signed by the platform"),
        "failed": _("failed"),
        "not_checked": _("not checked"),
        "summary_ok": summary_ok,
        "summary_failed": _(
            "%(verified)s of %(total)s lines verified against checkpoint of size %(size)s; "
            "%(failed)s failed. Do not rely on the lines marked failed."
        ),
        "bundle_failed": _("The evidence could not be verified: %(reason)s"),
        "unsupported": _(
            "This browser cannot check Ed25519 signatures, so the lines were not verified here. "
            "Download the evidence bundle and check it with carhistory-verify."
        ),
        "fetch_failed": _("The evidence bundle could not be loaded (%(status)s)."),
        # SPEC §7, shown only once the browser has checked the VIN index proof itself.
        "complete": _(
            "All %(records)s records logged for this car are shown; none can have been left out "
            "(as of log size %(size)s)."
        ),
        "complete_none": _(
            "No records are logged for this car, and the log proves it: none can have been left "
            "out (as of log size %(size)s)."
        ),
        "incomplete": _(
            "The log's index does not confirm that these are all the records for this car: "
            "some may have been left out."
        ),
        "risks_added": _(
            "Your browser found %(count)s risk(s) in the verified log that this page did not "
            "list; they are added below."
        ),
        "risks": {
            "title_brand": _("Title brand in the verified log:"),
            "accident": _("Accident in the verified log:"),
            "total_loss": _("Total loss in the verified log:"),
            "odometer_decrease": _("Odometer reading lower than an earlier one:"),
            "commercial_use": _("Commercial, rental or taxi use in the verified log:"),
            "open_recall": _("Open recall in the verified log:"),
        },
        "witnesses_cosigned": _("Cosigned by %(names)s, %(age)s."),
        "witnesses_none": _(
            "No independent witness has cosigned this checkpoint: only the log vouches for it."
        ),
        "witnesses_stale": _(
            "The newest witness cosignature was made %(age)s, but witnesses should cosign at "
            "least every %(minutes)s minutes. This may be a view of the log others do not see."
        ),
        "reasons": {
            "bundle_malformed": _("the evidence bundle is not in the expected format"),
            "log_key_malformed": _("the log key is not a valid Ed25519 verifier key"),
            "checkpoint_malformed": _("the checkpoint is not a valid signed checkpoint"),
            "checkpoint_unsigned": _("the checkpoint carries no signature by the log key"),
            "checkpoint_signature": _("the checkpoint's signature does not match the log key"),
            "wrong_vehicle": _("the bundle is for a different VIN"),
            "not_in_bundle": _("this line is missing from the evidence bundle"),
            "entry_malformed": _("the logged entry is not in the expected format"),
            "entry_vin": _("the logged entry is about a different VIN"),
            "page_mismatch": _("the page shows something other than the logged entry"),
            "beyond_checkpoint": _("the entry is not yet covered by the checkpoint"),
            "inclusion_proof": _("the inclusion proof does not lead to the checkpoint's root hash"),
            "source_key_unproven": _("the source's key is not proven in the log before this entry"),
            "source_signature": _("the source's signature does not match the entry"),
            "log_key_not_pinned": _("the bundle's log key is not the key this site publishes"),
            "duplicate_index": _("the bundle holds two entries under this index"),
            "source_key_entry": _(
                "a source key entry in the bundle is not the platform's or does not verify"
            ),
            "key_name_mismatch": _("the key that signed this entry is named for another party"),
            "key_rotated_out": _(
                "the key that signed this entry had been replaced by the source's newer key"
            ),
            "source_revoked": _("the source had been revoked before this entry"),
            "platform_only_type": _("only the platform may write this kind of entry"),
            "duplicate_statement": _(
                "the same signed statement is logged again: it is one fact, counted once"
            ),
            "vin_index": _("the log's index does not confirm that these are all the car's records"),
        },
    }


def _presentable_readings(readings: list[dict]) -> list[dict]:
    """The odometer readings as the table beside the chart shows them: the chart's words for
    what was found, so the two never disagree."""
    messages = _chart_messages()
    return [
        reading
        | {
            "date": _parse_date(reading["occurred_at"]),
            "finding_label": messages.get(reading["finding"], "") if reading["finding"] else "",
        }
        for reading in readings
    ]


def _chart_messages() -> dict[str, str]:
    return {
        "odometer": _("Odometer (km)"),
        "rollback": _("Rollback: lower than an earlier reading"),
        "impossible_jump": _("Impossible jump"),
        "excluded": _("Excluded from the analysis"),
        "km": _("km"),
    }
