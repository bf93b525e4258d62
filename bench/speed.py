"""Speed and memory benchmark of ``analyze`` (issue 2, item 8).

Each case runs in a fresh process so its peak memory is its own. Wall and CPU time (user +
system, all threads: the shared machine's load inflates the wall time, hardly the CPU time) cover
``analyze`` only (after imports, after the table is read or generated); peak memory is the
process's maximum resident set size, imports and input included.

    python bench/speed.py            # sample + 10^4, 10^5, 10^6 demo rows
    python bench/speed.py --sizes 10000 100000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "data" / "testwork_user.csv"


def run_case(case: str) -> dict:
    """Load or generate one table, time ``analyze`` on it, report rows, seconds and peak MB."""
    sys.path.insert(0, str(ROOT))
    from ganglioside import analyze, read_table
    from ganglioside.demo import make_demo_table

    table = read_table(SAMPLE) if case == "sample" else make_demo_table(int(case), seed=0)
    analyze(read_table(SAMPLE))  # warm-up: first-call costs of the libraries are not the analysis
    started, started_cpu = time.perf_counter(), time.process_time()
    result = analyze(table)
    seconds, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"case": case, "rows": result.summary["total_rows"], "seconds": round(seconds, 3),
            "cpu_seconds": round(cpu, 3),
            "peak_mb": round(peak_mb), "groups": result.summary["groups"],
            "fragment_events": result.summary["fragment_events"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="*", default=["10000", "100000", "1000000"])
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_case(args.one)))
        return
    print(f"{'case':>10} {'rows':>9} {'seconds':>8} {'CPU s':>8} {'peak MB':>8} {'groups':>7} "
          f"{'events':>7}")
    for case in ["sample", *args.sizes]:
        out = subprocess.run([sys.executable, __file__, "--one", case], capture_output=True,
                             text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['case']:>10} {r['rows']:>9} {r['seconds']:>8.3f} {r['cpu_seconds']:>8.3f} "
              f"{r['peak_mb']:>8} {r['groups']:>7} {r['fragment_events']:>7}", flush=True)
    print(f"load average {' '.join(f'{load:.1f}' for load in os.getloadavg())}")


if __name__ == "__main__":
    main()
