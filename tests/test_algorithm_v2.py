"""Algorithm 2.0 (issue 5): pooled levels, isomer lines, confidence, chemistry checks.

Each table is built from one shared Log P slope (1.35 min per unit) and per-head-group offsets,
so the right verdict of every row is known by construction. 2.0 stays selectable and
reproducible after 2.1 became the default (issue 12), so every analysis here asks for 2.0.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ganglioside import AnalysisParams, analyze, read_table
from ganglioside.formatting import fixed3

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
V2 = AnalysisParams(algorithm_version="2.0")
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


def family_with_gd1_isomers(anchored: bool) -> list[tuple]:
    """``anchored_family`` with GD1 anchored in tails 34-39; with ``anchored`` also its second
    isomer, 0.45 min later in each (GD1a and GD1b, as on the lab's sample)."""
    rows = [row for row in anchored_family() if not row[0].startswith("GD1")]
    for i, carbons in enumerate(range(34, 40)):
        rows.append(peak("GD1", carbons, 7.4, anchor=True, noise=NOISE[i]))
        if anchored:
            rows.append(peak("GD1", carbons, 7.4, shift=0.45, anchor=True, noise=NOISE[i + 3]))
    return rows


def by_name(result) -> pd.DataFrame:
    return result.rows.set_index("Name")


def test_a_prefix_with_one_anchor_is_judged_by_the_pooled_model():
    rows = anchored_family() + [peak("GD2", 36, 5.4, anchor=True),
                                peak("GD2", 38, 5.4, noise=0.02),
                                peak("GD2", 40, 5.4, shift=1.5)]
    result = analyze(table(rows), V2)
    gd2 = result.rows[result.rows["prefix"] == "GD2"]
    assert set(gd2["rule1_model"]) == {"pooled"}
    assert list(gd2["status"]) == ["valid", "valid", "outlier"]
    assert gd2["rule1_model_n"].iloc[0] == 1
    assert gd2.iloc[2]["residual"] == pytest.approx(1.5, abs=0.15)
    assert gd2.iloc[2]["reasons"].startswith("Rule 1: outlier, |z| = ")
    group = result.groups.set_index("prefix").loc["GD2"]
    assert group["judged_by"] == "pooled" and group["n_outlier"] == 1


def test_an_own_model_from_anchors_in_a_narrow_log_p_range_gives_way_to_the_pooled_line():
    """GM1's 5 anchors span 2.2 Log P units, GT1's 3 only 1.1: a slope from so narrow a range
    would be extrapolated to GT1's other tails."""
    rows = anchored_family() + [peak("GT1", 40, 10.1), peak("GM1", 40, 4.7)]
    result = analyze(table(rows), V2)
    models = result.rows.groupby("prefix")["rule1_model"].first()
    assert models["GM1"] == "prefix" and models["GT1"] == "pooled"
    assert result.groups.set_index("prefix").loc["GT1", "accepted"]  # 1.0 accepted it
    assert by_name(result).loc["GT1(40:1;O2)", "status"] == "valid"


def test_an_anchorless_prefix_is_judged_by_the_line_its_tails_agree_on():
    rows = anchored_family() + [peak("GT3", c, 3.7, noise=NOISE[i])
                                for i, c in enumerate(range(33, 39))]
    rows.append(peak("GT3", 39, 3.7, shift=-1.2))
    result = analyze(table(rows), V2)
    gt3 = result.rows[result.rows["prefix"] == "GT3"]
    assert set(gt3["rule1_model"]) == {"self"}
    assert list(gt3["status"]) == ["valid"] * 6 + ["outlier"]
    levels = result.model_levels.set_index("level")
    assert {"pooled", "self", "composition"} <= set(levels.index)
    assert levels.loc["pooled", "n"] > 0 and levels.loc["pooled", "r2_cv"] > 0.9


def test_a_single_anchorless_peak_is_judged_from_its_composition():
    rows = anchored_family() + [peak("GD3", 36, 2.6)]
    result = analyze(table(rows), V2)
    gd3 = by_name(result).loc["GD3(36:1;O2)"]
    assert gd3["rule1_model"] == "composition"
    assert gd3["status"] in ("valid", "outlier")
    comp = result.model_levels.set_index("level").loc["composition"]
    assert gd3["rule1_scale"] >= comp["rmse_cv"]  # its scale carries the prediction's error


def test_isomer_series_is_a_parallel_line_not_outliers():
    rows = anchored_family()
    rows += [peak("GT1", c, 10.1, shift=1.8, noise=NOISE[i]) for i, c in enumerate(range(37, 42))]
    rows.append(peak("GT1", 42, 10.1, shift=0.9))
    result = analyze(table(rows), V2)
    gt1 = result.rows[result.rows["prefix"] == "GT1"]
    on_line = gt1[gt1["Name"].isin([f"GT1({c}:1;O2)" for c in range(37, 42)])]
    assert (on_line["status"] == "valid").all()
    assert (on_line["isomer_series"] == 2).all()
    assert on_line["rule1_series_offset"].iloc[0] == pytest.approx(1.8, abs=0.1)
    assert on_line["reasons"].str.startswith("Rule 1: isomer peak on parallel line 2").all()
    lone = gt1[gt1["Name"] == "GT1(42:1;O2)"].iloc[0]
    assert lone["status"] == "outlier" and pd.isna(lone["isomer_series"])


def test_a_prefix_shows_its_own_isomer_line_where_its_large_family_shows_none():
    """40 GD1/GD1+dHex names and no isomer peaks among them: a family line would need 4 names.
    GD1+OAc's own 3 tails at +0.9 min still make a parallel line of GD1+OAc."""
    rows = anchored_family()
    rows += [peak("GD1", c, 7.4, noise=NOISE[c % 10]) for c in range(30, 50)
             if not 34 <= c <= 38]
    rows += [peak("GD1+dHex", c, 8.9, anchor=c < 33, noise=NOISE[c % 10]) for c in range(30, 50)]
    rows += [peak("GD1+OAc", c, 6.8, noise=NOISE[c % 10]) for c in range(36, 42)]
    rows += [peak("GD1+OAc", c, 6.8, shift=0.9, noise=NOISE[(c + 3) % 10]) for c in (37, 39, 41)]
    result = analyze(table(rows), V2)
    oac = result.rows[result.rows["prefix"] == "GD1+OAc"]
    assert (oac["status"] == "valid").all()
    assert oac["isomer_series"].tolist() == [1] * 6 + [2] * 3
    assert oac["rule1_series_offset"].iloc[-1] == pytest.approx(0.9, abs=0.1)


def test_two_anchored_peaks_of_one_name_place_two_isomer_lines():
    """GD1a and GD1b: every GD1 name anchored twice, 0.45 min apart. Each isomer has its own
    line, so the scale stays that of one isomer and a peak between the lines is an outlier."""
    rows = family_with_gd1_isomers(anchored=True)
    rows.append(peak("GD1", 40, 7.4, shift=0.22))
    rows += [peak("GD1", 41, 7.4, anchor=True), peak("GD1", 41, 7.4, shift=0.2, anchor=True)]
    result = analyze(table(rows), V2)
    gd1 = result.rows[result.rows["prefix"] == "GD1"]
    anchors = gd1[gd1["Anchor"]].iloc[:12]
    assert (anchors["status"] == "valid").all()
    assert anchors["isomer_series"].tolist() == [1, 2] * 6  # each name: first, then second
    late = gd1.iloc[-1]  # a second isomer only 0.2 min after the first: off its own line
    assert late["anchor_disagrees"] and late["residual"] == pytest.approx(-0.25, abs=0.05)
    assert anchors["rule1_series_offset"].iloc[1] == pytest.approx(0.45, abs=0.05)
    assert gd1["rule1_scale"].iloc[0] < 0.15  # not the 0.22 min half-gap of one mixed line
    assert gd1.iloc[-3]["status"] == "outlier"  # between the lines, no anchor
    group = result.groups.set_index("prefix").loc["GD1"]
    assert group["anchored_isomers"] == 7 and group["n_anchor_disagrees"] == 1
    assert group["accepted"] and group["judged_by"] == "pooled"  # its 1.0 line mixes isomers
    unused = {w.prefix: w.message for w in result.warnings if w.code == "own_model_unused"}
    assert "7 of its anchors are second isomers" in unused["GD1"]
    assert "span less than 2 Log P units" in unused["GT1"]  # 3 anchors over 1.1 units


def test_an_anchor_listed_twice_is_not_a_second_isomer():
    rows = anchored_family()
    rows.append(rows[6])  # GD1(35:1) anchored twice at one RT
    result = analyze(table(rows), V2)
    group = result.groups.set_index("prefix").loc["GD1"]
    assert group["anchored_isomers"] == 0 and group["judged_by"] == "prefix"
    assert group["isomer_lines"] == 1


def test_two_disagreeing_anchors_do_not_set_the_scale_of_every_prefix():
    """GD2's two anchors sit 1.2 min apart after the shared slope: they are named, GD2's line is
    only known to about ±0.6 min, and the other prefixes keep the scale their anchors show."""
    rows = anchored_family() + [peak("GD2", 36, 5.4, anchor=True),
                                peak("GD2", 38, 5.4, shift=1.2, anchor=True),
                                peak("GT1", 37, 10.1, shift=0.4)]
    result = analyze(table(rows), V2)
    assert by_name(result).loc["GT1(37:1;O2)", "status"] == "outlier"
    assert by_name(result).loc["GT1(37:1;O2)", "rule1_scale"] < 0.1
    warned = [w for w in result.warnings if w.code == "anchors_scattered"]
    assert [w.prefix for w in warned] == ["GD2"] and len(warned[0].row_ids) == 2
    gd2 = result.rows[result.rows["prefix"] == "GD2"]
    assert (gd2["status"] == "valid").all()
    pooled = result.model_levels.set_index("level").loc["pooled"]
    assert pooled["scale_s"] < 0.1 < pooled["rmse_cv"]  # the disagreement is reported, not used
    assert gd2["rule1_scale"].iloc[0] == pytest.approx(np.hypot(0.1, 1.2 / 2), abs=0.1)


def test_anchors_exactly_on_their_lines_with_no_scale_floor_still_give_finite_verdicts():
    rows = [peak(prefix, carbons, offset, anchor=True)
            for prefix, offset in {"GM1": 4.7, "GD1": 7.4, "GT1": 10.1}.items()
            for carbons in range(34, 39)]
    rows += [peak("GD1", 40, 7.4), peak("GD1", 41, 7.4, shift=0.01), peak("GT3", 36, 3.7),
             peak("GT3", 37, 3.7)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no division by a zero scale
        result = analyze(table(rows), AnalysisParams(rt_sd_floor=0.0, algorithm_version="2.0"))
    judged = result.rows[result.rows["rule1_model"] != "none"]
    assert (judged["rule1_scale"] >= 0.001).all() and judged["confidence"].notna().all()
    assert by_name(result).loc["GD1(41:1;O2)", "status"] == "outlier"  # 10 scales of 0.001 off


def test_series_that_cannot_have_isomers_keep_their_outliers():
    rows = anchored_family()
    rows += [peak("GM3", c, -0.7, shift=1.8) for c in range(37, 42)]
    result = analyze(table(rows), V2)
    gm3 = result.rows[result.rows["Name"].isin([f"GM3({c}:1;O2)" for c in range(37, 42)])]
    assert (gm3["status"] == "outlier").all()


def test_confidence_is_the_probability_of_the_verdict():
    rows = anchored_family() + [peak("GD1", 40, 7.4, shift=0.05), peak("GD1", 41, 7.4, shift=2.0)]
    result = analyze(table(rows), V2)
    decided = result.rows[result.rows["status"].isin(["valid", "outlier"])]
    assert decided["confidence"].between(0, 1).all()
    near, far = by_name(result).loc["GD1(40:1;O2)"], by_name(result).loc["GD1(41:1;O2)"]
    assert near["status"] == "valid" and near["confidence"] > 0.9
    assert far["status"] == "outlier" and far["confidence"] > 0.9


def coeluting(name, with_row, shift=0.005, volume=1e6) -> tuple:
    """A larger glycan ``name`` (same tail) eluting ``shift`` min after ``with_row``."""
    log_p = round(with_row[3] - 2.5, 2)
    return (name, round(with_row[1] + shift, 3), volume, log_p, "F")


def rows_named(result, name: str) -> pd.DataFrame:
    return result.rows[result.rows["Name"] == name]


def test_a_coeluting_peak_on_its_own_line_with_an_ordinary_volume_is_a_peak_of_its_own():
    gd1 = peak("GD1", 39, 7.4, volume=1e5)
    rows = anchored_family() + [gd1, coeluting("GT1(39:1;O2)", gd1)]
    result = analyze(table(rows), V2)
    own = rows_named(result, "GD1(39:1;O2)").iloc[0]
    assert own["status"] == "valid" and own["rule5_role"] == "none"
    assert own["rule5_fragment_probability"] < 0.5
    assert "but is more likely a peak of its own (P(fragment) " in own["reasons"]
    assert own["confidence"] > 0.5
    v1 = analyze(table(rows), AnalysisParams(algorithm_version="1.0"))
    assert v1.rows.loc[own["row_id"], "status"] == "fragment"


def test_a_peak_off_its_line_at_a_larger_glycans_rt_is_its_fragment():
    gt1 = peak("GT1", 40, 10.1, volume=1e6)
    gm1 = peak("GM1", 40, 4.7)
    rows = anchored_family() + [gt1, ("GM1(40:1;O2)", round(gt1[1] + 0.01, 3), 1e4, gm1[3], "F")]
    result = analyze(table(rows), V2)
    fragment = rows_named(result, "GM1(40:1;O2)").iloc[0]
    parent = rows_named(result, "GT1(40:1;O2)").iloc[0]
    assert fragment["status"] == "fragment"
    assert fragment["rule5_parent_row_id"] == parent["row_id"]
    assert fragment["rule5_fragment_probability"] > 0.9 and fragment["confidence"] > 0.9
    assert f"P(fragment) {fixed3(fragment['rule5_fragment_probability'])}" in fragment["reasons"]
    assert result.fragment_events["parent_row_id"].tolist() == [parent["row_id"]]
    assert any(w.code == "rule5_model" for w in result.warnings)


def test_a_second_peak_of_a_name_on_the_same_line_is_the_fragment_of_the_larger_glycan():
    """One compound gives one peak per line: with the anchor of GM3(36:1) on the line (GM3 has no
    isomers), a second GM3(36:1) peak there that co-elutes with a larger glycan is its fragment;
    without the anchor the same peak, on its line with an ordinary Volume, is a peak of its own."""
    family = anchored_family()
    anchor = next(row for row in family if row[0] == "GM3(36:1;O2)")
    second = ("GM3(36:1;O2)", round(anchor[1] - 0.04, 3), 1e5, anchor[3], "F")
    pair = [second, coeluting("GD3(36:1;O2)", second)]
    gm3_rows = rows_named(analyze(table(family + pair), V2), "GM3(36:1;O2)").set_index("Anchor")
    assert gm3_rows.loc[False, "status"] == "fragment"
    assert gm3_rows.loc[True, "status"] == "valid"  # the anchor is trusted
    alone = analyze(table([row for row in family if row is not anchor] + pair), V2)
    assert rows_named(alone, "GM3(36:1;O2)")["status"].tolist() == ["valid"]


def test_with_its_isomers_anchored_a_second_peak_on_one_isomer_line_is_a_fragment():
    """GD1 can have isomers, so a second GD1(37:1) peak beside the anchored one may be GD1b; but
    once GD1a and GD1b are both anchored, each on its own line, it cannot: at a larger glycan's
    RT it is that glycan's fragment."""
    def second_peak(isomers_anchored: bool) -> pd.Series:
        rows = family_with_gd1_isomers(anchored=isomers_anchored)
        second = peak("GD1", 37, 7.4, shift=0.05, volume=1.2e5)
        rows += [second, coeluting("GT1(37:1;O2)", second, shift=0.01, volume=3e5)]
        gd1 = rows_named(analyze(table(rows), V2), "GD1(37:1;O2)")
        return gd1[gd1["Anchor"].eq(False)].iloc[0]

    assert second_peak(isomers_anchored=False)["status"] == "valid"
    anchored = second_peak(isomers_anchored=True)
    assert anchored["status"] == "fragment" and anchored["isomer_series"] == 1


def test_without_any_line_a_fragments_confidence_is_its_fragment_probability():
    rows = [("GT1(38:1;O2)", 9.0, 1e6, 1.58, "F"), ("GD1(38:1;O2)", 9.01, 1e5, 4.05, "F"),
            ("GM1(38:1;O2)", 9.0, 0.0, 6.52, "F")]
    result = analyze(table(rows), V2)
    assert (result.rows["rule1_status"] == "unverified").all()
    flagged = result.rows[result.rows["status"] == "fragment"]
    assert len(flagged) >= 1
    assert flagged["confidence"].tolist() == pytest.approx(
        flagged["rule5_fragment_probability"].tolist())


def test_an_anchor_is_never_a_fragment_but_a_likely_one_is_reported():
    """GM3 has no isomers: with a second GM3(37:1) peak on the line, the anchor that co-elutes
    with a larger glycan looks like its fragment, but stays a trusted identification."""
    gm3 = peak("GM3", 37, -0.7, volume=1e4)
    rival = ("GM3(37:1;O2)", round(gm3[1] - 0.09, 3), 1e5, gm3[3], "F")  # no parent near
    anchor = gm3[:4] + ("T",)
    rows = anchored_family() + [anchor, rival, coeluting("GM1(37:1;O2)", anchor)]
    result = analyze(table(rows), V2)
    row = result.rows[(result.rows["Name"] == "GM3(37:1;O2)") & result.rows["Anchor"]].iloc[0]
    assert row["status"] == "valid" and row["rule5_role"] == "none"
    assert row["rule5_fragment_probability"] >= 0.5
    assert "an anchor, trusted as a peak of its own" in row["reasons"]
    warning = next(w for w in result.warnings if w.code == "anchor_fragment")
    assert warning.row_ids == (row["row_id"],)


def test_chemistry_checks_report_without_changing_status():
    rows = anchored_family()
    result = analyze(table(rows), V2)
    checks = result.chemistry_checks
    assert {"check", "subject", "flagged"} <= set(checks.columns)
    assert set(checks["check"]) >= {"sugar_order", "category_order"}
    # same tail: GQ1 (8 sugars) and GM3 (3 sugars) swapped would elute "more sugars later"
    swapped = table(rows).copy()
    gq1 = swapped["Name"].str.startswith("GQ1")
    swapped.loc[gq1, "RT"] += 6.0
    flagged = analyze(swapped, V2).chemistry_checks
    assert flagged.loc[flagged["check"] == "category_order", "flagged"].any()
    assert any(w.code == "chemistry_check" for w in analyze(swapped, V2).warnings)


def test_algorithm_1_0_stays_reproducible_and_2_0_decides_the_sample():
    sample = read_table(DATA / "testwork_user.csv")
    v1 = analyze(sample, AnalysisParams(algorithm_version="1.0"))
    v2 = analyze(sample, V2)
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
    result = analyze(read_table(DATA / "testwork_user.csv"), V2)
    groups = result.groups.set_index("prefix")
    rows = result.rows
    for prefix in ("GT1", "GD2", "GM2"):
        used = rows.loc[rows["prefix"] == prefix, "rule1_scale"].iloc[0]
        assert groups.loc[prefix, "scale_s"] == pytest.approx(used)
    assert groups.loc["GT1", "scale_s"] > 0.05  # not the 1.0 floor from 3 anchors
