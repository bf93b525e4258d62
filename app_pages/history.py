"""History: every run of the lab, newest first; filter, open, compare, cancel, delete to the
trash, restore, and each run's audit trail. Buttons the user may not use are not offered (the
store refuses such a request all the same)."""

import pandas as pd
import streamlit as st

import ui_helpers as ui
from ganglioside.errors import GangliosideError
from ganglioside.params import PARAMETER_SPECS
from ganglioside.runs import access
from ganglioside.runs.executors import retention_days_from_env
from ganglioside.runs.store import STATUSES

OPEN_CELL = "Open →"
TABLE_KEY = "history_table"
NO_SELECTION = {"selection": {"rows": [], "columns": [], "cells": []}}
PENDING_DELETE_KEY = "history_pending_delete"   # run id whose deletion awaits confirmation
NOTICE_KEY = "history_notice"   # what the last action did, shown once
COUNT_COLUMNS = {"total_rows": "Rows", "valid": "Valid", "outlier": "Outliers",
                 "fragment": "Fragments", "unverified": "Unverified", "invalid": "Invalid"}


def retention_text() -> str:
    try:
        days = retention_days_from_env()
    except ValueError as error:
        return f"Retention setting not understood ({ui.plain(str(error))}); runs are kept."
    kept = "kept forever" if days <= 0 else f"deleted automatically {days:g} days after they end"
    try:
        trash = f"Deleted runs stay in the trash for {access.trash_days_from_env():g} days"
    except ValueError as error:
        trash = f"Trash setting not understood ({ui.plain(str(error))})"
    return (f"Completed, failed and cancelled runs are {kept}; pending and processing runs are "
            "never deleted. Set by the server's GANGLIOSIDE\\_RETENTION\\_DAYS (0 = keep forever). "
            f"{trash}, where their owner or an admin can restore them "
            "(GANGLIOSIDE\\_TRASH\\_DAYS).")


def local_times(times) -> pd.Series:
    timezone = st.context.timezone or "UTC"
    return pd.Series(pd.to_datetime(list(times), utc=True).tz_convert(timezone)
                     .tz_localize(None))


