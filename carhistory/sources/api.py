"""The submissions API (SPEC §4): thin views over `services` and `selectors`."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from carhistory import garbage_collection
from carhistory.plain_text import quoted
from carhistory.rest import PayloadTooLarge
from carhistory.service_items import vocabulary_markdown
from carhistory.sources.authentication import ApiKeyAuthentication, IsSource
from carhistory.sources.models import Channel
from carhistory.sources.repair_records import import_repair_records, unwrap
from carhistory.sources.selectors import (
    State,
    accepted_state,
    signing_key_index,
    submission_states,
    submission_status,
)
from carhistory.sources.serializers import (
    MAX_BATCH,
    BatchResultSerializer,
    ConflictSerializer,
    DetailSerializer,
    EventBatchSerializer,
    EventSubmissionSerializer,
    RepairRecordSerializer,
    SigningKeyRequestSerializer,
    SigningKeySerializer,
    SubmissionStateSerializer,
)
from carhistory.sources.services import (
    Outcome,
    SourceError,
    SubmissionResult,
    register_signing_key,
    submit_event,
    submit_events,
)
from carhistory.sources.throttling import SourceRateThrottle

FIELD_ERRORS = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="Field name (facts as `facts.<name>`) -> list of messages. Nothing was stored.",
)
COMMON_ERRORS = {
    401: OpenApiResponse(DetailSerializer, description="Wrong, missing or revoked API key."),
    403: OpenApiResponse(DetailSerializer, description="The source may not submit now."),
    429: OpenApiResponse(DetailSerializer, description="Over the rate limit; see Retry-After."),
}


# What a source's client says it accepts, nearly always: its requests need no negotiation.
ACCEPTS_JSON = frozenset({"", "*/*", JSONRenderer.media_type})


class SourceApiView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsSource]
    throttle_classes = [SourceRateThrottle]
    renderer_classes = [JSONRenderer]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple:
        # DRF's negotiation parses the query string and the Accept header on every request,
        # a tenth of a millisecond of a single event's. With no query string (no `?format=`)
        # and an Accept header that plainly takes JSON, its answer is known: JSON, as
        # `application/json`. Anything else is negotiated as before.
        meta = request._request.META
        if not meta.get("QUERY_STRING") and meta.get("HTTP_ACCEPT", "") in ACCEPTS_JSON:
            return JSONRenderer(), JSONRenderer.media_type
        return super().perform_content_negotiation(request, force)

    def handle_exception(self, exc: Exception) -> Response:
        # The project's handler answers an oversize body with a plain 413; a source is told
        # how to fix it.
        if isinstance(exc, RequestDataTooBig):
            exc = PayloadTooLarge(
                _("The request body is larger than %(limit)d bytes: send fewer events per batch.")
                % {"limit": settings.DATA_UPLOAD_MAX_MEMORY_SIZE}
            )
        return super().handle_exception(exc)


def _answer_states(results: list[SubmissionResult]) -> list[dict | None]:
    """Each result's state as the answer shows it, in input order: None for a refusal that
    stored nothing and for a conflict (which names the first submission instead).

    What this request accepted is pending; only what was stored before (a resend, a
    rejection) is looked up, in one query for all of them.
    """
    stored_before = [
        result.submission
        for result in results
        if _has_state(result) and result.outcome != Outcome.ACCEPTED
    ]
    looked_up = iter(submission_states(stored_before))
    states: list[dict | None] = []
    for result in results:
        if not _has_state(result):
            states.append(None)
        elif result.outcome == Outcome.ACCEPTED:
            states.append(accepted_state(result.submission).as_dict())
        else:
            states.append(next(looked_up).as_dict())
    return states


def _has_state(result: SubmissionResult) -> bool:
    """A stored submission answers with its state; a conflict answers with the first
    submission's id instead."""
    return result.submission is not None and result.outcome != Outcome.CONFLICT


def _result_body(result: SubmissionResult, state: dict | None) -> dict:
    if result.outcome == Outcome.CONFLICT:
        return _conflict_body(result)
    if state is not None:
        return state
    return {"status": State.REJECTED, "errors": result.errors}


