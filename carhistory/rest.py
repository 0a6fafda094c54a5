"""The API's edges, set once as DRF defaults: one safe JSON parser and one exception handler.

Every JSON body goes through `SafeJSONParser`, so no view can forget a limit, and every
`DomainError` a service raises becomes a 400 in `exception_handler`, so no view needs its own
try/except to keep bad input from becoming a 500.
"""

import codecs
import json
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.json import strict_constant

from carhistory.errors import DomainError

# Deeper than any body the API defines (private details allow far less), shallow enough that
# nothing downstream (serializers, RFC 8785 canonicalisation) can run out of stack on it.
MAX_JSON_DEPTH = 100


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request body is too large.")
    default_code = "payload_too_large"


class SafeJSONParser(JSONParser):
    """DRF's JSON parser with limits: a body over DATA_UPLOAD_MAX_MEMORY_SIZE is refused before
    it is decoded (413), and a body nested deeper than MAX_JSON_DEPTH, or too deep for
    Python's decoder (a few kilobytes of `[[[[`), is bad input (400), never a RecursionError
    and a 500."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if stream is not None else b""
        if limit is not None and len(raw) > limit:
            raise RequestDataTooBig(f"The request body is larger than {limit} bytes.")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.decode(raw, encoding)
            parse_constant = strict_constant if api_settings.STRICT_JSON else None
            data = json.loads(text, parse_constant=parse_constant)
        except RecursionError:
            raise exceptions.ParseError(
                _("JSON parse error - the body is nested too deeply.")
            ) from None
        except ValueError as error:
            raise exceptions.ParseError(f"JSON parse error - {error}") from None
        if _depth_exceeds(data, MAX_JSON_DEPTH):
            raise exceptions.ParseError(_("JSON parse error - the body is nested too deeply."))
        return data


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest deeper than `limit` in `value`; iterative, so no depth
    can crash it."""
    # Only arrays and objects are stacked: a batch of a thousand events holds some fifteen
    # thousand scalars, and each would cost a tuple and a loop turn.
    stack = [(value, 0)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        if depth >= limit:
            return True
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, plus the project's two mappings: a `DomainError` is a 400 naming its
    field, and a body over the size limit is a 413 saying so."""
    if isinstance(exc, DomainError):
        return Response(exc.as_field_errors(), status=status.HTTP_400_BAD_REQUEST)
    # Imported here: rest_framework.views reads the DRF settings, which name this module, so a
    # module-level import fails whenever this module happens to be imported first.
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    return drf_exception_handler(exc, context)
