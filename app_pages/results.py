"""Results of one run (``?run=ID``): summary cards, tabs with tables and linked charts, downloads.

The result is read from the run store once per run and cached (ui.load_result), so switching tabs
or filtering never recomputes anything.
"""

import functools

import altair as alt
import pandas as pd
import streamlit as st

import ui_helpers as ui
from ganglioside import charts, export

SUMMARY_CARDS = (  # (summary key, label, help)
    ("total_rows", "Rows", "Data rows in the table."),
    ("anchors", "Anchors", "Usable rows marked as trusted identifications."),
    ("valid", "Valid", "RT fits the head group's model (or an anchor without a model)."),
    ("outlier", "Outliers", "Rule 1: RT too far from the head group's line."),
    ("fragment", "Fragments", "Rule 5: in-source fragment of a larger peak."),
    ("unverified", "Unverified", "No accepted Rule 1 model for the head group."),
    ("invalid", "Invalid", "Input problems; see the reasons column."),
)
COMPOUND_COLUMNS = ["row_id", "line", "Name", "status", "confidence", "reasons", "RT",
                    "predicted_rt", "z", "Log P", "Volume", "Anchor", "category", "prefix",
                    "tail", "rule1_model", "rule4_verdict", "rule5_role"]
GROUP_COLUMNS = ["prefix", "accepted", "reason", "n_anchors", "n_rows", "r2_cv", "rmse_cv",
                 "equation_raw", "predictors", "cv_method", "scale_s", "n_valid",
                 "n_outlier", "n_unverified", "n_anchor_disagrees", "notes"]
NULL = "–"   # how tables show a missing value
SELECTABLE_ROWS = 20_000     # larger tables load lazily, without row selection
FIXED3 = st.column_config.NumberColumn(format="%.3f")
CHART_KEYS = ("results_chart_rt", "results_chart_residual", "results_chart_fragments")


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


