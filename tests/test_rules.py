"""Every rule on hand-made tables whose right answer is worked out here (spec 6-10)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from ganglioside import AnalysisCancelled, AnalysisParams, ParameterError
from ganglioside import analyze as analyze_any_version


def analyze(table, params=AnalysisParams(), **kwargs):
    """These worked answers are algorithm 1.0's (spec 6-10); 2.0 has its own tests."""
    return analyze_any_version(table, replace(params, algorithm_version="1.0"), **kwargs)


def table(rows: list[tuple]) -> pd.DataFrame:
    """Rows of (Name, RT, Volume, Log P, Anchor)."""
    return pd.DataFrame(rows, columns=["Name", "RT", "Volume", "Log P", "Anchor"])


def line_table(slope=1.4, intercept=5.0, outlier_shift=None) -> pd.DataFrame:
    """Six GM1 anchors exactly on RT = intercept + slope*LogP (+ tiny noise), one test peak."""
    log_p = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    noise = [0.01, -0.02, 0.015, -0.01, 0.02, -0.015]
    rows = [(f"GM1({34 + i}:1;O2)", intercept + slope * lp + e, 1000.0, lp, "T")
            for i, (lp, e) in enumerate(zip(log_p, noise))]
    rows.append(("GM1(40:1;O2)", intercept + slope * 3.5 + (outlier_shift or 0.0), 1000.0, 3.5,
                 "F"))
    return table(rows)


# ---------------------------------------------------------------- Rule 1


def test_rule1_fits_a_line_and_flags_a_far_peak():
    result = analyze(line_table(outlier_shift=1.0))
    group = result.groups.iloc[0]
    assert bool(group["accepted"]) and group["cv_method"] == "3-fold"
    assert group["predictors"] == "Log P"  # carbons correlate with Log P (> 0.95): pruned
    assert group["slope_raw_log_p"] == pytest.approx(1.4, abs=0.02)
    test_peak = result.rows.iloc[-1]
    s = max(group["rmse_cv"], 0.05)
    assert test_peak["rule1_scale"] == pytest.approx(s)
    assert test_peak["z"] == pytest.approx(test_peak["residual"] / s)
    assert test_peak["residual"] == pytest.approx(1.0, abs=0.05)
    assert test_peak["rule1_status"] == "outlier" and test_peak["status"] == "outlier"
    assert test_peak["reasons"].startswith("Rule 1: outlier, |z| = ")
    assert "≥ 2.5 (model GM1, predicted " in test_peak["reasons"]
    anchors = result.rows.iloc[:-1]
    assert (anchors["rule1_status"] == "valid").all()
    assert anchors["reasons"].str.startswith("Rule 1: anchor, fits model GM1 (z = ").all()


def test_rule1_threshold_is_a_parameter_and_does_not_change_z():
    near = line_table(outlier_shift=0.1)
    default = analyze(near).rows.iloc[-1]
    strict = analyze(near, AnalysisParams(outlier_threshold=1.0)).rows.iloc[-1]
    assert default["z"] == pytest.approx(strict["z"])
    assert 1.0 <= abs(default["z"]) < 2.5  # 0.1 min off, s at the 0.05 floor or a bit above
    assert default["status"] == "valid" and strict["status"] == "outlier"
    assert default["reasons"].startswith("Rule 1: fits model GM1 (z = ")


def test_rule1_too_few_anchors_gives_unverified_and_anchor_valid():
    rows = line_table().iloc[[0, 1, 6]]
    result = analyze(rows.reset_index(drop=True))
    assert list(result.rows["rule1_status"]) == ["valid", "valid", "unverified"]
    assert result.rows.iloc[2]["reasons"] == \
        "Rule 1: unverified, no model for GM1 (2 of 3 required anchors)"
    assert result.groups.iloc[0]["reason"] == "2 of 3 required anchors"
    assert math.isnan(result.groups.iloc[0]["r2_cv"])
    with_two = analyze(rows.reset_index(drop=True), AnalysisParams(min_anchors=2))
    assert with_two.groups.iloc[0]["cv_method"] == "leave-one-out"


def test_rule1_rejects_a_model_below_the_r2_threshold():
    rng = np.random.default_rng(1)
    rows = [(f"GD3({34 + i}:1;O2)", 10 + rng.normal(0, 1), 100.0, float(i), "T") for i in range(6)]
    rows.append(("GD3(40:1;O2)", 10.0, 100.0, 3.0, "F"))
    result = analyze(table(rows), AnalysisParams(r2_threshold=0.999))
    group = result.groups.iloc[0]
    assert not group["accepted"]
    assert group["reason"] == f"CV R² {group['r2_cv']:.3f} below threshold 1.00"
    assert not math.isnan(group["r2_cv"])  # metrics still reported
    assert result.rows.iloc[-1]["reasons"].startswith("Rule 1: unverified, model for GD3 rejected")
    assert result.rows.iloc[0]["reasons"].startswith("Rule 1: anchor (no model; model rejected: ")
    assert [w.code for w in result.warnings].count("model_rejected") == 1
    assert result.summary["groups_rejected"] == 1


