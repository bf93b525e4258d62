"""Analyze (landing page): choose a table, see what the checker will read, set the parameters,
run the analysis as a background job and watch its progress (``?run=ID`` in the URL)."""

from dataclasses import dataclass

import pandas as pd
import streamlit as st

import ui_helpers as ui
from ganglioside import presentation
from ganglioside.demo import make_demo_table
from ganglioside.errors import InputError, ParameterError
from ganglioside.params import ALGORITHM_VERSIONS, PARAMETER_SPECS, SAMPLE_TYPES, AnalysisParams
from ganglioside.preprocess import preprocess
from ganglioside.reader import list_sheets, read_table
from ganglioside.runs.store import DuplicateRunError

DEMO_ROWS = 300
DEMO_FILE_NAME = "demo_gangliosides.csv"
PREVIEW_ROWS = 20
PROBLEMS_SHOWN = 30
SOURCE_KEY = "analyze_source"            # the demo table, when chosen after any upload
PARAMS_FROM_KEY = "analyze_params_from"  # which run (or "defaults") filled the parameter widgets
SUBMITTED_KEY = "analyze_submitted"      # the run this page last submitted in this session
AUTOMATIC_SHEET = None                   # the Worksheet choice that lets the reader pick
EXAMPLE_TABLE = pd.DataFrame({  # the first rows of the spec's worked example (spec 15)
    "Name": ["GD1a(36:1;O2)", "GM1a(36:1;O2)", "GM3(36:1;O2)"],
    "RT": [9.572, 10.452, 10.606], "Volume": [1_000_000, 500_000, 2_000_000],
    "Log P": [1.53, 4.00, 7.74], "Anchor": ["T", "F", "F"]})


@dataclass(frozen=True)
class Source:
    """The table to analyse: an upload, the demo data, or the stored input of a run."""

    file_name: str
    data: bytes
    run_id: str | None = None     # set for the stored input of a run ("Run again")
    sheet: str | None = None      # fixed sheet of a stored run


@st.cache_data(max_entries=4, show_spinner="Checking the table…")
def inspect_table(data: bytes, file_name: str, sheet: str | None) -> dict:
    """What the checker will read from this file; raises InputError for an unusable table."""
    table = read_table(data, file_name, sheet)
    rows = preprocess(table).rows
    problems = rows.loc[rows["input_problems"].notna(), ["line", "Name", "input_problems"]]
    return {
        "rows": len(rows),
        "anchors": int((rows["_eligible"] & rows["Anchor"].eq(True)).sum()),
        "extra_columns": list(table.extra_columns),
        "preview": table.frame.head(PREVIEW_ROWS).astype("string"),
        "problems": problems.rename(columns={"line": "Line", "input_problems": "Problem"}),
        "notes": [w.message for w in table.warnings],
    }


@st.cache_data(max_entries=2, show_spinner=False)
def demo_csv() -> bytes:
    """The demo table as CSV bytes, so it takes exactly the path of an uploaded file."""
    return make_demo_table(DEMO_ROWS, seed=0).to_csv(index=False).encode("utf-8")


def use_demo() -> None:
    st.session_state[SOURCE_KEY] = Source(DEMO_FILE_NAME, demo_csv())


def forget_demo() -> None:
    st.session_state.pop(SOURCE_KEY, None)


def chosen_source(shown_run) -> Source | None:
    """The demo (if chosen after the last upload), else the upload, else the shown run's input."""
    if st.session_state.get(SOURCE_KEY) is not None:
        return st.session_state[SOURCE_KEY]
    upload = st.session_state.get("analyze_upload")
    if upload is not None:
        return Source(upload.name, upload.getvalue())
    if shown_run is not None:
        return Source(shown_run.file_name, ui.run_store().load_input(shown_run.id),
                      run_id=shown_run.id, sheet=shown_run.sheet)
    return None


def pick_sheet(source: Source) -> str | None:
    """Sheet picker for workbooks: automatic by default (the first sheet, or the one sheet that
    has the columns); fixed to the stored sheet when re-running a run."""
    try:
        sheets = list_sheets(source.data)
    except InputError:
        return None  # reported by the inspection below
    if not sheets:
        return None
    if source.run_id is not None:
        st.selectbox("Worksheet", [source.sheet or sheets[0]], key="analyze_sheet",
                     disabled=True, help="A run again uses the sheet of the original run.")
        return source.sheet
    return st.selectbox("Worksheet", [AUTOMATIC_SHEET, *sheets], key="analyze_sheet",
                        format_func=lambda name: "Automatic (the sheet with the columns)"
                        if name is AUTOMATIC_SHEET else name,
                        help="The table is read from this sheet (header in its first row). "
                             "Automatic reads the first sheet, or the one sheet that has the "
                             "columns.")


def show_expected_format() -> None:
    """What a table must look like (shown until a file is chosen)."""
    st.info("Upload a table or try the demo data to begin. One row per peak, with these "
            "columns (other columns are carried along):", icon=":material/upload_file:")
    st.dataframe(EXAMPLE_TABLE, hide_index=True, width="stretch", key="analyze_example")
    st.caption("Name: head group, optional modifiers and the ceramide `a:b;Ox`. RT in minutes. "
               "Anchor: T for identifications you trust (they train the RT models), else F. "
               "Header spellings such as *retention_time*, *area* or *logp* are recognised.")