def _conflict_body(result: SubmissionResult) -> dict:
    return {
        "status": Outcome.CONFLICT,
        "first_submission": str(result.submission.public_id),
        "errors": result.errors,
    }


class EventView(SourceApiView):
    @extend_schema(
        operation_id="submit_event",
        description=(
            "One event (SPEC §5). For a service's `items` and a repair's `parts`, send the code "
            "of the shared vocabulary where one fits; anything else is kept as sent, and the "
            "report shows codes in the reader's language:\n\n" + vocabulary_markdown()
        ),
        request=EventSubmissionSerializer,
        responses={
            202: SubmissionStateSerializer,
            400: FIELD_ERRORS,
            409: OpenApiResponse(
                ConflictSerializer,
                description="This external_id was sent before with another body.",
            ),
            413: DetailSerializer,
            **COMMON_ERRORS,
        },
        tags=["sources"],
    )
    def post(self, request: Request) -> Response:
        result = submit_event(
            organisation=request.auth.organisation, payload=request.data, channel=Channel.API
        )
        if result.outcome == Outcome.FORBIDDEN:
            first_reason = next(iter(result.errors.values()))[0]
            return Response(
                {"detail": first_reason, **result.errors}, status=status.HTTP_403_FORBIDDEN
            )
        if result.outcome == Outcome.INVALID:
            return Response(result.errors, status=status.HTTP_400_BAD_REQUEST)
        if result.outcome == Outcome.CONFLICT:
            body = _conflict_body(result)
            body["detail"] = result.errors["external_id"][0]
            return Response(body, status=status.HTTP_409_CONFLICT)
        return Response(_answer_states([result])[0], status=status.HTTP_202_ACCEPTED)


class EventBatchView(SourceApiView):
    @extend_schema(
        operation_id="submit_event_batch",
        request=EventBatchSerializer,
        responses={
            202: BatchResultSerializer,
            400: FIELD_ERRORS,
            413: DetailSerializer,
            **COMMON_ERRORS,
        },
        tags=["sources"],
        description=(
            "Up to 1,000 events. Each is judged on its own; `results` follow the input order, "
            "and a refused item is kept as a rejected submission with its reasons."
        ),
    )
    def post(self, request: Request) -> Response:
        # From parsing the body to building the answer, a thousand events allocate some
        # hundred thousand containers, none in a cycle (`garbage_collection`).
        with garbage_collection.paused():
            events, errors = _batch_events(request.data)
            if errors:
                return Response(errors, status=status.HTTP_400_BAD_REQUEST)
            results = submit_events(
                organisation=request.auth.organisation, payloads=events, channel=Channel.API
            )
            # States by position: looking each result up in a list of results compared every
            # result with every other (dataclass and model equality), seconds per 1,000 events.
            body = [
                _result_body(result, state)
                for result, state in zip(results, _answer_states(results), strict=True)
            ]
        return Response({"results": body}, status=status.HTTP_202_ACCEPTED)


def _batch_events(data: object) -> tuple[list, dict]:
    if not isinstance(data, dict):
        return [], {"non_field_errors": [_('Send {"events": [...]}.')]}
    # Names the sender made up are quoted safely: a lone surrogate would break the response.
    unknown = {quoted(str(name)): [_("Unknown field.")] for name in data.keys() - {"events"}}
    events = data.get("events")
    if not isinstance(events, list) or not events:
        return [], {**unknown, "events": [_("Send a list of one or more events.")]}
    if len(events) > MAX_BATCH:
        return [], {
            **unknown,
            "events": [
                _("Send at most %(max)d events per batch; this one has %(count)d.")
                % {"max": MAX_BATCH, "count": len(events)}
            ],
        }
    return events, unknown


class EventStatusView(SourceApiView):
    @extend_schema(
        operation_id="submission_status",
        responses={
            200: SubmissionStateSerializer,
            404: OpenApiResponse(DetailSerializer, description="No such submission of yours."),
            **COMMON_ERRORS,
        },
        tags=["sources"],
    )
    def get(self, request: Request, submission_id) -> Response:
        state = submission_status(
            organisation=request.auth.organisation, submission_id=submission_id
        )
        if state is None:
            raise exceptions.NotFound(_("You have no submission with this id."))
        return Response(state.as_dict())


