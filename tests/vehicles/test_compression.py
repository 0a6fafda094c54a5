"""A first visit's own responses come compressed (docs/PERFORMANCE.md, "Report page"), and only
those that hold no secret (carhistory/vehicles/compression.py)."""

import gzip
import re

import pytest
from django.urls import reverse

from tests.sources.factories import MembershipFactory
from tests.vehicles.browser.histories import ROLLBACK_VIN

pytestmark = pytest.mark.django_db

GZIP = {"HTTP_ACCEPT_ENCODING": "gzip, deflate, br"}


def _page_urls(client) -> list[str]:
    html = client.get(f"/vehicles/{ROLLBACK_VIN}/").content.decode()
    preloaded = re.findall(r'<link rel="preload" href="([^"]+)"', html)
    return [f"/vehicles/{ROLLBACK_VIN}/", *(url.replace("&amp;", "&") for url in preloaded)]


def test_the_report_page_its_evidence_and_words_come_compressed(client, rollback_car):
    urls = _page_urls(client)
    assert any("/evidence?" in url for url in urls) and "/verify/words.json" in urls
    for url in urls:
        plain = client.get(url)
        compressed = client.get(url, **GZIP)
        assert compressed.status_code == plain.status_code == 200, url
        assert compressed["Content-Encoding"] == "gzip", url
        assert "Accept-Encoding" in compressed["Vary"], url
        assert len(compressed.content) < len(plain.content), url
        body = gzip.decompress(compressed.content)
        if "/evidence" in url or url.endswith(".json"):
            # Public data, the same bytes for everyone: what the browser verifies is unchanged.
            assert body == plain.content, url
        else:
            assert f'<code class="report-vin">{ROLLBACK_VIN}</code>'.encode() in body


def test_the_csrf_token_of_a_compressed_page_differs_in_every_response(client, rollback_car):
    # What makes the report page safe to compress (BREACH): no secret repeats across responses.
    tokens = [
        re.search(
            rb'name="csrfmiddlewaretoken" value="([^"]+)"',
            gzip.decompress(client.get(f"/vehicles/{ROLLBACK_VIN}/", **GZIP).content),
        ).group(1)
        for _ in range(3)
    ]
    assert len(set(tokens)) == 3


def test_pages_with_secrets_are_not_compressed(client):
    # A sign-in page reflecting what the visitor sent, and a signed-in source's portal, hold
    # tokens and keys beside it: they stay uncompressed.
    response = client.get("/accounts/login/?next=/portal/", **GZIP)
    assert response.status_code == 200
    assert not response.has_header("Content-Encoding")
    client.force_login(MembershipFactory().user)
    response = client.get(reverse("portal:dashboard"), **GZIP)
    assert response.status_code == 200
    assert not response.has_header("Content-Encoding")
