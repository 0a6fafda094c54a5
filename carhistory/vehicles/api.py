"""The public vehicles API (SPEC §4): the report, the evidence bundle and the VIN check.

No login. Report and evidence lookups are throttled per client address (throttling.py). A VIN
that is not a VIN gets 400 naming the character or check that failed; a valid VIN the log has
never seen gets its (empty) report.

A repeated report lookup is most of the traffic, so it skips DRF when it can: one Redis round
trip counts it and finds the report (`VehicleReportView.dispatch`). Everything else (a miss, a
refused client, a bad VIN, another method or Accept header) goes through DRF as before, which
answers the same bytes and headers.
"""

from django.http import HttpResponse
from django.utils.decorators import method_decorator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from carhistory.vehicles.cache import evidence_json, report_json
from carhistory.vehicles.compression import compressed_public_response
from carhistory.vehicles.throttling import EvidenceLookupThrottle, VinLookupThrottle
from carhistory.vin import VinCheck, check_vin, decode_vin

JSON = "application/json"


def _invalid_vin(check: VinCheck) -> Response:
    return Response(
        {"vin": [problem.message for problem in check.errors], "vin_check": check.as_dict()},
        status=400,
    )


# The shapes, for the schema only: the views send what report.py and evidence.py build.
_REPORT = inline_serializer(
    "VehicleReport",
    {
        "vin": serializers.CharField(),
        "vin_check": serializers.DictField(),
        "vehicle": serializers.DictField(help_text="Decoded maker, country, model years."),
        "checkpoint": serializers.DictField(help_text="tree_size, root_hash, signed note."),
        "summary": serializers.DictField(),
        "flags": serializers.ListField(child=serializers.DictField()),
        "odometer": serializers.DictField(help_text="readings and findings"),
        "events": serializers.ListField(child=serializers.DictField()),
        "empty": serializers.BooleanField(help_text="No entry in the log for this VIN."),
    },
)
_EVIDENCE = inline_serializer(
    "EvidenceBundle",
    {
        "format": serializers.CharField(default="carhistory-evidence/v1"),
        "vin": serializers.CharField(),
        "checkpoint": serializers.CharField(help_text="The signed checkpoint note, verbatim."),
        "log_key": serializers.CharField(),
        "entries": serializers.ListField(child=serializers.DictField()),
        "source_keys": serializers.ListField(child=serializers.DictField()),
    },
)
_INVALID = OpenApiResponse(
    description="Not a VIN: `vin` lists what is wrong, `vin_check` names the positions."
)
_THROTTLED = OpenApiResponse(description="Too many lookups: retry after `Retry-After` seconds.")


class VehicleReportView(APIView):
    """Most cached reports are answered before this view (`middleware.CachedReportMiddleware`)."""

    throttle_classes = [VinLookupThrottle]

    @extend_schema(
        operation_id="vehicle_report",
        summary="History report of a VIN",
        description=(
            "Decoded vehicle, summary, flags, odometer analysis and every logged event, as of "
            "the checkpoint it names. A valid VIN with no history has `empty: true`."
        ),
        responses={200: _REPORT, 400: _INVALID, 429: _THROTTLED},
    )
    def get(self, request: Request, vin: str) -> HttpResponse:
        check = check_vin(vin)
        if not check.is_valid:
            return _invalid_vin(check)
        return HttpResponse(report_json(vin=check.vin), content_type=JSON)


@method_decorator(compressed_public_response, name="dispatch")
class VehicleEvidenceView(APIView):
    throttle_classes = [EvidenceLookupThrottle]

    @extend_schema(
        operation_id="vehicle_evidence",
        summary="Evidence bundle of a VIN (SPEC §6)",
        description=(
            "The latest signed checkpoint, the log key, each of the VIN's entries with its "
            "inclusion proof and the source_key entries behind their signatures; check it "
            "offline with `carhistory-verify`."
        ),
        responses={200: _EVIDENCE, 400: _INVALID, 429: _THROTTLED},
    )
    def get(self, request: Request, vin: str) -> HttpResponse:
        check = check_vin(vin)
        if not check.is_valid:
            return _invalid_vin(check)
        return HttpResponse(evidence_json(vin=check.vin), content_type=JSON)


class VinCheckView(APIView):
    # Only arithmetic on the typed text, no database: the search box calls it as the buyer types.
    throttle_classes: list = []

    @extend_schema(
        operation_id="vin_check",
        summary="Check and decode a typed VIN",
        description=(
            "Normalises the text, names every character or check that fails, and for a valid "
            "VIN decodes maker, country, region and candidate model years (`vehicle`)."
        ),
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, raw: str) -> Response:
        check = check_vin(raw)
        vehicle = decode_vin(check.vin).as_dict() if check.is_valid else None
        return Response({**check.as_dict(), "vehicle": vehicle})
