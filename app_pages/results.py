"""Results of one run (``?run=ID``): summary cards, tabs with tables and linked charts, downloads.

The result is read from the run store once per run and cached (ui.load_result); charts are built
once per run and selection (ui.cached_chart); only the open tab is drawn (its name is in the URL,
``?results_tab=...``), so an interaction reruns one tab and recomputes nothing. Every count and
label comes from ganglioside.presentation and ganglioside.labels (the lab's words, the file's
lines as row numbers); cards and buttons sit in wrapping rows, so nothing is cut off on a phone.
"""

import functools
import os

import pandas as pd
import streamlit as st

import ui_helpers as ui
from ganglioside import charts, export, labels, presentation
from ganglioside.rules.status import STATUSES

# The tabs, named so that all five fit in one row on a 390 px phone (Streamlit's tab row scrolls
# sideways behind an arrow otherwise): "OAc" is the lab's word in the names (GD1+OAc); its tab
# and the Excel sheet of the same table say O-acetylation in full. (A string here would be drawn
# on the page: Streamlit's magic shows every bare expression of a page script.)
TABS = ("Overview", "Regression", "Compounds", "Fragments", "OAc")
FORMER_TAB_NAMES = {"O-acetylation": "OAc"}  # links made before a tab was renamed still open it
COMPOUND_COLUMNS = ["line", "Name", "status", "rule1_basis", "confidence", "reasons", "RT",
                    "predicted_rt", "z", "Log P", "Volume", "Anchor", "category", "prefix",
                    "tail", "rule1_model", "rule4_verdict", "rule5_role"]
EVENT_ROW_COLUMNS = ["line", "Name", "RT", "Volume", "rule5_role", "rule5_rt_diff",
                     "rule5_fragment_probability", "status", "reasons"]
GROUP_COLUMNS = ["prefix", "judged_by", "accepted", "reason", "n_anchors", "n_rows", "r2_cv",
                 "rmse_cv", "equation_raw", "predictors", "cv_method", "scale_s",
                 "anchor_spread_s", "isomer_lines", "anchored_isomers", "n_valid", "n_outlier",
                 "n_unverified", "n_anchor_disagrees", "notes"]  # 1.0 results lack the 2.0 ones
NULL = presentation.NULL     # how tables show a missing value
EXPORTS = (  # (kind, label, MIME type, help)
    ("csv", "CSV", "text/csv", "The compounds table with every rule's columns"),
    ("xlsx", "Excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
     "Every table, the summary, notes, parameters and provenance"),
    ("json", "JSON", "application/json", "Everything, to reload or process further"))
# Excel files of more rows are built in the background (the variable lets tests lower it):
LARGE_EXPORT_ROWS = int(os.environ.get("GANGLIOSIDE_LARGE_EXPORT_ROWS", 50_000))
EXPORT_POLL_SECONDS = 1.0
EXCEL_KEY = "results_excel_requested"
FILTER_WIDTH = 220           # px of each Compounds filter; they wrap onto new rows
# Selections outlive the tab that made them (widget states vanish with their hidden tab); each is
# what its table or charts show selected the last time they were drawn:
HIGHLIGHT_KEY = "results_highlight"   # row ids selected in the compounds table
PICKED_KEY = "results_picked"         # row ids picked in the charts of the last chart tab drawn
SHOWN_RUN_KEY = "results_shown_run"   # the run these selections belong to
FOLLOWED_KEY = "results_followed"     # the selection the Regression tab last switched to


def header(record) -> None:
    st.title(ui.plain(record.name))
    details = [f"file {ui.plain(record.file_name)}" + (f", sheet {ui.plain(record.sheet)}"
                                                        if record.sheet else ""),
               f"sample type {record.sample_type}",
               f"owner {ui.plain(record.owner or 'unknown')}",
               f"started by {ui.plain(record.user)}"
               if record.user and record.user != record.owner else None,
               f"created {record.created_at:%Y-%m-%d %H:%M} UTC",
               f"run {record.id}",
               f"algorithm {record.algorithm_version}"]
    st.caption(" · ".join(d for d in details if d))
    if record.in_trash:
        st.warning(f"This run is in the trash (deleted by {ui.plain(record.deleted_by)} on "
                   f"{record.deleted_at:%Y-%m-%d} UTC); its owner or an admin can restore it in "
                   "History before the trash is emptied.", icon=":material/delete:")


