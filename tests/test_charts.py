"""Chart builders, tested through ``chart.to_dict()`` (data, encodings, scales, selection)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import pytest
import vl_convert

from ganglioside import analyze, charts, read_table
from ganglioside.composition import CATEGORY_COLOURS
from ganglioside.params import AnalysisParams
from ganglioside.result import AnalysisResult

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
INTERCEPT, SLOPE, DB_SLOPE, SCALE = 7.0, 1.35, 0.1, 0.2


def _rows() -> pd.DataFrame:
    """Eight rows: six of GD1 (one outlier, one anchor, one invalid), two of GM1 (no model)."""
    log_p = np.array([0.5, 1.0, 1.5, 2.0, 2.5, np.nan, 4.0, 4.5])
    predicted = INTERCEPT + SLOPE * log_p
    predicted[5:] = np.nan
    rt = predicted + np.array([0.01, -0.02, 1.2, 0.0, 0.05, 0, 0, 0])
    rt[5:] = [9.0, 10.2, 10.9]
    z = (rt - predicted) / SCALE
    z[2] = np.inf
    return pd.DataFrame({
        "row_id": np.arange(8), "line": np.arange(8) + 2,
        "Name": pd.Series(["=GD1(34:1;O2)", "GD1(35:1;O2)", "GD1(36:1;O2)", "GD1(37:1;O2)",
                           "<b>GD1</b>(38:1;O2)", "GD1(x)", "GM1(36:1;O2)", "GM1(38:1;O2)"],
                          dtype=object),
        "RT": rt, "Volume": [1e6, 5e5, 2e5, 1e5, 4e4, np.nan, 3e5, 1e5], "Log P": log_p,
        "Anchor": pd.Series([True, False, False, True, False, None, False, True], dtype=object),
        "prefix": pd.Series(["GD1"] * 5 + [None, "GM1", "GM1"], dtype=object),
        "category": pd.Series(["GD"] * 5 + [None, "GM", "GM"], dtype=object),
        "modifiers": pd.Series(["", "", "OAc", "", "", None, "dHex", "2OAc"], dtype=object),
        "double_bonds": pd.array([1, 1, 1, 2, 1, None, 1, 1], dtype="Int64"),
        "predicted_rt": predicted, "z": z,
        "status": pd.Series(["valid", "valid", "outlier", "valid", "fragment", "invalid",
                             "unverified", "valid"], dtype=object),
        "rule1_model": pd.Series(["prefix"] * 5 + [None, "none", "none"], dtype=object),
    })


def _groups(db_slope: float = np.nan, carbons_slope: float = np.nan) -> pd.DataFrame:
    return pd.DataFrame({
        "prefix": ["GD1", "GM1"], "accepted": [True, False],
        "reason": ["", "1 of 3 required anchors"],
        "equation_raw": [f"RT = {INTERCEPT:.4f} + {SLOPE:.4f}*Log P", None],
        "intercept_raw": [INTERCEPT, np.nan], "slope_raw_log_p": [SLOPE, np.nan],
        "slope_raw_carbons": [carbons_slope, np.nan], "slope_raw_double_bonds": [db_slope, np.nan],
        "scale_s": [SCALE, np.nan]})


def _events() -> pd.DataFrame:
    ids = pd.Series([[1, 4], [3]], dtype=object)
    return pd.DataFrame({"event_id": [1, 2], "tail": ["36:1;O2", "37:1;O2"],
                         "parent_row_id": [0, 6], "parent_name": ["=GD1(34:1;O2)", "GM1(36:1;O2)"],
                         "fragment_row_ids": ids, "n_fragments": [2, 1]})


def make_result(groups: pd.DataFrame | None = None, events: pd.DataFrame | None = None,
                threshold: float = 3.0) -> AnalysisResult:
    return AnalysisResult(rows=_rows(), groups=_groups() if groups is None else groups,
                          oac_pairs=pd.DataFrame(),
                          fragment_events=_events() if events is None else events,
                          summary={}, parameters=AnalysisParams(outlier_threshold=threshold))


def _layers(chart) -> list[tuple[dict, list[dict]]]:
    """(layer spec, its data values) of every layer of a chart's Vega-Lite dict."""
    spec = chart.to_dict()
    layers = spec.get("layer", [spec])
    return [(layer, spec["datasets"][layer.get("data", spec.get("data"))["name"]])
            for layer in layers]


