"""Rate limits per source (not per address: a source's many branches share one budget)."""

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class SourceRateThrottle(SimpleRateThrottle):
    """settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["source"] requests per organisation;
    a batch counts once. Over the limit: 429 with Retry-After."""

    scope = "source"

    def get_rate(self) -> str | None:
        # Read at call time, not import time, so a changed setting takes effect.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view) -> str | None:
        api_key = request.auth
        if api_key is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": api_key.organisation_id}
