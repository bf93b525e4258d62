"""Fault and concurrency scenarios of the Celery profile, on real servers and worker processes.

Each returns what it counted; ``test_celery_faults.py`` runs small versions and asserts on the
counts, ``bench/scale_out.py`` the large ones (20+ kills, 200 submits) and reports them.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import re
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ganglioside.params import AnalysisParams
from ganglioside.runs.database import DatabaseError
from ganglioside.runs.store import WORKER_DIED_MESSAGE, RunStore
from tests.celery_workers import (REPO, CeleryProcess, celery_environment, completions,
                                  start_beat, start_worker, wait_until)
from tests.store_support import query

SMALL = REPO.parent / "shared" / "data" / "testwork_small.csv"
FAST = {"heartbeat_interval": 1, "stale_after": 4, "reconcile_interval": 2}
LOCK_ERRORS = re.compile(r"database is locked|deadlock|could not serialize|could not obtain lock",
                         re.I)

REQUEUED = re.compile(r"run [0-9a-f]{16} requeued")


@dataclass
class Outcome:
    """How the submitted runs ended, as counted in the store and the workers' logs."""

    submitted: int = 0
    statuses: Counter = field(default_factory=Counter)
    failed_worker_died: int = 0
    completed_twice: int = 0
    partial: int = 0           # completed without a whole result
    lock_errors: int = 0
    requeued: int = 0          # runs taken back from a dead worker by stale-run recovery
    integrity: str = ""
    faults: int = 0            # kills, restarts
    seconds: float = 0.0

    @property
    def lost(self) -> int:
        """Runs neither finished nor in the store."""
        return self.submitted - sum(self.statuses.values())

    @property
    def stuck(self) -> int:
        return self.statuses["pending"] + self.statuses["processing"]


class Cluster:
    """Worker and beat processes of one store and broker, in host folders under ``folder``."""

    def __init__(self, broker: str, db: str, folder: Path, **tuning: float):
        self.broker, self.db, self.folder = broker, db, folder
        self.tuning = {**FAST, **tuning}
        self.processes: list[CeleryProcess] = []

    def environment(self, host: str = "host-a") -> dict:
        return celery_environment(self.broker, self.db, self.folder / host, **self.tuning)

    def worker(self, host: str = "host-a", concurrency: int = 1) -> CeleryProcess:
        process = start_worker(self.environment(host), f"worker-{len(self.processes)}",
                               concurrency)
        self.processes.append(process)
        return process

    def beat(self) -> CeleryProcess:
        process = start_beat(self.environment())
        self.processes.append(process)
        return process

    def workers_alive(self) -> list[CeleryProcess]:
        return [p for p in self.processes if p.alive and "worker-" in p.log.name]

    def wait_ready(self, timeout: float = 60) -> bool:
        """Wait until every living worker has connected and reported itself ready."""
        return wait_until(lambda: all(" ready." in p.log_text() for p in self.workers_alive()),
                          timeout)

    def stop(self) -> None:
        for process in self.processes:
            process.stop()

    def logs(self) -> str:
        return "\n".join(process.log_text() for process in self.processes)


def demo_inputs(count: int, rows: int, first_seed: int = 0) -> list[bytes]:
    from ganglioside.demo import make_demo_table

    return [make_demo_table(rows, seed=seed).to_csv(index=False).encode()
            for seed in range(first_seed, first_seed + count)]


def submit_all(store: RunStore, inputs: list[bytes], params: AnalysisParams = AnalysisParams(),
               prefix: str = "run") -> list[str]:
    from ganglioside.runs.executors import CeleryExecutor

    executor = CeleryExecutor()
    run_ids = []
    for number, data in enumerate(inputs):
        run_ids.append(store.create_run(data, "demo.csv", params, name=f"{prefix} {number}"))
        executor.submit(run_ids[-1])
    return run_ids


def _all_ended(store: RunStore) -> bool:
    counts = store.counts()
    return counts["pending"] + counts["processing"] == 0


def wait_for_end(store: RunStore, timeout: float) -> bool:
    """Wait until no run of the store is pending or processing (a store that cannot be reached
    for a moment, as while its server restarts, is asked again at the next poll)."""
    def idle() -> bool:
        try:
            return _all_ended(store)
        except DatabaseError:
            return False

    return wait_until(idle, timeout, interval=0.5)


def outcome(store: RunStore, run_ids: list[str], cluster: Cluster,
            expected_rows: dict[str, int], started: float, faults: int = 0) -> Outcome:
    records = {r.id: r for r in store.list_runs() if r.id in set(run_ids)}
    done = completions(cluster.processes)
    partial = 0
    for run_id, record in records.items():
        if record.status == "completed":
            result = store.load_result(run_id)
            if result is None or len(result.rows) != expected_rows[run_id]:
                partial += 1
    return Outcome(
        submitted=len(run_ids), statuses=Counter(r.status for r in records.values()),
        failed_worker_died=sum(r.error == WORKER_DIED_MESSAGE for r in records.values()),
        completed_twice=sum(count > 1 for count in done.values()), partial=partial,
        lock_errors=len(LOCK_ERRORS.findall(cluster.logs())),
        requeued=len(REQUEUED.findall(cluster.logs())), integrity=store.integrity_check(),
        faults=faults, seconds=time.monotonic() - started)


def rows_of(data: bytes) -> int:
    return data.count(b"\n") - 1


