"""Chart builders for the results (pure: a result in, an ``alt.Chart`` out; no Streamlit).

Charts that show rows carry a point selection named ``select`` over ``row_id`` (click, shift-click
for several) so the dashboard can read what was picked; ``highlight_row_ids`` draws rows picked
elsewhere with a black outline. A chart shows at most ``MAX_POINTS`` rows: beyond that it keeps
every outlier and highlighted row, fills up with evenly spaced others, and says so in its
subtitle. Texts from the uploaded table only ever appear as plain chart text, never as markup.
"""

from __future__ import annotations

from typing import Iterable

import altair as alt
import numpy as np
import pandas as pd

from .composition import CATEGORY_COLOURS, category_counts, modifier_row_counts
from .result import AnalysisResult
from .rules.status import STATUSES

MAX_POINTS = 5000
WIDTH = 560
MAX_EVENTS = 100
STATUS_COLOURS = dict(zip(STATUSES, ("#2ca02c", "#d62728", "#ff7f0e", "#9467bd", "#7f7f7f",
                                     "#000000")))
ROLE_COLOURS = {"parent": "#1f77b4", "fragment": "#ff7f0e"}
MODIFIER_COLOUR = "#8c564b"
MODEL_COLOUR = "#444444"
SELECTION = "select"
SELECTABLE_VIEW = "rows"   # a fixed view name keeps the chart spec identical across reruns
ROW_TOOLTIP = [alt.Tooltip("Name:N"), alt.Tooltip("RT:Q", format=".3f"),
               alt.Tooltip("status:N"), alt.Tooltip("line:Q", title="line in file")]
VALUE_FORMAT = ".3~f"        # axis ticks: at most 3 decimals, none padded (one point: "10.126")
COUNT_AXIS = alt.Axis(format="d", tickMinStep=1)   # counts never get fractional ticks
WEAK_LINE_COLOUR = STATUS_COLOURS["possible isomer"]


# --- shared pieces ----------------------------------------------------------------------------

def _selection() -> alt.Parameter:
    return alt.selection_point(name=SELECTION, fields=["row_id"], on="click", clear="dblclick")


def _point_rows(rows: pd.DataFrame, highlight_row_ids: Iterable[int]) -> pd.DataFrame:
    """The columns every row chart uses, with plain dtypes for Vega-Lite."""
    highlighted = rows["row_id"].isin(list(highlight_row_ids)).to_numpy()
    return pd.DataFrame({
        "row_id": rows["row_id"].to_numpy(np.int64),
        "line": rows["line"].to_numpy(np.int64),
        "Name": rows["Name"].astype(object).to_numpy(),
        "RT": rows["RT"].to_numpy(float),
        "log_p": rows["Log P"].to_numpy(float),
        "status": rows["status"].astype(object).to_numpy(),
        "anchor": np.where(rows["Anchor"].eq(True).to_numpy(), "anchor", "not anchor"),
        "predicted_rt": rows["predicted_rt"].to_numpy(float),
        "z": rows["z"].to_numpy(float),
        "highlighted": highlighted,
    })


def _points(rows: pd.DataFrame, highlight_row_ids: Iterable[int]) -> tuple[pd.DataFrame, str]:
    """The chart columns of ``rows`` (``_point_rows``), at most ``MAX_POINTS`` of them, and a
    note saying so when some were left out."""
    points = _point_rows(rows, highlight_row_ids)
    keep = (points["status"] == "outlier").to_numpy() | points["highlighted"].to_numpy()
    return _capped(points, keep)


def _capped(points: pd.DataFrame, keep: np.ndarray) -> tuple[pd.DataFrame, str]:
    """At most ``MAX_POINTS`` rows: ``keep`` rows first (in order), then evenly spaced others."""
    limit = MAX_POINTS
    if len(points) <= limit:
        return points, ""
    kept = np.flatnonzero(keep)[:limit]
    others = np.flatnonzero(~keep)
    room = limit - len(kept)
    spaced = others[np.linspace(0, len(others) - 1, room).astype(int)] if room > 0 else []
    chosen = np.sort(np.concatenate([kept, spaced]).astype(int))
    return points.iloc[chosen], (f"showing {limit:,} of {len(points):,} rows (every outlier and "
                                 "highlighted row, then evenly spaced others)")


