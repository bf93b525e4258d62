"""History: every run of the lab, newest first; filter, open, compare, delete."""

import pandas as pd
import streamlit as st

import ui_helpers as ui
from ganglioside.runs.executors import retention_days_from_env
from ganglioside.params import PARAMETER_SPECS
from ganglioside.runs.store import STATUSES, RunStateError

COUNT_COLUMNS = {"total_rows": "Rows", "valid": "Valid", "outlier": "Outliers",
                 "fragment": "Fragments", "unverified": "Unverified", "invalid": "Invalid"}


def retention_text() -> str:
    try:
        days = retention_days_from_env()
    except ValueError as error:
        return f"Retention setting not understood ({ui.plain(str(error))}); runs are kept."
    kept = "kept forever" if days <= 0 else f"deleted automatically {days:g} days after they end"
    return (f"Completed, failed and cancelled runs are {kept}; pending and processing runs are "
            "never deleted. Set by the server's GANGLIOSIDE\\_RETENTION\\_DAYS (0 = keep forever).")


def runs_table(records) -> pd.DataFrame:
    """One display row per run (the text columns are shown as plain cells, never Markdown)."""
    timezone = st.context.timezone or "UTC"
    table = pd.DataFrame({
        "Name": [r.name for r in records],
        "User": [r.user or "" for r in records],
        "Created": pd.to_datetime([r.created_at for r in records], utc=True)
                     .tz_convert(timezone).tz_localize(None),
        "Status": [r.status for r in records],
        **{label: [(r.summary or {}).get(key) for r in records]
           for key, label in COUNT_COLUMNS.items()},
        "Success rate": [ui.format_rate((r.summary or {}).get("success_rate")) for r in records],
        "Duration": [ui.format_duration(r.duration_seconds) for r in records],
        "Sample type": [r.sample_type for r in records],
        "File": [r.file_name for r in records],
        "Run id": [r.id for r in records],
        "Open": [f"results?{ui.RUN_QUERY_PARAM}={r.id}" for r in records],
    })
    for label in COUNT_COLUMNS.values():
        table[label] = table[label].astype("Int64")
    return table


def parameters_comparison(first, second) -> pd.DataFrame:
    """Each parameter of two runs side by side, marking the ones that differ."""
    names = [spec.name for spec in PARAMETER_SPECS] + ["sample_type", "algorithm_version"]
    table = pd.DataFrame({
        "Parameter": names,
        first.name: [str(first.parameters.get(n, "–")) for n in names],
        second.name: [str(second.parameters.get(n, "–")) for n in names],
    })
    if first.name == second.name:
        table.columns = ["Parameter", f"{first.name} ({first.id})", f"{second.name} ({second.id})"]
    table["Differs"] = table.iloc[:, 1] != table.iloc[:, 2]
    return table


PENDING_DELETE_KEY = "history_pending_delete"   # run id whose deletion awaits confirmation


def forget_pending_delete() -> None:
    st.session_state.pop(PENDING_DELETE_KEY, None)


@st.dialog("Delete this run?", on_dismiss=forget_pending_delete)
def confirm_delete(record) -> None:
    st.write("The run, its stored input and its results are deleted for everyone. "
             "This cannot be undone.")
    st.text(f"{record.name}  ({record.id}, {record.status})")
    left, right = st.columns(2)
    if left.button("Delete", type="primary", key="history_confirm_delete", width="stretch"):
        try:
            ui.run_store().delete_run(record.id)
        except RunStateError as error:
            st.error(ui.plain(str(error)))
            return
        except LookupError:
            pass  # already gone
        if st.session_state.get(ui.CURRENT_RUN_KEY) == record.id:
            st.session_state.pop(ui.CURRENT_RUN_KEY)
        forget_pending_delete()
        st.rerun()
    if right.button("Keep it", key="history_cancel_delete", width="stretch"):
        forget_pending_delete()
        st.rerun()


def run_actions(record) -> None:
    st.markdown(f"**{ui.plain(record.name)}** · {record.status} · run `{record.id}`")
    columns = st.columns([1, 1, 1, 3])
    columns[0].page_link(ui.RESULTS_PAGE, label="Open results", icon=":material/insights:",
                         query_params={ui.RUN_QUERY_PARAM: record.id})
    columns[1].page_link(ui.ANALYZE_PAGE, label="Run again…", icon=":material/replay:",
                         query_params={ui.RUN_QUERY_PARAM: record.id},
                         help="Opens the Analyze page with this run's input and settings.")
    if columns[2].button("Delete…", key="history_delete", icon=":material/delete:",
                         disabled=record.is_active,
                         help="Runs that are still pending or processing cannot be deleted."
                         if record.is_active else None):
        st.session_state[PENDING_DELETE_KEY] = record.id
    if record.status == "failed":
        st.error(ui.plain(record.error or "No reason was recorded."))


def compare(first, second) -> None:
    st.markdown("**Parameters of the two selected runs**")
    table = parameters_comparison(first, second)
    st.dataframe(table, hide_index=True, width="stretch", key="history_compare",
                 column_config={"Differs": st.column_config.CheckboxColumn()})
    differing = table.loc[table["Differs"], "Parameter"].tolist()
    st.caption("Differences: " + (", ".join(differing) if differing else "none"))


@st.fragment(run_every=2.0)
def watch_active(signature: tuple) -> None:
    """While runs are active, redraw the page when any run changes status."""
    current = tuple((r.id, r.status) for r in ui.run_store().list_runs(status=("pending",
                                                                               "processing")))
    if current != signature:
        st.rerun(scope="app")


st.title("History")
st.caption(retention_text())
store = ui.run_store()
counts = store.counts()

filters = st.columns([2, 3])
statuses = filters[0].multiselect(
    "Status", STATUSES, key="history_status_filter", placeholder="All statuses",
    format_func=lambda s: f"{s} ({counts.get(s, 0)})")
text = filters[1].text_input("Search", key="history_search",
                             placeholder="name, user, file or run id")
records = store.list_runs(status=statuses or None, text=text.strip() or None)
active = tuple((r.id, r.status) for r in store.list_runs(status=("pending", "processing")))
if active:
    watch_active(active)

if not records:
    st.info("No runs match." if statuses or text else
            "No runs yet: start one on the Analyze page.", icon=":material/history:")
    st.stop()

selection = st.dataframe(
    runs_table(records), hide_index=True, width="stretch", key="history_table",
    on_select="rerun", selection_mode="multi-row",
    placeholder="–",
    column_config={"Created": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
                   "Open": st.column_config.LinkColumn(
                       display_text="Open ↗", help="Open the results in a new tab")},
    column_order=["Open", "Name", "User", "Created", "Status", *COUNT_COLUMNS.values(),
                  "Success rate", "Duration", "Sample type", "File", "Run id"])
st.caption(f"{ui.plural(len(records), 'run')}. Select one run to open or delete it, two to "
           "compare their parameters.")
chosen = [records[i] for i in ui.selected_table_rows(selection) if i < len(records)]
if len(chosen) == 1:
    run_actions(chosen[0])
elif len(chosen) == 2:
    compare(*chosen)
    for record in chosen:
        st.page_link(ui.RESULTS_PAGE, label=f"Open {ui.plain(record.name)}",
                     icon=":material/insights:", query_params={ui.RUN_QUERY_PARAM: record.id})
elif chosen:
    st.info("Select one run to open or delete it, or two to compare them.")
pending_delete = ui.peek_run(st.session_state.get(PENDING_DELETE_KEY))
if pending_delete is not None:
    confirm_delete(pending_delete)
