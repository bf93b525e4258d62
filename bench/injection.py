"""Semi-real benchmark (issue 12): misidentifications injected into the lab's own sample.

The sample (``../shared/data/testwork_user.csv``) is real chromatography, so no generator decides
what a correct peak looks like. Each draw takes ``--peaks`` non-anchor peaks that the analysis
itself calls ``valid`` on the untouched sample, moves their RT by 0.3-3 min (magnitude uniform,
either sign; anchors are never touched), and runs the analysis again. What is measured:

* recall by shift range: the share of moved peaks that are flagged (``outlier``, ``fragment`` or
  ``possible isomer``: the peaks to check); how many came out ``unverified`` is shown beside it;
* collateral: untouched rows whose flag (flagged or not) changed against the untouched run, per
  10 injected errors; false alarms are the part of it where an unflagged row became flagged.
  Some changes follow from the move itself: a row of the same name (one compound, one peak per
  line: Rule 5 weighs the other peaks of a name), or a row of the same lipid tail within the Rule
  5 window of a moved peak's old or new RT (its possible in-source parent or fragment left or
  arrived). They are counted apart as "related"; the rest are "unrelated". To tell the
  support a moved peak no longer gives at its old place from what it does at its new one, each
  draw is analysed a third time with the chosen peaks deleted: the untouched rows' changes
  against the untouched run are the collateral of the lost support alone; their changes between
  the deleted and the moved run are what the wrong peaks' arrival does. ``--explain`` lists
  every changed row with its cause: ``same name`` or ``Rule 5 partner`` (related), ``same head
  group`` (a moved peak or a Rule 5 partner left or joined the head group's line, which was
  refitted) or
  ``elsewhere`` (through what the whole run shares: its error rate, isomer range, slope);
* reliability of the confidence on the moved peaks (each is truly misplaced: a verdict is right
  when it is flagged).

    python bench/injection.py                       # 2.0 and 2.1, the reporting draws
    python bench/injection.py --seeds 0 1 2 --versions 2.1
    python bench/injection.py --seeds 0 1 2 --versions 2.1 --explain   # which rows flip, why

Draws are seeded: ``DEVELOPMENT_SEEDS`` were run while 2.1 was built (0-19) and while changes to
it were tried (20-39 too); the README reports ``REPORTING_SEEDS`` (100-139), which were only run
for the report.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy import binned  # noqa: E402
from ganglioside import AnalysisParams, analyze  # noqa: E402
from ganglioside.rules.status import FLAGGED  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "testwork_user.csv"
DEVELOPMENT_SEEDS = tuple(range(40))
REPORTING_SEEDS = tuple(range(100, 140))
SHIFT_RANGE = (0.3, 3.0)
SHIFT_BINS = (0.3, 0.4, 1.0, 2.0, 3.0001)


def inject(table: pd.DataFrame, chosen: np.ndarray, rng: np.random.Generator
           ) -> tuple[pd.DataFrame, np.ndarray]:
    """The table with the RT of the rows at ``chosen`` moved 0.3-3 min either way (never below
    0.1 min), and the shifts."""
    shift = rng.choice([-1.0, 1.0], len(chosen)) * rng.uniform(*SHIFT_RANGE, len(chosen))
    moved = table.copy()
    rt = table["RT"].to_numpy(float)
    new_rt = np.round(np.maximum(rt[chosen] + shift, 0.1), 3)
    moved.loc[moved.index[chosen], "RT"] = new_rt
    return moved, new_rt - rt[chosen]


def one_draw(table: pd.DataFrame, base: pd.DataFrame, seed: int, n_peaks: int, version: str,
             explain: bool = False) -> tuple[pd.DataFrame, dict]:
    """The moved peaks' verdicts and the untouched rows' flag changes of one draw (printed with
    their causes when ``explain``), and the same rows' changes when the peaks are deleted
    instead of moved."""
    rng = np.random.default_rng(seed)
    eligible = np.flatnonzero((base["status"] == "valid").to_numpy() & ~base["Anchor"].to_numpy())
    chosen = rng.choice(eligible, size=min(n_peaks, len(eligible)), replace=False)
    moved, shift = inject(table, chosen, rng)
    params = AnalysisParams(algorithm_version=version)
    rows = analyze(moved, params).rows
    untouched = np.ones(len(rows), dtype=bool)
    untouched[chosen] = False
    removed = analyze(table[untouched], params).rows["status"].isin(FLAGGED).to_numpy()
    before = base["status"].isin(FLAGGED).to_numpy()
    after = rows["status"].isin(FLAGGED).to_numpy()
    changed = untouched & (before != after)
    related = related_rows(table, moved, chosen)
    if explain:
        print_changes(base, rows, chosen, changed, causes(table, base, moved, chosen), seed)
    injected = pd.DataFrame({"seed": seed, "shift": shift,
                             "status": rows["status"].to_numpy(object)[chosen],
                             "confidence": rows["confidence"].to_numpy(float)[chosen]})
    return injected, {"seed": seed, "injected": len(chosen), "changed": int(changed.sum()),
                      "unrelated": int((changed & ~related).sum()),
                      "false_alarms": int((changed & after).sum()),
                      "lost_support": int((before[untouched] != removed).sum()),
                      "arrival": int((after[untouched] != removed).sum()),
                      "arrival_unrelated": int(((after[untouched] != removed)
                                                & ~related[untouched]).sum())}


def related_rows(table: pd.DataFrame, moved: pd.DataFrame, chosen: np.ndarray,
                 window: float = 0.1) -> np.ndarray:
    """Rows that share a name with a moved peak, or its lipid tail and the Rule 5 RT window at
    its old or new RT."""
    name = table["Name"].to_numpy(object)
    tail = name.astype(str)
    tail = np.array([text[text.index("("):] for text in tail], dtype=object)
    rt = table["RT"].to_numpy(float)
    related = np.isin(name, name[chosen])
    for at, new_rt in zip(chosen.tolist(), moved["RT"].to_numpy(float)[chosen].tolist()):
        same_tail = tail == tail[at]
        related |= same_tail & ((np.abs(rt - rt[at]) <= window) | (np.abs(rt - new_rt) <= window))
    return related


def causes(table: pd.DataFrame, base: pd.DataFrame, moved: pd.DataFrame, chosen: np.ndarray
           ) -> np.ndarray:
    """Per row the likeliest way a move reached it (the first that applies)."""
    name, prefix = table["Name"].to_numpy(object), base["prefix"].to_numpy(object)
    partner = related_rows(table, moved, chosen)
    same_group = np.isin(prefix, prefix[chosen]) | np.isin(prefix, prefix[partner])
    return np.select([np.isin(name, name[chosen]), partner, same_group],
                     ["same name", "Rule 5 partner", "same head group"], default="elsewhere")


def print_changes(base: pd.DataFrame, rows: pd.DataFrame, chosen: np.ndarray,
                  changed: np.ndarray, cause: np.ndarray, seed: int) -> None:
    """One line per untouched row whose flag changed: before and after, and the cause."""
    moved = ", ".join(base["Name"].to_numpy(object)[chosen])
    print(f"draw {seed}: {int(changed.sum())} changed; moved {moved}")
    for at in np.flatnonzero(changed).tolist():
        print(f"  {cause[at]:>15}  {base['Name'].iat[at]} RT {base['RT'].iat[at]:.3f}: "
              f"{base['status'].iat[at]} ({base['rule1_basis'].iat[at]}, z "
              f"{base['z'].iat[at]:.2f}) -> {rows['status'].iat[at]} "
              f"({rows['rule1_basis'].iat[at]}, z {rows['z'].iat[at]:.2f})")


def recall_table(injected: pd.DataFrame) -> pd.DataFrame:
    """Per shift range: moved peaks, share flagged, share unverified."""
    size = injected["shift"].abs()
    bins = pd.cut(size, SHIFT_BINS, right=False)
    return injected.assign(bin=bins, flagged=injected["status"].isin(FLAGGED),
                           unverified=injected["status"].eq("unverified")).groupby(
        "bin", observed=True).agg(peaks=("flagged", "size"), recall=("flagged", "mean"),
                                  unverified=("unverified", "mean")).reset_index()


def reliability_table(injected: pd.DataFrame) -> pd.DataFrame:
    """Of the moved peaks' verdicts with confidence in a bin, the share that were right
    (flagged)."""
    return binned(injected["confidence"].to_numpy(float),
                  injected["status"].isin(FLAGGED).to_numpy())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="*", type=int, default=list(REPORTING_SEEDS))
    parser.add_argument("--versions", nargs="*", default=["2.0", "2.1"])
    parser.add_argument("--peaks", type=int, default=10, help="peaks moved per draw")
    parser.add_argument("--explain", action="store_true",
                        help="list every untouched row whose flag changed, and why")
    args = parser.parse_args()
    table = pd.read_csv(SAMPLE)
    for version in args.versions:
        base = analyze(table, AnalysisParams(algorithm_version=version)).rows
        draws = [one_draw(table, base, seed, args.peaks, version, args.explain) for seed in args.seeds]
        injected = pd.concat([moved for moved, _ in draws], ignore_index=True)
        counts = pd.DataFrame([count for _, count in draws])
        per_ten = 10 / counts["injected"]
        with pd.option_context("display.float_format", "{:.3f}".format, "display.width", 200):
            print(f"algorithm {version}: {len(counts)} draws of {args.peaks} moved peaks")
            print(recall_table(injected).to_string(index=False))
            for label, column in (("collateral flag changes", "changed"),
                                  ("  of them unrelated to a moved peak", "unrelated"),
                                  ("false alarms (newly flagged)", "false_alarms"),
                                  ("with the peaks deleted instead of moved", "lost_support"),
                                  ("moved against deleted (the wrong peaks' arrival)",
                                   "arrival"),
                                  ("  of them unrelated to a moved peak", "arrival_unrelated")):
                values = counts[column] * per_ten
                print(f"{label} per 10 injected: mean {values.mean():.2f}, "
                      f"max {values.max():.1f}")
            print(reliability_table(injected).to_string(index=False))
            print()


if __name__ == "__main__":
    main()
