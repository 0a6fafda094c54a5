"""`carhistory-verify` / `python -m carhistory_verifier.verify` as a buyer runs it: exit codes,
messages, and no Django anywhere in its imports."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from carhistory_verifier.note import Signer
from carhistory_verifier.verify import main
from memory_log import VIN, MemoryLog

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def log():
    return MemoryLog()


@pytest.fixture
def bundle_file(log, tmp_path):
    dealer = Signer.generate("sh-anting-vw-4s")
    key = log.add_source_key("sh-anting-vw-4s", dealer)
    first = log.source_entry("sh-anting-vw-4s", dealer, odometer_km=45210)
    second = log.source_entry("sh-vehicle-registry", None, type="registration")
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(log.bundle([first, second], [key])), encoding="utf-8")
    return path


def run_verifier(*arguments):
    return subprocess.run(
        [sys.executable, "-m", "carhistory_verifier.verify", *map(str, arguments)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_good_bundle_exits_0_with_a_summary(log, bundle_file):
    result = run_verifier(bundle_file, "--log-key", log.key)
    assert result.returncode == 0, result.stderr
    assert f"OK: evidence for VIN {VIN} verifies." in result.stdout
    assert "tree size 3" in result.stdout
    assert "1 signed by the platform on a source's behalf" in result.stdout
    assert result.stderr == ""


def test_the_log_key_can_be_read_from_a_file(log, bundle_file, tmp_path):
    key_file = tmp_path / "log.key"
    key_file.write_text(log.key + "\n", encoding="utf-8")
    result = run_verifier(bundle_file, "--log-key", f"@{key_file}")
    assert result.returncode == 0, result.stderr


def test_a_tampered_bundle_exits_1_naming_the_failure(log, bundle_file):
    bundle = json.loads(bundle_file.read_text(encoding="utf-8"))
    bundle["entries"][0]["entry"]["odometer_km"] = 4521
    bundle_file.write_text(json.dumps(bundle), encoding="utf-8")
    result = run_verifier(bundle_file, "--log-key", log.key)
    assert result.returncode == 1
    assert result.stderr.startswith(
        "FAILED: entries[0] (index 1): inclusion proof does not match the checkpoint root"
    )
    assert result.stdout == ""


def test_a_wrong_log_key_exits_1(bundle_file):
    other = Signer.generate("carhistory.localhost/log").verifier().key_string()
    result = run_verifier(bundle_file, "--log-key", other)
    assert result.returncode == 1
    assert result.stderr.startswith("FAILED: log_key:")


def test_unreadable_or_invalid_input_exits_2(tmp_path, capsys):
    missing = tmp_path / "missing.json"
    assert main([str(missing)]) == 2
    assert "cannot read" in capsys.readouterr().err

    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    assert main([str(broken)]) == 2
    assert "not valid JSON" in capsys.readouterr().err

    assert main([str(broken), "--log-key", f"@{missing}"]) == 2


def test_json_with_duplicate_keys_is_refused_as_ambiguous(tmp_path, capsys):
    # Two readers could see two different entries; the verifier will not pick one.
    path = tmp_path / "duplicate.json"
    path.write_text('{"format": "carhistory-evidence/v1", "vin": "A", "vin": "B"}')
    assert main([str(path)]) == 2
    assert "duplicate key 'vin'" in capsys.readouterr().err


def test_nan_is_not_json(tmp_path):
    path = tmp_path / "nan.json"
    path.write_text('{"format": NaN}')
    assert main([str(path)]) == 2


def test_main_in_process_matches_the_command_line(log, bundle_file, capsys):
    assert main([str(bundle_file), "--log-key", log.key]) == 0
    assert "OK:" in capsys.readouterr().out


NO_DJANGO = textwrap.dedent(
    """
    import json, sys

    class RefuseDjango:
        def find_spec(self, name, path=None, target=None):
            if name == "django" or name.startswith("django."):
                raise ImportError("django must not be imported by the offline verifier")
            return None

    sys.meta_path.insert(0, RefuseDjango())
    from carhistory_verifier.verify import verify_bundle

    with open(sys.argv[1], encoding="utf-8") as file:
        summary = verify_bundle(json.load(file), log_key=sys.argv[2])
    assert not any(name == "django" or name.startswith("django.") for name in sys.modules)
    print("verified", summary.entries_checked)
    """
)


def test_the_verifier_runs_without_django(log, bundle_file):
    result = subprocess.run(
        [sys.executable, "-c", NO_DJANGO, str(bundle_file), log.key],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "verified 2"


def test_the_verifier_modules_import_without_django():
    script = NO_DJANGO.split("from carhistory_verifier.verify")[0] + textwrap.dedent(
        """
        import carhistory_verifier.merkle, carhistory_verifier.entry, carhistory_verifier.note
        import carhistory_verifier.tiles, carhistory_verifier.verify, carhistory_verifier.witness
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_without_a_pinned_key_the_summary_says_where_the_key_came_from(bundle_file):
    result = run_verifier(bundle_file)
    assert result.returncode == 0, result.stderr
    assert "taken from the bundle: pass --log-key" in result.stdout
