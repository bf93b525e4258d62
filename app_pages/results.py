"""Results of one run (``?run=ID``): summary cards, tabs with tables and linked charts, downloads.

The result is read from the run store once per run and cached (ui.load_result); charts are built
once per run and selection (ui.cached_chart); only the open tab is drawn (its name is in the URL,
``?results_tab=...``), so an interaction reruns one tab and recomputes nothing.
"""

import functools

import pandas as pd
import streamlit as st

import ui_helpers as ui
from ganglioside import charts, export
from ganglioside.rules.status import STATUSES

SUMMARY_CARDS = (  # (summary key, label, help)
    ("total_rows", "Rows", "Data rows in the table."),
    ("anchors", "Anchors", "Usable rows marked as trusted identifications."),
    ("valid", "Valid", "The RT fits the line of the head group."),
    ("outlier", "Outliers", "Rule 1: the RT is too far from the head group's line."),
    ("fragment", "Fragments", "Rule 5: in-source fragment of a larger peak."),
    ("unverified", "Unverified", "No RT evidence for the head group either way."),
    ("invalid", "Invalid", "Input problems; see the reasons column."),
)
TABS = ("Overview", "Regression", "Compounds", "Fragments", "O-acetylation")
COMPOUND_COLUMNS = ["row_id", "line", "Name", "status", "confidence", "reasons", "RT",
                    "predicted_rt", "z", "Log P", "Volume", "Anchor", "category", "prefix",
                    "tail", "rule1_model", "rule4_verdict", "rule5_role"]
EVENT_ROW_COLUMNS = ["row_id", "Name", "RT", "Volume", "rule5_role", "rule5_rt_diff",
                     "rule5_fragment_probability", "status", "reasons"]
FRAGMENT_PROBABILITY_HELP = ("Algorithm 2.0: probability that the peak is an in-source fragment "
                             "rather than a peak of its own, from its RT and Volume")
GROUP_COLUMNS = ["prefix", "judged_by", "accepted", "reason", "n_anchors", "n_rows", "r2_cv",
                 "rmse_cv", "equation_raw", "predictors", "cv_method", "scale_s",
                 "anchor_spread_s", "isomer_lines", "anchored_isomers", "n_valid", "n_outlier",
                 "n_unverified", "n_anchor_disagrees", "notes"]  # 1.0 results lack the 2.0 ones
NULL = "–"                   # how tables show a missing value
FIXED3 = st.column_config.NumberColumn(format="%.3f")
# Selections outlive the tab that made them (widget states vanish with their hidden tab); each is
# what its table or charts show selected the last time they were drawn:
HIGHLIGHT_KEY = "results_highlight"   # row ids selected in the compounds table
PICKED_KEY = "results_picked"         # row ids picked in the charts of the last chart tab drawn
SHOWN_RUN_KEY = "results_shown_run"   # the run these selections belong to


def header(record) -> None:
    st.title(ui.plain(record.name))
    details = [f"file {ui.plain(record.file_name)}" + (f", sheet {ui.plain(record.sheet)}"
                                                        if record.sheet else ""),
               f"sample type {record.sample_type}",
               f"started by {ui.plain(record.user)}" if record.user else None,
               f"created {record.created_at:%Y-%m-%d %H:%M} UTC",
               f"run {record.id}",
               f"algorithm {record.algorithm_version}"]
    st.caption(" · ".join(d for d in details if d))


def summary_cards(summary: dict) -> None:
    with st.container(border=True, key="results_summary"):
        columns = st.columns(len(SUMMARY_CARDS) + 1)
        for column, (key, label, help_text) in zip(columns, SUMMARY_CARDS):
            column.metric(label, ui.format_count(summary.get(key, 0)), help=help_text)
        columns[-1].metric("Success rate", ui.format_rate(summary.get("success_rate")))


