"""Claim throughput of the run store on SQLite and PostgreSQL (issue 15).

200 runs are queued, then 4 worker processes, released together, each claim, report three
progress steps and end runs until none is left: the store's own cost per run, without the
analysis. Two modes: "claim" ends each run as failed (no result: claims, progress and state
changes only); "result" completes it with one prepared small result (323-row sample's small
table), which adds encoding and writing the result archive (about 25 ms of CPU per run).
PostgreSQL is a throwaway server started from the installed binaries, as the tests do
(``tests/postgresql_server.py``).

    python bench/claims.py                     # both backends, 200 runs, 4 processes
    python bench/claims.py --runs 500 --processes 2 --backends postgresql
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SMALL = ROOT.parent / "shared" / "data" / "testwork_small.csv"
STEPS = ((0.25, "rule1", "Running Rule 1…"), (0.5, "rules2-3", "Running Rules 2-3…"),
         (0.95, "save", "Saving results…"))


def work(target: str, mode: str, start: Any) -> tuple[list[str], float]:
    """One worker process: execute runs until none can be claimed; (run ids, finish time)."""
    from ganglioside import analyze, read_table
    from ganglioside.runs.store import RunStore

    store = RunStore(target)
    result = analyze(read_table(SMALL)) if mode == "result" else None
    store.counts()  # connect (and check the schema) before the clock starts
    start.wait(timeout=300)
    done = []
    while (claim := store.claim_next(worker="bench")) is not None:
        for fraction, step, message in STEPS:
            store.report_progress(claim, fraction, step, message)
        if mode == "result":
            store.complete_run(claim, result)
        else:
            store.fail_run(claim, "benchmark: no result")
        done.append(claim.run_id)
    return done, time.time()


def measure(target: str, mode: str, runs: int, processes: int) -> dict:
    from ganglioside.params import AnalysisParams
    from ganglioside.runs.store import RunStore

    store, data = RunStore(target), SMALL.read_bytes()
    queued = [store.create_run(data, SMALL.name, AnalysisParams(), name=f"run {number}")
              for number in range(runs)]
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(processes,
                                                           mp_context=context) as pool:
        start = manager.Barrier(processes + 1)
        answers = [pool.submit(work, target, mode, start) for _ in range(processes)]
        start.wait(timeout=300)
        began = time.time()
        outcomes = [answer.result() for answer in answers]
    executed = Counter(run_id for done, _ in outcomes for run_id in done)
    assert executed == Counter(queued), "a run was executed twice or not at all"
    ended = "completed" if mode == "result" else "failed"
    assert store.counts()[ended] == runs and store.integrity_check() == "ok"
    seconds = max(finished for _, finished in outcomes) - began
    return {"backend": store.database.backend, "mode": mode, "runs": runs,
            "processes": processes,
            "seconds": seconds, "runs_per_second": runs / seconds,
            "per_process": sorted(len(done) for done, _ in outcomes)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--backends", nargs="*", default=["sqlite", "postgresql"],
                        choices=["sqlite", "postgresql"])
    parser.add_argument("--modes", nargs="*", default=["claim", "result"],
                        choices=["claim", "result"])
    args = parser.parse_args()
    print(f"{'backend':>10} {'mode':>6} {'runs':>5} {'processes':>9} {'seconds':>8} "
          f"{'runs/s':>7}  per process")
    for backend in args.backends:
        for mode in args.modes:
            row = run_on(backend, mode, args.runs, args.processes)
            print(f"{row['backend']:>10} {row['mode']:>6} {row['runs']:>5} "
                  f"{row['processes']:>9} {row['seconds']:>8.2f} {row['runs_per_second']:>7.1f}"
                  f"  {row['per_process']}", flush=True)


def run_on(backend: str, mode: str, runs: int, processes: int) -> dict:
    """measure() on a new SQLite file, or a new database of a throwaway PostgreSQL server."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            return measure(str(Path(folder) / "bench.db"), mode, runs, processes)
    from tests.postgresql_server import PostgreSQLServer

    server = PostgreSQLServer().start()
    try:
        with server.database() as url:
            return measure(url, mode, runs, processes)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
