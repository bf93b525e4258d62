"""How far RT and Volume can tell an in-source fragment from a chance co-elution (issue 12).

Rule 5 finds 0.7-0.8 of the fragments when they co-elute with their parent within a mean |ΔRT|
of 0.03 min (six times the lab's sample), against more than 0.9 at the sample's 0.0045 min. This
measures whether a better rule could close that gap or the evidence runs out, on demo tables
of the benchmark grid's shape (1,000 rows, 20 % anchors, isomer lines 0.5-1.0 min after the
main line, misidentifications 0.3-3 min off), for each co-elution width:

* **on their own line**: true fragments whose RT also fits their own head group's line
  (|z| < ``outlier_threshold``): RT cannot give them away, only ΔRT and Volume can;
* **correct, co-eluting, on their line**: correct peaks (not anchors) with a possible Rule 5
  parent, on their own line: what such a fragment has to be told apart from;
* **recall** and **precision** (a fragment with its true parent), with the co-elution law Rule 5
  learns from the run, and with the generator's own law put in its place (``oracle``: Rule 5's
  learned mean |ΔRT| replaced by the generator's, everything else as learned). When the oracle
  does no better, the learned law is not what limits Rule 5.

    python bench/fragment_limit.py                    # seeds 0-4, co-elution 0.002 and 0.03
    python bench/fragment_limit.py --seeds 5 6 --coelution 0.01
"""

from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy import score  # noqa: E402
from ganglioside import AnalysisParams, analyze  # noqa: E402
from ganglioside.demo import DemoSettings, make_demo_table  # noqa: E402
from ganglioside.rules import fragment_model  # noqa: E402

ROWS = 1000
SETTINGS = dict(isomer_offset=(0.5, 1.0), isomer_sign="later", misidentified_offset=(0.3, 3.0),
                misidentified_shape="uniform", anchor_rate=0.2)


@contextmanager
def generator_law(coelution: float):
    """Rule 5 with the generator's mean |ΔRT| in place of the one it learns."""
    learned = fragment_model._m_step
    fragment_model._m_step = lambda *args: replace(learned(*args), coelution_scale=coelution)
    try:
        yield
    finally:
        fragment_model._m_step = learned


def one_table(coelution: float, seed: int) -> dict:
    """Counts and scores of one generated table, with the learned and the generator's law."""
    table = make_demo_table(ROWS, seed=seed, truth=True,
                            settings=DemoSettings(fragment_rt_scale=coelution, **SETTINGS))
    truth = table[["truth_kind", "truth_parent_index"]].reset_index(drop=True)
    peaks, params = table.drop(columns=list(truth.columns)), AnalysisParams()
    learned = analyze(peaks, params)
    with generator_law(coelution):
        oracle = analyze(peaks, params)
    rows = learned.rows.reset_index(drop=True)
    on_line = (rows["z"].abs() < params.outlier_threshold).to_numpy()
    fragment = truth["truth_kind"].eq("fragment").to_numpy()
    co_eluting = rows["rule5_fragment_probability"].notna().to_numpy() & ~rows["Anchor"].eq(
        True).to_numpy()
    scores, oracle_scores = score(learned, truth), score(oracle, truth)
    return {"coelution": coelution, "seed": seed, "fragments": int(fragment.sum()),
            "on_own_line": int((fragment & on_line).sum()),
            "correct_coeluting_on_line": int(
                (truth["truth_kind"].eq("correct").to_numpy() & co_eluting & on_line).sum()),
            "recall": scores["fragment_recall"], "precision": scores["fragment_precision"],
            "oracle_recall": oracle_scores["fragment_recall"],
            "oracle_precision": oracle_scores["fragment_precision"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="*", type=int, default=list(range(5)))
    parser.add_argument("--coelution", nargs="*", type=float, default=[0.002, 0.03])
    args = parser.parse_args()
    frame = pd.DataFrame([one_table(width, seed) for width in args.coelution
                          for seed in args.seeds])
    summary = frame.groupby("coelution").agg(
        tables=("seed", "size"), fragments=("fragments", "sum"),
        on_own_line=("on_own_line", "sum"),
        correct_coeluting_on_line=("correct_coeluting_on_line", "sum"),
        recall=("recall", "mean"), oracle_recall=("oracle_recall", "mean"),
        precision=("precision", "mean"), oracle_precision=("oracle_precision", "mean"))
    summary["on_own_line"] = summary["on_own_line"] / summary["fragments"]
    with pd.option_context("display.float_format", "{:.3f}".format, "display.width", 200):
        print(summary.to_string())
        print(f"worst table: recall {frame['recall'].min():.3f} (oracle "
              f"{frame['oracle_recall'].min():.3f}), precision {frame['precision'].min():.3f} "
              f"(oracle {np.nanmin(frame['oracle_precision']):.3f})")


if __name__ == "__main__":
    main()
