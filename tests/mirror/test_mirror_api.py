"""`add_mirror` and the mirror API: entry bundles and cosignatures, for registered mirrors
only (entries carry VINs, so they are never public)."""

import gzip
import io
import json

import pytest
from carhistory_verifier import entry as entry_format
from carhistory_verifier import note, vrf
from carhistory_verifier.tiles import decode_entry_bundle
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from ledger import mirrors, selectors
from ledger.models import Cosignature, Cosigner, Entry, Mirror, VinKey
from tests.mirror.conftest import MIRROR_NAME, grow_log

pytestmark = pytest.mark.django_db


def add_mirror(name: str, key: str) -> list[str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("add_mirror", name, "--key", key, stdout=out, stderr=err)
    return out.getvalue().splitlines()


def client_with(token: str | None) -> APIClient:
    client = APIClient()
    if token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_add_mirror_prints_the_token_once_and_stores_only_its_hash(mirror_key):
    lines = add_mirror(MIRROR_NAME, mirror_key.verifier().key_string())
    token = lines[-1]
    mirror = Mirror.objects.get()
    assert mirror.cosigner.name == MIRROR_NAME
    assert mirror.cosigner.verifier_key == mirror_key.verifier().key_string()
    assert mirror.token_hash == mirrors.token_hash(token)
    assert token not in mirror.token_hash
    assert mirrors.mirror_for_token(token) == mirror


def test_add_mirror_refuses_a_key_named_otherwise(mirror_key):
    with pytest.raises(CommandError, match=r"is named 'registry\.example/mirror'"):
        add_mirror("insurer.example/mirror", mirror_key.verifier().key_string())
    assert not Cosigner.objects.exists()


def test_add_mirror_refuses_a_log_key_or_garbage(log_key):
    with pytest.raises(CommandError, match="key type"):
        add_mirror(log_key.name, log_key.verifier().key_string())
    with pytest.raises(CommandError, match="--key"):
        add_mirror(MIRROR_NAME, "not a key")


def test_add_mirror_refuses_a_name_taken(mirror_key):
    add_mirror(MIRROR_NAME, mirror_key.verifier().key_string())
    other = note.CosignatureSigner.generate(MIRROR_NAME)
    with pytest.raises(CommandError, match="already exists"):
        add_mirror(MIRROR_NAME, other.verifier().key_string())


@pytest.mark.parametrize("token", [None, "mirror_wrong", "ümlaut"])
def test_entry_bundles_need_a_mirror_token(registered_mirror, token):
    grow_log(3)
    response = client_with(token).get("/api/v1/mirror/tile/entries/000.p/3")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"service" not in response.content


def test_a_source_api_key_is_not_a_mirror_token(registered_mirror):
    from tests.sources.factories import OrganisationFactory, api_key_for

    grow_log(3)
    response = client_with(api_key_for(OrganisationFactory())).get(
        "/api/v1/mirror/tile/entries/000.p/3"
    )
    assert response.status_code == 401


def test_an_inactive_mirror_is_forbidden(registered_mirror):
    grow_log(3)
    Cosigner.objects.filter(name=MIRROR_NAME).update(active=False)
    response = client_with(registered_mirror.token).get("/api/v1/mirror/tile/entries/000.p/3")
    assert response.status_code == 403


def test_entry_bundles_hold_the_entry_bytes_in_order(registered_mirror):
    grow_log(300)
    client = client_with(registered_mirror.token)
    full = client.get("/api/v1/mirror/tile/entries/000")
    partial = client.get("/api/v1/mirror/tile/entries/001.p/44")
    assert full.status_code == partial.status_code == 200
    assert full["Content-Type"] == "application/octet-stream"
    assert full["Cache-Control"].startswith("private")
    assert partial["Cache-Control"] == "no-store"
    stored = [
        bytes(data) for data in Entry.objects.order_by("index").values_list("data", flat=True)
    ]
    assert decode_entry_bundle(full.content) == stored[:256]
    assert decode_entry_bundle(partial.content) == stored[256:]


def test_entry_bundles_are_gzipped_when_asked(registered_mirror):
    grow_log(10)
    response = client_with(registered_mirror.token).get(
        "/api/v1/mirror/tile/entries/000.p/10", HTTP_ACCEPT_ENCODING="gzip, identity"
    )
    assert response["Content-Encoding"] == "gzip"
    entries = decode_entry_bundle(gzip.decompress(response.content))
    # Each entry is its canonical bytes, exactly what the leaf hash covers.
    assert [entry_format.entry_bytes(json.loads(data)) for data in entries] == entries


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("000.p/11", 404),
        ("001", 404),
        ("000.p/0", 400),
        ("00", 400),
        ("x000/000", 400),
        ("000.p/256", 400),
    ],
)
def test_bundles_beyond_the_log_or_malformed_are_refused(registered_mirror, path, status):
    grow_log(10)
    response = client_with(registered_mirror.token).get(f"/api/v1/mirror/tile/entries/{path}")
    assert response.status_code == status


def test_entry_ranges_need_a_mirror_token(registered_mirror):
    grow_log(3)
    for token in (None, "mirror_wrong"):
        response = client_with(token).get("/api/v1/mirror/entries?start=0&end=3")
        assert response.status_code == 401
        assert b"service" not in b"".join(getattr(response, "streaming_content", [b""]))