def _layer(chart, mark: str) -> tuple[dict, list[dict]]:
    found = [(layer, values) for layer, values in _layers(chart)
             if layer["mark"]["type"] == mark]
    assert len(found) == 1, f"expected one {mark} layer"
    return found[0]


def _assert_selectable(chart) -> None:
    params = chart.to_dict()["params"]
    assert params == [{"name": "select", "views": ["rows"],
                       "select": {"type": "point", "fields": ["row_id"], "on": "click",
                                  "clear": "dblclick"}}]


def _assert_status_colours(layer: dict) -> None:
    scale = layer["encoding"]["color"]["scale"]
    assert scale["domain"] == ["valid", "outlier", "fragment", "possible isomer", "unverified",
                               "invalid"]
    assert scale["range"] == ["#2ca02c", "#d62728", "#ff7f0e", "#9467bd", "#7f7f7f", "#000000"]


def _tooltip_fields(layer: dict) -> list[str]:
    return [item["field"] for item in layer["encoding"]["tooltip"]]


# --- RT vs Log P --------------------------------------------------------------------------------

def test_plottable_prefixes_put_accepted_models_first_then_larger_groups():
    groups = pd.DataFrame({"prefix": ["GM1", "GD1", "GT1", "GQ1"],
                           "accepted": [False, True, False, False], "n_rows": [2, 1, 5, 0]})
    assert charts.plottable_prefixes(make_result(groups=groups)) == ["GD1", "GT1", "GM1"]


def test_rt_vs_logp_points_are_the_usable_rows_of_the_prefix():
    chart = charts.rt_vs_logp(make_result(), "GD1", highlight_row_ids=[1, 6])
    layer, points = _layer(chart, "point")
    assert [p["row_id"] for p in points] == [0, 1, 2, 3, 4]
    assert [p["highlighted"] for p in points] == [False, True, False, False, False]
    assert [p["anchor"] for p in points][:2] == ["anchor", "not anchor"]
    assert points[0]["Name"] == "=GD1(34:1;O2)" and points[4]["Name"] == "<b>GD1</b>(38:1;O2)"
    assert layer["encoding"]["x"]["field"] == "log_p" and layer["encoding"]["y"]["field"] == "RT"
    _assert_status_colours(layer)
    assert _tooltip_fields(layer)[:3] == ["Name", "RT", "status"]
    _assert_selectable(chart)


def test_rt_vs_logp_draws_the_raw_equation_and_the_outlier_band():
    chart = charts.rt_vs_logp(make_result(threshold=3.0), "GD1")
    _, line = _layer(chart, "line")
    assert [p["log_p"] for p in line] == [0.5, 2.5]
    assert [p["line_rt"] for p in line] == pytest.approx([INTERCEPT + SLOPE * 0.5,
                                                         INTERCEPT + SLOPE * 2.5])
    _, band = _layer(chart, "area")
    assert [p["high"] - p["low"] for p in band] == pytest.approx([2 * 3.0 * SCALE] * 2)
    _, ticks = _layer(chart, "tick")
    assert [p["predicted_rt"] for p in ticks] == pytest.approx(
        list(INTERCEPT + SLOPE * np.array([0.5, 1.0, 1.5, 2.0, 2.5])))
    subtitle = chart.to_dict()["title"]["subtitle"]
    assert subtitle[0] == f"RT = {INTERCEPT:.4f} + {SLOPE:.4f}*Log P"
    assert "outlier when |z| ≥ 3" in subtitle[1]


