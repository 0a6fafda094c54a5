"""Top-level routes. Each app's urls.py spells out its full public paths (SPEC.md §4)."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from carhistory import health


def favicon(request: HttpRequest) -> HttpResponse:
    # Resolved per request: the static file's hashed name exists only after collectstatic.
    return redirect(static("favicon.svg"))


urlpatterns = [
    # The submissions API first: its single events are the most frequent request, and every
    # pattern tried before a match costs them time (none of the others is under api/v1/events,
    # api/v1/imports or api/v1/signing-keys).
    path("", include("carhistory.sources.urls")),
    path("healthz", health.healthz, name="healthz"),
    # Browsers and chat apps ask for /favicon.ico whatever the page's <link rel="icon"> says.
    path("favicon.ico", favicon),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script (CSP).
    # The split view serves Swagger UI's start-up script as a file: no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("ledger.urls")),
    path("", include("carhistory.portal.urls")),
    path("", include("carhistory.moderation.urls")),
    path("", include("carhistory.watch.urls")),
    path("", include("carhistory.vehicles.urls")),
]

# An unreachable database or Redis answers 503 with Retry-After, not 500 (carhistory/outages.py).
handler500 = "carhistory.outages.server_error"
