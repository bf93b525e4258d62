"""End-to-end cost of ``python -m ganglioside analyze`` per step (issue 13, item 7).

One fresh process reads a CSV table, analyses it and writes the four export files as the command
does, reporting after each step its wall time, its CPU time (user + system, all threads: on a
shared machine the wall time mostly measures the other work), the process's resident memory and
its peak so far.

    python bench/end_to_end.py --rows 1000000     # a demo table of that size (written first)
    python bench/end_to_end.py --file peaks.csv
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ganglioside import analyze, read_table  # noqa: E402
from ganglioside.cli import EXPORT_FILES  # noqa: E402
from ganglioside.demo import make_demo_table  # noqa: E402


def resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--rows", type=int, help="rows of a demo table")
    source.add_argument("--file", type=Path, help="a CSV or XLSX table")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        path = args.file
        if path is None:
            path = out / f"demo_{args.rows}.csv"
            make_demo_table(args.rows, seed=0).to_csv(path, index=False)
        print(f"{'step':<16} {'seconds':>8} {'CPU s':>8} {'resident MB':>12} {'peak MB':>8}")
        total = total_cpu = 0.0

        def step(name: str, work):
            nonlocal total, total_cpu
            started, started_cpu = time.perf_counter(), cpu_seconds()
            value = work()
            seconds, cpu = time.perf_counter() - started, cpu_seconds() - started_cpu
            total, total_cpu = total + seconds, total_cpu + cpu
            print(f"{name:<16} {seconds:8.1f} {cpu:8.1f} {resident_mb():12.0f} {peak_mb():8.0f}",
                  flush=True)
            return value

        table = step("read", lambda: read_table(path))
        result = step("analyze", lambda: analyze(table))
        for name, write in EXPORT_FILES.items():
            def work(write=write, name=name):
                with open(out / name, "wb") as stream:
                    write(result, stream)
            step(name, work)
        sizes = ", ".join(f"{p.name} {p.stat().st_size / 2**20:,.0f} MB"
                          for p in sorted(out.iterdir()))
        print(f"{'total':<16} {total:8.1f} {total_cpu:8.1f} {'':>12} {peak_mb():8.0f}")
        print(f"load average {' '.join(f'{load:.1f}' for load in os.getloadavg())}")
        print(f"rows {len(result.rows):,}; files: {sizes}")


if __name__ == "__main__":
    main()
