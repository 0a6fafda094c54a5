"""The documented production build works: collectstatic under DEBUG=0 builds the manifest, and
every page renders against it (a page naming a file the manifest lacks answers 500)."""

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import brotli
import pytest
from carhistory_verifier import note, vrf
from django.urls import reverse

from carhistory.portal.models import CsvUpload
from carhistory.sources.models import Submission
from carhistory.sources.services import submit_event
from ledger import keys
from ledger.models import Entry
from tests.moderation.factories import make_moderator
from tests.sources.factories import MembershipFactory, event_payload
from tests.vehicles.browser.histories import (
    ROLLBACK_VIN,
    UNKNOWN_VIN,
    approved_sources,
    record_rollback_history,
)

BASE_DIR = Path(__file__).resolve().parent.parent
PRODUCTION_SECRET = "a-long-random-production-secret-for-this-test-only"
MANIFEST_STORAGE = "whitenoise.storage.CompressedManifestStaticFilesStorage"


def production_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    key_file = tmp_path / "log.key"
    if not key_file.exists():
        key_file.write_text(note.Signer.generate("carhistory.localhost/log").key_string())
    vrf_key_file = tmp_path / "vrf.key"
    if not vrf_key_file.exists():
        vrf_key_file.write_text(keys.vrf_key_string(vrf.VrfKey.generate()))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LEDGER_SIGNING_KEY", "LEDGER_VRF_KEY"))
        and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    env.update(
        DEBUG="0",
        SECRET_KEY=PRODUCTION_SECRET,
        LEDGER_SIGNING_KEY_FILE=str(key_file),
        LEDGER_VRF_KEY_FILE=str(vrf_key_file),
        DJANGO_SETTINGS_MODULE="carhistory.settings",
    )
    env.update(extra)
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def production_static(tmp_path_factory) -> Path:
    """STATIC_ROOT as `manage.py collectstatic` builds it with DEBUG=0."""
    tmp_path = tmp_path_factory.mktemp("production")
    static_root = tmp_path / "static"
    result = manage(
        "collectstatic",
        "--no-input",
        "-v",
        "0",
        env=production_environment(tmp_path, STATIC_ROOT=str(static_root)),
    )
    assert result.returncode == 0, result.stderr
    assert (static_root / "staticfiles.json").is_file()
    return static_root


@pytest.fixture
def production_settings(settings, production_static):
    settings.DEBUG = False
    settings.STATIC_ROOT = production_static
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": MANIFEST_STORAGE}}
    return settings


def test_the_report_pages_files_are_built_in_brotli_and_gzip(production_static):
    # Browsers take the Brotli copy, a sixth smaller than gzip (docs/PERFORMANCE.md, "Report
    # page"); one that does not read Brotli gets the gzip copy.
    manifest = json.loads((production_static / "staticfiles.json").read_text())["paths"]
    for name in ("vendor/noble.js", "js/verify-core.js", "css/report.css", "vendor/chart.umd.js"):
        built = production_static / manifest[name]
        original = built.read_bytes()
        assert brotli.decompress((built.parent / (built.name + ".br")).read_bytes()) == original
        assert gzip.decompress((built.parent / (built.name + ".gz")).read_bytes()) == original


@pytest.mark.django_db
def test_every_page_renders_against_the_production_manifest(client, production_settings):
    sources = approved_sources()
    record_rollback_history(sources)
    entry_index = Entry.objects.filter(vin=ROLLBACK_VIN).values_list("index", flat=True).first()
    member = MembershipFactory(organisation=sources.dealer, role="source_admin")
    result = submit_event(organisation=sources.dealer, payload=event_payload("service"))
    upload = CsvUpload.objects.create(
        organisation=sources.dealer,
        uploaded_by=member.user,
        filename="a.csv",
        content="",
        sha256="0" * 64,
        total_rows=0,
    )
    anonymous_pages = [
        "/",
        f"/vehicles/{ROLLBACK_VIN}/",
        f"/vehicles/{UNKNOWN_VIN}/",
        "/vehicles/LFV2A21K0E3I00001/",
        f"/vehicles/{ROLLBACK_VIN}/print",
        f"/vehicles/{ROLLBACK_VIN}/entries/{entry_index}/dispute",
        "/accounts/login/",
        "/accounts/password_reset/",
        "/sources/apply",
        "/sources/apply/thanks",
        "/admin/login/",
        "/api/docs/",
    ]
    for url in anonymous_pages:
        response = client.get(url)
        assert response.status_code in (200, 400), (url, response.status_code)

    client.force_login(member.user)
    submission = Submission.objects.get(pk=result.submission.pk)
    for url in [
        reverse("portal:dashboard"),
        reverse("portal:event-new"),
        reverse("portal:csv-upload"),
        reverse("portal:csv-detail", args=[upload.pk]),
        reverse("portal:submission", args=[submission.public_id]),
        reverse("portal:keys"),
    ]:
        assert client.get(url).status_code == 200, url

    client.force_login(make_moderator(is_staff=True, is_superuser=True))
    for url in ["/moderation/", "/moderation/erase", "/admin/", "/admin/sources/organisation/"]:
        assert client.get(url).status_code == 200, url


def test_create_log_key_starts_before_any_key_exists(tmp_path):
    env = production_environment(tmp_path)
    key_file = tmp_path / "new.key"
    vrf_key_file = tmp_path / "new-vrf.key"
    env["LEDGER_SIGNING_KEY_FILE"] = str(key_file)
    env["LEDGER_VRF_KEY_FILE"] = str(vrf_key_file)

    result = manage("create_log_key", env=env)

    assert result.returncode == 0, result.stderr
    assert key_file.is_file()
    assert vrf_key_file.is_file()
    assert result.stdout.startswith("carhistory.localhost/log+")


@pytest.mark.parametrize(
    ("missing", "complaint"),
    [
        ("LEDGER_SIGNING_KEY_FILE", "there is no log key"),
        ("LEDGER_VRF_KEY_FILE", "there is no VRF key"),
    ],
)
def test_the_web_server_refuses_to_start_without_each_key(tmp_path, missing, complaint):
    env = production_environment(tmp_path, **{missing: str(tmp_path / "none.key")})

    # What gunicorn does first: import the WSGI application (which runs the system checks).
    result = subprocess.run(
        [sys.executable, "-c", "import carhistory.wsgi"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert complaint in result.stderr


def test_the_web_server_keeps_what_it_loads_at_start_out_of_the_garbage_collector(tmp_path):
    # What gunicorn does first, then what a worker's collector would have to walk.
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import gc, sys; import carhistory.wsgi; "
            "print(gc.get_freeze_count(), 'carhistory.urls' in sys.modules, "
            "'pypinyin' in sys.modules)",
        ],
        cwd=BASE_DIR,
        env=production_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    frozen, urls_loaded, pinyin_loaded = result.stdout.split()
    # The URLconf and what it imports (the slug rules' pinyin dictionaries) are loaded at
    # start, not by the first request, and frozen with the rest.
    assert (urls_loaded, pinyin_loaded) == ("True", "True")
    assert int(frozen) > 100_000


def test_other_commands_refuse_to_run_without_a_log_key(tmp_path):
    env = production_environment(tmp_path, LEDGER_SIGNING_KEY_FILE=str(tmp_path / "none.key"))

    result = manage("check", env=env)

    assert result.returncode != 0
    assert "there is no log key" in result.stderr


def test_demo_data_refuses_to_load_in_production(tmp_path):
    result = manage("load_demo", env=production_environment(tmp_path))

    assert result.returncode != 0
    assert "DEBUG is off" in result.stderr
