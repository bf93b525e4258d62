"""Streamlit glue shared by the pages: the run store and its executor, cached results, the live
progress panel, and safe display of text that came from an uploaded file.

Everything scientific lives in ``ganglioside``; this module only connects it to Streamlit.
"""

from __future__ import annotations

import copy
import getpass
import importlib
import io
import os
import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from collections.abc import Iterable

from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from ganglioside import labels
from ganglioside.presentation import (  # noqa: F401 (pages use the formats)
    felt_progress, format_count, format_rate)
from ganglioside.errors import StoreFault
from ganglioside.runs.access import Actor, actor_for, may_cancel
from ganglioside.result import AnalysisResult
from ganglioside.runs.store import DB_ENV_VAR, RunNotFoundError, RunRecord, RunStore

if TYPE_CHECKING:  # imported where used: a page pays only for what it draws
    import altair as alt

    from ganglioside.runs.executors import Executor

# Page files, for st.switch_page / st.page_link (paths relative to app.py).
ANALYZE_PAGE = "app_pages/analyze.py"
RESULTS_PAGE = "app_pages/results.py"
HISTORY_PAGE = "app_pages/history.py"
METHOD_PAGE = "app_pages/method.py"

RUN_QUERY_PARAM = "run"
CURRENT_RUN_KEY = "current_run_id"
PROGRESS_POLL_SECONDS = 1.0
FINISH_POLL_SECONDS = 0.05  # how often a just-submitted run is looked at during its first second
QUICK_RUN_SECONDS = 1.0     # runs finished within this open their results directly
SELECTABLE_ROWS = 20_000   # longer tables load lazily (in chunks), without row selection

STATUS_ICONS = {"pending": ":material/schedule:", "processing": ":material/autorenew:",
                "completed": ":material/check_circle:", "failed": ":material/error:",
                "cancelled": ":material/cancel:"}
PARAMETER_LABELS = {  # how the Analyze page names each parameter of PARAMETER_SPECS
    "r2_threshold": "Rule 1 · minimum CV R²",
    "outlier_threshold": "Rule 1 · outlier when |z| ≥",
    "min_anchors": "Rule 1 · anchors needed for a model",
    "rt_sd_floor": "Rule 1 · smallest RT scale",
    "oac_shift_min": "Rule 4 · smallest O-acetyl RT shift",
    "oac_shift_max": "Rule 4 · largest O-acetyl RT shift",
    "rt_tolerance": "Rule 5 · fragment RT tolerance",
    "apply_fragment_status": "Rule 5 · give fragments the status 'fragment'",
    "algorithm_version": "Algorithm version",
}
RULE_FLAGS = {  # label -> which rows carry the flag (columns of spec 13.1)
    "Any": None,
    "Rule 1: outlier": lambda rows: rows["rule1_status"].eq("outlier"),
    "Rule 1: unverified": lambda rows: rows["rule1_status"].eq("unverified"),
    "Rule 1: anchor disagrees": lambda rows: rows["anchor_disagrees"].eq(True),
    "Rule 1: recurring series": lambda rows: rows["rule1_series_offset"].notna(),
    "Rules 2-3: isomer peaks": lambda rows: rows["isomer_peaks"].eq(True),
    "Rule 4: inconsistent": lambda rows: rows["rule4_verdict"].eq("inconsistent"),
    "Rule 4: not verifiable": lambda rows: rows["rule4_verdict"].eq("not verifiable"),
    "Rule 5: fragment": lambda rows: rows["rule5_role"].eq("fragment"),
    "Rule 5: heads an event": lambda rows: rows["rule5_heads_event_id"].notna(),
    "Input problem": lambda rows: rows["input_problems"].notna(),
}
FIXED3_COLUMNS = {"RT", "predicted_rt", "residual", "z", "Log P", "r2_cv", "rmse_cv", "scale_s",
                  "anchor_spread_s", "rule1_model_r2_cv", "rule4_rt_shift", "rule5_rt_diff",
                  "rt_oac", "rt_base", "rt_shift", "rt_min", "rt_max"}


# ---- identity ------------------------------------------------------------------------------------

def auth_configured() -> bool:
    """True when secrets.toml has an [auth] section: users sign in with OpenID Connect."""
    return st.secrets.load_if_toml_exists() and "auth" in st.secrets


def trusted_headers_configured() -> bool:
    """True when a reverse proxy names the user in headers (server.trustedUserHeaders)."""
    return bool(st.get_option("server.trustedUserHeaders"))


