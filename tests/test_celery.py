"""Celery beat, against the real Redis broker, keeps the sequencer running."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

BASE_DIR = Path(__file__).resolve().parent.parent
CELERY = str(Path(sys.executable).parent / "celery")


@pytest.fixture
def beat_broker_url():
    # A Redis database of its own, so that no other test's worker takes the message first.
    url = urlunsplit(urlsplit(os.environ["REDIS_URL"])._replace(path="/14"))
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()


@pytest.mark.worker
def test_beat_sends_the_sequencer_task_to_redis(beat_broker_url, tmp_path):
    environment = os.environ | {"REDIS_URL": beat_broker_url, "CELERY_TASK_ALWAYS_EAGER": "0"}
    beat = subprocess.Popen(
        [CELERY, "-A", "carhistory", "beat", "--schedule", str(tmp_path / "schedule")],
        cwd=BASE_DIR,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        broker = redis.Redis.from_url(beat_broker_url)
        deadline = time.monotonic() + 30
        while not broker.llen("celery") and time.monotonic() < deadline:
            time.sleep(0.2)
        message = broker.lindex("celery", 0)
    finally:
        beat.send_signal(signal.SIGTERM)
        beat.wait(timeout=30)

    assert message is not None, "beat sent nothing to the broker in 30 s"
    assert json.loads(message)["headers"]["task"] == "ledger.tasks.integrate_pending"
