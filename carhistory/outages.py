"""What the site answers while PostgreSQL or Redis is down: 503 with Retry-After, never a 500.

Django calls `server_error` (handler500) for any exception nothing else handled, from a view
or from a middleware (the cached-report middleware reads Redis before any view runs). An
outage is not the client's fault and will pass, so it gets 503 and a time to come back; the
API's clients get JSON, people a short page. Every other exception stays a 500.
"""

import sys

import kombu.exceptions
import redis
from django import db
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views import defaults

# Errors of an unreachable dependency, not of the request: a lost or refused connection.
OUTAGE_ERRORS = (
    db.OperationalError,
    db.InterfaceError,
    redis.ConnectionError,
    redis.TimeoutError,
    kombu.exceptions.OperationalError,
)
RETRY_AFTER_SECONDS = 30
JSON_PATH_PREFIXES = ("/api/", "/log/", "/healthz")


def is_outage(error: BaseException | None) -> bool:
    return isinstance(error, OUTAGE_ERRORS)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: 503 with Retry-After for an outage, Django's own 500 page for anything else."""
    if not is_outage(sys.exc_info()[1]):
        return defaults.server_error(request)
    return outage_response(request)


def outage_response(request: HttpRequest) -> HttpResponse:
    message = _("The service is briefly unavailable. Try again in %(seconds)d seconds.") % {
        "seconds": RETRY_AFTER_SECONDS
    }
    if request.path.startswith(JSON_PATH_PREFIXES):
        response: HttpResponse = JsonResponse({"detail": message}, status=503)
    else:
        # Rendered without the request, so no context processor touches the session or user:
        # the page must render while the database is down.
        response = HttpResponse(render_to_string("503.html", {"message": message}), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response