def test_rule1_anchor_rts_that_do_not_vary_are_rejected_without_metrics():
    rows = [(f"GT1({34 + i}:1;O2)", 9.0, 100.0, float(i), "T") for i in range(3)]
    result = analyze(table(rows))
    assert result.groups.iloc[0]["reason"] == "anchor RTs do not vary"
    assert math.isnan(result.groups.iloc[0]["r2_cv"])


def test_rule1_anchor_that_disagrees_is_flagged():
    frame = line_table()
    frame.loc[2, "RT"] += 3.0  # an anchor far off a line its six peers define
    frame.loc[len(frame)] = ["GM1(41:1;O2)", 5.0 + 1.4 * 7.0, 1000.0, 7.0, "T"]
    result = analyze(frame)
    row = result.rows.iloc[2]
    if row["rule1_status"] == "outlier":
        assert bool(row["anchor_disagrees"])
        assert row["reasons"].startswith("Rule 1: anchor disagrees with model GM1")
        assert any(w.code == "anchor_disagrees" for w in result.warnings)
    assert result.summary["anchors_disagreeing"] == int(result.rows["anchor_disagrees"].sum())


def test_rule1_recurring_series_needs_three_tails():
    frame = line_table()
    for i, tail in enumerate(["34:1;O2", "35:1;O2", "36:1;O2"]):
        lp = 1.0 + i
        frame.loc[len(frame)] = [f"GM1({tail})", 5.0 + 1.4 * lp + 1.8 + 0.01 * i, 500.0, lp, "F"]
    result = analyze(frame)
    series = result.rows[result.rows["rule1_series_offset"].notna()]
    assert len(series) == 3
    assert series["rule1_series_offset"].iloc[0] == pytest.approx(
        float(np.median(series["residual"])))
    assert series["reasons"].str.contains(
        "; part of a series of 3 peaks at +1.8", regex=False).all()
    assert (series["status"] == "outlier").all()


# ---------------------------------------------------------------- Rules 2-3


def test_rules_2_3_rank_repeated_peaks():
    result = analyze(table([("GD1(36:1;O2)", 9.5, 100.0, 1.0, "F"),
                            ("GD1(36:1;O2)", 9.1, 100.0, 1.0, "F"),
                            ("GM1(36:1;O2)", 10.0, 100.0, 3.0, "F"),
                            ("GM1(36:1;O2)", 10.5, 100.0, 3.0, "F")]))
    rows = result.rows
    assert list(rows["name_peak_count"]) == [2, 2, 2, 2]
    assert list(rows["peak_index"]) == [2, 1, 1, 2]
    assert list(rows["isomer_peaks"]) == [True, True, False, False]
    assert "Rules 2-3: peak 2 of 2 with this name (isomer-capable series GD1: several peaks " \
           "are expected)" in rows.iloc[0]["reasons"]
    assert rows.iloc[2]["reasons"].endswith("Rules 2-3: peak 1 of 2 with this name")


# ---------------------------------------------------------------- Rule 4


def test_rule4_verdicts():
    result = analyze(table([
        ("GD1(36:1;O2)", 9.0, 100.0, 1.0, "F"),
        ("GD1(36:1;O2)", 10.0, 100.0, 1.0, "F"),
        ("GD1+OAc(36:1;O2)", 9.4, 100.0, 1.5, "F"),      # nearest base 9.0 (0.4) vs 10.0 (0.6)
        ("GD1+2OAc(36:1;O2)", 9.3, 100.0, 2.0, "F"),     # base GD1+OAc at 9.4: shift -0.1
        ("GD1+dHex+OAc(36:1;O2)", 9.0, 100.0, 1.5, "F"),  # no GD1+dHex: not verifiable
        ("GD1a+OAc(36:1;O2)", 9.0, 100.0, 1.5, "F"),     # core GD1a differs from GD1
        ("GM1+OAc(36:1;O2)", 12.0, 100.0, 3.5, "F"),
        ("GM1(36:1;O2)", 10.0, 100.0, 3.0, "F"),          # shift +2.0 > 1.5
    ]))
    oac = result.oac_pairs.set_index("oac_row_id")
    assert oac.loc[2, "base_row_id"] == 0 and oac.loc[2, "verdict"] == "consistent"
    assert oac.loc[2, "rt_shift"] == pytest.approx(0.4)
    assert oac.loc[3, "base_row_id"] == 2 and oac.loc[3, "verdict"] == "inconsistent"
    assert oac.loc[3, "note"] == \
        "Rule 4: inconsistent, O-acetylation did not increase RT (-0.100 min vs row 2)"
    assert oac.loc[4, "verdict"] == "not verifiable" and pd.isna(oac.loc[4, "base_row_id"])
    assert oac.loc[5, "verdict"] == "not verifiable"
    assert oac.loc[6, "note"] == \
        "Rule 4: inconsistent, RT shift +2.000 min outside [0, 1.5] min (vs row 7)"
    assert result.rows.loc[0, "rule4_verdict"] is None
    assert result.summary["oac_consistent"] == 1 and result.summary["oac_not_verifiable"] == 2
    wider = analyze(result.rows[["Name", "RT", "Volume", "Log P", "Anchor"]].assign(
        Anchor="F"), AnalysisParams(oac_shift_max=2.5))
    assert wider.oac_pairs.set_index("oac_row_id").loc[6, "verdict"] == "consistent"


