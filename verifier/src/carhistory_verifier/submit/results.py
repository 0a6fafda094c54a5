"""The per-record result file of `carhistory-submit send`, which also makes a rerun resume.

One JSON object a line: the record's position in the input, its `external_id`, and what the
log said (`pending` or `integrated` with its index: accepted; `refused` with the reasons). Each
batch's lines are flushed to disk before the next batch is counted as done, so after a crash a
rerun skips what was accepted and sends the rest; a record whose answer was lost in the crash is
sent again and the server, recognising its `external_id`, returns its first result.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ACCEPTED_STATES = frozenset({"pending", "integrated"})
REFUSED = "refused"


class ResultFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.accepted_earlier = self._accepted_ids()
        self._file = path.open("a", encoding="utf-8")
        if self._ends_torn():
            self._file.write("\n")  # so the first new line does not join the torn one

    def _ends_torn(self) -> bool:
        if not self.path.stat().st_size:
            return False
        with self.path.open("rb") as existing:
            existing.seek(-1, os.SEEK_END)
            return existing.read(1) != b"\n"

    def _accepted_ids(self) -> frozenset[str]:
        if not self.path.exists():
            return frozenset()
        accepted = set()
        with self.path.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    result = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a crash: its record is simply sent again
                if isinstance(result, dict) and result.get("status") in ACCEPTED_STATES:
                    accepted.add(result.get("external_id"))
        return frozenset(accepted)

    def write(self, results: list[dict[str, Any]]) -> None:
        self._file.write(
            "".join(json.dumps(result, ensure_ascii=False) + "\n" for result in results)
        )
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()