def summary_cards(result) -> None:
    """Headline cards in a wrapping row (each as wide as its number), and how they add up."""
    with st.container(horizontal=True, key="results_summary", gap="small"):
        for card in presentation.summary_cards(result):
            st.metric(card.label, card.value, help=card.help, border=True, width="content")
    st.caption(presentation.to_check_text(result))


def downloads(result, run_id: str) -> None:
    """The three exports, each built only when clicked (a large Excel file in the background,
    with its progress shown), and what they contain."""
    large = len(result.rows) > LARGE_EXPORT_ROWS
    with st.container(horizontal=True, key="results_downloads", vertical_alignment="center"):
        for kind, label, mime, help_text in EXPORTS:
            if kind == "xlsx" and large:
                large_excel(result, run_id)
                continue
            exporter = getattr(export, f"to_{kind}")
            st.download_button(label, data=functools.partial(exporter, result),
                               file_name=export.export_file_name(result, kind), mime=mime,
                               key=f"results_download_{kind}", icon=":material/download:",
                               on_click="ignore", help=help_text)
        st.caption("Downloads keep the program's column names (e.g. rule1_basis for *Rests "
                   "on*); the Method page lists each with its label here.", width="stretch")


def large_excel(result, run_id: str) -> None:
    """Excel of a large run: built in the background on request, offered when ready."""
    _, label, mime, help_text = EXPORTS[1]
    requested = f"{EXCEL_KEY}_{run_id}"
    if not st.session_state.get(requested):
        st.button(f"{label}…", key="results_prepare_xlsx", icon=":material/download:",
                  on_click=request_excel, args=(result, run_id),
                  help=f"{help_text}. {len(result.rows):,} rows: built in the background and "
                       "offered when ready.")
        return
    job = ui.background_export(result, run_id, "xlsx")
    if not job.done():
        excel_progress(result, run_id)
        return
    st.download_button(label, data=job.result(), key="results_download_xlsx", mime=mime,
                       file_name=export.export_file_name(result, "xlsx"),
                       icon=":material/download:", on_click="ignore", help=help_text)


def request_excel(result, run_id: str) -> None:
    st.session_state[f"{EXCEL_KEY}_{run_id}"] = True
    ui.background_export(result, run_id, "xlsx")


@st.fragment(run_every=EXPORT_POLL_SECONDS)
def excel_progress(result, run_id: str) -> None:
    """A disabled button saying the file is being built; the page reruns once it is ready."""
    if ui.background_export(result, run_id, "xlsx").done():
        st.rerun(scope="app")
    st.button("Building the Excel file…", key="results_building_xlsx", disabled=True,
              icon=":material/hourglass_top:")


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
    st.markdown("**Rule by rule** (a rule's count can differ from the final status; the last "
                "column says why)")
    st.table(ui.plain_table(presentation.rule_counts(result).set_index("Rule")))
    checks = result.chemistry_checks
    if not checks.empty:
        flagged = int(checks["flagged"].sum()) if "flagged" in checks else 0
        with st.expander(f"Chemistry checks: {ui.plural(len(checks), 'check')}, {flagged:,} "
                         "flagged (reported beside the verdicts; they change no status)"):
            st.table(ui.plain_table(checks.set_index(checks.columns[0])))


def warnings_panel(result) -> None:
    """The notes of the analysis, each with a heading in words and lines for row numbers."""
    if not result.warnings:
        return
    serious = sum(w.severity == "warning" for w in result.warnings)
    label = ui.plural(len(result.warnings), "note") + " from the analysis" + (
        f" ({ui.plural(serious, 'warning')})" if serious else "")
    line_of_row = presentation.line_map(result.rows)
    with st.expander(label, icon=":material/warning:" if serious else ":material/info:"):
        st.table(ui.plain_table(pd.DataFrame([
            {"Note": labels.note_heading(w.code), "Head group": w.prefix or "",
             "What it says": presentation.as_lines(w.message, line_of_row)}
            for w in result.warnings]).set_index("Note")))