def runs_table(records) -> pd.DataFrame:
    """One display row per run (the text columns are shown as plain cells, never Markdown)."""
    table = pd.DataFrame({
        "Open": [OPEN_CELL] * len(records),
        "Name": [r.name for r in records],
        "Owner": [r.owner or "unknown" for r in records],
        "User": [r.user or "" for r in records],
        "Created": local_times(r.created_at for r in records),
        "Status": [r.status for r in records],
        **{label: [(r.summary or {}).get(key) for r in records]
           for key, label in COUNT_COLUMNS.items()},
        "Success rate": [ui.format_rate((r.summary or {}).get("success_rate")) for r in records],
        "Duration": [ui.format_duration(r.duration_seconds) for r in records],
        "Sample type": [r.sample_type for r in records],
        "File": [r.file_name for r in records],
        "Run id": [r.id for r in records],
        "Deleted": local_times(r.deleted_at for r in records),
        "Deleted by": [r.deleted_by or "" for r in records],
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


def forget_pending_delete() -> None:
    st.session_state.pop(PENDING_DELETE_KEY, None)


def clear_selection() -> None:
    st.session_state[TABLE_KEY] = NO_SELECTION


def act(action: str, run_id: str) -> None:
    """Callback of the cancel/delete/restore/purge buttons: ask the store as the current user,
    then select nothing, so no other run stands ready for the next click."""
    method = {"cancel": "request_cancel", "delete": "delete_run", "restore": "restore_run",
              "purge": "purge_run"}[action]
    try:
        getattr(ui.run_store(), method)(run_id, ui.current_user())
        done = {"cancel": "Cancel requested", "delete": "Moved to the trash",
                "restore": "Restored", "purge": "Purged"}[action]
        st.session_state[NOTICE_KEY] = ("success", f"{done}: run {run_id}.")
    except (GangliosideError, LookupError) as error:
        st.session_state[NOTICE_KEY] = ("error", str(error))
    if action != "cancel" and st.session_state.get(ui.CURRENT_RUN_KEY) == run_id:
        st.session_state.pop(ui.CURRENT_RUN_KEY)
    forget_pending_delete()
    clear_selection()


@st.dialog("Move this run to the trash?", on_dismiss=forget_pending_delete)
def confirm_delete(record) -> None:
    if st.session_state.get(PENDING_DELETE_KEY) != record.id:  # done: redraw the whole page
        st.rerun()
    try:
        days = f"{access.trash_days_from_env():g} days"
    except ValueError:
        days = "the days the server keeps its trash"
    st.write(f"It disappears from the list for everyone and stays in the trash for {days}; "
             "its owner or an admin can restore it from there until then.")
    st.text(f"{record.name}  ({record.id}, {record.status}, owner {record.owner or 'unknown'})")
    left, right = st.columns(2)
    left.button("Move to trash", key="history_confirm_delete", width="stretch",
                icon=":material/delete:", on_click=act, args=("delete", record.id))
    if right.button("Keep it", key="history_cancel_delete", type="primary", width="stretch"):
        forget_pending_delete()
        st.rerun()


def run_actions(record, user) -> None:
    """The actions on one selected run that ``user`` may take, and its audit trail."""
    owner = record.owner or access.UNKNOWN_OWNER
    st.markdown(f"**{ui.plain(record.name)}** · {record.status} · run `{record.id}` · owner "
                f"{ui.plain(owner)}")
    columns = st.columns([1, 1, 1, 1, 2])
    columns[0].page_link(ui.RESULTS_PAGE, label="Open results", icon=":material/insights:",
                         query_params={ui.RUN_QUERY_PARAM: record.id})
    manage = access.may_manage(user, record.owner)
    if record.in_trash:
        if manage:
            columns[1].button("Restore", key="history_restore", icon=":material/restore:",
                              on_click=act, args=("restore", record.id))
        if access.may_purge(user):
            columns[2].button("Purge now", key="history_purge",
                              icon=":material/delete_forever:", on_click=act,
                              args=("purge", record.id),
                              help="Delete it for good now, without waiting for the trash.")
    else:
        columns[1].page_link(ui.ANALYZE_PAGE, label="Run again…", icon=":material/replay:",
                             query_params={ui.RUN_QUERY_PARAM: record.id},
                             help="Opens the Analyze page with this run's input and settings.")
        if manage and record.is_active:
            columns[2].button("Cancel run", key="history_cancel", icon=":material/stop_circle:",
                              on_click=act, args=("cancel", record.id))
        elif manage:
            if columns[2].button("Delete…", key="history_delete", icon=":material/delete:"):
                st.session_state[PENDING_DELETE_KEY] = record.id
    if not manage:
        who = (f"Only its owner ({ui.plain(record.owner)}) or an admin" if record.owner else
               f"Its owner is {access.UNKNOWN_OWNER}: only an admin")
        st.caption(f"{who} may cancel, delete or restore this run.")
    if record.status == "failed":
        st.error(ui.plain(record.error or "No reason was recorded."))
    audit_trail(record.id)


def audit_trail(run_id: str) -> None:
    entries = ui.run_store().audit_trail(run_id)
    st.markdown("**Audit trail**")
    if not entries:
        st.caption("Nothing recorded: the run is older than the audit trail.")
        return
    st.dataframe(pd.DataFrame({
        "When": local_times(e.at for e in entries),
        "What": [e.action for e in entries],
        "Who": [e.actor for e in entries],
        "Detail": [e.detail or "" for e in entries],
    }), hide_index=True, width="stretch", key="history_audit",
        column_config={"When": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")})


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


def opened_run(selection, records) -> str | None:
    """The run whose "Open →" cell was clicked (one click opens it, in this tab)."""
    cells = getattr(getattr(selection, "selection", None), "cells", None) or []
    for row, column in cells:
        if column == "Open" and row < len(records):
            return records[row].id
    return None


st.title("History")
st.caption(retention_text())
user = ui.current_user()
store = ui.run_store()
counts = store.counts()
notice = st.session_state.pop(NOTICE_KEY, None)
if notice:
    getattr(st, notice[0])(ui.plain(notice[1]))

view = st.segmented_control("Show", ["Runs", "Trash"], key="history_view", default="Runs",
                            on_change=clear_selection) or "Runs"
trash = view == "Trash"
filters = st.columns([2, 3])
statuses = filters[0].multiselect(
    "Status", STATUSES, key="history_status_filter", placeholder="All statuses",
    format_func=lambda s: s if trash else f"{s} ({counts.get(s, 0)})")
text = filters[1].text_input("Search", key="history_search",
                             placeholder="name, user, file or run id")
records = store.list_runs(status=statuses or None, text=text.strip() or None, trash=trash)
active = tuple((r.id, r.status) for r in store.list_runs(status=("pending", "processing")))
if active:
    watch_active(active)

if not records:
    st.info("No runs match." if statuses or text else
            "The trash is empty." if trash else
            "No runs yet: start one on the Analyze page.", icon=":material/history:")
    st.stop()

selection = st.dataframe(
    runs_table(records), hide_index=True, width="stretch", key=TABLE_KEY,
    on_select="rerun", selection_mode=["multi-row", "single-cell"],
    placeholder="–",
    column_config={"Created": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
                   "Deleted": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
                   "Open": st.column_config.TextColumn(
                       help="Click to open the run's results")},
    column_order=["Open", "Name", "Owner", "User", "Created", "Status",
                  *(["Deleted", "Deleted by"] if trash else []), *COUNT_COLUMNS.values(),
                  "Success rate", "Duration", "Sample type", "File", "Run id"])
if (open_id := opened_run(selection, records)) is not None:
    st.switch_page(ui.RESULTS_PAGE, query_params={ui.RUN_QUERY_PARAM: open_id})
st.caption(f"{ui.plural(len(records), 'run')}. Click “Open →” to open a run's results; tick one "
           "run to see its actions and audit trail, two to compare their parameters.")
chosen = [records[i] for i in ui.selected_table_rows(selection) if i < len(records)]
if len(chosen) == 1:
    run_actions(chosen[0], user)
elif len(chosen) == 2:
    compare(*chosen)
    for record in chosen:
        st.page_link(ui.RESULTS_PAGE, label=f"Open {ui.plain(record.name)}",
                     icon=":material/insights:", query_params={ui.RUN_QUERY_PARAM: record.id})
elif chosen:
    st.info("Tick one run to see its actions, or two to compare them.")
pending_delete = ui.peek_run(st.session_state.get(PENDING_DELETE_KEY))
if pending_delete is not None:
    confirm_delete(pending_delete)