def current_user() -> Actor | None:
    """Who is using this session; the one place the pages learn it. In order:

    * signed in with OpenID Connect (``st.login``; ``[auth]`` in secrets.toml): the email and
      name from the identity provider;
    * a reverse proxy's trusted header (``server.trustedUserHeaders`` mapping its header to the
      ``email`` key of ``st.user``, and optionally one to ``name``);
    * else, with neither configured, the embedded single-user mode: the operating-system user,
      who is then an admin (they own the whole store).

    None when sign-in is configured but not done (the app shows the sign-in page instead).
    Admins are the emails in $GANGLIOSIDE_ADMINS.
    """
    user = st.user
    if user.get("is_logged_in"):
        email = user.get("email") or user.get("sub")
    elif trusted_headers_configured():
        email = user.get("email")
    elif auth_configured():
        return None
    else:
        login = _login_name()
        return actor_for(login, login, admin=True)
    return actor_for(email, user.get("name")) if email and email.strip() else None


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user without a passwd entry
        return "local user"


# ---- run store and executor ----------------------------------------------------------------------

@st.cache_resource(show_spinner=False)
def _runner(db_path: str, mode: str, broker: str) -> tuple[RunStore, Executor]:
    """One per store and profile: the arguments (the environment's values) are the cache key."""
    from ganglioside.runs.executors import executor_from_env  # the analysis' imports, once

    store = RunStore(db_path or None)
    return store, executor_from_env(store)


def runner() -> tuple[RunStore, Executor]:
    """The run store and the executor of this server process (created once per database and
    profile: Celery with $GANGLIOSIDE_BROKER, else the embedded worker; see executor_from_env)."""
    from ganglioside.runs.executors import BROKER_ENV_VAR, EXECUTOR_ENV_VAR

    return _runner(*(os.environ.get(name, "").strip()
                     for name in (DB_ENV_VAR, EXECUTOR_ENV_VAR, BROKER_ENV_VAR)))


def run_store() -> RunStore:
    """The shared run store."""
    return runner()[0]


def submit(run_id: str) -> None:
    """Hand a pending run to the executor and make it the current run of this session."""
    runner()[1].submit(run_id)
    remember_run(run_id)


def remember_run(run_id: str) -> None:
    """Make ``run_id`` the session's current run (sidebar link, default of the Results page)."""
    st.session_state[CURRENT_RUN_KEY] = run_id


def selected_run_id() -> str | None:
    """The run named by ``?run=ID`` in the URL, else the session's current run."""
    return st.query_params.get(RUN_QUERY_PARAM) or st.session_state.get(CURRENT_RUN_KEY)


def peek_run(run_id: str | None) -> RunRecord | None:
    """The stored run, or None (silently) for no id or an unknown one."""
    try:
        return run_store().get_run(run_id) if run_id else None
    except RunNotFoundError:
        return None


def find_run(run_id: str) -> RunRecord | None:
    """The stored run, or None after showing an error for an unknown id."""
    try:
        return run_store().get_run(run_id)
    except RunNotFoundError as error:
        st.error(plain(str(error)) + " It may have been deleted or cleaned up; see History.")
        return None


@st.cache_resource(max_entries=16, show_spinner="Loading results…")
def _load_result(db_path: str, run_id: str) -> AnalysisResult:
    result = RunStore(db_path or None).load_result(run_id)
    if result is None:  # not cached: raising keeps a missing result out of the cache
        raise RunNotFoundError(run_id)
    return result


def load_result(run_id: str) -> AnalysisResult | None:
    """The result of a completed run, read from the store once per run and then cached.

    A finished run's result never changes, and pages only read it, so every session shares
    one copy (st.cache_resource): st.cache_data would unpickle a fresh copy on every rerun,
    about 0.4 s for a 150,000-row result.
    """
    try:
        return _load_result(os.environ.get(DB_ENV_VAR, ""), run_id)
    except RunNotFoundError:
        return None


@st.cache_resource(max_entries=64, show_spinner=False)
def _cached_chart(_result: AnalysisResult, run_id: str, builder: str, *args
                  ) -> tuple[alt.Chart, dict]:
    from ganglioside import charts

    chart = getattr(charts, builder)(_result, *args)
    return chart, chart.to_dict(validate=False)  # the builders are validated by their tests


