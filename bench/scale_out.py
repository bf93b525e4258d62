"""Scale-out benchmark of the Celery profile (issue 15), on real servers and worker processes.

PostgreSQL and Redis are throwaway servers started from the installed binaries (as the tests do).
Measured:

* throughput: runs per minute with 1, 2 and 4 Celery workers (one process each), on the lab's
  sample (323 rows) and on 10^5-row demo tables; timed from the first submit to the last end;
* latency from submit to start (``started_at - created_at`` in the store), p50 and p95, for Celery
  and for the embedded worker of the dashboard (``BackgroundWorker``), each run sent to an idle
  worker;
* the page's progress delay: a poller reads the run every 1 s as the progress fragment does; the
  delay of each step is when it saw the step minus when a 10 ms poller first saw it;
* faults, counted: kill -9 of workers at random moments, a Redis restart with runs queued, a
  PostgreSQL restart mid-run, and 200 submits from 8 processes to 3 workers on two "hosts".

    nice -n 10 python bench/scale_out.py                 # everything (about 15 min on 2 cores)
    nice -n 10 python bench/scale_out.py --only throughput latency progress
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from tests.celery_scenarios import (Cluster, demo_inputs, kill_workers,  # noqa: E402
                                    many_submitters, restart_postgresql, restart_redis,
                                    submit_all, wait_for_end)
from tests.postgresql_server import PostgreSQLServer  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402

SAMPLE = ROOT.parent / "shared" / "data" / "testwork_user.csv"
PAGE_POLL_SECONDS = 1.0  # ui_helpers.PROGRESS_POLL_SECONDS
SECTIONS = ("throughput", "latency", "progress", "faults")


class Servers:
    """One PostgreSQL and one Redis server; a fresh database and empty broker per measure."""

    def __init__(self) -> None:
        self.postgresql = PostgreSQLServer().start()
        self.redis = RedisServer().start()
        self.broker = self.redis.url()
        os.environ["GANGLIOSIDE_BROKER"] = self.broker
        from ganglioside.runs.celery_app import app
        app.conf.broker_url = self.broker

    def database(self):
        redis.Redis.from_url(self.broker).flushdb()
        return self.postgresql.database()

    def stop(self) -> None:
        self.redis.stop()
        self.postgresql.stop()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


@contextmanager
def celery_workers(servers: Servers, folder: Path, workers: int = 1) -> Iterator:
    """The store of a fresh database, with ``workers`` one-process Celery workers ready."""
    from ganglioside.runs.store import RunStore

    with servers.database() as db:
        cluster = Cluster(servers.broker, db, folder)
        try:
            for number in range(workers):
                cluster.worker(host=f"host-{number}")
            cluster.wait_ready()
            yield RunStore(db)
        finally:
            cluster.stop()


def throughput(servers: Servers, folder: Path, workers: int, inputs: list[bytes]) -> float:
    """Runs per minute of ``workers`` one-process workers on these inputs."""
    with celery_workers(servers, folder / f"throughput-{workers}-{len(inputs)}",
                        workers) as store:
        started = time.monotonic()
        run_ids = submit_all(store, inputs)
        wait_for_end(store, timeout=3600)
        seconds = time.monotonic() - started
        assert all(store.get_run(run_id).status == "completed" for run_id in run_ids)
    return 60 * len(inputs) / seconds


def start_latencies(store, submit, count: int, seed: int = 0) -> list[float]:
    """Seconds from submit to start of ``count`` runs, each sent to an idle worker (after the
    previous one ended, and a random 0.1-1 s pause)."""
    rng = random.Random(seed)
    data = SAMPLE.read_bytes()
    run_ids = []
    for number in range(count):
        run_ids.append(store.create_run(data, SAMPLE.name, name=f"latency {number}"))
        submit(run_ids[-1])
        wait_for_end(store, timeout=600)
        time.sleep(rng.uniform(0.1, 1.0))
    records = [store.get_run(run_id) for run_id in run_ids]
    return [(r.started_at - r.created_at).total_seconds() for r in records]


def latency(servers: Servers, folder: Path, count: int) -> dict[str, list[float]]:
    from ganglioside.runs.executors import BackgroundWorker, CeleryExecutor
    from ganglioside.runs.store import RunStore

    found = {}
    with celery_workers(servers, folder / "latency") as store:
        found["Celery worker"] = start_latencies(store, CeleryExecutor().submit, count)
    with servers.database() as db:
        for backend, target in (("sqlite", str(folder / "embedded.db")), ("postgresql", db)):
            store = RunStore(target)
            worker = BackgroundWorker(store).start()
            try:
                found[f"embedded worker ({backend})"] = start_latencies(store, worker.submit,
                                                                        count)
            finally:
                worker.stop()
    return found


def progress_delay(servers: Servers, folder: Path, rows: int) -> list[float]:
    """Delay of each progress step as a page polling every second sees it."""
    with celery_workers(servers, folder / "progress") as store:
        [run_id] = submit_all(store, demo_inputs(1, rows))
        first_seen: dict[tuple, float] = {}
        page_seen: dict[tuple, float] = {}

        def poll(seen: dict, interval: float) -> None:
            while True:
                record = store.get_run(run_id)
                seen.setdefault((record.status, record.progress, record.message),
                                time.monotonic())
                if record.is_finished:
                    return
                time.sleep(interval)

        threads = [threading.Thread(target=poll, args=(first_seen, 0.01)),
                   threading.Thread(target=poll, args=(page_seen, PAGE_POLL_SECONDS))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    # A step shorter than a poll is never shown; the page shows the next one instead.
    return [page_seen[state] - first_seen[state] for state in page_seen if state in first_seen]


FAULTS = ("kill", "redis", "postgresql", "submits")


def faults(servers: Servers, folder: Path, kills: int, submits: int,
           which: list[str]) -> dict:
    scenarios = {
        "kill": ("kill -9 of workers", lambda db: kill_workers(
            servers.broker, db, folder / "kill", runs=max(kills + 10, 30), kills=kills,
            workers=3, seed=1)),
        "redis": ("Redis restart", lambda db: restart_redis(
            servers.redis, servers.broker, db, folder / "redis", runs=20)),
        "postgresql": ("PostgreSQL restart", lambda db: restart_postgresql(
            servers.postgresql, servers.broker, db, folder / "postgresql", runs=12)),
        "submits": (f"{submits} submits, 8 processes", lambda db: many_submitters(
            servers.broker, db, folder / "submits", submitters=8, runs_each=submits // 8)),
    }
    found = {}
    for key in which:
        name, scenario = scenarios[key]
        with servers.database() as db:
            found[name] = scenario(db)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--sample-runs", type=int, default=40)
    parser.add_argument("--large-runs", type=int, default=4, help="10^5-row runs per measure")
    parser.add_argument("--latency-runs", type=int, default=30)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--submits", type=int, default=200)
    parser.add_argument("--faults", nargs="+", choices=FAULTS, default=list(FAULTS))
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ganglioside-scale-out-"))
    servers = Servers()
    try:
        print(f"# scale_out on {os.cpu_count()} cores, PostgreSQL store, Redis broker", flush=True)
        if "throughput" in args.only:
            sample = SAMPLE.read_bytes()
            large = demo_inputs(args.large_runs, 100_000)
            for name, inputs in (("sample (323 rows)", [sample] * args.sample_runs),
                                 ("demo 10^5 rows", large)):
                for workers in args.workers:
                    rate = throughput(servers, folder, workers, inputs)
                    print(f"throughput  {name:18s} {workers} workers: {rate:7.1f} runs/min "
                          f"({len(inputs)} runs)", flush=True)
        if "latency" in args.only:
            for executor, values in latency(servers, folder, args.latency_runs).items():
                print(f"submit->start  {executor:28s} p50 {percentile(values, .5):.3f} s  "
                      f"p95 {percentile(values, .95):.3f} s  ({len(values)} runs)", flush=True)
        if "progress" in args.only:
            delays = progress_delay(servers, folder, 100_000)
            print(f"page progress delay  p50 {percentile(delays, .5):.2f} s  p95 "
                  f"{percentile(delays, .95):.2f} s  max {max(delays):.2f} s  mean "
                  f"{statistics.mean(delays):.2f} s  ({len(delays)} steps seen, poll "
                  f"{PAGE_POLL_SECONDS:g} s)", flush=True)
        if "faults" in args.only:
            for name, outcome in faults(servers, folder, args.kills, args.submits,
                                         args.faults).items():
                print(f"fault  {name:22s} faults {outcome.faults:3d}  submitted "
                      f"{outcome.submitted:3d}  {dict(outcome.statuses)}  lost {outcome.lost}  "
                      f"stuck {outcome.stuck}  partial {outcome.partial}  completed twice "
                      f"{outcome.completed_twice}  failed (worker died twice) "
                      f"{outcome.failed_worker_died}  requeued from dead workers "
                      f"{outcome.requeued}  "
                      f"lock errors {outcome.lock_errors}  "
                      f"integrity {outcome.integrity}  {outcome.seconds:.0f} s", flush=True)
    finally:
        servers.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