def follow_selection(result, highlighted: tuple[int, ...]) -> None:
    """Switch the plotted head group to that of the row selected last, once per selection."""
    if highlighted and st.session_state.get(FOLLOWED_KEY) != highlighted:
        prefixes = result.rows.set_index("row_id")["prefix"]
        prefix = prefixes.get(highlighted[-1])
        if isinstance(prefix, str):
            st.session_state["results_prefix"] = prefix
    st.session_state[FOLLOWED_KEY] = highlighted


def regression_tab(result, run_id: str, highlighted: tuple[int, ...]) -> None:
    prefixes = charts.plottable_prefixes(result)
    if prefixes:
        follow_selection(result, highlighted)
        prefix = st.selectbox("Head group to plot", prefixes, key="results_prefix",
                              persist_state="page",
                              help="Every head group with usable rows, those with a line of their "
                                   "own anchors first. Selecting a row in Compounds switches to "
                                   "its head group.")
        picked = chart(result, run_id, "rt_vs_logp", "results_chart_rt",
                       f"rt_vs_logp_{prefix}", prefix, highlighted)
        picked += chart(result, run_id, "residual_z", "results_chart_residual", "residual_z",
                        highlighted)
        st.session_state[PICKED_KEY] = sorted(set(picked))
        st.caption("Click a point (shift-click for several, double-click to clear) to list those "
                   "rows in Compounds; rows selected there are outlined here.")
    else:
        st.info("No head group has usable rows to plot.")
    groups = result.groups
    shown = groups[[c for c in GROUP_COLUMNS if c in groups]]
    if "judged_by" in shown:
        shown = shown.assign(judged_by=shown["judged_by"].map(
            lambda level: labels.MODEL_LEVELS.get(level, level)))
    st.markdown("**Lines by head group**")
    st.dataframe(shown, hide_index=True, width="stretch", height=320, key="results_groups",
                 placeholder=NULL, column_config=ui.labelled_columns(
                     shown.columns, prefix=st.column_config.TextColumn("Head group", pinned=True),
                     accepted=st.column_config.CheckboxColumn("Own line accepted"),
                     equation_raw=st.column_config.TextColumn("Line", width="large")))
    levels = result.model_levels
    if not levels.empty:
        with st.expander("How well each kind of line predicts unseen anchors"):
            st.dataframe(levels.assign(level=levels["level"].map(
                             lambda level: labels.MODEL_LEVELS.get(level, level))),
                         hide_index=True, width="stretch", key="results_levels",
                         placeholder=NULL, column_config=ui.labelled_columns(
                             levels.columns, level=st.column_config.TextColumn("Kind of line"),
                             n=st.column_config.NumberColumn("Anchors tested")))


def compound_filters(rows: pd.DataFrame) -> dict:
    """The filters of the Compounds tab, in a row that wraps on narrow screens."""
    with st.container(horizontal=True, key="results_filters"):
        text = st.text_input("Search name or reason", key="results_search", width=FILTER_WIDTH,
                             placeholder="e.g. GD1a or 36:1", persist_state="page",
                             help="Finds the text in names and in the Why column (which also "
                                  "mentions rules that did not decide the status); use Status "
                                  "to list the verdicts.")
        statuses = st.multiselect("Status", STATUSES, key="results_status_filter",
                                  placeholder="All", persist_state="page", width=FILTER_WIDTH)
        bases = st.multiselect(
            "Rests on", list(labels.BASES), key="results_basis_filter", placeholder="All",
            persist_state="page", width=FILTER_WIDTH, help=labels.COLUMNS["rule1_basis"].help)
        categories = st.multiselect("Category", sorted(rows["category"].dropna().unique()),
                                    key="results_category_filter", placeholder="All",
                                    persist_state="page", width=FILTER_WIDTH)
        prefixes = st.multiselect("Head group", sorted(rows["prefix"].dropna().unique()),
                                  key="results_prefix_filter", placeholder="All",
                                  persist_state="page", width=FILTER_WIDTH)
        flag = st.selectbox("Rule flag", list(ui.RULE_FLAGS), key="results_flag_filter",
                            persist_state="page", width=FILTER_WIDTH)
    return {"text": text, "statuses": statuses, "bases": bases if "rule1_basis" in rows else (),
            "categories": categories, "prefixes": prefixes, "flag": flag}