def cached_chart(result: AnalysisResult, run_id: str, builder: str, *args
                 ) -> tuple[alt.Chart, dict]:
    """``ganglioside.charts.<builder>(result, *args)`` and its Vega-Lite spec, built once per run
    and arguments (chart builders are pure, and a run's result never changes).

    Converting an Altair chart validates it against the Vega-Lite schema, which costs more than
    a whole rerun should, so it is converted once too; the spec returned is a fresh copy because
    Streamlit adjusts the spec it draws."""
    chart, spec = _cached_chart(result, run_id, builder, *args)
    return chart, copy.deepcopy(spec)


@st.cache_resource(show_spinner=False)
def _figure_spec(rule: str) -> dict:
    from ganglioside import charts

    return charts.rule_figure(rule).to_dict(validate=False)


def cached_figure(rule: str) -> dict:
    """The Method page's figure of a rule as a Vega-Lite spec, built once per server (a fresh
    copy, since Streamlit adjusts the spec it draws)."""
    return copy.deepcopy(_figure_spec(rule))


@st.cache_resource(show_spinner=False)
def warm_up() -> threading.Thread:
    """Import the analysis and chart libraries in the background, once per server, so the first
    page is drawn without them and the first Run does not wait for them."""
    def load() -> None:
        for module in ("ganglioside.analysis", "ganglioside.charts"):
            importlib.import_module(module)
    thread = threading.Thread(target=load, name="warm-up", daemon=True)
    thread.start()
    return thread


def finished_within(run_id: str, seconds: float) -> RunRecord | None:
    """The run once it has finished, if it does within ``seconds`` (a small table's analysis
    takes a fraction of a second: its results can open at once, without a progress bar)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        record = peek_run(run_id)
        if record is None or record.is_finished:
            return record
        time.sleep(FINISH_POLL_SECONDS)
    return None


_EXPORTS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="export")


@st.cache_resource(max_entries=4, show_spinner=False)
def _export_job(_result: AnalysisResult, run_id: str, kind: str) -> Future:
    from ganglioside import export

    return _EXPORTS.submit(getattr(export, f"to_{kind}"), _result)


def background_export(result: AnalysisResult, run_id: str, kind: str) -> Future:
    """The export of a run built in a background thread, once per run and kind (a large Excel
    file takes tens of seconds: the page shows that it is being built instead of freezing)."""
    return _export_job(result, run_id, kind)


# ---- live progress -------------------------------------------------------------------------------

def show_run_state(record: RunRecord, *, cancel_key: str, on_complete: str | None = None) -> None:
    """Progress of an active run (live, with Cancel), or the final state of a finished one.

    ``on_complete``: page to switch to (with ``?run=ID``) when a run watched live completes.
    """
    if record.is_active:
        _live_progress(record.id, cancel_key, on_complete)
    elif record.status == "failed":
        st.error("The analysis failed: " + plain(record.error or "no reason was recorded."))
    elif record.status == "cancelled":
        st.warning("This analysis was cancelled before it finished; no results were kept.")
    else:
        summary = record.summary or {}
        st.success(f"Analysis complete: {summary.get('total_rows', '?')} rows checked in "
                   f"{format_duration(record.duration_seconds)}.")


@st.fragment(run_every=PROGRESS_POLL_SECONDS)
def _live_progress(run_id: str, cancel_key: str, on_complete: str | None) -> None:
    try:
        record = run_store().get_run(run_id)
    except RunNotFoundError:
        st.rerun(scope="app")
    except StoreFault as fault:  # a fragment's rerun does not pass the app's boundary
        st.error(plain(str(fault)), icon=":material/database:")
        return
    if not record.is_active:
        if record.status == "completed" and on_complete:
            st.switch_page(on_complete, query_params={RUN_QUERY_PARAM: run_id})
        st.rerun(scope="app")
    text = ("Cancelling at the next step…" if record.cancel_requested
            else record.message or ("Waiting for a free worker…" if record.status == "pending"
                                    else "Starting…"))
    st.progress(felt_progress(record.progress), text=plain(text))
    actor = current_user()
    if record.cancel_requested:
        return
    if actor is not None and may_cancel(actor, record.owner):
        if st.button("Cancel", key=cancel_key, icon=":material/stop_circle:"):
            run_store().request_cancel(run_id, actor)
            st.rerun(scope="app")
    else:
        st.caption(f"Started by {plain(record.owner or 'an unknown user')}; only they or an "
                   "admin may cancel it.")


# ---- display helpers -----------------------------------------------------------------------------

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=^])")


def plain(text: object) -> str:
    """Text shown literally by Markdown-rendering elements (st.error, st.caption, labels...).

    Every Markdown, LaTeX (``$``) and directive (``:red[...]``, ``:smile:``) character is
    backslash-escaped and line breaks are kept, so text from an uploaded file can never format,
    link or inject anything. An invisible word joiner after each ``@`` keeps the renderer from
    turning an email address into a mailto link (it finds them after unescaping).
    """
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", str(text)).replace("@", "@\u2060")
    return escaped.replace("\r\n", "\n").replace("\n", "  \n")


def plain_table(frame: pd.DataFrame) -> pd.DataFrame:
    """A table for st.table (which renders Markdown in its cells) with every text cell, the
    index and the headers shown literally."""
    literal = frame.map(lambda value: plain(value) if isinstance(value, str) else value)
    literal.index = literal.index.map(lambda value: plain(value) if isinstance(value, str)
                                      else value)
    return literal.rename(columns=lambda name: plain(name))


def format_duration(seconds: float | None) -> str:
    """``0.8 s``, ``12 s``, ``3 min 05 s``; an en dash when unknown."""
    if seconds is None or pd.isna(seconds):
        return "–"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def parameter_label(name: str, unit: str = "") -> str:
    """The label of a parameter's input, with its unit."""
    return PARAMETER_LABELS.get(name, name) + (f" ({unit})" if unit else "")