class SigningKeyView(SourceApiView):
    @extend_schema(
        operation_id="register_signing_key",
        request=SigningKeyRequestSerializer,
        responses={201: SigningKeySerializer, 400: FIELD_ERRORS, **COMMON_ERRORS},
        tags=["sources"],
        description=(
            "Register your own Ed25519 verifier key (`carhistory-submit keygen`). It is "
            "enqueued as a `source_key` entry before this answers, so every event it signs "
            "comes after it in the log; your previous key stops being accepted. `index` is the "
            "entry's log index, or null while it waits for the sequencer."
        ),
    )
    def post(self, request: Request) -> Response:
        key, errors = _verifier_key_line(request.data)
        if errors:
            return Response(errors, status=status.HTTP_400_BAD_REQUEST)
        try:
            signing_key = register_signing_key(
                organisation=request.auth.organisation, verifier_key=key
            )
        except SourceError as error:
            return Response({"key": [str(error)]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(
            {
                "source": request.auth.organisation.slug,
                "key": signing_key.verifier_key,
                "index": signing_key_index(signing_key),
            },
            status=status.HTTP_201_CREATED,
        )


def _verifier_key_line(data: object) -> tuple[str, dict]:
    if not isinstance(data, dict):
        return "", {"non_field_errors": [_('Send {"key": "NAME+KEYID+BASE64"}.')]}
    errors = {str(name): [_("Unknown field.")] for name in data.keys() - {"key"}}
    key = data.get("key")
    if not isinstance(key, str) or not key.strip():
        errors["key"] = [_("Send your verifier key line as text.")]
    return key, errors


REPAIR_RECORD_EXAMPLE = {
    "basicInfo": {
        "companyname": "北京朝阳汽车修理有限公司",
        "vin": "LSVAU218XN2183294",
        "vehicleplatenumber": "京A12345",
        "repairdate": "20240503",
        "repairmileage": 45210,
        "faultdescription": "前保险杠破损",
        "settledate": "20240504",
        "costlistcode": "JS2024050300017",
    },
    "vehiclepartslist": [
        {"partsname": "前保险杠", "partscode": "5G0807221", "partsquantity": 1},
    ],
    "repairprojectlist": [{"repairproject": "更换前保险杠", "workinghours": 2.5}],
}


class RepairRecordsView(SourceApiView):
    @extend_schema(
        operation_id="import_repair_records",
        request=RepairRecordSerializer(many=True),
        responses={202: BatchResultSerializer, 400: FIELD_ERRORS, **COMMON_ERRORS},
        tags=["sources"],
        examples=[
            OpenApiExample("One record", value=REPAIR_RECORD_EXAMPLE, request_only=True),
            OpenApiExample(
                "In the platforms' envelope",
                value={"transaction": {"header": {}, "body": {"reqInfo": [REPAIR_RECORD_EXAMPLE]}}},
                request_only=True,
            ),
        ],
        description=(
            "Repair records as the 汽车维修电子健康档案 platforms send them (JT/T 1132.2): one "
            "record, a list of up to 1,000, or either inside the `transaction`/`header`/`body`/"
            "`reqInfo` envelope. Each becomes a `service` or `repair` event "
            "(docs/REPAIR_RECORDS.md); `results` follow the input order, errors named by the "
            "platform's field."
        ),
    )
    def post(self, request: Request) -> Response:
        with garbage_collection.paused():  # as for a batch of events
            return self._import(request)

    def _import(self, request: Request) -> Response:
        records, errors = unwrap(request.data)
        if not errors and len(records) > MAX_BATCH:
            errors = {
                "non_field_errors": [
                    _("Send at most %(max)d records per request; this one has %(count)d.")
                    % {"max": MAX_BATCH, "count": len(records)}
                ]
            }
        if errors:
            return Response(errors, status=status.HTTP_400_BAD_REQUEST)
        results = import_repair_records(
            organisation=request.auth.organisation, records=records, channel=Channel.API
        )
        body = []
        for result, state in zip(results, _answer_states(results), strict=True):
            if state is not None and not result.is_accepted:
                state["errors"] = result.errors  # named by platform field, not as stored
            body.append(_result_body(result, state))
        return Response({"results": body}, status=status.HTTP_202_ACCEPTED)
