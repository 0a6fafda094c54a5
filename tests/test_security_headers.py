"""Transport and browser security from the environment (issue 14 §7): CSP with no inline script,
HTTPS=1 for HSTS, the HTTPS redirect and secure cookies, NUM_PROXIES, and a clean
`check --deploy` with the README's production settings."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_production_build import BASE_DIR, production_environment

TEMPLATES = Path(BASE_DIR) / "templates"
YEAR_SECONDS = 365 * 24 * 60 * 60


def production_settings(tmp_path: Path, *names: str, **environment: str) -> dict:
    """The values of settings `names` as the site reads them from this environment."""
    code = (
        "import django, json; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{name: getattr(settings, name) for name in {list(names)!r}}}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=production_environment(tmp_path, **environment),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_check_deploy_is_clean_with_the_readme_settings_and_https(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=BASE_DIR,
        env=production_environment(
            tmp_path,
            HTTPS="1",
            SECRET_KEY="k7$Qz!pW2@vN9#xL4^mR8&tY1*uB5(cE3)hJ6_aF0+dG-sK%oP=iU~nM",
            ALLOWED_HOSTS="carhistory.example.cn",
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "WARNINGS" not in result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_https_turns_on_hsts_for_a_year_the_redirect_and_secure_cookies(tmp_path):
    names = (
        "SECURE_HSTS_SECONDS",
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
    )
    assert production_settings(tmp_path, *names, HTTPS="1") == {
        "SECURE_HSTS_SECONDS": YEAR_SECONDS,
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
    }
    plain = production_settings(tmp_path, *names)
    assert plain["SECURE_HSTS_SECONDS"] == 0
    assert plain["SECURE_SSL_REDIRECT"] is False


def test_num_proxies_sets_how_many_proxies_are_trusted(tmp_path):
    values = production_settings(
        tmp_path, "REST_FRAMEWORK", "SECURE_PROXY_SSL_HEADER", NUM_PROXIES="2"
    )
    assert values["REST_FRAMEWORK"]["NUM_PROXIES"] == 2
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    direct = production_settings(tmp_path, "REST_FRAMEWORK", "SECURE_PROXY_SSL_HEADER")
    assert direct["REST_FRAMEWORK"]["NUM_PROXIES"] is None
    assert direct["SECURE_PROXY_SSL_HEADER"] is None


@pytest.fixture
def https(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = YEAR_SECONDS
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True


@pytest.mark.django_db
def test_plain_http_is_redirected_and_tls_gets_hsts(client, https):
    plain = client.get("/sources/apply")
    assert plain.status_code == 301
    assert plain["Location"] == "https://testserver/sources/apply"

    secure = client.get("/sources/apply", secure=True)
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"].startswith(f"max-age={YEAR_SECONDS}")


@pytest.mark.django_db
def test_health_probes_over_plain_http_are_not_redirected(client, https):
    assert client.get("/healthz").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/", "/sources/apply", "/accounts/login/", "/api/docs/"])
def test_pages_forbid_inline_script(client, url):
    policy = client.get(url)["Content-Security-Policy"]
    directives = dict(item.strip().split(" ", 1) for item in policy.split(";") if item.strip())
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"


def test_no_template_has_an_inline_script_or_handler():
    # The policy would block them; a template that still has one is a feature broken in
    # production only.
    inline_script = re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.I)
    handler = re.compile(r"\son[a-z]+\s*=", re.I)
    offenders = [
        str(path.relative_to(TEMPLATES))
        for path in TEMPLATES.rglob("*.html")
        if inline_script.search(path.read_text()) or handler.search(path.read_text())
    ]
    assert offenders == []


@pytest.mark.django_db
def test_swagger_ui_starts_from_a_script_file(client):
    page = client.get("/api/docs/").content.decode()
    assert "<script>" not in page
    script = client.get("/api/docs/?script")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()


# --- the site's policy, built once (carhistory/content_security_policy.py) ---------------------


def _policy_headers(middleware, request, response) -> dict[str, str]:
    response = middleware.process_response(request, response)
    return {name: value for name, value in response.items() if "Content-Security" in name}


def test_the_policy_written_once_is_django_csps_on_every_response(rf, settings, monkeypatch):
    from csp import middleware as csp_middleware
    from csp.exceptions import CSPNonceError
    from csp.middleware import CSPMiddleware as DjangoCspMiddleware
    from django.http import HttpResponse

    from carhistory.content_security_policy import CSPMiddleware

    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": {"img-src": ["'self'"]}}
    ours, theirs = CSPMiddleware(HttpResponse), DjangoCspMiddleware(HttpResponse)

    def answered(middleware, path, **attributes):
        request = rf.get(path)
        middleware.process_request(request)
        response = HttpResponse()
        for name, value in attributes.items():
            setattr(response, name, value)
        return request, _policy_headers(middleware, request, response)

    expected = answered(theirs, "/")[1]
    assert len(expected) == 2  # the policy and the report-only one
    builds = []
    build = csp_middleware.build_policy
    monkeypatch.setattr(
        csp_middleware, "build_policy", lambda **parts: builds.append(1) or build(**parts)
    )
    for path in ["/", "/api/v1/events", "/sources/apply"]:
        request, headers = answered(ours, path)
        assert headers == expected
        with pytest.raises(CSPNonceError):
            str(request.csp_nonce)
    assert len(builds) == 2  # built for the first response, copied onto the others
    # A view's own policy is django-csp's to write, as before.
    update = {"img-src": ["https://maps.example.cn"]}
    assert (
        answered(ours, "/", _csp_update=update)[1] == answered(theirs, "/", _csp_update=update)[1]
    )
    assert (
        "maps.example.cn" in answered(ours, "/", _csp_update=update)[1]["Content-Security-Policy"]
    )
    assert answered(ours, "/", _csp_exempt=True)[1] == answered(theirs, "/", _csp_exempt=True)[1]
    # A changed setting is read again.
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    assert answered(ours, "/")[1] == answered(theirs, "/")[1]
    assert answered(ours, "/")[1]["Content-Security-Policy"] == "default-src 'none'"
