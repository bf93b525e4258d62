"""Crash safety: a worker process killed with SIGKILL mid-run, over and over, loses nothing."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ganglioside.runs.store import WORKER_DIED_MESSAGE, RunStore
from tests.store_support import query

REPO = Path(__file__).resolve().parents[1]
SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "testwork_user.csv"
MID_RUN_KILLS, MAX_KILLS = 20, 60
"""Kill until 20 kills have hit a run in progress (a run of the sample lasts only ~0.2-1 s)."""
HEARTBEAT, STALE_AFTER = 0.2, 2.0


def start_worker(db: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ganglioside", "worker", "--poll-interval", "0.05",
         "--heartbeat-interval", str(HEARTBEAT), "--stale-after", str(STALE_AFTER)],
        cwd=REPO, env={**os.environ, "GANGLIOSIDE_DB": str(db)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_until(predicate, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def running_since(store: RunStore, moment: float) -> bool:
    return any(run.started_at.timestamp() >= moment
               for run in store.list_runs(status="processing"))


@pytest.mark.slow
def test_kill_9_mid_run_loses_nothing_and_leaves_nothing_stuck(db_target):
    db = db_target
    store = RunStore(db)
    data, submitted, rng = SAMPLE.read_bytes(), [], random.Random(7)

    def top_up() -> None:
        while store.counts()["pending"] < 3:
            submitted.append(store.create_run(data, SAMPLE.name, name=f"run {len(submitted)}"))

    began = time.monotonic()
    mid_run_kills = kills = 0
    while mid_run_kills < MID_RUN_KILLS and kills < MAX_KILLS:
        kills += 1
        top_up()
        launched = time.time()
        worker = start_worker(db)
        wait_until(lambda: running_since(store, launched))
        time.sleep(rng.uniform(0.0, 0.3))
        mid_run_kills += bool(store.list_runs(status="processing"))
        worker.send_signal(signal.SIGKILL)
        worker.wait()

    final = start_worker(db)
    try:
        wait_until(lambda: store.counts()["pending"] + store.counts()["processing"] == 0)
    finally:
        final.send_signal(signal.SIGTERM)
        assert final.wait(timeout=30) == 0
    seconds = time.monotonic() - began

    runs = {run.id: run for run in store.list_runs()}
    counts = store.counts()
    requeued = sum(run.attempts > 1 for run in runs.values())
    print(f"\nfault test ({store.database.backend}): {kills} kill -9 ({mid_run_kills} mid-run), "
          f"{len(submitted)} runs: {counts['completed']} completed, {counts['failed']} failed (worker died twice), "
          f"{requeued} requeued after a kill, {seconds:.1f} s")

    assert store.integrity_check() == "ok"
    assert mid_run_kills >= MID_RUN_KILLS
    assert set(runs) == set(submitted)  # 0 lost
    assert counts["processing"] == counts["pending"] == 0  # 0 stuck
    with_result = {run_id for run_id, in query(store, "SELECT run_id FROM results")}
    completed = {run_id for run_id, run in runs.items() if run.status == "completed"}
    assert with_result == completed  # 0 partial results
    for run_id, run in runs.items():
        if run.status == "failed":
            assert run.error == WORKER_DIED_MESSAGE and run.attempts == 2
        else:
            assert run.status == "completed"
            result = store.load_result(run_id)
            assert len(result.rows) == 323 and result.summary == run.summary
    assert counts["completed"] > 0
