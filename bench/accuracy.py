"""Accuracy benchmark on ground truth (issue 5): algorithm 1.0 against 2.0, seed by seed.

Tables come from ``ganglioside.demo.make_demo_table(n, seed, truth=True)``: 250-1,000 rows, many
prefixes with 0-2 anchors, repeated names, modifier stacks, isomer series, misidentified peaks
0.4-2.5 min off, in-source fragments with their parent (see that module for how it mimics the
lab's sample).

Metrics (per seed and algorithm):
* misidentification precision / recall / F1: a row is truly bad when it is misidentified or an
  in-source fragment (neither is an independent identification); it is flagged when its status
  is ``outlier`` or ``fragment``;
* false alarms: share of correct identifications (including true isomer peaks) that are flagged;
* decided: share of non-invalid rows whose status is not ``unverified``;
* fragment precision / recall: a row whose status is ``fragment`` is right when it is a true
  fragment and the chosen parent is its true parent;
* calibration (2.0): reliability table of the per-row confidence.

    python bench/accuracy.py                 # seeds 0-4, sizes cycling 250-1,000
    python bench/accuracy.py --seeds 0 1 2 --reliability
    python bench/accuracy.py --anchored-isomers   # GD1a/GD1b anchored 0.38-0.51 min apart
    python bench/accuracy.py --misplaced-anchors  # a few anchors 0.4-2.5 min off (GD2, GM3)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ganglioside import AnalysisParams, analyze  # noqa: E402
from ganglioside.demo import make_demo_table  # noqa: E402
from ganglioside.rules.status import FLAGGED  # noqa: E402

SIZES = (250, 400, 600, 800, 1000)
BAD = ("misidentified", "fragment")


def score(result, truth: pd.DataFrame) -> dict:
    """Benchmark metrics of one analysis against the truth columns of its table."""
    rows = result.rows
    kind = truth["truth_kind"].to_numpy()
    status = rows["status"].to_numpy()
    bad, flagged = np.isin(kind, BAD), np.isin(status, FLAGGED)
    correct = ~bad
    tp = int((bad & flagged).sum())
    precision = tp / flagged.sum() if flagged.sum() else np.nan
    recall = tp / bad.sum() if bad.sum() else np.nan
    true_frag = kind == "fragment"
    called = rows["status"].eq("fragment").to_numpy()
    parent_right = (rows["rule5_parent_row_id"].astype("float").to_numpy()
                    == truth["truth_parent_index"].astype("float").to_numpy())
    frag_tp = int((called & true_frag & parent_right).sum())
    return {
        "rows": len(rows),
        "misid_precision": precision, "misid_recall": recall,
        "misid_f1": 2 * precision * recall / (precision + recall) if tp else 0.0,
        "false_alarms": float((correct & flagged).sum() / correct.sum()),
        "decided": float(np.mean(status[status != "invalid"] != "unverified")),
        "fragment_precision": frag_tp / called.sum() if called.sum() else np.nan,
        "fragment_recall": frag_tp / true_frag.sum() if true_frag.sum() else np.nan,
    }


CONFIDENCE_BINS = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0001)


def reliability(results: list[tuple]) -> pd.DataFrame:
    """Of the verdicts given confidence in a bin, the share that were right (flagged ⇔ bad)."""
    confidence, right = [], []
    for result, truth in results:
        rows = result.rows
        bad = truth["truth_kind"].isin(BAD).to_numpy()
        confidence.append(rows["confidence"].to_numpy(float))
        right.append(bad == rows["status"].isin(FLAGGED).to_numpy())
    return binned(np.concatenate(confidence), np.concatenate(right))


def binned(confidence: np.ndarray, right: np.ndarray) -> pd.DataFrame:
    """Verdicts, mean confidence and share right per confidence bin (no confidence: left out)."""
    data = pd.DataFrame({"confidence": confidence, "right": right}).dropna()
    data["bin"] = pd.cut(data["confidence"], CONFIDENCE_BINS, right=False)
    table = data.groupby("bin", observed=True).agg(verdicts=("right", "size"),
                                                   mean_confidence=("confidence", "mean"),
                                                   share_right=("right", "mean"))
    return table.reset_index()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="*", type=int, default=list(range(5)))
    parser.add_argument("--reliability", action="store_true",
                        help="print the reliability table of the newest algorithm run")
    parser.add_argument("--versions", nargs="*", default=["1.0", "2.0", "2.1"])
    parser.add_argument("--anchored-isomers", action="store_true",
                        help="add the sample's close, anchored GD1 isomer pairs to every table")
    parser.add_argument("--misplaced-anchors", action="store_true",
                        help="misidentify a few anchors, as the sample's GD2 and GM3 anchors")
    args = parser.parse_args()
    records, kept = [], []
    for seed in args.seeds:
        n_rows = SIZES[seed % len(SIZES)]
        table = make_demo_table(n_rows, seed=seed, truth=True,
                                anchored_isomers=args.anchored_isomers,
                                misplaced_anchors=args.misplaced_anchors)
        truth = table[["truth_kind", "truth_parent_index"]].reset_index(drop=True)
        for version in args.versions:
            result = analyze(table.drop(columns=list(truth.columns)),
                             AnalysisParams(algorithm_version=version))
            records.append({"seed": seed, "algorithm": version, **score(result, truth)})
            if version == args.versions[-1]:
                kept.append((result, truth))
    table = pd.DataFrame(records)
    with pd.option_context("display.float_format", "{:.3f}".format, "display.width", 200):
        print(table.to_string(index=False))
        print()
        print(table.drop(columns="seed").groupby("algorithm").agg(["mean", "min"]).T
              .to_string())
        if args.reliability:
            print()
            print(reliability(kept).to_string(index=False))


if __name__ == "__main__":
    main()