def _status_colour(title: str = "Status") -> alt.Color:
    return alt.Color("status:N", title=title,
                     scale=alt.Scale(domain=list(STATUS_COLOURS),
                                     range=list(STATUS_COLOURS.values())))


def _row_marks(points: pd.DataFrame, x: alt.X, y: alt.Y, tooltip: list) -> alt.Chart:
    """Selectable points coloured by status, anchors as diamonds, highlighted rows outlined."""
    select = _selection()
    return alt.Chart(points).mark_point(filled=True).encode(
        x=x, y=y, color=_status_colour(),
        shape=alt.Shape("anchor:N", title="Anchor",
                        scale=alt.Scale(domain=["anchor", "not anchor"],
                                        range=["diamond", "circle"])),
        size=alt.condition("datum.highlighted", alt.value(160), alt.value(45)),
        stroke=alt.value("black"),
        strokeWidth=alt.condition("datum.highlighted", alt.value(2), alt.value(0)),
        opacity=alt.condition(select, alt.value(0.9), alt.value(0.25)),
        tooltip=tooltip,
    ).add_params(select).properties(name=SELECTABLE_VIEW)


def _title(text: str, *subtitles: str) -> alt.TitleParams:
    return alt.TitleParams(text=text, subtitle=[s for s in subtitles if s], anchor="start")


# --- RT vs Log P ------------------------------------------------------------------------------

def plottable_prefixes(result: AnalysisResult) -> list[str]:
    """The head groups ``rt_vs_logp`` can draw (with usable rows): accepted models first, then
    by size."""
    groups = result.groups[result.groups["n_rows"] > 0]
    ordered = groups.sort_values(["accepted", "n_rows"], ascending=False, kind="stable")
    return ordered["prefix"].tolist()


def rt_vs_logp(result: AnalysisResult, prefix: str, highlight_row_ids=()) -> alt.LayerChart:
    """The rows of one prefix, RT against Log P, with the model they were judged by.

    An accepted model of the prefix's own anchors is drawn from its raw equation: one line for
    Log P alone (with the ±outlier band), one line per double-bond count when double bonds is
    also a predictor. Whatever the model, every judged row's own predicted RT is drawn as a
    grey tick, so pooled models and parallel isomer lines show exactly what each row was
    compared with.
    """
    rows = result.rows[(result.rows["prefix"] == prefix) & (result.rows["status"] != "invalid")]
    if rows.empty:
        raise ValueError(f"no usable rows with prefix {prefix!r}")
    groups = result.groups[result.groups["prefix"] == prefix]
    group = groups.iloc[0] if len(groups) else None
    points, note = _points(rows, highlight_row_ids)
    threshold = result.parameters.outlier_threshold
    x = alt.X("log_p:Q", title="Log P", scale=alt.Scale(zero=False),
              axis=alt.Axis(format=VALUE_FORMAT))
    y = alt.Y("RT:Q", title="RT (min)", scale=alt.Scale(zero=False),
              axis=alt.Axis(format=VALUE_FORMAT))
    tooltip = [*ROW_TOOLTIP, alt.Tooltip("log_p:Q", title="Log P"),
               alt.Tooltip("predicted_rt:Q", title="predicted RT", format=".3f"),
               alt.Tooltip("z:Q", format=".2f"), alt.Tooltip("anchor:N", title="Anchor")]
    own_lines = _model_lines(rows, group, threshold)
    layers = [*own_lines, *_judged_lines(rows, skip_main=bool(own_lines)),
              alt.Chart(points[points["predicted_rt"].notna()]).mark_tick(
                  orient="horizontal", color=MODEL_COLOUR, thickness=1.5, size=12).encode(
                  x=x, y=alt.Y("predicted_rt:Q"),
                  tooltip=[alt.Tooltip("Name:N"),
                           alt.Tooltip("predicted_rt:Q", title="predicted RT", format=".3f")]),
              _row_marks(points, x, y, tooltip)]
    return alt.layer(*layers).resolve_scale(color="independent").properties(
        title=_title(f"{prefix}: RT against Log P", *_model_text(group, rows, threshold), note),
        width=WIDTH, height=360)