def test_an_entry_range_is_the_bundles_it_spans_one_after_the_other(registered_mirror):
    grow_log(600)
    client = client_with(registered_mirror.token)
    stored = [
        bytes(data) for data in Entry.objects.order_by("index").values_list("data", flat=True)
    ]
    plain = client.get("/api/v1/mirror/entries?start=256&end=600")
    assert plain.status_code == 200
    assert plain["Cache-Control"] == "private, no-store"
    body = b"".join(plain.streaming_content)
    paths = ["/api/v1/mirror/tile/entries/001", "/api/v1/mirror/tile/entries/002.p/88"]
    bundles = [client.get(path).content for path in paths]
    assert body == b"".join(bundles)
    assert decode_entry_bundle(body) == stored[256:600]
    zipped = client.get("/api/v1/mirror/entries?start=0&end=600", HTTP_ACCEPT_ENCODING="gzip")
    assert zipped["Content-Encoding"] == "gzip"
    assert decode_entry_bundle(gzip.decompress(b"".join(zipped.streaming_content))) == stored


@pytest.mark.parametrize(
    ("query", "field", "says"),
    [
        ("start=1&end=10", "end", "multiple of 256"),
        ("start=0&end=11", "end", "covers 10 entries"),
        ("start=256&end=256", "end", "greater than start"),
        ("start=0&end=70000", "end", "at most start + 65536"),
        ("start=x&end=5", "start", "valid integer"),
        ("end=5", "start", "required"),
    ],
)
def test_entry_ranges_misaligned_beyond_the_log_or_malformed_are_refused(
    registered_mirror, query, field, says
):
    grow_log(10)
    response = client_with(registered_mirror.token).get(f"/api/v1/mirror/entries?{query}")
    assert response.status_code == 400
    assert says in response.json()[field][0]


def test_vrf_proofs_are_served_for_the_vins_asked(registered_mirror, vrf_key):
    vin = "LVSHFFAL9H5226410"
    grow_log(5, vin=vin)
    response = client_with(registered_mirror.token).post(
        "/api/v1/mirror/vrf-proofs", {"vins": [vin, "WVWZZZ1JZXW000001"]}, format="json"
    )
    assert response.status_code == 200
    proofs = response.json()["proofs"]
    assert list(proofs) == [vin]
    beta = vrf.verify(vrf_key.public_key, vin.encode(), entry_format.b64decode(proofs[vin]))
    assert beta[:32] == bytes(VinKey.objects.get(vin=vin).key)


@pytest.mark.parametrize(
    ("token", "body", "status"),
    [
        (None, {"vins": ["LVSHFFAL9H5226410"]}, 401),
        ("good", {"vins": "LVSHFFAL9H5226410"}, 400),
        ("good", {"vins": ["x" * 18]}, 400),
        ("good", {}, 400),
    ],
)
def test_vrf_proofs_need_a_token_and_a_list_of_vins(registered_mirror, token, body, status):
    grow_log(2)
    client = client_with(registered_mirror.token if token == "good" else token)
    response = client.post("/api/v1/mirror/vrf-proofs", body, format="json")
    assert response.status_code == status


def test_the_mirror_cosignature_is_served_with_the_checkpoint(registered_mirror, log_key):
    grow_log(4)
    checkpoint = selectors.latest_checkpoint()
    line = note.cosign_checkpoint(checkpoint.note, registered_mirror.key, timestamp=1_700_000_000)
    response = client_with(registered_mirror.token).post(
        "/api/v1/mirror/cosignatures", {"note": checkpoint.note + line}, format="json"
    )
    assert response.status_code == 201, response.content
    assert Cosignature.objects.get().cosigner.name == MIRROR_NAME
    served = APIClient().get("/log/checkpoint").content.decode()
    assert note.verify_cosignature(served, registered_mirror.key.verifier()) == 1_700_000_000


def test_a_cosignature_by_another_key_is_refused(registered_mirror):
    grow_log(4)
    checkpoint = selectors.latest_checkpoint()
    impostor = note.CosignatureSigner.generate(MIRROR_NAME)
    line = note.cosign_checkpoint(checkpoint.note, impostor, timestamp=1)
    response = client_with(registered_mirror.token).post(
        "/api/v1/mirror/cosignatures", {"note": checkpoint.note + line}, format="json"
    )
    assert response.status_code == 400
    assert "no valid cosignature" in response.json()["note"][0]
    assert not Cosignature.objects.exists()


def test_posting_a_cosignature_needs_the_token(registered_mirror):
    grow_log(1)
    checkpoint = selectors.latest_checkpoint()
    line = note.cosign_checkpoint(checkpoint.note, registered_mirror.key, timestamp=1)
    response = client_with(None).post(
        "/api/v1/mirror/cosignatures", {"note": checkpoint.note + line}, format="json"
    )
    assert response.status_code == 401


def test_an_entry_too_long_for_a_bundle_is_refused_at_enqueue():
    from ledger import services
    from tests.ledger.factories import EntryFactory

    with pytest.raises(ValueError, match="at most 65535 bytes"):
        services.enqueue_entry(entry=EntryFactory.build(facts={"items": ["x" * 70_000]}))