def test_rule4_ties_go_to_the_smaller_row_id():
    result = analyze(table([("GD1(36:1;O2)", 9.6, 100.0, 1.0, "F"),
                            ("GD1(36:1;O2)", 9.2, 100.0, 1.0, "F"),
                            ("GD1+OAc(36:1;O2)", 9.4, 100.0, 1.5, "F")]))
    assert result.oac_pairs.iloc[0]["base_row_id"] == 0


# ---------------------------------------------------------------- Rule 5


SPEC9 = [("GQ1(36:1;O2)", 10.000, 1000.0), ("GT1(36:1;O2)", 10.080, 500.0),
         ("GD1(36:1;O2)", 10.160, 100.0), ("GD1+OAc(36:1;O2)", 10.050, 300.0),
         ("GM1(36:1;O2)", 10.120, 50.0), ("GD3(36:1;O2)", 10.090, 600.0)]


def spec9_table(order=range(6)) -> pd.DataFrame:
    return table([(SPEC9[i][0], SPEC9[i][1], SPEC9[i][2], 1.0, "F") for i in order])


def test_rule5_example_of_spec_9():
    result = analyze(spec9_table())
    rows = result.rows
    assert list(rows["rule5_role"]) == ["parent", "fragment", "fragment", "none", "fragment",
                                        "fragment"]
    assert list(rows["rule5_event_id"].astype(object)) == [1, 1, 2, pd.NA, 2, 1]
    assert list(rows["rule5_parent_row_id"].astype(object)) == [pd.NA, 0, 1, pd.NA, 1, 0]
    assert list(rows["rule5_heads_event_id"].astype(object)) == [1, 2, pd.NA, pd.NA, pd.NA, pd.NA]
    assert rows.loc[1, "rule5_rt_diff"] == pytest.approx(0.08)
    events = result.fragment_events
    assert list(events["parent_row_id"]) == [0, 1]
    assert list(events["fragment_row_ids"]) == [[1, 5], [2, 4]]
    assert list(events["summed_volume"]) == [2100.0, 650.0]
    assert list(events["rt_min"]) == [10.0, 10.08] and list(events["rt_max"]) == [10.09, 10.16]
    assert "Rule 5: in-source fragment of row 0 GQ1(36:1;O2) (ΔRT +0.080 min, event 1); parent " \
           "of event 2 (2 fragments)" in rows.loc[1, "reasons"]
    assert rows.loc[0, "reasons"].endswith("Rule 5: parent of event 1 (2 fragments)")
    assert list(rows["status"]) == ["unverified", "fragment", "fragment", "unverified",
                                    "fragment", "fragment"]


def test_rule5_does_not_depend_on_row_order():
    order = [5, 3, 1, 4, 0, 2]
    result = analyze(spec9_table(order))
    by_name = result.rows.set_index("Name")
    assert by_name.loc["GD1(36:1;O2)", "rule5_parent_row_id"] == order.index(1)
    assert by_name.loc["GM1(36:1;O2)", "rule5_parent_row_id"] == order.index(1)
    assert by_name.loc["GD3(36:1;O2)", "rule5_parent_row_id"] == order.index(0)
    assert list(result.fragment_events["parent_name"]) == ["GQ1(36:1;O2)", "GT1(36:1;O2)"]