def _judged_lines(rows: pd.DataFrame, skip_main: bool) -> list:
    """Every line the rows were judged with: the main line and each parallel isomer line,
    labelled (weakly supported isomer lines in the possible-isomer colour).

    The lines are parallel, so one least-squares fit of the rows' predicted RTs on Log P (and
    double bonds, when they vary) with an intercept per line recovers them; each is drawn over
    the Log P range of its rows, once per double-bond count it has. Rows judged through related
    head groups only have no line of their own here (their ticks show what they were judged by).
    """
    if "isomer_series" not in rows or "rule1_basis" not in rows:
        return []
    judged = rows[rows["predicted_rt"].notna() & rows["rule1_basis"].ne("composition only")]
    if judged.empty:
        return []
    series = judged["isomer_series"].astype(float).fillna(1).astype(int).to_numpy()
    log_p = judged["Log P"].to_numpy(float)
    bonds = judged["double_bonds"].astype(float).fillna(0).to_numpy()
    lines = np.unique(series)
    design = [log_p] + ([bonds] if np.ptp(bonds) > 0 else []) + \
        [(series == line).astype(float) for line in lines]
    coef = np.linalg.lstsq(np.column_stack(design), judged["predicted_rt"].to_numpy(float),
                           rcond=None)[0]
    bond_slope = coef[1] if np.ptp(bonds) > 0 else 0.0
    weak = set(series[judged["rule1_basis"].eq("weak isomer line").to_numpy()])
    segments = []
    for line, intercept in zip(lines, coef[-len(lines):]):
        if skip_main and line == 1:
            continue
        mine = series == line
        name = "main line" if line == 1 else f"isomer line {line}" + (
            " (weak)" if line in weak else "")
        for bond in np.unique(bonds[mine]):
            for x in (log_p[mine].min(), log_p[mine].max()):
                segments.append({"line_label": name, "double_bonds": bond, "log_p": x,
                                 "line_rt": intercept + coef[0] * x + bond_slope * bond})
    if not segments:
        return []
    points = pd.DataFrame(segments).astype({"line_label": object})
    names = sorted(set(points["line_label"]), key=lambda n: (n != "main line", n))
    colours = [WEAK_LINE_COLOUR if name.endswith("(weak)") else MODEL_COLOUR for name in names]
    return [alt.Chart(points).mark_line(strokeDash=[6, 3]).encode(
        x="log_p:Q", y="line_rt:Q", detail="double_bonds:N",
        color=alt.Color("line_label:N", title="Line",
                        scale=alt.Scale(domain=names, range=colours)),
        tooltip=[alt.Tooltip("line_label:N", title="line"), alt.Tooltip("line_rt:Q",
                                                                        title="line RT",
                                                                        format=".3f")])]


def _model_text(group: pd.Series | None, rows: pd.DataFrame, threshold: float) -> list[str]:
    """Subtitle lines saying which model judged the rows."""
    if group is not None and bool(group["accepted"]):
        return [str(group["equation_raw"]),
                f"s = {group['scale_s']:.3f} min, outlier when |z| ≥ {threshold:g}; "
                "grey ticks: each row's predicted RT"]
    judged = rows.get("rule1_model", pd.Series(dtype=object)).dropna()
    judged = judged[judged != "none"]
    lines = [] if group is None else [f"no own model: {group['reason']}"]
    if len(judged):
        return lines + [f"judged by the {judged.iloc[0]} model; grey ticks: predicted RT"]
    return lines + ["not judged by any model"]


