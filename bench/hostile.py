"""Hostile inputs at the real limits (issue 13): time and memory of each, and what happened.

Every case of ``tests/hostile_inputs.py`` runs in a fresh process (so its peak memory is its
own) with a memory cap, through reading, both algorithms and every export; ``--mutations N``
adds N random byte edits of the lab's sample and of a small workbook, read and analysed in one
process. The report counts inputs tried, crashes (a process that died), tracebacks (any
exception but the reader's InputError), unlocated messages, and the worst time and memory.

    python bench/hostile.py                 # every case, and 2,000 mutations
    python bench/hostile.py --mutations 0 --cases 0 5 7
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

MEMORY_CAP = 8 * 2**30      # a case that needs more is killed and counted as a crash
TIME_CAP = 600              # seconds per case


def run_one(index: int) -> dict:
    """Build and check case ``index``; the report of this process as a dict."""
    from hostile_inputs import check_case, hostile_cases

    case = next(case for number, case in enumerate(hostile_cases()) if number == index)
    data = case.data
    started = time.perf_counter()
    report = {"label": case.label, "bytes": len(data)}
    try:
        outcome = check_case(case)
        report |= {"result": outcome.result, "problems": outcome.problems, "rows": outcome.rows}
    except AssertionError as error:  # unlocated message, or not the expected outcome
        report |= {"result": "unexpected", "problems": [str(error)]}
    except Exception:  # noqa: BLE001 - any other exception is what this benchmark counts
        report |= {"result": "traceback", "problems": [traceback.format_exc(limit=3)]}
    report["seconds"] = time.perf_counter() - started
    report["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return report


def run_mutations(count: int, seed: int) -> dict:
    """Random byte edits of the sample's head and of a small workbook, read and analysed."""
    from hostile_inputs import HEADER, ROW, is_located, sample_lines, xlsx_file

    from ganglioside.analysis import analyze
    from ganglioside.errors import InputError
    from ganglioside.export import to_csv, to_json
    from ganglioside.reader import read_table

    rng = random.Random(seed)
    bases = [("\n".join(sample_lines()[:40]) + "\n").encode(), xlsx_file([HEADER, ROW, ROW])]
    counts = {"tried": 0, "read": 0, "refused": 0, "traceback": 0, "unlocated": 0}
    worst = 0.0
    for _ in range(count):
        data = bytearray(rng.choice(bases))
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(data) + 1)
            data[at:at + rng.randint(0, 8)] = rng.randbytes(rng.randint(0, 8))
        started = time.perf_counter()
        counts["tried"] += 1
        try:
            result = analyze(read_table(bytes(data), "mutated.csv"))
            to_csv(result), to_json(result)
            counts["read"] += 1
        except InputError as error:
            counts["refused"] += 1
            counts["unlocated"] += sum(not is_located(p) for p in error.problems)
        except Exception:  # noqa: BLE001
            counts["traceback"] += 1
            print(traceback.format_exc(limit=3), file=sys.stderr)
        worst = max(worst, time.perf_counter() - started)
    counts["worst_seconds"] = worst
    counts["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return counts


def _capped() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def child(argument: str) -> dict | None:
    """Run this script on one case (or the mutations) in a fresh, memory-capped process."""
    try:
        done = subprocess.run([sys.executable, __file__, *argument.split()], capture_output=True,
                              text=True, timeout=TIME_CAP, preexec_fn=_capped)
    except subprocess.TimeoutExpired:
        return None
    sys.stderr.write(done.stderr[-20_000:])  # tracebacks of the mutations, a crash's last words
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-1]) if done.returncode == 0 and lines else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", type=int, help="case numbers (default: all)")
    parser.add_argument("--mutations", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mutate", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(run_one(args.one)))
        return
    if args.mutate is not None:
        print(json.dumps(run_mutations(args.mutate, args.seed)))
        return
    from hostile_inputs import hostile_cases, is_located

    labels = [case.label for case in hostile_cases()]
    numbers = args.cases if args.cases is not None else range(len(labels))
    totals = {"tried": 0, "crashes": 0, "tracebacks": 0, "unlocated": 0, "unexpected": 0}
    worst_time, worst_memory = (0.0, ""), (0.0, "")
    print(f"{'#':>3} {'case':<45} {'result':<10} {'seconds':>8} {'peak MB':>8}")
    for number in numbers:
        report = child(f"--one {number}")
        totals["tried"] += 1
        if report is None:
            totals["crashes"] += 1
            print(f"{number:>3} {labels[number][:45]:<45} {'CRASH':<10}", flush=True)
            continue
        totals["tracebacks"] += report["result"] == "traceback"
        totals["unexpected"] += report["result"] == "unexpected"
        totals["unlocated"] += sum(not is_located(p) for p in report["problems"]
                                   if report["result"] == "refused")
        worst_time = max(worst_time, (report["seconds"], report["label"]))
        worst_memory = max(worst_memory, (report["peak_mb"], report["label"]))
        print(f"{number:>3} {report['label'][:45]:<45} {report['result']:<10} "
              f"{report['seconds']:8.2f} {report['peak_mb']:8.0f}", flush=True)
        if report["result"] in ("traceback", "unexpected"):
            print("    " + "\n    ".join(report["problems"]), flush=True)
    if args.mutations:
        mutations = child(f"--mutate {args.mutations} --seed {args.seed}")
        if mutations is None:
            totals["crashes"] += 1
        else:
            totals["tried"] += mutations["tried"]
            totals["tracebacks"] += mutations["traceback"]
            totals["unlocated"] += mutations["unlocated"]
            print(f"mutations: {mutations['tried']} tried, {mutations['read']} read, "
                  f"{mutations['refused']} refused, worst {mutations['worst_seconds']:.2f} s, "
                  f"peak {mutations['peak_mb']:.0f} MB")
    print(f"inputs tried {totals['tried']}, crashes {totals['crashes']}, tracebacks "
          f"{totals['tracebacks']}, unlocated messages {totals['unlocated']}, unexpected "
          f"outcomes {totals['unexpected']}; worst time {worst_time[0]:.1f} s ({worst_time[1]}), "
          f"worst memory {worst_memory[0]:.0f} MB ({worst_memory[1]})")


if __name__ == "__main__":
    main()