def plural(count: int, noun: str) -> str:
    """``1 run``, ``3 runs``."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def chart_image(chart: alt.Chart, fmt: str) -> bytes:
    """The chart as PNG or SVG bytes, rendered by Altair's own exporter (vl-convert)."""
    if fmt == "svg":
        text = io.StringIO()
        chart.save(text, format="svg")
        return text.getvalue().encode("utf-8")
    data = io.BytesIO()
    chart.save(data, format="png", scale_factor=2)
    return data.getvalue()


def filter_rows(rows: pd.DataFrame, *, text: str = "", statuses: Iterable[str] = (),
                categories: Iterable[str] = (), prefixes: Iterable[str] = (),
                bases: Iterable[str] = (), flag: str = "Any",
                row_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """The rows matching every filter of the Compounds tab (empty filters match everything).

    ``text`` is a case-insensitive literal substring of the name or the reasons.
    """
    keep = pd.Series(True, index=rows.index)
    if text.strip():
        needle = text.strip()
        keep &= (rows["Name"].astype("string").str.contains(needle, case=False, regex=False)
                 .fillna(False)
                 | rows["reasons"].astype("string").str.contains(needle, case=False,
                                                                 regex=False).fillna(False))
    for column, wanted in (("status", statuses), ("category", categories),
                           ("prefix", prefixes), ("rule1_basis", bases)):
        wanted = list(wanted)
        if wanted:
            keep &= rows[column].isin(wanted)
    if RULE_FLAGS.get(flag) is not None:
        keep &= RULE_FLAGS[flag](rows).fillna(False).astype(bool)
    if row_ids is not None:
        keep &= rows["row_id"].isin(list(row_ids))
    return rows.loc[keep.to_numpy(dtype=bool)]


def labelled_columns(columns: Iterable[str], **overrides) -> dict:
    """column_config giving each column its lab label and help (ganglioside.labels); numbers
    with three decimals where the core reports them so; ``overrides`` win."""
    config = {}
    for name in columns:
        if name not in labels.COLUMNS:
            continue
        label = labels.COLUMNS[name]
        if name in FIXED3_COLUMNS:
            config[name] = st.column_config.NumberColumn(label.text, help=label.help,
                                                         format="%.3f")
        else:
            config[name] = st.column_config.Column(label.text, help=label.help)
    return {**config, **overrides}


def selected_point_ids(state: object, param: str = "select") -> list[int]:
    """Row ids picked in an Altair chart (selection parameter ``param`` over ``row_id``)."""
    try:
        points = state["selection"][param]
    except (KeyError, TypeError):
        return []
    if isinstance(points, dict):  # interval selections: {"row_id": [...]}
        points = [{"row_id": v} for v in points.get("row_id", [])]
    return sorted({int(p["row_id"]) for p in points if p.get("row_id") is not None})


def selected_table_rows(state: object) -> list[int]:
    """Positions of the rows selected in an ``st.dataframe(on_select=...)``."""
    try:
        return list(state["selection"]["rows"])
    except (KeyError, TypeError):
        return []


def id_list(values: Iterable[int]) -> str:
    """Row ids as a compact comma-separated text."""
    return ", ".join(str(v) for v in values)