def _model_lines(rows: pd.DataFrame, group: pd.Series | None, threshold: float) -> list:
    """Line(s) of the prefix's own accepted model from its raw-unit equation (spec 6.8)."""
    if group is None or not bool(group["accepted"]) or pd.isna(group["slope_raw_log_p"]):
        return []
    if pd.notna(group["slope_raw_carbons"]):
        return []  # carbons move along with Log P: a line is not defined, the ticks show it
    db_slope = 0.0 if pd.isna(group["slope_raw_double_bonds"]) else group["slope_raw_double_bonds"]
    line_key = rows["double_bonds"].astype(float).to_numpy() if db_slope else np.zeros(len(rows))
    ends = pd.Series(rows["Log P"].to_numpy(float)).groupby(line_key).agg(["min", "max"])
    segments = pd.DataFrame({"double_bonds": np.repeat(ends.index.to_numpy(float), 2),
                             "log_p": ends.to_numpy().ravel()})
    segments["line_rt"] = (group["intercept_raw"] + group["slope_raw_log_p"] * segments["log_p"]
                           + db_slope * segments["double_bonds"])
    half_band = threshold * group["scale_s"]
    segments["low"], segments["high"] = (segments["line_rt"] - half_band,
                                         segments["line_rt"] + half_band)
    segments["line"] = (segments["double_bonds"].map(lambda d: f"model at {d:g} double bonds")
                        if db_slope else "model")
    line = alt.Chart(segments).mark_line(color=MODEL_COLOUR, strokeDash=[6, 3]).encode(
        x="log_p:Q", y="line_rt:Q", detail="line:N",
        tooltip=[alt.Tooltip("line:N", title="line"),
                 alt.Tooltip("line_rt:Q", title="model RT", format=".3f")])
    if db_slope:
        return [line]
    band = alt.Chart(segments).mark_area(color=MODEL_COLOUR, opacity=0.1).encode(
        x="log_p:Q", y="low:Q", y2="high:Q")
    return [band, line]


# --- predicted vs observed, residuals -----------------------------------------------------------

def predicted_vs_observed(result: AnalysisResult, highlight_row_ids=()) -> alt.LayerChart:
    """Observed RT against the RT predicted by the row's model, with the line y = x."""
    rows = result.rows[result.rows["predicted_rt"].notna()]
    points, note = _points(rows, highlight_row_ids)
    values = np.concatenate([points["RT"].to_numpy(), points["predicted_rt"].to_numpy()])
    low, high = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
    diagonal = alt.Chart(pd.DataFrame({"rt": [low, high]})).mark_line(
        color=MODEL_COLOUR, strokeDash=[6, 3]).encode(x="rt:Q", y="rt:Q")
    x = alt.X("predicted_rt:Q", title="Predicted RT (min)", scale=alt.Scale(zero=False))
    y = alt.Y("RT:Q", title="Observed RT (min)", scale=alt.Scale(zero=False))
    tooltip = [*ROW_TOOLTIP, alt.Tooltip("predicted_rt:Q", title="predicted RT", format=".3f"),
               alt.Tooltip("z:Q", format=".2f")]
    return alt.layer(diagonal, _row_marks(points, x, y, tooltip)).properties(
        title=_title("Observed against predicted RT", "dashed: observed = predicted", note),
        width=WIDTH, height=360)


def residual_z(result: AnalysisResult, highlight_row_ids=()) -> alt.LayerChart:
    """z of every judged row against its row id, with the ±outlier_threshold band."""
    threshold = result.parameters.outlier_threshold
    rows = result.rows[result.rows["z"].notna()]
    points, note = _points(rows, highlight_row_ids)
    limit = 4 * threshold
    clipped = np.abs(points["z"].to_numpy()) > limit
    points = points.assign(z_shown=np.clip(points["z"].to_numpy(), -limit, limit))
    band = alt.Chart(pd.DataFrame({"low": [-threshold], "high": [threshold]})).mark_rect(
        color=STATUS_COLOURS["valid"], opacity=0.1).encode(y="low:Q", y2="high:Q")
    edges = alt.Chart(pd.DataFrame({"z": [-threshold, threshold]})).mark_rule(
        color=STATUS_COLOURS["outlier"], strokeDash=[4, 4]).encode(y="z:Q")
    x = alt.X("line:Q", title="Line in file", axis=COUNT_AXIS, scale=alt.Scale(zero=False))
    y = alt.Y("z_shown:Q", title="Distance from the line (z)", axis=alt.Axis(format=VALUE_FORMAT))
    tooltip = [*ROW_TOOLTIP, alt.Tooltip("z:Q", format=".2f"),
               alt.Tooltip("predicted_rt:Q", title="predicted RT", format=".3f")]
    count = int(clipped.sum())
    clip_note = (f"{count} row{'s' if count > 1 else ''} with |z| > {limit:g} drawn at "
                 f"±{limit:g}" if count else "")
    return alt.layer(band, edges, _row_marks(points, x, y, tooltip)).properties(
        title=_title("Rule 1 residuals", f"outlier when |z| ≥ {threshold:g} (outside the band)",
                     clip_note, note),
        width=WIDTH, height=320)


