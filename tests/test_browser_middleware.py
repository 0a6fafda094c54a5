"""Which paths skip the session, user and message middleware (carhistory/browser_middleware.py).

The list comes from the sources API's own routes, so a route added there is covered, and a
path of any other app, however close its name, still gets a session and a user.
"""

import pytest
from django.test import RequestFactory
from django.urls import reverse

from carhistory.browser_middleware import for_the_sources_api
from carhistory.sources import urls as sources_urls

SUBMISSION_ID = "7a1f1b7e-3c1e-4a53-9d49-0d6f6f0e8a11"


@pytest.mark.parametrize("pattern", sources_urls.urlpatterns, ids=lambda p: p.name)
def test_every_route_of_the_sources_api_is_passed_on(pattern):
    kwargs = {"submission_id": SUBMISSION_ID} if "<" in str(pattern.pattern) else {}
    path = reverse(pattern.name, kwargs=kwargs)
    assert for_the_sources_api(RequestFactory().post(path))


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("watch:api-watch", {"vin": "LSVAU2180N2183294"}),
        ("healthz", {}),
        ("log-checkpoint", {}),
    ],
)
def test_other_apps_paths_keep_their_session_and_user(name, kwargs):
    assert not for_the_sources_api(RequestFactory().get(reverse(name, kwargs=kwargs)))


def test_the_portal_and_the_admin_keep_their_session_and_user():
    for path in ("/admin/", "/", "/api/docs/", "/api/v1/log/proof/inclusion"):
        assert not for_the_sources_api(RequestFactory().get(path)), path