def kill_workers(broker: str, db: str, folder: Path, runs: int = 10, kills: int = 6,
                 workers: int = 3, rows: int = 2000, seed: int = 0) -> Outcome:
    """kill -9 a worker (and its pool) at random moments while runs execute, starting a new one
    each time, until ``kills`` kills; then wait for every run to end. The victim is the worker
    of a random processing run (claimed, computing or writing its result). When every run has
    ended before the kills did (a quiet machine finishes small runs within a second), one more
    run is submitted, so the kills never wait for work that will not come."""
    rng = random.Random(seed)
    store = RunStore(db)
    inputs = demo_inputs(runs, rows)
    cluster = Cluster(broker, db, folder)
    try:
        for _ in range(workers):
            cluster.worker()
        cluster.beat()
        started = time.monotonic()
        run_ids = submit_all(store, inputs)
        done = 0
        while done < kills:
            if _all_ended(store):
                inputs += demo_inputs(1, rows, first_seed=len(inputs))
                run_ids += submit_all(store, inputs[-1:], prefix="top-up run")
            if not wait_until(lambda: store.counts()["processing"] > 0, 120):
                break
            time.sleep(rng.uniform(0.0, 0.5))  # a random moment of whatever is running then
            if _kill_a_running_worker(store, cluster, rng):
                done += 1
                cluster.worker()
        wait_for_end(store, timeout=60 + 4 * len(run_ids))
        expected = {run_id: rows_of(data) for run_id, data in zip(run_ids, inputs)}
        return outcome(store, run_ids, cluster, expected, started, faults=done)
    finally:
        cluster.stop()


def _kill_a_running_worker(store: RunStore, cluster: Cluster, rng: random.Random) -> bool:
    """kill -9 the worker (process group) that holds a random processing run."""
    holders = query(store, "SELECT worker FROM runs WHERE status = 'processing'")
    pool_pids = [int(worker.split(":")[1]) for (worker,) in holders if worker]
    ours = {p.process.pid: p for p in cluster.workers_alive()}  # only our own processes
    rng.shuffle(pool_pids)
    for pid in pool_pids:
        with contextlib.suppress(ProcessLookupError):
            worker = ours.get(os.getpgid(pid))
            if worker is not None:
                worker.kill()
                return True
    return False


def restart_postgresql(server, broker: str, db: str, folder: Path, runs: int = 6,
                       rows: int = 2000, down_seconds: float = 3.0) -> Outcome:
    """Restart the PostgreSQL server of the store while runs execute; wait for every run to
    end (``server``: tests.postgresql_server.PostgreSQLServer)."""
    store = RunStore(db)
    inputs = demo_inputs(runs, rows)
    cluster = Cluster(broker, db, folder)
    try:
        cluster.worker()
        cluster.worker(host="host-b")
        cluster.beat()
        started = time.monotonic()
        run_ids = submit_all(store, inputs)
        wait_until(lambda: store.counts()["processing"] > 0, 60)
        server.executor.stop()
        time.sleep(down_seconds)
        server.executor.start()
        wait_for_end(store, timeout=90 + 4 * runs)
        expected = {run_id: rows_of(data) for run_id, data in zip(run_ids, inputs)}
        return outcome(store, run_ids, cluster, expected, started, faults=1)
    finally:
        cluster.stop()


def restart_redis(server, broker: str, db: str, folder: Path, runs: int = 12,
                  rows: int = 2000) -> Outcome:
    """Restart Redis (no persistence: its queue is lost) while runs are queued and running;
    wait for every run to end (``server``: tests.redis_server.RedisServer)."""
    store = RunStore(db)
    inputs = demo_inputs(runs, rows)
    cluster = Cluster(broker, db, folder)
    try:
        cluster.worker()
        cluster.beat()
        started = time.monotonic()
        run_ids = submit_all(store, inputs)
        wait_until(lambda: store.counts()["processing"] > 0, 60)
        server.restart()
        wait_for_end(store, timeout=90 + 4 * runs)
        expected = {run_id: rows_of(data) for run_id, data in zip(run_ids, inputs)}
        return outcome(store, run_ids, cluster, expected, started, faults=1)
    finally:
        cluster.stop()


def _submit_batch(db: str, broker: str, submitter: int, count: int, start_at: float
                  ) -> list[str]:
    """One submitting process (a page or a CLI user): create and send its runs."""
    os.environ["GANGLIOSIDE_BROKER"] = broker
    store = RunStore(db)
    data = SMALL.read_bytes()
    while time.time() < start_at:
        time.sleep(0.005)
    return submit_all(store, [data] * count, AnalysisParams(algorithm_version="1.0"),
                      prefix=f"submitter {submitter} run")


def many_submitters(broker: str, db: str, folder: Path, submitters: int = 8,
                    runs_each: int = 25) -> Outcome:
    """``submitters`` processes submit at once to 3 workers in two "hosts" (folders with their
    own environment: 2 + 1 workers); every run must be completed exactly once."""
    store = RunStore(db)
    store.counts()  # the schema exists before the crowd arrives
    cluster = Cluster(broker, db, folder)
    try:
        cluster.worker("host-a")
        cluster.worker("host-a")
        cluster.worker("host-b")
        started = time.monotonic()
        start_at = time.time() + 5.0
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(submitters, mp_context=context) as pool:
            batches = list(pool.map(_submit_batch, [db] * submitters, [broker] * submitters,
                                    range(submitters), [runs_each] * submitters,
                                    [start_at] * submitters))
        run_ids = [run_id for batch in batches for run_id in batch]
        wait_for_end(store, timeout=60 + runs_each * submitters)
        rows = rows_of(SMALL.read_bytes())
        return outcome(store, run_ids, cluster, dict.fromkeys(run_ids, rows), started)
    finally:
        cluster.stop()
