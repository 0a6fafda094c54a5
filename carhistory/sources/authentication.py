"""`Authorization: Bearer <api key>` for sources (SPEC §4)."""

from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from carhistory.sources.models import ApiKey
from carhistory.sources.services import find_api_key

BEARER = "bearer"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """A wrong, missing or revoked key is a 401; a key whose source may not submit now
    (applied, suspended, revoked) is a 403, so the source learns that its key still works but
    it does not."""

    def authenticate(self, request) -> tuple[None, ApiKey] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != BEARER.encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Send the header as: Bearer <api key>."))
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Unknown or revoked API key.")) from None
        api_key = find_api_key(raw)
        if api_key is None:
            raise exceptions.AuthenticationFailed(_("Unknown or revoked API key."))
        if not api_key.organisation.may_submit:
            raise exceptions.PermissionDenied(
                _("This source is %(status)s and may not submit or read submissions.")
                % {"status": api_key.organisation.get_status_display()}
            )
        return None, api_key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="carhistory sources"'


class IsSource(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, ApiKey)


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "sourceApiKey"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A source's API key, as issued in the portal (shown once).",
        }
