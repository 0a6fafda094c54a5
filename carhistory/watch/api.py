"""`POST /api/v1/vehicles/<VIN>/watch`: watch a car by e-mail (202) or by webhook (201)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from carhistory.vin import check_vin
from carhistory.watch import services
from carhistory.watch.webhooks import WebhookRefused


class WatchRequestSerializer(serializers.Serializer):
    email = serializers.EmailField(required=False, max_length=254)
    webhook_url = serializers.URLField(required=False, max_length=500)

    def validate(self, data: dict) -> dict:
        if bool(data.get("email")) == bool(data.get("webhook_url")):
            raise serializers.ValidationError("Send either `email` or `webhook_url`.")
        return data


class WatchThrottle(AnonRateThrottle):
    # Each request may send an e-mail: a cap keeps the endpoint from being a mail cannon.
    rate = "20/hour"


class WatchView(APIView):
    throttle_classes = [WatchThrottle]

    @extend_schema(
        operation_id="watch_vehicle",
        summary="Watch a VIN for new records, recalls and disputes",
        description=(
            "With `email`: 202; a confirmation e-mail carries a link whose GET starts the "
            "watch (double opt-in); every later e-mail, at most one a day, names the VIN and "
            "carries a one-click unsubscribe link and a `List-Unsubscribe` header. With "
            "`webhook_url` (https, public address): 201 with the HMAC secret, shown once; "
            "each notice is POSTed as JSON with `X-Carhistory-Timestamp` and "
            "`X-Carhistory-Signature: sha256=HMAC-SHA256(secret, timestamp + '.' + body)`, "
            "retried with backoff until it gets a 2xx."
        ),
        request=WatchRequestSerializer,
        responses={
            202: OpenApiResponse(description="Confirmation e-mail on its way."),
            201: inline_serializer(
                "WebhookCreated",
                {"id": serializers.IntegerField(), "secret": serializers.CharField()},
            ),
            400: OpenApiResponse(description="Field errors."),
        },
    )
    def post(self, request: Request, vin: str) -> Response:
        check = check_vin(vin)
        if not check.is_valid:
            return Response({"vin": [problem.message for problem in check.errors]}, status=400)
        serializer = WatchRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data.get("email"):
            language = getattr(request, "LANGUAGE_CODE", "en")
            services.subscribe(vin=check.vin, email=data["email"], language=language)
            return Response({"vin": check.vin, "status": "confirmation_sent"}, status=202)
        try:
            webhook = services.register_webhook(vin=check.vin, url=data["webhook_url"])
        except WebhookRefused as refused:
            return Response({"webhook_url": [str(refused)]}, status=400)
        return Response({"id": webhook.pk, "secret": webhook.secret}, status=201)