def show_input_error(error: InputError) -> None:
    st.error(f"Cannot use {ui.plain(error.file_name or 'this table')}: "
             + "".join(f"  \n• {ui.plain(problem)}" for problem in error.problems))


def show_inspection(source: Source, sheet: str | None) -> bool:
    """Preview, detected columns, anchors and row problems; False if the table is unusable."""
    try:
        info = inspect_table(source.data, source.file_name, sheet)
    except InputError as error:
        show_input_error(error)
        return False
    with st.container(horizontal=True, key="analyze_cards"):
        st.metric("Rows", ui.format_count(info["rows"]), border=True, width="content")
        st.metric("Anchors", ui.format_count(info["anchors"]), border=True, width="content",
                  help="Usable rows marked as trusted identifications; they place the lines.")
        st.metric("Row problems", ui.format_count(len(info["problems"])), border=True,
                  width="content",
                  help="These rows will be reported as invalid; the others are checked.")
    extras = ", ".join(info["extra_columns"]) or "none"
    st.caption("Columns used: Name, RT, Volume, Log P, Anchor. Carried along: "
               + ui.plain(extras))
    for note in info["notes"]:
        st.info(ui.plain(note), icon=":material/info:")
    if info["anchors"] == 0:
        st.warning("No usable row is marked as an anchor, so Rule 1 cannot verify anything: "
                   "every peak would be unverified.")
    st.dataframe(info["preview"], hide_index=True, width="stretch", height=280,
                 key="analyze_preview", column_config=ui.labelled_columns(["line"]))
    st.caption(f"First {min(PREVIEW_ROWS, info['rows'])} of {info['rows']:,} rows, as read.")
    if len(info["problems"]):
        st.warning(f"{len(info['problems']):,} rows have problems and will be marked invalid; "
                   "the run still checks every other row.", icon=":material/rule:")
        shown = info["problems"].head(PROBLEMS_SHOWN)
        st.table(ui.plain_table(shown.set_index("Line")))  # wraps: each problem in full
        if len(info["problems"]) > PROBLEMS_SHOWN:
            st.caption(f"First {PROBLEMS_SHOWN} of {len(info['problems']):,}; every problem is "
                       "in the reasons of its row after the run.")
    return True


def parameter_key(name: str) -> str:
    return f"analyze_param_{name}"


def fill_parameters(params: AnalysisParams, origin: str) -> None:
    """Put these values in the parameter widgets (defaults, or a run's own for "Run again")."""
    for spec in PARAMETER_SPECS:
        st.session_state[parameter_key(spec.name)] = getattr(params, spec.name)
    st.session_state["analyze_sample_type"] = params.sample_type
    st.session_state[parameter_key("algorithm_version")] = params.algorithm_version
    st.session_state[PARAMS_FROM_KEY] = origin


def parameter_inputs() -> dict:
    """One input per parameter, generated from PARAMETER_SPECS (range, step, help)."""
    values = {}
    for spec in PARAMETER_SPECS:
        key = parameter_key(spec.name)
        label = ui.parameter_label(spec.name, spec.unit)
        if spec.kind is bool:
            values[spec.name] = st.toggle(label, key=key, help=f"{spec.help}  \n`{spec.name}`")
            continue
        default = getattr(AnalysisParams(), spec.name)
        help_text = (f"{spec.help}  \nDefault {default:g}; allowed {spec.minimum:g} – "
                     f"{spec.maximum:g}. `{spec.name}`")
        if spec.kind is int:
            values[spec.name] = st.number_input(label, int(spec.minimum), int(spec.maximum),
                                                step=1, key=key, help=help_text)
        else:
            values[spec.name] = st.number_input(label, float(spec.minimum), float(spec.maximum),
                                                step=0.01 if spec.maximum < 1.5 else 0.1,
                                                format="%.3f", key=key, help=help_text)
    values["algorithm_version"] = st.selectbox(
        ui.parameter_label("algorithm_version"), ALGORITHM_VERSIONS,
        key=parameter_key("algorithm_version"),
        format_func=lambda v: f"{v} (newest)" if v == ALGORITHM_VERSIONS[0] else v,
        help="The newest algorithm is the default; older versions stay available so earlier "
             "results can be reproduced exactly. See Method.")
    return values