def compounds_tab(result) -> None:
    rows = result.rows
    filters = compound_filters(rows)
    picked = st.session_state.get(PICKED_KEY) or None
    view = ui.filter_rows(rows, **filters, row_ids=picked)
    if picked:
        with st.container(horizontal=True, vertical_alignment="center"):
            st.info(f"Showing the {ui.plural(len(picked), 'row')} picked in a chart.",
                    icon=":material/filter_alt:", width="stretch")
            st.button("Show all rows", key="results_clear_chart_selection",
                      on_click=forget_chart_selection)
    show_all = st.toggle("Show every column", key="results_all_columns", persist_state="page")
    if view.empty:
        st.info("No rows match these filters.", icon=":material/filter_alt_off:")
        return
    columns = list(rows.columns) if show_all else [c for c in COMPOUND_COLUMNS if c in rows]
    selectable = len(view) <= ui.SELECTABLE_ROWS
    config = ui.labelled_columns(columns, reasons=st.column_config.TextColumn(
        "Why", width="large", help="What every rule said; select the row to read it in full."),
        confidence=st.column_config.ProgressColumn(
            "Confidence", format="percent", min_value=0.0, max_value=1.0,
            help=labels.COLUMNS["confidence"].help),
        line=st.column_config.NumberColumn("Line", pinned=True,
                                           help=labels.COLUMNS["line"].help))
    shown_ids = view["row_id"].tolist() if selectable else []
    highlighted = list(st.session_state.get(HIGHLIGHT_KEY, ()))
    state = st.dataframe(
        view, column_order=columns, hide_index=True, width="stretch", height=420,
        key="results_compounds_table", column_config=config, placeholder=NULL,
        on_select="rerun" if selectable else "ignore", selection_mode="multi-row",
        lazy=not selectable, selection_default={"selection": {"rows": [
            i for i, row_id in enumerate(shown_ids) if row_id in highlighted]}}
        if selectable else None)
    if selectable:
        positions = ui.selected_table_rows(state)
        chosen = [shown_ids[p] for p in positions if p < len(shown_ids)]
        # the newest selection last, so the detail pane and the Regression tab follow it
        st.session_state[HIGHLIGHT_KEY] = [i for i in highlighted if i in chosen] + \
            [i for i in chosen if i not in highlighted]
    st.caption(f"{len(view):,} of {len(rows):,} rows. "
               + ("Select a row to read why in full; selected rows are outlined in the charts."
                  if selectable else "Narrow the filters to select rows."))
    selected = st.session_state.get(HIGHLIGHT_KEY)
    if selected:
        row_detail(rows.set_index("row_id").loc[selected[-1]], presentation.line_map(rows))


def row_detail(row: pd.Series, line_of_row: dict[int, int]) -> None:
    """The selected peak in full: verdict, what it rests on, and every rule's note."""
    detail = presentation.row_detail(row, line_of_row)
    with st.container(border=True, key="results_row_detail"):
        st.markdown(f"**{ui.plain(detail['title'])}**")
        st.markdown(f"Status **{detail['status']}** (confidence {detail['confidence']}): "
                    f"{detail['meaning']}  \nRests on: {ui.plain(detail['rests_on'])}")
        st.markdown("\n".join(f"- {ui.plain(reason)}" for reason in detail["reasons"]))


