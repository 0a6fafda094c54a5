"""What a buyer installs: the `carhistory-verifier` distribution (./verifier) in a clean
virtualenv with no Django and none of the site, checking a bundle the running site served and
refusing tampered ones, each by name.

The virtualenv is built once per run with the ordinary pip (its cache makes reruns quick; on a
fresh machine pip fetches the two declared dependencies from the package index).
"""

import base64
import json
import os
import subprocess
import sys
import urllib.request
import venv
import zipfile
from pathlib import Path

import pytest
from django.conf import settings

from tests.vehicles.browser.histories import (
    ROLLBACK_VIN,
    approved_sources,
    record_rollback_history,
)

ROOT = Path(settings.BASE_DIR)
DISTRIBUTION = ROOT / "verifier"
PIP_TIMEOUT = 600


def _run(*command, **options) -> subprocess.CompletedProcess:
    # Without PYTHONPATH: a developer's (a worktree's sources first, say) would make the
    # site importable in the clean virtualenv and the checks below fail for the wrong reason.
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    return subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, env=environment, **options
    )


@pytest.fixture(scope="module")
def clean_venv(tmp_path_factory) -> Path:
    """A virtualenv holding only carhistory-verifier and what it declares it needs."""
    home = tmp_path_factory.mktemp("buyer") / "venv"
    # No system site-packages: nothing of the site's environment leaks in.
    venv.EnvBuilder(with_pip=True, system_site_packages=False, clear=True).create(home)
    # A copy of the sources, as a buyer's checkout would be: no build artefacts from ours.
    installed = _run(
        home / "bin" / "python",
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        DISTRIBUTION,
        timeout=PIP_TIMEOUT,
    )
    assert installed.returncode == 0, installed.stderr
    return home


def test_the_clean_virtualenv_has_no_django_and_none_of_the_site(clean_venv):
    listed = _run(clean_venv / "bin" / "python", "-m", "pip", "list", "--format=json", timeout=120)
    names = {package["name"].lower() for package in json.loads(listed.stdout)}
    assert "carhistory-verifier" in names
    assert not names & {"django", "djangorestframework", "celery", "psycopg2-binary"}
    # The site's packages cannot be imported there; the verifier can.
    probe = "import importlib.util as u; print([u.find_spec(n) is None for n in ('ledger', 'carhistory', 'django')])"  # noqa: E501
    # Run outside the repository, whose own folders would otherwise be importable.
    found = _run(clean_venv / "bin" / "python", "-c", probe, cwd=clean_venv.parent)
    assert found.stdout.strip() == "[True, True, True]"


def test_the_wheel_holds_only_carhistory_verifier(tmp_path):
    built = _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--disable-pip-version-check",
        "--wheel-dir",
        tmp_path,
        DISTRIBUTION,
        timeout=PIP_TIMEOUT,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = tmp_path.glob("carhistory_verifier-*.whl")
    top_level = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    packages = {name for name in top_level if not name.endswith(".dist-info")}
    assert packages == {"carhistory_verifier"}


@pytest.fixture
def served(live_server, log_key, tmp_path) -> dict:
    """A real history on the running site: its evidence bundle and log key, as served."""
    record_rollback_history(approved_sources())
    url = f"{live_server.url}/api/v1/vehicles/{ROLLBACK_VIN}/evidence"
    with urllib.request.urlopen(url, timeout=30) as response:
        bundle = json.load(response)
    with urllib.request.urlopen(f"{live_server.url}/log/key", timeout=30) as response:
        key = response.read().decode().strip()
    return {"bundle": bundle, "log_key": key, "directory": tmp_path}


def verify(clean_venv: Path, served: dict, bundle: dict) -> subprocess.CompletedProcess:
    path = served["directory"] / "bundle.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    return _run(
        clean_venv / "bin" / "carhistory-verify",
        path,
        "--log-key",
        served["log_key"],
        "--vin",
        ROLLBACK_VIN,
        timeout=120,
        cwd=served["directory"],
    )


@pytest.mark.django_db(transaction=True)
def test_the_buyer_verifies_what_the_running_site_served(clean_venv, served):
    result = verify(clean_venv, served, served["bundle"])
    assert result.returncode == 0, result.stderr
    assert f"OK: evidence for VIN {ROLLBACK_VIN} verifies." in result.stdout
    assert "Entries: 7 proven and signed" in result.stdout


def _flip(text: str, position: int = 0) -> str:
    data = bytearray(base64.b64decode(text))
    data[position] ^= 1
    return base64.b64encode(bytes(data)).decode()


def _of_type(bundle: dict, entry_type: str) -> dict:
    return next(item for item in bundle["entries"] if item["entry"]["type"] == entry_type)


def _soften_the_accident(bundle):
    _of_type(bundle, "accident")["entry"]["facts"]["severity"] = "minor"


def _flip_a_proof_hash(bundle):
    item = _of_type(bundle, "inspection")
    item["inclusion_proof"][0] = _flip(item["inclusion_proof"][0])


def _forge_the_checkpoint_signature(bundle):
    text, signature = bundle["checkpoint"].rsplit(" ", 1)
    # Past the 4-byte key id: the line still names the log key, its signature no longer holds.
    bundle["checkpoint"] = f"{text} {_flip(signature.strip(), position=10)}\n"


def _drop_the_makers_key(bundle):
    bundle["source_keys"] = [
        item for item in bundle["source_keys"] if item["entry"]["type"] != "source_key"
    ]


def _swap_in_another_car(bundle):
    bundle["vin"] = "LGBH52E05LY000003"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("tamper", "failure"),
    [
        (_soften_the_accident, "inclusion_proof"),
        (_flip_a_proof_hash, "inclusion_proof"),
        (_forge_the_checkpoint_signature, "checkpoint_signature"),
        (_drop_the_makers_key, "source_key_unproven"),
        (_swap_in_another_car, "wrong_vehicle"),
    ],
)
def test_the_buyer_refuses_a_tampered_bundle_and_names_why(clean_venv, served, tamper, failure):
    bundle = json.loads(json.dumps(served["bundle"]))
    tamper(bundle)
    result = verify(clean_venv, served, bundle)
    assert result.returncode == 1
    assert result.stderr.startswith("FAILED: ")
    assert result.stderr.rstrip().endswith(f"[{failure}]")


def test_the_installed_command_names_every_corpus_failure(clean_venv):
    corpus = DISTRIBUTION / "tests" / "corpus"
    manifest = json.loads((corpus / "manifest.json").read_text(encoding="utf-8"))
    named = {}
    for case in manifest["cases"]:
        result = _run(
            clean_venv / "bin" / "carhistory-verify",
            corpus / case["file"],
            "--log-key",
            manifest["log_key"],
            "--vin",
            case["vin"],
            timeout=120,
            cwd=clean_venv.parent,
        )
        named[case["name"]] = (
            None if result.returncode == 0 else result.stderr.rstrip().rsplit("[", 1)[-1][:-1]
        )
    assert named == {case["name"]: case["failure"] for case in manifest["cases"]}