def test_rule5_needs_same_tail_volume_and_tolerance():
    result = analyze(table([("GT1(36:1;O2)", 10.0, 500.0, 1.0, "F"),
                            ("GD1(36:1;O3)", 10.0, 100.0, 1.0, "F"),   # other tail
                            ("GD1(36:1;O2)", 10.0, 600.0, 1.0, "F"),   # larger than GT1
                            ("GM1(36:1;O2)", 10.3, 10.0, 1.0, "F"),    # 0.3 min away
                            ("GM3(36:1;O2)", 10.1, 10.0, 1.0, "F"),    # exactly 0.1 away
                            ("GD1(36:1;O2)", 10.0, None, 1.0, "F")]))  # no Volume
    roles = list(result.rows["rule5_role"])
    assert roles[1] == "none" and roles[3] == "none" and roles[5] is None
    assert roles[2] == "parent" and roles[4] == "fragment"   # GM3 takes the larger GD1 (600)
    assert result.rows.loc[4, "rule5_parent_row_id"] == 2
    wide = analyze(result.rows[["Name", "RT", "Volume", "Log P"]].assign(Anchor="F"),
                   AnalysisParams(rt_tolerance=0.5))
    assert wide.rows.loc[3, "rule5_role"] == "fragment"


def test_rule5_fewer_sugars_required_oac_only_difference_is_not_a_fragment():
    result = analyze(table([("GD1+OAc(36:1;O2)", 10.0, 500.0, 1.0, "F"),
                            ("GD1(36:1;O2)", 10.0, 100.0, 1.0, "F")]))
    assert list(result.rows["rule5_role"]) == ["none", "none"]


# ---------------------------------------------------------------- status and pipeline


def test_status_precedence_and_invalid_rows():
    frame = line_table(outlier_shift=1.0).astype({"RT": object})
    frame.loc[len(frame)] = ["GM1(36:1;O2)", "abc", 10.0, 1.0, "F"]
    frame.loc[len(frame)] = ["GD1(40:1;O2)", 5.0 + 1.4 * 3.5 + 1.02, 5000.0, 1.0, "F"]
    result = analyze(frame)
    invalid = result.rows.iloc[7]
    assert invalid["status"] == "invalid"
    assert invalid["reasons"] == invalid["input_problems"]
    assert "RT: 'abc' is not a number" in invalid["reasons"]
    assert invalid["rule1_status"] is None and not invalid["can_have_isomers"]
    # the GM1 outlier (row 6) is an in-source fragment of the larger GD1 at its RT: fragment wins
    outlier = result.rows.iloc[6]
    assert outlier["rule1_status"] == "outlier"
    assert outlier["rule5_role"] == "fragment" and outlier["status"] == "fragment"
    off = analyze(frame, AnalysisParams(apply_fragment_status=False))
    assert off.rows.iloc[6]["status"] == "outlier"


def test_parameters_are_validated_before_any_progress():
    calls = []
    with pytest.raises(ParameterError, match="outlier_threshold = 9"):
        analyze(line_table(), AnalysisParams(outlier_threshold=9),
                progress=lambda *a: calls.append(a))
    assert calls == []
    with pytest.raises(ParameterError, match="oac_shift_max"):
        analyze(line_table(), AnalysisParams(oac_shift_min=1.0, oac_shift_max=0.5))


def test_progress_callback_cancels_and_leaves_the_table_alone():
    frame = line_table()
    before = frame.copy()
    saved = []

    def cancel_at_rule4(fraction, step, message):
        if step == "rule4":
            raise AnalysisCancelled("stop")

    with pytest.raises(AnalysisCancelled):
        analyze(frame, progress=cancel_at_rule4, save=saved.append)
    assert saved == []
    pd.testing.assert_frame_equal(frame, before)


def test_save_is_called_once_before_complete():
    events = []
    result = analyze(line_table(), progress=lambda f, step, m: events.append(step),
                     save=lambda r: events.append("SAVED"))
    assert events[-2:] == ["SAVED", "complete"]
    assert result.provenance["algorithm_version"] == "1.0"
    assert result.provenance["input_sha256"] is None


def test_a_one_row_table_and_underscore_extra_columns_survive_both_algorithms():
    frame = table([("GM1(36:1;O2)", 10.0, 1.0, 1.0, "T")]).assign(_id=["x-1"], note=["kept"])
    for version in ("1.0", "2.0"):
        result = analyze_any_version(frame, AnalysisParams(algorithm_version=version))
        assert result.summary["total_rows"] == 1 and result.rows.loc[0, "status"] == "valid"
        assert list(result.rows.columns[7:10]) == ["_id", "note", "input_problems"]
        assert result.rows.loc[0, "_id"] == "x-1"


def test_a_clean_group_gets_no_series_note():
    """Regression: an accepted group without outliers once got '... series ... +nan min'."""
    result = analyze(line_table())
    assert result.summary["series_rows"] == 0
    assert not result.rows["reasons"].str.contains("series", regex=False).any()
