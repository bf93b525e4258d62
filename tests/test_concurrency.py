"""Many processes on one database (SQLite file, PostgreSQL server): 8 submitters, several
workers, every run executed once, no lock error."""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from ganglioside.params import AnalysisParams
from ganglioside.runs.store import RunStore

REPO = Path(__file__).resolve().parents[1]
SMALL = Path(__file__).resolve().parents[2] / "shared" / "data" / "testwork_small.csv"
SUBMITTERS, RUNS_EACH, WORKERS = 8, 25, 3
PARAMS = AnalysisParams(algorithm_version="1.0")  # the cheaper algorithm: this tests the store
RUN_LOG = re.compile(r"run ([0-9a-f]{16}) \(attempt (\d+)\): (\w+)")
LOCK_ERRORS = re.compile(r"locked|deadlock|could not serialize|could not obtain lock", re.I)


def submit_batch(db: str, submitter: int, start_at: float) -> list[str]:
    """One submitting process: create its runs as fast as it can, polling like a page does."""
    store = RunStore(db)
    data = SMALL.read_bytes()
    while time.time() < start_at:
        time.sleep(0.005)
    ids = []
    for number in range(RUNS_EACH):
        run_id = store.create_run(data, SMALL.name, PARAMS,
                                  name=f"submitter {submitter} run {number}")
        ids.append(run_id)
        assert store.get_run(run_id).name.endswith(f"run {number}")
        store.list_runs(limit=10)
    return ids


@pytest.mark.slow
def test_eight_processes_submit_200_runs_each_executed_exactly_once(db_target):
    db = db_target
    RunStore(db).counts()  # create the database before the crowd arrives
    workers = [subprocess.Popen(
        [sys.executable, "-m", "ganglioside", "worker", "--threads", "2", "--poll-interval",
         "0.05"], cwd=REPO, env={**os.environ, "GANGLIOSIDE_DB": str(db)},
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True) for _ in range(WORKERS)]
    try:
        context = multiprocessing.get_context("spawn")
        start_at = time.time() + 8.0  # every submitter imported and waiting: they start together
        with ProcessPoolExecutor(SUBMITTERS, mp_context=context) as pool:
            batches = list(pool.map(submit_batch, [str(db)] * SUBMITTERS, range(SUBMITTERS),
                                    [start_at] * SUBMITTERS))
        submitted = [run_id for batch in batches for run_id in batch]
        store = RunStore(db)
        deadline = time.monotonic() + 180
        while store.counts()["completed"] < len(submitted):
            assert time.monotonic() < deadline, store.counts()
            assert all(worker.poll() is None for worker in workers)
            time.sleep(0.1)
        seconds = time.time() - start_at
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        logs = [worker.communicate(timeout=60)[1] for worker in workers]

    runs = store.list_runs()
    executions = Counter(match[0] for log in logs for match in RUN_LOG.findall(log))
    per_worker = [len(RUN_LOG.findall(log)) for log in logs]
    print(f"\nconcurrency test ({store.database.backend}): {SUBMITTERS} submitting processes, "
          f"{len(submitted)} runs, {WORKERS} worker processes x 2 threads (runs per worker "
          f"{per_worker}), {seconds:.1f} s from first submit to last completion")

    assert [worker.returncode for worker in workers] == [0] * WORKERS
    assert len(submitted) == len(set(submitted)) == SUBMITTERS * RUNS_EACH
    assert {run.id for run in runs} == set(submitted)
    assert all(run.status == "completed" and run.attempts == 1 for run in runs)
    assert executions == Counter({run_id: 1 for run_id in submitted})
    assert all(status == "completed" for log in logs for *_, status in RUN_LOG.findall(log))
    for log in logs:
        assert not LOCK_ERRORS.search(log) and "Traceback" not in log
    assert store.integrity_check() == "ok"