def run_settings(source: Source | None, shown_run) -> AnalysisParams | None:
    """Run name, sample type and advanced parameters; None (after an error) if invalid."""
    origin = source.run_id if source and source.run_id else "defaults"
    if st.session_state.get(PARAMS_FROM_KEY) != origin or \
            parameter_key(PARAMETER_SPECS[0].name) not in st.session_state:
        fill_parameters(AnalysisParams.from_dict(shown_run.parameters)
                        if origin != "defaults" else AnalysisParams(), origin)
    st.text_input("Run name", key="analyze_run_name", max_chars=120,
                  placeholder=source.file_name if source else "defaults to the file name",
                  help="Shown in History; defaults to the file name.")
    st.selectbox("Sample type", SAMPLE_TYPES, key="analyze_sample_type",
                 help="Recorded with the run; it does not change the analysis.")
    with st.expander("Advanced settings", icon=":material/tune:"):
        values = parameter_inputs()
        st.button("Reset to defaults", key="analyze_reset", icon=":material/restart_alt:",
                  on_click=fill_parameters, args=(AnalysisParams(), origin))
    try:
        return AnalysisParams(**values,
                              sample_type=st.session_state["analyze_sample_type"]).validate()
    except ParameterError as error:
        st.error(ui.plain(str(error)))
        return None


def submit_run(source: Source, sheet: str | None, params: AnalysisParams) -> None:
    """Queue the run (refused if the same one is already running), start it, show it."""
    store = ui.run_store()
    name = st.session_state.get("analyze_run_name", "").strip() or None
    actor = ui.current_user()
    try:
        if source.run_id is not None:
            run_id = store.rerun(source.run_id, params, name=name, user=actor.name,
                                 owner=actor.email)
        else:
            run_id = store.create_run(source.data, source.file_name, params, name=name,
                                      user=actor.name, sheet=sheet, owner=actor.email)
    except DuplicateRunError as error:
        st.warning(ui.plain(str(error)), icon=":material/content_copy:")
        st.query_params[ui.RUN_QUERY_PARAM] = error.existing_run_id
        return
    ui.submit(run_id)
    st.session_state[SUBMITTED_KEY] = run_id
    st.query_params[ui.RUN_QUERY_PARAM] = run_id
    record = ui.finished_within(run_id, ui.QUICK_RUN_SECONDS)
    if record is not None and record.status == "completed":
        st.switch_page(ui.RESULTS_PAGE, query_params={ui.RUN_QUERY_PARAM: run_id})


def show_run(run_id: str) -> None:
    record = ui.find_run(run_id)
    if record is None:
        return
    state = "" if record.is_active else f" · {record.status}"  # live: the progress says it
    st.markdown(f"{ui.STATUS_ICONS.get(record.status, '')} **{ui.plain(record.name)}**{state}")
    ui.show_run_state(record, cancel_key="analyze_cancel", on_complete=ui.RESULTS_PAGE)
    if record.status == "completed":
        st.page_link(ui.RESULTS_PAGE, label="Open the results", icon=":material/insights:",
                     query_params={ui.RUN_QUERY_PARAM: record.id})


st.title("Analyze a peak table")
st.caption("Upload annotated LC-MS/MS peaks of gangliosides (CSV or Excel with Name, RT, Volume, "
           "Log P, Anchor). The checker tests every annotation against retention time and "
           "chemistry; see Method for the rules.")

run_in_url = st.query_params.get(ui.RUN_QUERY_PARAM)
if run_in_url and run_in_url != st.session_state.get(SUBMITTED_KEY):
    forget_demo()   # arrived to look at (or re-run) another run: its input is the data
shown_run = None
if run_in_url:
    try:
        shown_run = ui.run_store().get_run(run_in_url)
    except LookupError:
        shown_run = None  # reported in the run panel

left, right = st.columns([3, 2], gap="large")
with left:
    st.subheader("1 · Data")
    st.file_uploader("Peak table (CSV or Excel)", type=["csv", "xlsx"], key="analyze_upload",
                     on_change=forget_demo,
                     help="CSV (comma, semicolon or tab separated) or Excel .xlsx.")
    with st.container(horizontal=True, vertical_alignment="center"):
        st.button("Try the demo data", key="analyze_demo", icon=":material/experiment:",
                  on_click=use_demo,
                  help=f"A generated table of {DEMO_ROWS} peaks with known answers.")
        st.caption(f"No file at hand? The demo is a generated table of {DEMO_ROWS} peaks "
                   "that goes through exactly the same checks.", width="stretch")
    source = chosen_source(shown_run)
    sheet = None
    usable = False
    if source is None:
        show_expected_format()
    else:
        origin = "Input of this run" if source.run_id else "File selected"
        st.caption(f"{origin}: **{ui.plain(source.file_name)}** "
                   f"({presentation.format_size(len(source.data))})")
        sheet = pick_sheet(source)
        usable = show_inspection(source, sheet)

with right:
    st.subheader("2 · Run")
    params = run_settings(source, shown_run)
    again = source is not None and source.run_id is not None
    busy = again and shown_run is not None and shown_run.is_active
    if st.button("Run again with these settings" if again else "Run analysis", key="analyze_run",
                 type="primary", icon=":material/play_arrow:", width="stretch",
                 disabled=not (usable and params) or busy,
                 help="This run is still in progress." if busy else None):
        submit_run(source, sheet, params)
    run_id = st.query_params.get(ui.RUN_QUERY_PARAM)
    if run_id:
        with st.container(border=True, key="analyze_status"):
            show_run(run_id)
ui.warm_up()
