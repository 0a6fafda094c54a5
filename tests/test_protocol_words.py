"""One vocabulary, two runtimes: the browser verifier's protocol words (static/js/protocol.js)
are Python's (carhistory_verifier/protocol.py), so a platform-only type or a failure name added
to one and not the other fails here rather than in a buyer's browser."""

import json
import subprocess
from pathlib import Path

from carhistory_verifier import protocol

ROOT = Path(__file__).resolve().parents[1]


def browser_protocol() -> dict:
    result = subprocess.run(
        ["node", str(ROOT / "tests" / "js" / "print-protocol.js")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(result.stdout)


def test_the_browser_speaks_the_protocol_words_of_python():
    assert browser_protocol() == protocol.as_json()


def test_every_failure_has_words_on_the_report_page():
    from carhistory.vehicles.views import _verify_messages

    reasons = _verify_messages()["reasons"]
    assert set(protocol.Failure) <= set(reasons)
