"""CPU seconds spent by each part of the production arrangement while a benchmark runs.

On a machine with two CPUs the end-to-end rate is bounded by the CPU every record costs in all
processes together, so a benchmark that says where that CPU went says what to cut next. A
thread reads /proc every quarter second: gunicorn's and Celery's process groups (`_harness.start`
gives each its own), and the PostgreSQL backends connected to the benchmark's database. Each
process's latest reading is kept, so a backend that exits mid-run (Django closes connections
older than CONN_MAX_AGE) loses at most a quarter second. PostgreSQL's own background processes
(WAL writer, checkpointer) are not counted. Linux only.
"""

import os
import threading
from pathlib import Path

SAMPLE_SECONDS = 0.25
_TICKS = os.sysconf("SC_CLK_TCK")


def stat_fields(pid: int | str) -> list[str]:
    """The fields of /proc/PID/stat from the third on (the state), as strings."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name in parentheses may hold spaces: the fields start after its ")".
    return stat[stat.rindex(")") + 2 :].split()


def cpu_seconds(fields: list[str]) -> float:
    """User plus system CPU seconds from `stat_fields` (stat's fields 14 and 15)."""
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _processes() -> list[tuple[int, int, float, str]]:
    """(pid, process group, CPU seconds, command line) of every process we may read."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = stat_fields(entry.name)
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # ended while we looked
        found.append((int(entry.name), int(fields[2]), cpu_seconds(fields), command))
    return found


class CpuByRole:
    """Start with the process groups to watch by role and the database name; `stop` returns
    CPU seconds by role spent since `__init__`, the database's backends as "database"."""

    def __init__(self, groups: dict[str, int], database: str) -> None:
        self.groups = {group: role for role, group in groups.items()}
        self.database = database
        self.baseline = self._reading()
        self.latest = dict(self.baseline)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _role(self, process_group: int, command: str) -> str | None:
        if process_group in self.groups:
            return self.groups[process_group]
        if command.startswith("postgres: ") and f" {self.database} " in command:
            return "database"
        return None

    def _reading(self) -> dict[int, tuple[str, float]]:
        reading = {}
        for pid, process_group, seconds, command in _processes():
            role = self._role(process_group, command)
            if role is not None:
                reading[pid] = (role, seconds)
        return reading

    def _sample(self) -> None:
        while not self._stopping.wait(SAMPLE_SECONDS):
            self.latest.update(self._reading())

    def stop(self) -> dict[str, float]:
        self._stopping.set()
        self._thread.join()
        self.latest.update(self._reading())
        spent: dict[str, float] = {}
        for pid, (role, seconds) in self.latest.items():
            before = self.baseline.get(pid, (role, 0.0))[1]
            spent[role] = spent.get(role, 0.0) + seconds - before
        return spent
