"""Algorithm 2.0 (issue 5): pooled levels, isomer lines, confidence, chemistry checks.

Each table is built from one shared Log P slope (1.35 min per unit) and per-head-group offsets,
so the right verdict of every row is known by construction.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ganglioside import AnalysisParams, analyze, read_table

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SLOPE = 1.35
NOISE = [0.03, -0.04, 0.02, -0.01, 0.04, -0.03, 0.01, -0.02, 0.0, 0.03]


def peak(prefix, carbons, offset, shift=0.0, anchor=False, volume=1e5, noise=0.0):
    """A peak of ``prefix`` with tail ``carbons:1;O2``, Log P from the tail, RT on its line."""
    log_p = round(0.54 * (carbons - 36) + 1.5, 2)
    return (f"{prefix}({carbons}:1;O2)", round(offset + SLOPE * log_p + shift + noise, 3), volume,
            log_p, "T" if anchor else "F")


def table(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["Name", "RT", "Volume", "Log P", "Anchor"])


def anchored_family() -> list[tuple]:
    """Five head groups with 2-5 anchors each: enough for the shared slope and composition."""
    offsets = {"GM1": 4.7, "GD1": 7.4, "GT1": 10.1, "GQ1": 13.0, "GM3": -0.7}
    rows = []
    for prefix, offset in offsets.items():
        for i, carbons in enumerate(range(34, 39 if prefix in ("GM1", "GD1") else 37)):
            rows.append(peak(prefix, carbons, offset, anchor=True, noise=NOISE[i]))
    return rows


def by_name(result) -> pd.DataFrame:
    return result.rows.set_index("Name")


def test_a_prefix_with_one_anchor_is_judged_by_the_pooled_model():
    rows = anchored_family() + [peak("GD2", 36, 5.4, anchor=True),
                                peak("GD2", 38, 5.4, noise=0.02),
                                peak("GD2", 40, 5.4, shift=1.5)]
    result = analyze(table(rows))
    gd2 = result.rows[result.rows["prefix"] == "GD2"]
    assert set(gd2["rule1_model"]) == {"pooled"}
    assert list(gd2["status"]) == ["valid", "valid", "outlier"]
    assert gd2["rule1_model_n"].iloc[0] == 1
    assert gd2.iloc[2]["residual"] == pytest.approx(1.5, abs=0.15)
    assert gd2.iloc[2]["reasons"].startswith("Rule 1: outlier, |z| = ")
    group = result.groups.set_index("prefix").loc["GD2"]
    assert group["judged_by"] == "pooled" and group["n_outlier"] == 1


def test_an_anchorless_prefix_is_judged_by_the_line_its_tails_agree_on():
    rows = anchored_family() + [peak("GT3", c, 3.7, noise=NOISE[i])
                                for i, c in enumerate(range(33, 39))]
    rows.append(peak("GT3", 39, 3.7, shift=-1.2))
    result = analyze(table(rows))
    gt3 = result.rows[result.rows["prefix"] == "GT3"]
    assert set(gt3["rule1_model"]) == {"self"}
    assert list(gt3["status"]) == ["valid"] * 6 + ["outlier"]
    levels = result.model_levels.set_index("level")
    assert {"pooled", "self", "composition"} <= set(levels.index)
    assert levels.loc["pooled", "n"] > 0 and levels.loc["pooled", "r2_cv"] > 0.9


def test_a_single_anchorless_peak_is_judged_from_its_composition():
    rows = anchored_family() + [peak("GD3", 36, 2.6)]
    result = analyze(table(rows))
    gd3 = by_name(result).loc["GD3(36:1;O2)"]
    assert gd3["rule1_model"] == "composition"
    assert gd3["status"] in ("valid", "outlier")
    comp = result.model_levels.set_index("level").loc["composition"]
    assert gd3["rule1_scale"] >= comp["rmse_cv"]  # its scale carries the prediction's error


def test_isomer_series_is_a_parallel_line_not_outliers():
    rows = anchored_family()
    rows += [peak("GT1", c, 10.1, shift=1.8, noise=NOISE[i]) for i, c in enumerate(range(37, 42))]
    rows.append(peak("GT1", 42, 10.1, shift=0.9))
    result = analyze(table(rows))
    gt1 = result.rows[result.rows["prefix"] == "GT1"]
    on_line = gt1[gt1["Name"].isin([f"GT1({c}:1;O2)" for c in range(37, 42)])]
    assert (on_line["status"] == "valid").all()
    assert (on_line["isomer_series"] == 2).all()
    assert on_line["rule1_series_offset"].iloc[0] == pytest.approx(1.8, abs=0.1)
    assert on_line["reasons"].str.startswith("Rule 1: isomer peak on parallel line 2").all()
    lone = gt1[gt1["Name"] == "GT1(42:1;O2)"].iloc[0]
    assert lone["status"] == "outlier" and pd.isna(lone["isomer_series"])


def test_series_that_cannot_have_isomers_keep_their_outliers():
    rows = anchored_family()
    rows += [peak("GM3", c, -0.7, shift=1.8) for c in range(37, 42)]
    result = analyze(table(rows))
    gm3 = result.rows[result.rows["Name"].isin([f"GM3({c}:1;O2)" for c in range(37, 42)])]
    assert (gm3["status"] == "outlier").all()


def test_confidence_is_the_probability_of_the_verdict():
    rows = anchored_family() + [peak("GD1", 40, 7.4, shift=0.05), peak("GD1", 41, 7.4, shift=2.0)]
    result = analyze(table(rows))
    decided = result.rows[result.rows["status"].isin(["valid", "outlier"])]
    assert decided["confidence"].between(0, 1).all()
    near, far = by_name(result).loc["GD1(40:1;O2)"], by_name(result).loc["GD1(41:1;O2)"]
    assert near["status"] == "valid" and near["confidence"] > 0.9
    assert far["status"] == "outlier" and far["confidence"] > 0.9


def test_a_coeluting_peak_on_its_own_line_is_not_called_a_fragment():
    rows = anchored_family()
    gt1 = peak("GT1", 38, 10.1, volume=1e6)
    gd1_rt_on_line = peak("GD1", 38, 7.4)[1]
    on_own_line = ("GD1(38:1;O2)", gd1_rt_on_line, 1e4, peak("GD1", 38, 7.4)[3], "F")
    rows += [("GT1(38:1;O2)", gd1_rt_on_line + 0.02, 1e6, gt1[3], "F"), on_own_line]
    gm1 = peak("GM1", 40, 4.7)
    gt1_40 = peak("GT1", 40, 10.1, volume=1e6)
    rows += [gt1_40, ("GM1(40:1;O2)", gt1_40[1] + 0.01, 1e4, gm1[3], "F")]
    result = analyze(table(rows))
    coincidence = result.rows[(result.rows["Name"] == "GD1(38:1;O2)")
                              & (result.rows["Anchor"] == False)].iloc[0]  # noqa: E712
    assert coincidence["rule5_role"] == "fragment" and coincidence["status"] == "valid"
    assert "Status: valid, not fragment" in coincidence["reasons"]
    fragment = result.rows[(result.rows["Name"] == "GM1(40:1;O2)")].iloc[0]
    assert fragment["status"] == "fragment" and fragment["confidence"] > 0.5
    v1 = analyze(table(rows), AnalysisParams(algorithm_version="1.0"))
    assert v1.rows.loc[coincidence["row_id"], "status"] == "fragment"


def test_chemistry_checks_report_without_changing_status():
    rows = anchored_family()
    result = analyze(table(rows))
    checks = result.chemistry_checks
    assert {"check", "subject", "flagged"} <= set(checks.columns)
    assert set(checks["check"]) >= {"sugar_order", "category_order"}
    # same tail: GQ1 (8 sugars) and GM3 (3 sugars) swapped would elute "more sugars later"
    swapped = table(rows).copy()
    gq1 = swapped["Name"].str.startswith("GQ1")
    swapped.loc[gq1, "RT"] += 6.0
    flagged = analyze(swapped).chemistry_checks
    assert flagged.loc[flagged["check"] == "category_order", "flagged"].any()
    assert any(w.code == "chemistry_check" for w in analyze(swapped).warnings)


def test_algorithm_1_0_stays_reproducible_and_2_0_decides_the_sample():
    sample = read_table(DATA / "testwork_user.csv")
    v1 = analyze(sample, AnalysisParams(algorithm_version="1.0"))
    v2 = analyze(sample)
    assert v1.provenance["algorithm_version"] == "1.0"
    assert v2.provenance["algorithm_version"] == "2.0"
    assert "rule1_model" not in v1.rows.columns and "confidence" in v2.rows.columns
    assert v1.summary["unverified"] == 120
    decided = (v2.rows["status"] != "unverified").mean()
    assert decided >= 0.9
    # every 2.0 row says which model judged it, with that model's n and scale
    judged = v2.rows[v2.rows["status"].isin(["valid", "outlier"])]
    assert judged["rule1_model"].isin(["prefix", "pooled", "self", "composition"]).all()
    assert (judged["rule1_scale"] >= 0.05).all() and judged["rule1_model_n"].notna().all()


def test_regression_table_shows_the_scale_2_0_judged_with():
    result = analyze(read_table(DATA / "testwork_user.csv"))
    groups = result.groups.set_index("prefix")
    rows = result.rows
    for prefix in ("GT1", "GD2", "GM2"):
        used = rows.loc[rows["prefix"] == prefix, "rule1_scale"].iloc[0]
        assert groups.loc[prefix, "scale_s"] == pytest.approx(used)
    assert groups.loc["GT1", "scale_s"] > 0.05  # not the 1.0 floor from 3 anchors
