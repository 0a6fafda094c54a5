"""Rate limits per source (not per address: a source's many branches share one budget)."""

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from carhistory import rate_limits
from ledger.services import count_and_lease_integration


class SourceRateThrottle(SimpleRateThrottle):
    """settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["source"] requests per organisation
    in a window that opens with its first request; a batch counts once. Over the limit: 429
    with Retry-After until the window closes.

    A counter per window (one Redis round trip, `rate_limits.count`) rather than DRF's list of
    every request's time, which is read, unpickled, pickled and written back whole on every
    request: at a source's rate of thousands a minute that list was the costliest part of a
    single event's request.
    """

    scope = "source"

    def get_rate(self) -> str | None:
        # Read at call time, not import time, so a changed setting takes effect.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        api_key = request.auth
        if self.rate is None or api_key is None:
            return True
        counter_key = f"throttle:{self.scope}:{api_key.organisation_id}"
        if request.method == "POST":
            # A submission: the same count, and in the same round trip the sequencer look its
            # commit would otherwise claim in a second one.
            counted, self.seconds_left = count_and_lease_integration(
                counter_key=counter_key, window_seconds=self.duration, allowed=self.num_requests
            )
        else:
            counted, self.seconds_left = rate_limits.count(
                counter_key=counter_key, window_seconds=self.duration
            )
        return counted <= self.num_requests

    def wait(self) -> int:
        # Redis reports 0 in the window's last second; a client told 0 would come straight back.
        return max(self.seconds_left, 1)
