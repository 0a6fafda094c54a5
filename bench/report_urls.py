"""The site's routes plus the benchmark's floor: a trivial view through the same middleware."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def floor(request: HttpRequest) -> HttpResponse:
    """Django's own cost: the full middleware stack, no database, no cache."""
    return HttpResponse(b'{"ok": true}', content_type="application/json")


urlpatterns = [
    path("bench/floor", floor),
    path("", include("carhistory.urls")),
]
