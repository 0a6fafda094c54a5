"""A cached report answered before the rest of the middleware stack runs.

Like Django's own cache middleware, this sits at the edge: a buyer's `GET
/api/v1/vehicles/<VIN>/report` whose report is cached for the current tree size costs one
Redis round trip (`cache.count_and_find_report`, which also counts the lookup against the
`vin_lookup` limit) and none of the stack's work, so a cached report is about as cheap as the
framework's floor. Everything else — misses, refused clients, bad VINs, other methods or
Accept headers — goes down the stack to the DRF view, which finds the lookup already counted.

The response must be the one the stack would give, byte for byte and header for header. So
the headers are not written here: they are taken from the last report response the stack gave
in the same language, in this process. Until the stack has answered once in a language, that
language always goes down the stack.
"""

import re
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

from carhistory.vehicles.cache import count_and_find_report
from carhistory.vehicles.throttling import COUNTED_ATTRIBUTE, VinLookupThrottle

REPORT_PATH = re.compile(r"/api/v1/vehicles/(?P<vin>[^/]+)/report")
JSON = "application/json"
# Accept headers for which the stack surely answers JSON; any other goes down the stack.
PLAIN_ACCEPT = frozenset({None, "*/*", JSON})
# Headers that differ from one response to the next, so are never copied.
PER_RESPONSE_HEADERS = frozenset({"Date", "Content-Length"})


class CachedReportMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.headers_by_language: dict[str, list[tuple[str, str]]] = {}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        match = REPORT_PATH.fullmatch(request.path_info)
        if (
            match is None
            or request.method != "GET"
            # HTTPS=1: plain HTTP goes down the stack to be redirected.
            or (settings.SECURE_SSL_REDIRECT and not request.is_secure())
            or request.META.get("HTTP_ACCEPT") not in PLAIN_ACCEPT
        ):
            return self.get_response(request)
        language = translation.get_language_from_request(request)
        headers = self.headers_by_language.get(language)
        if headers is not None:
            with translation.override(language):
                response = cached_report(request, vin=match["vin"], headers=headers)
            if response is not None:
                return response
        response = self.get_response(request)
        if response.status_code == 200 and not response.cookies:
            self.headers_by_language[language] = [
                (name, value)
                for name, value in response.headers.items()
                if name not in PER_RESPONSE_HEADERS
            ]
        return response


def cached_report(
    request: HttpRequest, *, vin: str, headers: list[tuple[str, str]]
) -> HttpResponse | None:
    """The cached report of `vin` with `headers`, or None to let the stack answer. A lookup
    counted here is left on the request, so the view's throttle does not count it again."""
    # No VIN check here: reports are cached only under valid, normalised VINs, so anything
    # else finds nothing and goes down the stack, where the view says what is wrong with it.
    throttle = VinLookupThrottle()
    found = count_and_find_report(
        vin=vin, counter_key=throttle.counter_key(request), window_seconds=throttle.duration
    )
    if found is None:
        return None
    count, seconds_left, content = found
    setattr(request, COUNTED_ATTRIBUTE, (count, seconds_left))
    if content is None or not throttle.allows(count):
        return None
    response = HttpResponse(content)
    for name, value in headers:
        response[name] = value
    response["Content-Length"] = str(len(content))
    return response
