"""How many report and evidence lookups one client may make (scope `vin_lookup`).

Each lookup reads the database unless cached, and lookups in bulk would let anyone harvest
histories, so each client address gets `vin_lookup` lookups (rate in settings) in a window that
opens with its first one; past that, 429 with Retry-After until the window closes. A counter
per window rather than DRF's list of every request: one `INCR`, and the cached report path
counts in the same round trip as it finds the report (`cache.count_and_find_report`).
"""

from django.core import signing
from django.http import HttpRequest
from rest_framework.throttling import SimpleRateThrottle

from carhistory import rate_limits
from carhistory.vin import normalise_vin

# Where the short path for cached reports (api.py), having counted a request, leaves the count.
COUNTED_ATTRIBUTE = "vin_lookup_counted"


class VinLookupThrottle(SimpleRateThrottle):
    scope = "vin_lookup"

    def counter_key(self, request: HttpRequest) -> str:
        # The same counter as every other page that reads a history (carhistory.rate_limits).
        return rate_limits.counter_key(self.scope, request)

    def get_ident(self, request: HttpRequest) -> str:
        # With no trusted proxy configured (NUM_PROXIES), DRF would believe any X-Forwarded-For
        # header, and a harvester could send a new one with every request to escape the limit.
        return rate_limits.client_address(request)

    def allow_request(self, request, view) -> bool:
        counted = getattr(request, COUNTED_ATTRIBUTE, None)
        if counted is None:
            counted = count_lookup(
                counter_key=self.counter_key(request), window_seconds=self.duration
            )
        count, self.seconds_left = counted
        return self.allows(count)

    def allows(self, count: int) -> bool:
        return count <= self.num_requests

    def wait(self) -> int:
        # Redis reports 0 in the window's last second; a client told 0 would come straight back.
        return max(self.seconds_left, 1)


def count_lookup(*, counter_key: str, window_seconds: int) -> tuple[int, int]:
    """Count one lookup against `counter_key`: (lookups in its window, seconds until the window
    closes). The window opens with the key's first lookup."""
    return rate_limits.count(counter_key=counter_key, window_seconds=window_seconds)


# The report page fetches its own evidence bundle; the page view has counted the lookup
# already, so it hands the page a token that lets that one fetch (and its retries) through.
PAGE_TOKEN_SALT = "carhistory.vehicles.report-page"  # noqa: S105 (a signing namespace)
PAGE_TOKEN_SECONDS = 15 * 60


def page_token(*, request: HttpRequest, vin: str) -> str:
    """A token for the evidence of `vin`, good for this client for `PAGE_TOKEN_SECONDS`."""
    ident = VinLookupThrottle().get_ident(request)
    return signing.TimestampSigner(salt=PAGE_TOKEN_SALT).sign(f"{vin}|{ident}")


def is_page_token(*, request: HttpRequest, vin: str, token: str) -> bool:
    ident = VinLookupThrottle().get_ident(request)
    signer = signing.TimestampSigner(salt=PAGE_TOKEN_SALT)
    try:
        value = signer.unsign(token, max_age=PAGE_TOKEN_SECONDS)
    except signing.BadSignature:
        return False
    return value == f"{vin}|{ident}"


class EvidenceLookupThrottle(VinLookupThrottle):
    """The `vin_lookup` limit, except for the fetch of the report page it was counted for."""

    def allow_request(self, request, view) -> bool:
        token = request.GET.get("page")
        vin = normalise_vin(view.kwargs.get("vin", "")) if view is not None else ""
        if token and vin and is_page_token(request=request, vin=vin, token=token):
            return True
        return super().allow_request(request, view)