def fragments_tab(result, run_id: str, highlighted: tuple[int, ...]) -> None:
    events = result.fragment_events
    learned = [w.message for w in result.warnings if w.code == "rule5_model"]
    if learned:  # algorithm 2.0: how this run's fragments look, as Rule 5 learned it
        st.caption(ui.plain(learned[0]))  # names head groups of the upload
    if events.empty:
        st.info("Rule 5 found no in-source fragments.")
        return
    line_of_row = presentation.line_map(result.rows)
    table = events.assign(
        parent_line=events["parent_row_id"].map(line_of_row),
        fragment_lines=events["fragment_row_ids"].map(
            lambda ids: ui.id_list(line_of_row[i] for i in ids)))
    columns = ["event_id", "parent_name", "parent_line", "fragment_lines", "n_fragments",
               "tail", "rt_min", "rt_max", "summed_volume"]
    state = st.dataframe(table, column_order=[c for c in columns if c in table],
                         hide_index=True, width="stretch", height=300, key="results_events",
                         on_select="rerun", selection_mode="single-row", placeholder=NULL,
                         column_config=ui.labelled_columns(
                             columns, n_fragments=st.column_config.NumberColumn("Fragments"),
                             tail=st.column_config.TextColumn("Ceramide"),
                             rt_min=st.column_config.NumberColumn("First RT (min)",
                                                                  format="%.3f"),
                             rt_max=st.column_config.NumberColumn("Last RT (min)",
                                                                  format="%.3f"),
                             summed_volume=st.column_config.NumberColumn("Summed volume",
                                                                         format="%,.0f")))
    picked = ui.selected_table_rows(state)
    if picked:
        event = events.iloc[picked[0]]
        members = [event["parent_row_id"], *event["fragment_row_ids"]]
        st.markdown(f"**Peaks of event {event['event_id']}** (parent first)")
        rows = result.rows.set_index("row_id").loc[members].reset_index()
        columns = [c for c in EVENT_ROW_COLUMNS if c in rows]
        st.dataframe(rows, column_order=columns, hide_index=True, width="stretch",
                     key="results_event_rows", placeholder=NULL,
                     column_config=ui.labelled_columns(
                         columns, rule5_rt_diff=st.column_config.NumberColumn(
                             "RT − parent RT (min)", format="%+.3f"),
                         rule5_fragment_probability=st.column_config.ProgressColumn(
                             "P(fragment)", format="percent", min_value=0.0, max_value=1.0,
                             help=labels.COLUMNS["rule5_fragment_probability"].help)))
    st.session_state[PICKED_KEY] = chart(result, run_id, "fragment_events",
                                         "results_chart_fragments", "fragment_events",
                                         highlighted)


def oacetylation_tab(result) -> None:
    pairs = result.oac_pairs
    params = result.parameters
    st.caption(f"O-acetylation (Rule 4): one O-acetyl group more should elute later; a shift "
               f"of {params.oac_shift_min:g} – {params.oac_shift_max:g} min is consistent.")
    if pairs.empty:
        st.info("No O-acetylated peaks in this table.")
        return
    line_of_row = presentation.line_map(result.rows)
    table = pairs.assign(oac_line=pairs["oac_row_id"].map(line_of_row),
                         base_line=pairs["base_row_id"].map(line_of_row),
                         note=pairs["note"].map(lambda n: presentation.as_lines(str(n),
                                                                                line_of_row)))
    columns = ["oac_line", "oac_name", "oac_count", "base_line", "base_name", "rt_oac",
               "rt_base", "rt_shift", "verdict", "note"]
    st.dataframe(table, column_order=columns, hide_index=True, width="stretch", key="results_oac",
                 placeholder=NULL, column_config=ui.labelled_columns(
                     columns, oac_name=st.column_config.TextColumn("O-acetylated peak"),
                     oac_count=st.column_config.NumberColumn("OAc groups"),
                     base_name=st.column_config.TextColumn("Same species, one OAc fewer"),
                     rt_oac=st.column_config.NumberColumn("RT (min)", format="%.3f"),
                     rt_base=st.column_config.NumberColumn("RT without (min)", format="%.3f"),
                     rt_shift=st.column_config.NumberColumn("Shift (min)", format="%+.3f"),
                     note=st.column_config.TextColumn("Note", width="large")))


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
summary_cards(result)
downloads(result, run_id)
highlighted = tuple(st.session_state.get(HIGHLIGHT_KEY, ()))
if (former := st.query_params.get("results_tab")) in FORMER_TAB_NAMES:
    st.query_params["results_tab"] = FORMER_TAB_NAMES[former]
    st.rerun()  # the tabs read their bound parameter when they are first drawn
tabs = dict(zip(TABS, st.tabs(TABS, key="results_tab", bind="query-params")))
if tabs["Overview"].open:
    with tabs["Overview"]:
        overview_tab(result, run_id)
if tabs["Regression"].open:
    with tabs["Regression"]:
        regression_tab(result, run_id, highlighted)
if tabs["Compounds"].open:
    with tabs["Compounds"]:
        compounds_tab(result)
if tabs["Fragments"].open:
    with tabs["Fragments"]:
        fragments_tab(result, run_id, highlighted)
if tabs["OAc"].open:
    with tabs["OAc"]:
        oacetylation_tab(result)