def downloads(result) -> None:
    """Explanation line and the three exports, each built only when clicked."""
    note, *buttons = st.columns([4, 1, 1, 1], vertical_alignment="center")
    note.caption("Success rate = valid / (rows − invalid). Every row keeps the evidence of every "
                 "rule: see Compounds.")
    for column, (kind, label, mime) in zip(buttons, (
            ("csv", "CSV", "text/csv"),
            ("xlsx", "Excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            ("json", "JSON", "application/json"))):
        exporter = getattr(export, f"to_{kind}")
        column.download_button(label, data=functools.partial(exporter, result),
                               file_name=export.export_file_name(result, kind), mime=mime,
                               key=f"results_download_{kind}", icon=":material/download:",
                               width="stretch", on_click="ignore",
                               help={"csv": "The compounds table with every rule's columns",
                                     "xlsx": "Every table, the summary, warnings, parameters "
                                             "and provenance",
                                     "json": "Everything, to reload or process further"}[kind])


def chart_with_downloads(chart: alt.Chart, key: str, file_stem: str,
                         selectable: bool = True):
    """Draw a chart (with point selection when it has one) and offer PNG/SVG of it."""
    state = st.altair_chart(chart, key=key, on_select="rerun" if selectable else "ignore",
                            width="stretch")
    with st.popover("Chart image", icon=":material/image:"):
        for fmt in ("png", "svg"):
            st.download_button(fmt.upper(), data=functools.partial(ui.chart_image, chart, fmt),
                               file_name=f"{file_stem}.{fmt}", key=f"{key}_{fmt}",
                               mime="image/png" if fmt == "png" else "image/svg+xml",
                               on_click="ignore")
    return state


def chart_selection() -> list[int]:
    """Row ids picked in any chart of this page (read before the charts are drawn)."""
    picked = set()
    for key in CHART_KEYS:
        picked.update(ui.selected_point_ids(st.session_state.get(key)))
    return sorted(picked)


def clear_chart_selection() -> None:
    for key in CHART_KEYS:
        st.session_state.pop(key, None)


def compounds_tab(rows: pd.DataFrame, picked_in_charts: list[int]) -> list[int]:
    """Filters and the compounds table; returns the row ids selected in the table."""
    filters = st.columns([3, 2, 2, 2, 2])
    text = filters[0].text_input("Search name or reason", key="results_search",
                                 placeholder="e.g. GD1a or outlier")
    statuses = filters[1].multiselect("Status", ui.STATUS_ORDER, key="results_status_filter",
                                      placeholder="All")
    categories = filters[2].multiselect("Category", sorted(rows["category"].dropna().unique()),
                                        key="results_category_filter", placeholder="All")
    prefixes = filters[3].multiselect("Head group (prefix)",
                                      sorted(rows["prefix"].dropna().unique()),
                                      key="results_prefix_filter", placeholder="All")
    flag = filters[4].selectbox("Rule flag", list(ui.RULE_FLAGS), key="results_flag_filter")
    view = ui.filter_rows(rows, text=text, statuses=statuses, categories=categories,
                          prefixes=prefixes, flag=flag, row_ids=picked_in_charts or None)
    if picked_in_charts:
        note, clear = st.columns([5, 1], vertical_alignment="center")
        note.info(f"Showing the {len(picked_in_charts)} rows picked in a chart.",
                  icon=":material/filter_alt:")
        clear.button("Show all rows", key="results_clear_chart_selection",
                     on_click=clear_chart_selection)
    show_all = st.toggle("Show every column", key="results_all_columns")
    columns = list(rows.columns) if show_all else [c for c in COMPOUND_COLUMNS if c in rows]
    selectable = len(view) <= SELECTABLE_ROWS
    config = {c: FIXED3 for c in ("RT", "predicted_rt", "residual", "z", "Log P")}
    config["reasons"] = st.column_config.TextColumn(width="large")
    config["confidence"] = st.column_config.ProgressColumn(
        format="percent", min_value=0.0, max_value=1.0,
        help="Probability that the verdict is right (algorithm 2.0)")
    state = st.dataframe(view[columns], hide_index=True, width="stretch", height=460,
                         key="results_compounds_table", column_config=config,
                         on_select="rerun" if selectable else "ignore",
                         selection_mode="multi-row", lazy=not selectable, placeholder=NULL)
    caption = f"{len(view):,} of {len(rows):,} rows."
    st.caption(caption + (" Select rows to highlight them in the charts." if selectable else
                          " Narrow the filters to select rows."))
    positions = ui.selected_table_rows(state) if selectable else []
    return view["row_id"].iloc[[p for p in positions if p < len(view)]].tolist()


def overview_tab(result) -> None:
    warnings_panel(result)
    left, right = st.columns([1, 1], gap="large")
    with left:
        st.markdown("**Composition by category**")
        chart_with_downloads(charts.composition(result), "results_chart_composition",
                             "composition", selectable=False)
    with right:
        st.markdown("**Rule by rule**")
        st.dataframe(ui.rule_counts(result), hide_index=True, width="stretch", height=565, key="results_rule_counts",
                     placeholder=NULL,
                     column_config={"Rule": st.column_config.TextColumn(width="small"),
                                    "Count": st.column_config.NumberColumn(width="small")})
    checks = result.chemistry_checks
    if not checks.empty:
        st.markdown("**Chemistry checks** (reported beside the verdicts; they change no status)")
        st.dataframe(checks, hide_index=True, width="stretch", key="results_chemistry",
                     placeholder=NULL)


def regression_tab(result, highlighted: list[int]) -> None:
    groups = result.groups
    st.dataframe(groups[[c for c in GROUP_COLUMNS if c in groups]], hide_index=True,
                 width="stretch", height=320, key="results_groups", placeholder=NULL,
                 column_config={"r2_cv": FIXED3, "rmse_cv": FIXED3, "scale_s": FIXED3,
                                "accepted": st.column_config.CheckboxColumn(),
                                "equation_raw": st.column_config.TextColumn(width="large")})
    levels = result.model_levels
    if not levels.empty:
        st.markdown("**Judging levels** (algorithm 2.0: which model judged the rows of a head "
                    "group without its own accepted model, with its honest cross-validation)")
        st.dataframe(levels, hide_index=True, width="stretch", key="results_levels",
                     placeholder=NULL)
    prefixes = groups["prefix"].tolist()
    if not prefixes:
        st.info("No head group could be modelled.")
        return
    fitted = groups.loc[groups["accepted"], "prefix"].tolist()
    left, right = st.columns(2, gap="large")
    with left:
        prefix = st.selectbox("Head group to plot", prefixes, key="results_prefix",
                              index=prefixes.index(fitted[0]) if fitted else 0)
        chart_with_downloads(charts.rt_vs_logp(result, prefix, highlight_row_ids=highlighted),
                             "results_chart_rt", f"rt_vs_logp_{prefix}")
    with right:
        st.markdown("**Residuals of every modelled row**")
        chart_with_downloads(charts.residual_z(result, highlight_row_ids=highlighted),
                             "results_chart_residual", "residual_z")
    st.caption("Click points (shift-click for several) to show those rows in the Compounds "
               "tab; rows selected there are highlighted here.")


def fragments_tab(result, highlighted: list[int]) -> None:
    events = result.fragment_events
    if events.empty:
        st.info("Rule 5 found no in-source fragments.")
        return
    table = events.assign(fragment_row_ids=events["fragment_row_ids"].map(ui.id_list))
    state = st.dataframe(table, hide_index=True, width="stretch", key="results_events",
                         on_select="rerun", selection_mode="single-row", placeholder=NULL,
                         column_config={"rt_min": FIXED3, "rt_max": FIXED3})
    picked = ui.selected_table_rows(state)
    if picked:
        event = events.iloc[picked[0]]
        members = [event["parent_row_id"], *event["fragment_row_ids"]]
        st.markdown(f"**Rows of event {event['event_id']}** (parent first)")
        rows = result.rows.set_index("row_id").loc[members].reset_index()
        st.dataframe(rows[["row_id", "Name", "RT", "Volume", "rule5_role", "rule5_rt_diff",
                           "status", "reasons"]], hide_index=True, width="stretch",
                     key="results_event_rows", placeholder=NULL,
                     column_config={"RT": FIXED3, "rule5_rt_diff": FIXED3})
    chart_with_downloads(charts.fragment_events(result, highlight_row_ids=highlighted),
                         "results_chart_fragments", "fragment_events")


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
    st.stop()
result = ui.load_result(run_id)
if result is None:
    st.error("The results of this run could not be read from the store.")
    st.stop()

summary_cards(result.summary)
downloads(result)

tabs = st.tabs(["Overview", "Regression", "Compounds", "Fragments", "O-acetylation"])
with tabs[2]:
    selected_in_table = compounds_tab(result.rows, chart_selection())
with tabs[0]:
    overview_tab(result)
with tabs[1]:
    regression_tab(result, selected_in_table)
with tabs[3]:
    fragments_tab(result, selected_in_table)
with tabs[4]:
    oacetylation_tab(result)
