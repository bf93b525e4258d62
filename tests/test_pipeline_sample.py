"""Acceptance numbers of spec 16 on the real 323-row sample, and the worked example of spec 15.

Both are contracts of algorithm 1.0, which stays reproducible with ``algorithm_version="1.0"``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ganglioside import AnalysisParams, analyze, read_table

V1 = AnalysisParams(algorithm_version="1.0")

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

FITS = {  # spec 16.1 and 16.2
    "GD1": dict(n_rows=37, n_anchors=23, predictors="Log P; double bonds", cv_method="5-fold",
                r2_cv=0.9793, rmse_cv=0.279,
                equation_std="RT = 10.7740 + 1.9231*z(Log P) + 0.0323*z(double bonds)",
                equation_raw="RT = 7.2894 + 1.3519*Log P + 0.0721*double bonds",
                scale_s=0.279, n_valid=31, n_outlier=6),
    "GD1+dHex": dict(n_rows=7, n_anchors=3, predictors="Log P", cv_method="leave-one-out",
                     r2_cv=0.9965, rmse_cv=0.071, equation_std="RT = 11.0510 + 1.2042*z(Log P)",
                     equation_raw="RT = 8.9894 + 1.3593*Log P", scale_s=0.071, n_valid=6,
                     n_outlier=1),
    "GD1+HexNAc": dict(n_rows=8, n_anchors=3, predictors="Log P", cv_method="leave-one-out",
                       r2_cv=0.9980, rmse_cv=0.055, equation_std="RT = 10.5157 + 1.2345*z(Log P)",
                       equation_raw="RT = 9.8717 + 1.3999*Log P", scale_s=0.055, n_valid=7,
                       n_outlier=1),
    "GD3": dict(n_rows=20, n_anchors=3, predictors="Log P", cv_method="leave-one-out",
                r2_cv=0.9940, rmse_cv=0.093, equation_std="RT = 11.6143 + 1.2004*z(Log P)",
                equation_raw="RT = 2.9702 + 1.3613*Log P", scale_s=0.093, n_valid=8, n_outlier=12),
    "GM1": dict(n_rows=33, n_anchors=4, predictors="Log P", cv_method="leave-one-out",
                r2_cv=0.9908, rmse_cv=0.168, equation_std="RT = 11.9883 + 1.7523*z(Log P)",
                equation_raw="RT = 5.1010 + 1.2778*Log P", scale_s=0.168, n_valid=15, n_outlier=18),
    "GT1": dict(n_rows=43, n_anchors=3, predictors="Log P", cv_method="leave-one-out",
                r2_cv=0.9998, rmse_cv=0.016, equation_std="RT = 10.2380 + 1.2525*z(Log P)",
                equation_raw="RT = 10.0391 + 1.4204*Log P", scale_s=0.050, n_valid=12,
                n_outlier=31),
}


@pytest.fixture(scope="module")
def sample():
    return analyze(read_table(DATA / "testwork_user.csv"), V1)


@pytest.mark.parametrize("prefix", sorted(FITS))
def test_rule1_fits_match_spec(sample, prefix):
    group = sample.groups.set_index("prefix").loc[prefix]
    expected = FITS[prefix]
    assert bool(group["accepted"])
    for key, value in expected.items():
        if isinstance(value, float):
            assert group[key] == pytest.approx(value, abs=1e-3), key
        else:
            assert group[key] == value, key


def test_gd1_further_checks(sample):
    gd1 = sample.groups.set_index("prefix").loc["GD1"]
    assert gd1["r2_train"] == pytest.approx(0.9856, abs=1e-3)
    assert gd1["adjusted_r2"] == pytest.approx(0.9772, abs=1e-3)
    assert gd1["bayes_alpha"] == pytest.approx(16.87, abs=1e-2)
    assert gd1["bayes_lambda"] == pytest.approx(0.5399, abs=1e-3)
    gt1 = sample.groups.set_index("prefix").loc["GT1"]
    assert gt1["rmse_cv"] == pytest.approx(0.0156, abs=1e-4)
    # the intercept of a centred fit is the anchors' mean RT (spec 6.4)
    rows = sample.rows
    anchors = rows[(rows["prefix"] == "GD1") & rows["Anchor"].eq(True)]
    assert gd1["intercept_std"] == pytest.approx(anchors["RT"].mean(), abs=1e-9)


def test_groups_and_rule1_counts(sample):
    s = sample.summary
    assert (s["total_rows"], s["anchors"], s["groups"]) == (323, 49, 29)
    assert (s["groups_accepted"], s["groups_rejected"], s["groups_without_model"]) == (6, 0, 23)
    assert (s["rule1_valid"], s["rule1_outlier"], s["rule1_unverified"]) == (89, 69, 165)
    assert s["anchors_disagreeing"] == 0
    without = sample.groups[~sample.groups["accepted"]]
    two_anchor = set(without.loc[without["n_anchors"] == 2, "prefix"])
    assert two_anchor == {"GD2", "GM3", "GQ1", "GQ1+OAc", "GT1+OAc"}
    assert (without["n_anchors"] == 0).sum() == 18


def test_recurring_series(sample):
    rows = sample.rows
    assert sample.summary["series_rows"] == 33
    found = (rows[rows["rule1_series_offset"].notna()]
             .groupby(["prefix", "rule1_series_offset"]).agg(m=("row_id", "size"),
                                                              t=("tail", "nunique"))
             .reset_index())
    got = sorted((p, m, t, round(o, 3)) for p, o, m, t in found.itertuples(index=False))
    assert got == sorted([("GD3", 5, 5, -1.370), ("GM1", 6, 6, 1.932), ("GT1", 8, 7, -0.245),
                          ("GT1", 5, 4, 0.292), ("GT1", 9, 9, 1.744)])
    assert (rows.loc[rows["rule1_series_offset"].notna(), "rule1_status"] == "outlier").all()
    # the five GD3 series rows are Rule 5 fragments of a GT1 peak of the same tail (16.2)
    gd3 = rows[(rows["prefix"] == "GD3") & rows["rule1_series_offset"].notna()]
    assert (gd3["rule5_role"] == "fragment").all()
    parents = rows.set_index("row_id").loc[gd3["rule5_parent_row_id"].astype(int)]
    assert (parents["prefix"] == "GT1").all()
    assert list(parents["tail"]) == list(gd3["tail"])


def test_whole_run_counts(sample):
    s, rows = sample.summary, sample.rows
    assert (int(rows["can_have_isomers"].sum()), s["isomer_peak_rows"]) == (179, 110)
    assert s["repeated_names"] == 79
    assert (s["oac_consistent"], s["oac_inconsistent"], s["oac_not_verifiable"]) == (54, 9, 14)
    assert len(sample.oac_pairs) == 77
    roles = rows["rule5_role"].value_counts()
    assert (roles["parent"], roles["fragment"], roles["none"]) == (39, 70, 214)
    assert (s["fragment_events"], s["fragment_rows"]) == (39, 70)
    assert rows.loc[rows["rule5_role"] == "fragment", "rule5_heads_event_id"].isna().all()
    sizes = sample.fragment_events["n_fragments"].value_counts().sort_index()
    assert sizes.to_dict() == {1: 22, 2: 10, 3: 3, 4: 2, 5: 1, 6: 1}
    r1 = rows.loc[rows["rule5_role"] == "fragment", "rule1_status"].value_counts()
    assert (r1["valid"], r1["outlier"], r1["unverified"]) == (7, 18, 45)
    warning = next(w for w in sample.warnings if w.code == "anchor_fragment")
    assert len(warning.row_ids) == 3
    assert [s[k] for k in ("valid", "outlier", "fragment", "unverified", "invalid")] == \
        [82, 51, 70, 120, 0]
    assert s["success_rate"] == pytest.approx(0.2539, abs=1e-4)


def test_fragment_status_off():
    result = analyze(read_table(DATA / "testwork_user.csv"),
                     AnalysisParams(apply_fragment_status=False, algorithm_version="1.0"))
    s = result.summary
    assert [s[k] for k in ("valid", "outlier", "fragment", "unverified", "invalid")] == \
        [89, 69, 0, 165, 0]
    assert s["success_rate"] == pytest.approx(0.2755, abs=1e-4)
    assert s["fragment_rows"] == 70  # counted whether or not the status is applied


def test_worked_example_spec_15():
    progress = []
    result = analyze(read_table(DATA / "testwork_small.csv"), V1,
                     progress=lambda f, step, msg: progress.append((round(f, 4), step, msg)))
    rows = result.rows
    assert list(rows["status"]) == ["valid", "unverified", "unverified", "valid", "valid"]
    assert list(rows["reasons"]) == [
        "Rule 1: anchor (no model; 1 of 3 required anchors)",
        "Rule 1: unverified, no model for GM1a (0 of 3 required anchors)",
        "Rule 1: unverified, no model for GM3 (0 of 3 required anchors)",
        "Rule 1: anchor (no model; 1 of 3 required anchors)",
        "Rule 1: anchor (no model; 1 of 3 required anchors)",
    ]
    for column in ("predicted_rt", "residual", "z", "rule1_scale", "rule1_series_offset"):
        assert rows[column].isna().all()
    assert list(rows["sugar_count"]) == [6, 5, 3, 4, 7]
    assert list(rows["rule5_role"]) == ["none"] * 5
    assert result.oac_pairs.empty and result.fragment_events.empty
    s = result.summary
    assert (s["total_rows"], s["anchors"], s["valid"], s["unverified"]) == (5, 3, 3, 2)
    assert s["success_rate"] == pytest.approx(0.6)
    assert (s["groups"], s["groups_accepted"], s["groups_without_model"]) == (5, 0, 5)
    codes = [w.code for w in result.warnings]
    assert "groups_without_model" in codes and "duplicate_names" not in codes
    rule1_steps = [f for f, step, msg in progress if msg.startswith("Rule 1: ")]
    assert rule1_steps == [0.3, 0.35, 0.4, 0.45, 0.5]
    fractions = [f for f, _, _ in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert [step for _, step, _ in progress].count("complete") == 1