def test_rt_vs_logp_draws_one_line_per_double_bond_count():
    chart = charts.rt_vs_logp(make_result(groups=_groups(db_slope=DB_SLOPE)), "GD1")
    _, line = _layer(chart, "line")
    by_line = {}
    for point in line:
        by_line.setdefault(point["line"], []).append((point["log_p"], point["line_rt"]))
    assert set(by_line) == {"model at 1 double bonds", "model at 2 double bonds"}
    assert [x for x, _ in by_line["model at 1 double bonds"]] == [0.5, 2.5]
    for x, y in by_line["model at 2 double bonds"]:
        assert x == 2.0 and y == pytest.approx(INTERCEPT + SLOPE * 2.0 + DB_SLOPE * 2)
    assert not [layer for layer, _ in _layers(chart) if layer["mark"]["type"] == "area"]


def test_rt_vs_logp_draws_no_line_when_carbons_are_a_predictor():
    chart = charts.rt_vs_logp(make_result(groups=_groups(carbons_slope=0.2)), "GD1")
    marks = [layer["mark"]["type"] for layer, _ in _layers(chart)]
    assert marks == ["tick", "point"]


def test_rt_vs_logp_without_a_model_says_why():
    chart = charts.rt_vs_logp(make_result(), "GM1")
    assert chart.to_dict()["title"]["subtitle"] == ["no own model: 1 of 3 required anchors",
                                                    "not judged by any model"]
    assert [layer["mark"]["type"] for layer, _ in _layers(chart)] == ["tick", "point"]
    _, ticks = _layer(chart, "tick")
    assert ticks == []


def test_rt_vs_logp_rejects_an_unknown_prefix():
    with pytest.raises(ValueError, match="GQ1"):
        charts.rt_vs_logp(make_result(), "GQ1")


# --- predicted vs observed, residuals ---------------------------------------------------------

def test_predicted_vs_observed_has_the_identity_line():
    chart = charts.predicted_vs_observed(make_result(), highlight_row_ids=[2])
    layer, points = _layer(chart, "point")
    assert [p["row_id"] for p in points] == [0, 1, 2, 3, 4]
    assert layer["encoding"]["x"]["field"] == "predicted_rt"
    _, diagonal = _layer(chart, "line")
    values = [p["rt"] for p in diagonal]
    rows = _rows().iloc[:5]
    assert values == pytest.approx([min(rows["RT"].min(), rows["predicted_rt"].min()),
                                    max(rows["RT"].max(), rows["predicted_rt"].max())])
    _assert_selectable(chart)


def test_residual_z_band_is_the_outlier_threshold_and_infinite_z_is_clipped():
    chart = charts.residual_z(make_result(threshold=3.0), highlight_row_ids=[4])
    _, band = _layer(chart, "rect")
    assert band == [{"low": -3.0, "high": 3.0}]
    _, edges = _layer(chart, "rule")
    assert [e["z"] for e in edges] == [-3.0, 3.0]
    layer, points = _layer(chart, "point")
    assert layer["encoding"]["y"]["field"] == "z_shown"
    assert points[2]["z_shown"] == 12.0 and points[2]["z"] is None
    assert [p["highlighted"] for p in points] == [False, False, False, False, True]
    assert "1 row with |z| > 12 drawn at ±12" in chart.to_dict()["title"]["subtitle"]
    json.dumps(chart.to_dict(), allow_nan=False)
    _assert_status_colours(layer)
    _assert_selectable(chart)


def test_large_tables_keep_every_outlier_and_highlighted_row(monkeypatch):
    monkeypatch.setattr(charts, "MAX_POINTS", 3)
    chart = charts.residual_z(make_result(), highlight_row_ids=[3])
    _, points = _layer(chart, "point")
    assert len(points) == 3 and {2, 3} <= {p["row_id"] for p in points}
    assert "showing 3 of 5 rows" in " ".join(chart.to_dict()["title"]["subtitle"])


# --- composition ------------------------------------------------------------------------------

