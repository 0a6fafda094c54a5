"""django-csp's middleware, with the site's policy built once per process.

django-csp builds the Content-Security-Policy header from the settings on every response (the
policy and the report-only policy, each from a fresh copy of the directives): about 0.2 ms of
a single event's CPU, measured in docs/PERFORMANCE.md ("Fifth session"). A response that asks
nothing of its own gets the site's policy, which depends only on the settings. So the headers
django-csp writes on the first such response are kept and copied onto the next ones, until a
setting changes; every other response (a view's own policy, a nonce used, an exemption, a
header already set, excluded paths, DEBUG's error pages) is django-csp's to answer, as before.
"""

from csp import middleware as csp_middleware
from csp.constants import HEADER, HEADER_REPORT_ONLY
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

POLICY_SETTINGS = ("CONTENT_SECURITY_POLICY", "CONTENT_SECURITY_POLICY_REPORT_ONLY")
# What django-csp's decorators leave on a response that wants a policy of its own.
OWN_POLICY_ATTRIBUTES = tuple(
    f"_csp_{kind}{suffix}"
    for kind in ("config", "update", "replace", "exempt")
    for suffix in ("", "_ro")
)


class CSPMiddleware(csp_middleware.CSPMiddleware):
    def __init__(self, get_response) -> None:
        super().__init__(get_response)
        # (the policy settings the headers were built from, the headers as written)
        self._site_headers: tuple[tuple, list[tuple[str, str]]] | None = None

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        policies = tuple(getattr(settings, name, None) for name in POLICY_SETTINGS)
        if not _asks_for_the_site_policy(request, response, policies):
            return super().process_response(request, response)
        built = self._site_headers
        # `is`: a changed setting is a new object (override_settings, a reload).
        if built is None or any(
            now is not then for now, then in zip(policies, built[0], strict=True)
        ):
            response = super().process_response(request, response)
            self._site_headers = (
                policies,
                [
                    (name, response[name])
                    for name in (HEADER, HEADER_REPORT_ONLY)
                    if name in response
                ],
            )
            return response
        for name, value in built[1]:
            response[name] = value
        # As django-csp does once the header is written: a nonce asked for later is an error,
        # since it would not be in the policy.
        request.csp_nonce = csp_middleware.CheckableLazyObject(self._csp_nonce_post_response)
        return response


def _asks_for_the_site_policy(
    request: HttpRequest, response: HttpResponseBase, policies: tuple
) -> bool:
    return (
        not settings.DEBUG
        and getattr(request, "_csp_nonce", None) is None
        and not any(hasattr(response, name) for name in OWN_POLICY_ATTRIBUTES)
        and HEADER not in response
        and HEADER_REPORT_ONLY not in response
        and not any(policy and policy.get("EXCLUDE_URL_PREFIXES") for policy in policies)
    )