# --- composition --------------------------------------------------------------------------------

def composition(result: AnalysisResult) -> alt.Chart:
    """Rows per category (spec 11 colours) and per modifier, side by side."""
    categories = category_counts(result.rows)
    modifiers = modifier_row_counts(result.rows)
    bars = pd.concat([
        pd.DataFrame({"panel": "By category", "label": categories["category"],
                      "colour_key": categories["category"], "rows": categories["rows"],
                      "distinct_names": categories["distinct_names"],
                      "description": categories["description"]}),
        pd.DataFrame({"panel": "By modifier", "label": modifiers["modifier"],
                      "colour_key": "modifier", "rows": modifiers["rows"],
                      "distinct_names": None, "description": modifiers["description"]}),
    ], ignore_index=True).astype({"label": object, "description": object,
                                  "colour_key": object, "panel": object})
    colours = {**CATEGORY_COLOURS, "modifier": MODIFIER_COLOUR}
    return alt.Chart(bars).mark_bar().encode(
        y=alt.Y("label:N", title=None, sort=None),
        x=alt.X("rows:Q", title="Rows", axis=COUNT_AXIS),
        color=alt.Color("colour_key:N", legend=None,
                        scale=alt.Scale(domain=list(colours), range=list(colours.values()))),
        row=alt.Row("panel:N", title=None, sort=["By category", "By modifier"]),
        tooltip=[alt.Tooltip("label:N", title="group"), alt.Tooltip("description:N"),
                 alt.Tooltip("rows:Q"), alt.Tooltip("distinct_names:Q", title="distinct names")],
    ).resolve_scale(y="independent", x="independent").properties(
        title=_title("Composition", "rows per category and per modifier"), width=240)


# --- fragment events ------------------------------------------------------------------------------