def test_composition_counts_rows_per_category_and_modifier_in_spec_colours():
    chart = charts.composition(make_result())
    assert isinstance(chart, alt.Chart)
    spec = chart.to_dict()
    values = spec["datasets"][spec["data"]["name"]]
    by_category = {v["label"]: v["rows"] for v in values if v["panel"] == "By category"}
    assert by_category["GD"] == 5 and by_category["GM"] == 2 and by_category["GT"] == 0
    by_modifier = {v["label"]: v["rows"] for v in values if v["panel"] == "By modifier"}
    assert by_modifier == {"OAc": 2, "dHex": 1}
    scale = spec["encoding"]["color"]["scale"]
    assert dict(zip(scale["domain"], scale["range"])) == {**CATEGORY_COLOURS,
                                                          "modifier": charts.MODIFIER_COLOUR}
    assert scale["domain"][:6] == ["GA", "GM", "GD", "GT", "GQ", "GP"]
    assert CATEGORY_COLOURS["GD"] == "#ff7f0e"
    assert spec["encoding"]["row"]["field"] == "panel"  # stacked: fits a phone


# --- fragment events -----------------------------------------------------------------------------

def test_fragment_events_one_line_per_event_with_parent_and_fragments():
    chart = charts.fragment_events(make_result(), highlight_row_ids=[4])
    layer, members = _layer(chart, "point")
    assert [(m["event_id"], m["row_id"], m["role"]) for m in members] == [
        (1, 0, "parent"), (2, 6, "parent"), (1, 1, "fragment"), (1, 4, "fragment"),
        (2, 3, "fragment")]
    rows = _rows().set_index("row_id")
    for member in members:
        parent = {1: 0, 2: 6}[member["event_id"]]
        assert member["rt_offset"] == pytest.approx(rows.loc[member["row_id"], "RT"]
                                                    - rows.loc[parent, "RT"])
    assert [m["highlighted"] for m in members] == [False, False, False, True, False]
    assert layer["encoding"]["y"]["sort"] == [
        f"event 1: =GD1(34:1;O2) at {rows.loc[0, 'RT']:.3f} min",
        f"event 2: GM1(36:1;O2) at {rows.loc[6, 'RT']:.3f} min"]
    assert layer["encoding"]["y"]["axis"]["labelOverlap"] is False  # no event loses its label
    scale = layer["encoding"]["color"]["scale"]
    assert scale["domain"] == ["parent", "fragment"]
    assert _tooltip_fields(layer)[:3] == ["Name", "RT", "status"]
    _assert_selectable(chart)


def test_fragment_events_cap_shows_highlighted_events_first(monkeypatch):
    monkeypatch.setattr(charts, "MAX_EVENTS", 1)
    chart = charts.fragment_events(make_result(), highlight_row_ids=[3])
    _, members = _layer(chart, "point")
    assert {m["event_id"] for m in members} == {2}
    assert "showing 1 of 2 events" in " ".join(chart.to_dict()["title"]["subtitle"])


def test_fragment_events_stop_before_their_members_pass_the_point_cap(monkeypatch):
    monkeypatch.setattr(charts, "MAX_POINTS", 3)  # event 1 has 3 members, event 2 has 2
    chart = charts.fragment_events(make_result())
    _, members = _layer(chart, "point")
    assert {m["event_id"] for m in members} == {1}
    assert "showing 1 of 2 events" in " ".join(chart.to_dict()["title"]["subtitle"])


def test_fragment_events_without_events_is_an_empty_chart():
    empty = _events().iloc[:0]
    _, members = _layer(charts.fragment_events(make_result(events=empty)), "point")
    assert members == []


# --- on a real analysis ------------------------------------------------------------------------

@pytest.fixture(scope="module", params=["2.1", "2.0", "1.0"])
def sample_result(request) -> AnalysisResult:
    return analyze(read_table(DATA / "testwork_user.csv"),
                   AnalysisParams(algorithm_version=request.param))


def test_sample_charts_match_the_result(sample_result):
    rows = sample_result.rows
    _, points = _layer(charts.rt_vs_logp(sample_result, "GT1"), "point")
    assert sorted(p["row_id"] for p in points) == rows.loc[rows["prefix"] == "GT1",
                                                           "row_id"].tolist()
    _, points = _layer(charts.residual_z(sample_result), "point")
    assert len(points) == rows["z"].notna().sum()
    _, members = _layer(charts.fragment_events(sample_result), "point")
    events = sample_result.fragment_events
    assert len(members) == len(events) + events["n_fragments"].sum()


