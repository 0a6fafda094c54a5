"""The mirror API: entry bundles and cosignatures for registered mirrors only.

Entries carry VINs, so unlike hash tiles they are never public (SPEC §4): every request
carries `Authorization: Bearer <mirror token>` (`manage.py add_mirror` issues it). A missing
or unknown token is a 401; a mirror whose registration was deactivated gets a 403.
"""

import gzip
import zlib
from collections.abc import Iterator

from carhistory_verifier.entry import b64encode
from carhistory_verifier.tiles import TILE_WIDTH, parse_tile_path
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import authentication, exceptions, permissions, serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import mirrors, selectors, services
from .models import Mirror

BEARER = b"bearer"
# Entry bundles compress well (the JSON around the random nonces and signatures); level 1 gets
# nearly all of it in under two thirds of level 6's server time.
GZIP_LEVEL = 1
GZIP_WINDOW_BITS = 16 + zlib.MAX_WBITS  # the gzip container, as Content-Encoding: gzip means


class MirrorTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request) -> tuple[None, Mirror] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != BEARER:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Send the header as: Bearer <mirror token>."))
        try:
            token = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Unknown mirror token.")) from None
        mirror = mirrors.mirror_for_token(token)
        if mirror is None:
            raise exceptions.AuthenticationFailed(_("Unknown mirror token."))
        if not mirror.cosigner.active:
            raise exceptions.PermissionDenied(_("This mirror's registration is inactive."))
        return None, mirror

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="carhistory mirrors"'


class IsMirror(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, Mirror)


class MirrorTokenScheme(OpenApiAuthenticationExtension):
    target_class = MirrorTokenAuthentication
    name = "mirrorToken"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A mirror's access token, as `manage.py add_mirror` printed it.",
        }


class MirrorView(APIView):
    authentication_classes = [MirrorTokenAuthentication]
    permission_classes = [IsMirror]


def _validated(serializer_class: type[serializers.Serializer], data) -> dict:
    """The input `serializer_class` reads from `data`. Bad input raises, and DRF answers 400
    naming each field; a service's refusal (`DomainError`) is answered so too, by
    `carhistory.rest.exception_handler`, so the views below need no error branches."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class EntryBundleView(MirrorView):
    @extend_schema(
        summary="Entry bundle (C2SP tlog-tiles tile/entries/<N>[.p/<W>]), mirrors only",
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 404: None},
    )
    def get(self, request: Request, bundle_path: str) -> HttpResponse:
        try:
            # Bundles are addressed like level-0 tiles, without the level.
            address = parse_tile_path(f"0/{bundle_path}")
        except ValueError as error:
            return Response({"path": [str(error)]}, status=status.HTTP_400_BAD_REQUEST)
        bundle = selectors.entry_bundle(address)
        if bundle is None:
            return Response(
                {"detail": _("The log has not grown this entry bundle yet.")},
                status=status.HTTP_404_NOT_FOUND,
            )
        response = HttpResponse(content_type="application/octet-stream")
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            bundle = gzip.compress(bundle, compresslevel=GZIP_LEVEL)
            response["Content-Encoding"] = "gzip"
        response.content = bundle
        response["Vary"] = "Accept-Encoding, Authorization"
        # Private data: no shared cache may keep it, whatever the tile's permanence.
        response["Cache-Control"] = (
            "private, max-age=31536000, immutable" if address.width == TILE_WIDTH else "no-store"
        )
        return response


class EntryRange(serializers.Serializer):
    start = serializers.IntegerField(min_value=0)
    end = serializers.IntegerField(min_value=1)


class EntryRangeView(MirrorView):
    """Consecutive entry bundles in one streamed answer: how a mirror catches up. The body is
    the bundles `tile/entries/<N>[.p/<W>]` of entries [start, end), concatenated, which is
    itself one entry-bundle encoding (each entry prefixed by its uint16 length)."""

    @extend_schema(
        summary="Entries [start, end) as consecutive entry bundles, mirrors only",
        parameters=[EntryRange],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 400: None},
    )
    def get(self, request: Request) -> HttpResponseBase:
        query = _validated(EntryRange, request.query_params)
        start, end = query["start"], query["end"]
        mirrors.check_entry_range(start=start, end=end, tree_size=selectors.tree_size())
        chunks = mirrors.entry_range(start=start, end=end)
        response = StreamingHttpResponse(content_type="application/octet-stream")
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            chunks = _gzipped(chunks)
            response["Content-Encoding"] = "gzip"
        response.streaming_content = chunks
        response["Vary"] = "Accept-Encoding, Authorization"
        response["Cache-Control"] = "private, no-store"
        return response


def _gzipped(chunks: Iterator[bytes]) -> Iterator[bytes]:
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, GZIP_WINDOW_BITS)
    for chunk in chunks:
        yield compressor.compress(chunk)
    yield compressor.flush()


class VinList(serializers.Serializer):
    vins = serializers.ListField(
        child=serializers.CharField(max_length=17), max_length=mirrors.MAX_VRF_PROOF_VINS
    )


class VrfProofsView(MirrorView):
    """The VRF proof of each VIN a mirror asks for, so that it can recompute the VIN index
    (SPEC §7) and check each `vin_index` entry. Private like entries: a proof ties a VIN to its
    place in the map. A VIN the log holds no proof for is left out; the mirror refuses then."""

    parser_classes = [JSONParser]

    @extend_schema(
        summary="VRF proofs of the VINs a mirror names, mirrors only",
        request=VinList,
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request) -> Response:
        proofs = mirrors.vrf_proofs(_validated(VinList, request.data)["vins"])
        response = Response({"proofs": {vin: b64encode(pi) for vin, pi in proofs.items()}})
        response["Cache-Control"] = "private, no-store"
        return response


class MirrorCosignature(serializers.Serializer):
    note = serializers.CharField(trim_whitespace=False, max_length=10_000)


class MirrorCosignatureView(MirrorView):
    """The mirror posts the checkpoint it stored and verified, with its cosignature line; it is
    stored like a witness's and served with /log/checkpoint."""

    parser_classes = [JSONParser]

    @extend_schema(
        summary="Submit a mirror's cosignature (C2SP tlog-cosignature) on a checkpoint",
        request=MirrorCosignature,
        responses={201: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request) -> Response:
        cosignature = services.add_cosignature(
            cosigner_name=request.auth.cosigner.name,
            cosigned_note=_validated(MirrorCosignature, request.data)["note"],
        )
        return Response(
            {"tree_size": cosignature.checkpoint_id, "timestamp": cosignature.timestamp},
            status=status.HTTP_201_CREATED,
        )