def fragment_events(result: AnalysisResult, highlight_row_ids=()) -> alt.LayerChart:
    """One line per Rule 5 event: its parent and fragments by RT (size ~ Volume).

    The axis is RT minus the parent's RT, so the fragments of every event, all within
    ``rt_tolerance`` of their parent, stay apart; each line's label gives the parent's RT.
    """
    events = result.fragment_events
    highlighted = set(highlight_row_ids)
    members = _event_members(events)
    shown = _shown_events(events, members, highlighted)
    members = members[members["event_id"].isin(shown)]
    rows = result.rows.set_index("row_id")
    member_rt = rows["RT"].reindex(members["row_id"]).to_numpy(float)
    parent_rt = rows["RT"].reindex(
        events.set_index("event_id")["parent_row_id"].reindex(members["event_id"])).to_numpy(float)
    members = members.assign(
        Name=rows["Name"].reindex(members["row_id"]).astype(object).to_numpy(),
        RT=member_rt, rt_offset=member_rt - parent_rt,
        Volume=rows["Volume"].reindex(members["row_id"]).to_numpy(float),
        status=rows["status"].reindex(members["row_id"]).astype(object).to_numpy(),
        highlighted=members["row_id"].isin(highlighted).to_numpy(),
        event=[f"event {event}: {name} at {rt:.3f} min" for event, name, rt in zip(
            members["event_id"], events.set_index("event_id")["parent_name"].reindex(
                members["event_id"]).astype(object), parent_rt)])
    order = list(dict.fromkeys(members.sort_values("event_id", kind="stable")["event"]))
    tolerance = result.parameters.rt_tolerance
    x = alt.X("rt_offset:Q", title="RT − parent RT (min)",
              scale=alt.Scale(domain=[-tolerance, tolerance], nice=False))
    y = alt.Y("event:N", title=None, sort=order,  # every event keeps its label
              axis=alt.Axis(labelLimit=360, labelOverlap=False))
    spans = alt.Chart(members).mark_rule(color=MODEL_COLOUR).encode(
        x="min(rt_offset):Q", x2="max(rt_offset):Q", y=y)
    select = _selection()
    marks = alt.Chart(members).mark_point(filled=True).encode(
        x=x, y=y,
        color=alt.Color("role:N", title="Role", scale=alt.Scale(
            domain=list(ROLE_COLOURS), range=list(ROLE_COLOURS.values()))),
        size=alt.Size("Volume:Q", title="Volume", scale=alt.Scale(type="sqrt", range=[30, 400])),
        stroke=alt.value("black"),
        strokeWidth=alt.condition("datum.highlighted", alt.value(2), alt.value(0)),
        opacity=alt.condition(select, alt.value(0.8), alt.value(0.25)),
        tooltip=[*ROW_TOOLTIP, alt.Tooltip("role:N"), alt.Tooltip("event_id:Q", title="event"),
                 alt.Tooltip("rt_offset:Q", title="ΔRT to parent", format="+.3f"),
                 alt.Tooltip("Volume:Q", format=",.0f")],
    ).add_params(select).properties(name=SELECTABLE_VIEW)
    note = (f"showing {len(shown)} of {len(events)} events (those with highlighted rows first)"
            if len(shown) < len(events) else "")
    return alt.layer(spans, marks).properties(
        title=_title("In-source fragment events",
                     f"parent (blue) and its fragments, within ±{tolerance:g} min", note),
        width=WIDTH, height=max(120, 24 * len(shown)))


def _event_members(events: pd.DataFrame) -> pd.DataFrame:
    """One row per (event, member): the heading parent and each of its fragments."""
    fragments = events[["event_id", "fragment_row_ids"]].explode("fragment_row_ids")
    fragments = fragments.dropna(subset=["fragment_row_ids"])
    return pd.concat([
        pd.DataFrame({"event_id": events["event_id"].to_numpy(np.int64),
                      "row_id": events["parent_row_id"].to_numpy(np.int64), "role": "parent"}),
        pd.DataFrame({"event_id": fragments["event_id"].to_numpy(np.int64),
                      "row_id": fragments["fragment_row_ids"].to_numpy(np.int64),
                      "role": "fragment"}),
    ], ignore_index=True).astype({"role": object})


def _shown_events(events: pd.DataFrame, members: pd.DataFrame, highlighted: set) -> list[int]:
    """The event ids to draw: events with highlighted rows first, then by id; at most
    ``MAX_EVENTS`` events and ``MAX_POINTS`` members in all."""
    with_highlight = set(members.loc[members["row_id"].isin(highlighted), "event_id"])
    ordered = sorted(events["event_id"], key=lambda e: (e not in with_highlight, e))[:MAX_EVENTS]
    size = members["event_id"].value_counts().reindex(ordered, fill_value=0).to_numpy()
    return [event for event, total in zip(ordered, np.cumsum(size)) if total <= MAX_POINTS]


# --- the Method page's figures --------------------------------------------------------------------

FIGURE_SIZE = {"width": 260, "height": 160}
"""The whole figure, axes and legend included (the dashboard fits it into this). The legend of
the six statuses starts at the plot's top and takes about 135 px in the dashboard's fonts: at 140
its last entry had 1-4 px to spare, so a slightly larger font would have cut it."""


def rule_figure(rule: str) -> alt.LayerChart | alt.Chart:
    """A small drawing of what a rule checks, on made-up peaks (``rule``: "1", "2-3", "4", "5")."""
    return {"1": _rule1_figure, "2-3": _isomer_figure, "4": _oac_figure,
            "5": _fragment_figure}[rule]().properties(**FIGURE_SIZE)


