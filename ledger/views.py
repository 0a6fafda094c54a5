"""The log's public HTTP surface (SPEC §4): checkpoint, key, tiles, proofs.

Everything here parses a request, calls one selector or service, and renders the result. A
refusal (`ProofRequestError`) is a DomainError, which the project's
exception handler answers with a 400.
"""

from carhistory_verifier.entry import b64encode
from carhistory_verifier.tiles import TILE_WIDTH, parse_tile_path
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import keys, selectors, services

TEXT = "text/plain; charset=utf-8"
IMMUTABLE = "public, max-age=31536000, immutable"
# Partial tiles and the checkpoint change as the log grows; let caches hold them briefly.
SHORT_LIVED = "public, max-age=5"


@require_safe
def checkpoint(request: HttpRequest) -> HttpResponse:
    latest = services.ensure_checkpoint()
    response = HttpResponse(selectors.served_checkpoint_text(latest), content_type=TEXT)
    response["Cache-Control"] = SHORT_LIVED
    return response


@require_safe
def log_key(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(keys.log_verifier_key() + "\n", content_type=TEXT)
    response["Cache-Control"] = "public, max-age=3600"
    return response


@require_safe
def vrf_key(request: HttpRequest) -> HttpResponse:
    """SPEC §4 and §7: the VRF public key, standard base64 of 32 bytes."""
    response = HttpResponse(keys.vrf_public_key() + "\n", content_type=TEXT)
    response["Cache-Control"] = "public, max-age=3600"
    return response


@require_safe
def tile(request: HttpRequest, tile_path: str) -> HttpResponse:
    try:
        address = parse_tile_path(tile_path)
    except ValueError as error:
        return HttpResponse(
            _("Malformed tile path: %(error)s") % {"error": error}, status=400, content_type=TEXT
        )
    data = selectors.tile(address)
    if data is None:
        return HttpResponse(
            _("The log has not grown this tile yet."), status=404, content_type=TEXT
        )
    response = HttpResponse(data, content_type="application/octet-stream")
    response["Cache-Control"] = IMMUTABLE if address.width == TILE_WIDTH else SHORT_LIVED
    return response


class InclusionQuery(serializers.Serializer):
    index = serializers.IntegerField(min_value=0)
    tree_size = serializers.IntegerField(min_value=1)


class ConsistencyQuery(serializers.Serializer):
    first = serializers.IntegerField(min_value=0)
    second = serializers.IntegerField(min_value=0)


class InclusionProofView(APIView):
    @extend_schema(
        summary="Inclusion proof of one entry (RFC 9162 §2.1.3)",
        parameters=[
            OpenApiParameter("index", OpenApiTypes.INT, required=True),
            OpenApiParameter("tree_size", OpenApiTypes.INT, required=True),
        ],
        responses={
            200: inline_serializer(
                "InclusionProof",
                {
                    "index": serializers.IntegerField(),
                    "tree_size": serializers.IntegerField(),
                    "leaf_hash": serializers.CharField(help_text="base64"),
                    "proof": serializers.ListField(child=serializers.CharField()),
                },
            ),
            400: OpenApiTypes.OBJECT,
        },
    )
    def get(self, request: Request) -> Response:
        query = InclusionQuery(data=request.query_params)
        if not query.is_valid():
            return Response(query.errors, status=status.HTTP_400_BAD_REQUEST)
        index, size = query.validated_data["index"], query.validated_data["tree_size"]
        proof = selectors.inclusion_proof(index=index, tree_size=size)
        leaf_hash = selectors.subtree_hashes([(0, index)])[(0, index)]
        return Response(
            {
                "index": index,
                "tree_size": size,
                "leaf_hash": b64encode(leaf_hash),
                "proof": [b64encode(value) for value in proof],
            }
        )


class ConsistencyProofView(APIView):
    @extend_schema(
        summary="Consistency proof between two tree sizes (RFC 9162 §2.1.4)",
        parameters=[
            OpenApiParameter("first", OpenApiTypes.INT, required=True),
            OpenApiParameter("second", OpenApiTypes.INT, required=True),
        ],
        responses={
            200: inline_serializer(
                "ConsistencyProof",
                {
                    "first": serializers.IntegerField(),
                    "second": serializers.IntegerField(),
                    "proof": serializers.ListField(child=serializers.CharField()),
                },
            ),
            400: OpenApiTypes.OBJECT,
        },
    )
    def get(self, request: Request) -> Response:
        query = ConsistencyQuery(data=request.query_params)
        if not query.is_valid():
            return Response(query.errors, status=status.HTTP_400_BAD_REQUEST)
        first, second = query.validated_data["first"], query.validated_data["second"]
        proof = selectors.consistency_proof(first=first, second=second)
        return Response(
            {"first": first, "second": second, "proof": [b64encode(value) for value in proof]}
        )