def test_every_chart_renders_to_png_and_svg(sample_result):
    built = [charts.rt_vs_logp(sample_result, "GD1", highlight_row_ids=[0]),
             charts.rt_vs_logp(sample_result, "GM3"),
             charts.predicted_vs_observed(sample_result), charts.residual_z(sample_result),
             charts.composition(sample_result), charts.fragment_events(sample_result)]
    for chart in built:
        svg = io.StringIO()
        chart.save(svg, format="svg")
        assert svg.getvalue().lstrip().startswith("<svg")
        png = io.BytesIO()
        chart.save(png, format="png")
        assert png.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_head_group_plots_with_every_line_it_was_judged_with():
    result = analyze(read_table(DATA / "testwork_user.csv"))
    rows = result.rows
    assert sorted(charts.plottable_prefixes(result)) == sorted(result.groups["prefix"])
    for prefix in charts.plottable_prefixes(result):
        chart = charts.rt_vs_logp(result, prefix).to_dict()
        judged = rows[(rows["prefix"] == prefix) & rows["predicted_rt"].notna()
                      & rows["rule1_basis"].ne("composition only")]
        series = set(judged["isomer_series"].dropna().astype(int))
        lines = {p["line_label"] for layer in chart["layer"]
                 for p in chart["datasets"].get(layer.get("data", {}).get("name"), [])
                 if "line_label" in p}
        own = {p["line"] for layer in chart["layer"]
               for p in chart["datasets"].get(layer.get("data", {}).get("name"), [])
               if p.get("line") == "model"}
        drawn = {int(n.split()[2]) for n in lines if n.startswith("isomer")} | (
            {1} if "main line" in lines or own else set())
        assert series - {1} <= drawn, prefix
    weak = rows.loc[rows["rule1_basis"].eq("weak isomer line"), "prefix"].iloc[0]
    spec = charts.rt_vs_logp(result, weak).to_dict()
    scales = [layer["encoding"]["color"]["scale"] for layer in spec["layer"]
              if layer.get("encoding", {}).get("color", {}).get("field") == "line_label"]
    assert any(dict(zip(s["domain"], s["range"])).get(name) == "#9467bd"
               for s in scales for name in s["domain"] if name.endswith("(weak)"))


def test_count_axes_have_whole_ticks_and_values_are_not_padded(sample_result):
    spec = charts.residual_z(sample_result).to_dict()
    x = next(layer["encoding"]["x"] for layer in spec["layer"]
             if layer["encoding"].get("x", {}).get("field") == "line")
    assert x["axis"]["tickMinStep"] == 1 and x["axis"]["format"] == "d"
    assert charts.composition(sample_result).to_dict()["encoding"]["x"]["axis"]["format"] == "d"


@pytest.mark.parametrize("rule", ["1", "2-3", "4", "5"])
def test_method_figures_are_valid_small_charts(rule):
    spec = charts.rule_figure(rule).to_dict()   # validated against the Vega-Lite schema
    assert (spec["width"], spec["height"]) == (charts.FIGURE_SIZE["width"],
                                               charts.FIGURE_SIZE["height"])
    assert not re.search(r"#[0-9a-fA-F]{6}", json.dumps(spec.get("title", "")))


VEGA_LITE_PADDING = 5  # px around a chart, Vega-Lite's default


@pytest.mark.parametrize("rule", ["1", "2-3", "4", "5"])
def test_method_figures_draw_nothing_above_their_plot(rule):
    """The dashboard fits a figure into its height (autosize "fit"), and its legend starts at
    the top of the plot: a label drawn above the plot pushes the plot and the legend down, and
    the legend's last entry out of the chart (it happened to Rule 5's parent label)."""
    spec = charts.rule_figure(rule).to_dict()
    spec["autosize"] = {"type": "fit", "contains": "padding"}   # as Streamlit draws it
    scene = vl_convert.vegalite_to_scenegraph(spec)
    assert scene["height"] == charts.FIGURE_SIZE["height"]
    assert scene["origin"][1] == VEGA_LITE_PADDING