def _rule1_figure() -> alt.LayerChart:
    log_p = np.array([0.5, 1.2, 2.0, 2.8, 3.5, 4.3, 1.6, 3.1])
    rt = 8 + 1.2 * log_p + np.array([0.1, -0.1, 0.05, -0.05, 0.1, -0.08, 0.6, 0.62])
    status = ["valid"] * 6 + ["valid", "valid"]
    rt_outlier = pd.DataFrame({"log_p": [2.4], "rt": [13.2], "status": ["outlier"]})
    points = pd.concat([pd.DataFrame({"log_p": log_p, "rt": rt, "status": status}), rt_outlier])
    lines = pd.DataFrame({"log_p": [0.3, 4.5, 1.4, 3.3], "rt": [8.36, 13.4, 10.28, 12.56],
                          "line": ["main line"] * 2 + ["isomer line"] * 2})
    x = alt.X("log_p:Q", title="Log P", axis=alt.Axis(labels=False, ticks=False))
    y = alt.Y("rt:Q", title="RT", scale=alt.Scale(zero=False),
              axis=alt.Axis(labels=False, ticks=False))
    drawn = alt.Chart(lines).mark_line(strokeDash=[6, 3], color=MODEL_COLOUR).encode(
        x=x, y=y, detail="line:N")
    dots = alt.Chart(points).mark_point(filled=True, size=60).encode(
        x=x, y=y, color=_status_colour())
    return alt.layer(drawn, dots)


def _isomer_figure() -> alt.Chart:
    peaks = pd.DataFrame({"rt": [9.6, 10.1, 10.9], "peak": ["GD1a", "GD1b", "GM1"],
                          "status": ["valid", "valid", "valid"], "row": ["GD1", "GD1", "GM1"]})
    return alt.Chart(peaks).mark_text(dy=-10).encode(
        x=alt.X("rt:Q", title="RT", scale=alt.Scale(zero=False),
                axis=alt.Axis(labels=False, ticks=False)),
        y=alt.Y("row:N", title=None), text="peak:N") + alt.Chart(peaks).mark_point(
        filled=True, size=60).encode(x="rt:Q", y="row:N", color=_status_colour())


def _oac_figure() -> alt.LayerChart:
    pair = pd.DataFrame({"rt": [10.0, 10.6], "peak": ["GD1", "GD1+OAc"],
                         "status": ["valid", "valid"]})
    arrow = alt.Chart(pd.DataFrame({"rt": [10.05], "rt2": [10.55]})).mark_rule(
        color=MODEL_COLOUR).encode(x="rt:Q", x2="rt2:Q", y=alt.value(70))
    x = alt.X("rt:Q", title="RT (one OAc more: later)", scale=alt.Scale(zero=False),
              axis=alt.Axis(labels=False, ticks=False))
    dots = alt.Chart(pair).mark_point(filled=True, size=80).encode(
        x=x, y=alt.value(70), color=_status_colour())
    names = alt.Chart(pair).mark_text(dy=-14).encode(x=x, y=alt.value(70), text="peak:N")
    return alt.layer(arrow, dots, names)


def _fragment_figure() -> alt.LayerChart:
    peaks = pd.DataFrame({"rt": [10.0, 10.02], "volume": [100, 6],
                          "peak": ["GD1 (parent)", "GM1 (fragment)"],
                          "status": ["valid", "fragment"]})
    x = alt.X("rt:Q", title="RT (the same)", scale=alt.Scale(domain=[9.9, 10.12]),
              axis=alt.Axis(labels=False, ticks=False))
    # headroom above the parent's bar for its name: a label drawn above the plot would push the
    # plot, and the legend that starts at its top, down, and the last legend entry out of view
    y = alt.Y("volume:Q", title="Volume", scale=alt.Scale(domain=[0, 130]),
              axis=alt.Axis(labels=False, ticks=False))
    bars = alt.Chart(peaks).mark_bar(size=14).encode(x=x, y=y, color=_status_colour())
    names = alt.Chart(peaks).mark_text(dy=-8, align="left").encode(x=x, y=y, text="peak:N")
    return alt.layer(bars, names)
