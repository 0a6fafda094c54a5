"""Per-client limits on what anyone may do without an account, and the client address every
limit counts by.

A limit is a counter per client address and scope whose window opens with its first request;
past the scope's rate (REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], the same table as the API's
throttles) the answer is 429 with Retry-After until the window closes. The report lookup
counter (`vin_lookup`) is shared with the API and the report pages, so a page that says
something about a VIN's records (the dispute page) costs a lookup like any other.
"""

import functools
import math
import time
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

# KEYS[1]: the counter. ARGV[1]: the window in seconds. The window opens with the first count.
# The steps leave `count` and `ttl` (seconds until the window closes) for a script to return;
# the sequencer's lease (`ledger.sequencer.count_and_lease`) counts with them too.
COUNT_STEPS = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('TTL', KEYS[1])
"""
COUNT_SCRIPT = COUNT_STEPS + "return {count, ttl}"


def client_address(request: HttpRequest) -> str:
    """The client's address: the connection's own, or with NUM_PROXIES trusted proxies the one
    the outermost trusted proxy saw. X-Forwarded-For is believed only that far, since anyone can
    send one."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.NUM_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if not proxies or not forwarded:
        return remote
    addresses = [address.strip() for address in forwarded.split(",")]
    return addresses[-min(proxies, len(addresses))]


def counter_key(scope: str, request: HttpRequest) -> str:
    return f"throttle:{scope}:{client_address(request)}"


def rate(scope: str) -> tuple[int, int]:
    """(requests allowed, window in seconds) for `scope`, read when asked so tests can change it."""
    allowed, window = SimpleRateThrottle.parse_rate(
        None, api_settings.DEFAULT_THROTTLE_RATES[scope]
    )
    return allowed, window


def count(*, counter_key: str, window_seconds: int) -> tuple[int, int]:
    """Count one request against `counter_key`: (requests in its window, seconds until the
    window closes)."""
    if hasattr(cache, "script"):
        counted, seconds_left = cache.script(COUNT_SCRIPT)(
            keys=[cache.make_key(counter_key)], args=[window_seconds]
        )
        return counted, seconds_left
    # Any other cache (the embedded development default): the same rule in plain calls.
    closes_key = f"{counter_key}:closes"
    cache.add(closes_key, time.time() + window_seconds, window_seconds)
    cache.add(counter_key, 0, window_seconds)
    counted = cache.incr(counter_key)
    return counted, max(math.ceil(cache.get(closes_key, 0) - time.time()), 1)


def seconds_to_wait(scope: str, request: HttpRequest) -> int | None:
    """Count this request in `scope`; None if it is within the limit, else seconds to wait."""
    allowed, window = rate(scope)
    counted, seconds_left = count(counter_key=counter_key(scope, request), window_seconds=window)
    # Redis reports 0 in the window's last second; a client told 0 would come straight back.
    return None if counted <= allowed else max(seconds_left, 1)


def rate_limited(
    scope: str, *, methods: Iterable[str] = ("POST",)
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Decorate a view: each request by one of `methods` counts in `scope`; past the limit the
    view does not run and the client gets 429 with Retry-After."""
    counted_methods = frozenset(methods)

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def limited(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            wait = seconds_to_wait(scope, request) if request.method in counted_methods else None
            if wait is None:
                return view(request, *args, **kwargs)
            response = render(request, "rate_limited.html", {"retry_after": wait}, status=429)
            response["Retry-After"] = str(wait)
            return response

        return limited

    return decorate