def downloads(result) -> None:
    """Explanation line and the three exports, each built only when clicked."""
    note, *buttons = st.columns([4, 1, 1, 1], vertical_alignment="center")
    note.caption("Success rate = valid / (rows − invalid). Every row keeps the evidence of every "
                 "rule: see Compounds.")
    for column, (kind, label, mime, help_text) in zip(buttons, (
            ("csv", "CSV", "text/csv", "The compounds table with every rule's columns"),
            ("xlsx", "Excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "Every table, the summary, warnings, parameters and provenance"),
            ("json", "JSON", "application/json", "Everything, to reload or process further"))):
        exporter = getattr(export, f"to_{kind}")
        column.download_button(label, data=functools.partial(exporter, result),
                               file_name=export.export_file_name(result, kind), mime=mime,
                               key=f"results_download_{kind}", icon=":material/download:",
                               width="stretch", on_click="ignore", help=help_text)


# ---- linked selections ---------------------------------------------------------------------------

def reset_selections_for(run_id: str) -> None:
    if st.session_state.get(SHOWN_RUN_KEY) != run_id:
        for key in (HIGHLIGHT_KEY, PICKED_KEY):
            st.session_state.pop(key, None)
        st.session_state[SHOWN_RUN_KEY] = run_id


def forget_chart_selection() -> None:
    st.session_state.pop(PICKED_KEY, None)


def chart(result, run_id: str, builder: str, key: str | None, file_stem: str,
          *args) -> list[int]:
    """A chart built once per run and arguments, with PNG/SVG downloads; returns the row ids
    picked in it (charts with a key have a point selection)."""
    figure, spec = ui.cached_chart(result, run_id, builder, *args)
    state = st.vega_lite_chart(spec=spec, key=key, width="stretch",
                               on_select="rerun" if key else "ignore",
                               selection_mode="select" if key else None)
    with st.popover("Chart image", icon=":material/image:"):
        for fmt in ("png", "svg"):
            st.download_button(fmt.upper(), data=functools.partial(ui.chart_image, figure, fmt),
                               file_name=f"{file_stem}.{fmt}", key=f"{key or builder}_{fmt}",
                               mime="image/png" if fmt == "png" else "image/svg+xml",
                               on_click="ignore")
    return ui.selected_point_ids(state) if key else []


# ---- tabs ----------------------------------------------------------------------------------------

def overview_tab(result, run_id: str) -> None:
    warnings_panel(result)
    chart(result, run_id, "composition", None, "composition")
    left, right = st.columns([1, 1], gap="large")
    with left:
        st.markdown("**Rule by rule**")
        st.dataframe(ui.rule_counts(result), hide_index=True, width="stretch",
                     key="results_rule_counts", placeholder=NULL,
                     column_config={"Rule": st.column_config.TextColumn(width="small"),
                                    "Count": st.column_config.NumberColumn(width="small")})
    checks = result.chemistry_checks
    if not checks.empty:
        with right:
            st.markdown("**Chemistry checks** (reported beside the verdicts; they change no "
                        "status)")
            st.dataframe(checks, hide_index=True, width="stretch", key="results_chemistry",
                         placeholder=NULL)


def warnings_panel(result) -> None:
    if not result.warnings:
        return
    serious = sum(w.severity == "warning" for w in result.warnings)
    label = ui.plural(len(result.warnings), "note") + " from the analysis" + (
        f" ({ui.plural(serious, 'warning')})" if serious else "")
    with st.expander(label, icon=":material/warning:" if serious else ":material/info:"):
        st.dataframe(pd.DataFrame([{"Severity": w.severity, "Code": w.code,
                                    "Head group": w.prefix, "Message": w.message}
                                   for w in result.warnings]),
                     hide_index=True, width="stretch", key="results_warnings",
                     placeholder=NULL)


def regression_tab(result, run_id: str, highlighted: tuple[int, ...]) -> None:
    prefixes = charts.plottable_prefixes(result)
    if prefixes:
        left, right = st.columns(2, gap="large")
        with left:
            prefix = st.selectbox("Head group to plot", prefixes, key="results_prefix",
                                  persist_state="page",
                                  help="Head groups with an accepted model of their own first.")
            picked = chart(result, run_id, "rt_vs_logp", "results_chart_rt",
                           f"rt_vs_logp_{prefix}", prefix, highlighted)
        with right:
            picked += chart(result, run_id, "residual_z", "results_chart_residual",
                            "residual_z", highlighted)
        st.session_state[PICKED_KEY] = sorted(set(picked))
        st.caption("Click a point (shift-click for several, double-click to clear) to list those "
                   "rows in Compounds; rows selected there are outlined here.")
    else:
        st.info("No head group has usable rows to plot.")
    groups = result.groups
    st.markdown("**Models by head group**")
    st.dataframe(groups[[c for c in GROUP_COLUMNS if c in groups]], hide_index=True,
                 width="stretch", height=320, key="results_groups", placeholder=NULL,
                 column_config={"r2_cv": FIXED3, "rmse_cv": FIXED3, "scale_s": FIXED3,
                                "anchor_spread_s": FIXED3,
                                "prefix": st.column_config.TextColumn(pinned=True),
                                "accepted": st.column_config.CheckboxColumn(),
                                "equation_raw": st.column_config.TextColumn(width="large")})
    levels = result.model_levels
    if not levels.empty:
        st.markdown("**Judging levels** (algorithm 2.0: how well each kind of model predicts "
                    "anchors it did not see, and the scale s it judges with; see Method)")
        st.dataframe(levels, hide_index=True, width="stretch", key="results_levels",
                     placeholder=NULL, column_config={"r2_cv": FIXED3, "rmse_cv": FIXED3,
                                                      "scale_s": FIXED3})


def compounds_tab(rows: pd.DataFrame) -> None:
    filters = st.columns([3, 2, 2, 2, 2])
    text = filters[0].text_input("Search name or reason", key="results_search",
                                 placeholder="e.g. GD1a or outlier", persist_state="page")
    statuses = filters[1].multiselect("Status", STATUSES, key="results_status_filter",
                                      placeholder="All", persist_state="page")
    categories = filters[2].multiselect("Category", sorted(rows["category"].dropna().unique()),
                                        key="results_category_filter", placeholder="All",
                                        persist_state="page")
    prefixes = filters[3].multiselect("Head group (prefix)",
                                      sorted(rows["prefix"].dropna().unique()),
                                      key="results_prefix_filter", placeholder="All",
                                      persist_state="page")
    flag = filters[4].selectbox("Rule flag", list(ui.RULE_FLAGS), key="results_flag_filter",
                                persist_state="page")
    picked = st.session_state.get(PICKED_KEY) or None
    view = ui.filter_rows(rows, text=text, statuses=statuses, categories=categories,
                          prefixes=prefixes, flag=flag, row_ids=picked)
    if picked:
        note, clear = st.columns([5, 1], vertical_alignment="center")
        note.info(f"Showing the {ui.plural(len(picked), 'row')} picked in a chart.",
                  icon=":material/filter_alt:")
        clear.button("Show all rows", key="results_clear_chart_selection",
                     on_click=forget_chart_selection)
    show_all = st.toggle("Show every column", key="results_all_columns", persist_state="page")
    columns = list(rows.columns) if show_all else [c for c in COMPOUND_COLUMNS if c in rows]
    selectable = len(view) <= ui.SELECTABLE_ROWS
    config = {c: FIXED3 for c in ("RT", "predicted_rt", "residual", "z", "Log P")}
    config["reasons"] = st.column_config.TextColumn(width="large")
    config["confidence"] = st.column_config.ProgressColumn(
        format="percent", min_value=0.0, max_value=1.0,
        help="Probability that the verdict is right (algorithm 2.0)")
    shown_ids = view["row_id"].tolist() if selectable else []
    highlighted = set(st.session_state.get(HIGHLIGHT_KEY, ()))
    state = st.dataframe(
        view[columns], hide_index=True, width="stretch", height=460,
        key="results_compounds_table", column_config=config, placeholder=NULL,
        on_select="rerun" if selectable else "ignore", selection_mode="multi-row",
        lazy=not selectable, selection_default={"selection": {"rows": [
            i for i, row_id in enumerate(shown_ids) if row_id in highlighted]}}
        if selectable else None)
    if selectable:
        positions = ui.selected_table_rows(state)
        st.session_state[HIGHLIGHT_KEY] = [shown_ids[p] for p in positions if p < len(shown_ids)]
    st.caption(f"{len(view):,} of {len(rows):,} rows. "
               + ("Select rows to outline them in the charts." if selectable else
                  "Narrow the filters to select rows."))


def fragments_tab(result, run_id: str, highlighted: tuple[int, ...]) -> None:
    events = result.fragment_events
    learned = [w.message for w in result.warnings if w.code == "rule5_model"]
    if learned:  # algorithm 2.0: how this run's fragments look, as Rule 5 learned it
        st.caption(ui.plain(learned[0]))  # names head groups of the upload
    if events.empty:
        st.info("Rule 5 found no in-source fragments.")
        return
    table = events.assign(fragment_row_ids=events["fragment_row_ids"].map(ui.id_list))
    state = st.dataframe(table, hide_index=True, width="stretch", height=300,
                         key="results_events", on_select="rerun", selection_mode="single-row",
                         placeholder=NULL, column_config={"rt_min": FIXED3, "rt_max": FIXED3})
    picked = ui.selected_table_rows(state)
    if picked:
        event = events.iloc[picked[0]]
        members = [event["parent_row_id"], *event["fragment_row_ids"]]
        st.markdown(f"**Rows of event {event['event_id']}** (parent first)")
        rows = result.rows.set_index("row_id").loc[members].reset_index()
        columns = [c for c in EVENT_ROW_COLUMNS if c in rows]
        st.dataframe(rows[columns], hide_index=True, width="stretch",
                     key="results_event_rows", placeholder=NULL,
                     column_config={"RT": FIXED3, "rule5_rt_diff": FIXED3,
                                    "rule5_fragment_probability": st.column_config.ProgressColumn(
                                        "P(fragment)", format="percent", min_value=0.0,
                                        max_value=1.0, help=FRAGMENT_PROBABILITY_HELP)})
    st.session_state[PICKED_KEY] = chart(result, run_id, "fragment_events",
                                         "results_chart_fragments", "fragment_events",
                                         highlighted)


def oacetylation_tab(result) -> None:
    pairs = result.oac_pairs
    params = result.parameters
    st.caption(f"Consistent range of the RT shift: {params.oac_shift_min:g} – "
               f"{params.oac_shift_max:g} min (one O-acetyl group more should elute later).")
    if pairs.empty:
        st.info("No O-acetylated peaks in this table.")
        return
    st.dataframe(pairs, hide_index=True, width="stretch", key="results_oac", placeholder=NULL,
                 column_config={"rt_oac": FIXED3, "rt_base": FIXED3,
                                "rt_shift": st.column_config.NumberColumn(format="%+.3f"),
                                "note": st.column_config.TextColumn(width="large")})


# ---- page ----------------------------------------------------------------------------------------

run_id = ui.selected_run_id()
if not run_id:
    st.title("Results")
    st.info("No run selected yet. Start one on the Analyze page, or open one from History.",
            icon=":material/insights:")
    st.page_link(ui.ANALYZE_PAGE, label="Analyze a table", icon=":material/science:")
    st.page_link(ui.HISTORY_PAGE, label="Open a past run", icon=":material/history:")
    st.stop()

record = ui.find_run(run_id)
if record is None:
    st.stop()
ui.remember_run(run_id)
st.query_params[ui.RUN_QUERY_PARAM] = run_id
header(record)
if record.status != "completed":
    ui.show_run_state(record, cancel_key="results_cancel")
    if record.is_finished:
        st.page_link(ui.ANALYZE_PAGE, label="Run it again with other settings…",
                     icon=":material/replay:", query_params={ui.RUN_QUERY_PARAM: record.id})
    st.stop()
result = ui.load_result(run_id)
if result is None:
    st.error("The results of this run could not be read from the store.")
    st.stop()

reset_selections_for(run_id)
summary_cards(result.summary)
downloads(result)
highlighted = tuple(st.session_state.get(HIGHLIGHT_KEY, ()))
tabs = dict(zip(TABS, st.tabs(TABS, key="results_tab", bind="query-params")))
if tabs["Overview"].open:
    with tabs["Overview"]:
        overview_tab(result, run_id)
if tabs["Regression"].open:
    with tabs["Regression"]:
        regression_tab(result, run_id, highlighted)
if tabs["Compounds"].open:
    with tabs["Compounds"]:
        compounds_tab(result.rows)
if tabs["Fragments"].open:
    with tabs["Fragments"]:
        fragments_tab(result, run_id, highlighted)
if tabs["O-acetylation"].open:
    with tabs["O-acetylation"]:
        oacetylation_tab(result)
