"""Real Celery worker and beat processes for the tests, the benchmark and ``make cluster``.

Each process is ``python -m ganglioside worker|beat`` with $GANGLIOSIDE_BROKER and
$GANGLIOSIDE_DB set, in its own process group (``kill`` reaches the pool processes too) and in a
"host" folder: its working directory, HOME and TMPDIR, so two folders stand for two hosts that
share only the broker and the database. Its log goes to a file in that folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUN_ENDED = re.compile(r"run ([0-9a-f]{16}): (completed|failed|cancelled|pending)")


def celery_environment(broker: str, db: str, host_folder: Path, **tuning: float) -> dict:
    """The environment of a process of the Celery profile; tuning: heartbeat_interval=1 sets
    $GANGLIOSIDE_HEARTBEAT_INTERVAL, and so on."""
    host_folder.mkdir(parents=True, exist_ok=True)
    environment = {**os.environ, "GANGLIOSIDE_BROKER": broker, "GANGLIOSIDE_DB": db,
                   "HOME": str(host_folder), "TMPDIR": str(host_folder),
                   "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    environment.pop("GANGLIOSIDE_EXECUTOR", None)
    for name, value in tuning.items():
        environment[f"GANGLIOSIDE_{name.upper()}"] = str(value)
    return environment


class CeleryProcess:
    """One ``python -m ganglioside`` process of the Celery profile."""

    def __init__(self, command: list[str], environment: dict, log: Path):
        self.log = log
        with open(log, "ab") as stream:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ganglioside", *command], cwd=environment["HOME"],
                env=environment, stdout=stream, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """kill -9 of the worker and its pool processes."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout: float = 20.0) -> None:
        """Warm shutdown (SIGTERM), then kill -9 if it takes longer than timeout."""
        if not self.alive:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        with contextlib.suppress(ProcessLookupError):  # pool processes a dead worker left
            os.killpg(self.process.pid, signal.SIGKILL)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def start_worker(environment: dict, name: str, concurrency: int = 1) -> CeleryProcess:
    folder = Path(environment["HOME"])
    return CeleryProcess(["worker", "--threads", str(concurrency)], environment,
                         folder / f"{name}.log")


def start_beat(environment: dict) -> CeleryProcess:
    folder = Path(environment["HOME"])
    return CeleryProcess(["beat", "--schedule", str(folder / "celerybeat-schedule")],
                         environment, folder / "beat.log")


def completions(processes: Iterable[CeleryProcess]) -> Counter:
    """How many times each run was reported completed, over the logs of these workers."""
    return Counter(run_id for process in processes
                   for run_id, status in RUN_ENDED.findall(process.log_text())
                   if status == "completed")


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Poll condition until it is true (True) or timeout seconds passed (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()
