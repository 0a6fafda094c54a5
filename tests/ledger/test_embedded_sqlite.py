"""The embedded default (SQLite, no broker) runs the same sequencer without advisory locks."""

import os
import subprocess
import sys

from django.conf import settings

SCRIPT = """
from django.core.management import call_command
from ledger import selectors, services
from tests.ledger.factories import EntryFactory

services.enqueue_entries(entries=EntryFactory.build_batch(40))
result = services.integrate_pending(batch_size=7)
# Six batches, each ending with its vin_index entry.
assert (result.tree_size, result.integrated) == (46, 40), result
assert selectors.inclusion_proof(index=39, tree_size=46)
call_command("verify_ledger")
"""


def test_the_sequencer_and_audit_work_on_sqlite(tmp_path, log_key):
    environment = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'embedded.sqlite3'}",
        "LEDGER_SIGNING_KEY": log_key.key_string(),
        # verify_ledger remembers what it verified: this log is new, so is its memory.
        "LEDGER_AUDIT_STATE_FILE": str(tmp_path / "verified-checkpoint.json"),
        "LEDGER_VRF_KEY": settings.LEDGER_VRF_KEY,
        # Integration is called by hand below; the scheduled task goes to the memory broker.
        "CELERY_TASK_ALWAYS_EAGER": "0",
    }
    environment.pop("REDIS_URL", None)

    def manage(*arguments: str) -> str:
        completed = subprocess.run(
            [sys.executable, "manage.py", *arguments],
            cwd=settings.BASE_DIR,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert completed.returncode == 0, completed.stderr
        return completed.stdout

    manage("migrate", "ledger", "--skip-checks", "-v", "0")
    output = manage("shell", "-c", SCRIPT)
    assert "ok: 46 entries, 42 subtrees and 6 checkpoints verified" in output
