"""The dashboard's frame and router: page config, shared sidebar, one navigation.

Run with ``streamlit run app.py``. Every page lives in ``app_pages/`` and is thin: it reads its
inputs, calls the ``ganglioside`` core or submits a job, and draws the outcome. (Not ``pages/``:
beside the entry point that name makes a freshly started server serve a deep link such as
``/results`` as a legacy page without this frame, until some session has run this file.)
"""

import streamlit as st

import ui_helpers as ui
from ganglioside.params import ALGORITHM_VERSIONS

st.set_page_config(page_title="Ganglioside ID checker", page_icon="🧪", layout="wide",
                   initial_sidebar_state="auto")

PAGES = [
    st.Page(ui.ANALYZE_PAGE, title="Analyze", icon=":material/science:", url_path="analyze",
            default=True, help="Upload a peak table, or try the demo data, and run the checks"),
    st.Page(ui.RESULTS_PAGE, title="Results", icon=":material/insights:", url_path="results",
            help="Verdicts, charts and downloads of one run"),
    st.Page(ui.HISTORY_PAGE, title="History", icon=":material/history:", url_path="history",
            help="Every run of the lab: open, compare, delete"),
    st.Page(ui.METHOD_PAGE, title="Method", icon=":material/menu_book:", url_path="method",
            help="What each rule checks and what the parameters mean"),
]


def sidebar() -> None:
    """The user name (remembered for this browser session) and a link to the current run."""
    with st.sidebar:
        if ui.USER_KEY not in st.session_state and getattr(st.user, "is_logged_in", False):
            st.session_state[ui.USER_KEY] = st.user.get("name") or st.user.get("email") or ""
        st.text_input("Your name", key=ui.USER_KEY, placeholder="e.g. A. Chemist",
                      help="Recorded with the runs you start, so the lab can see who ran what "
                           "in History.")
        record = ui.peek_run(ui.selected_run_id())
        if record is not None:
            st.caption("Current run")
            st.page_link(ui.RESULTS_PAGE, label=ui.plain(record.name),
                         icon=ui.STATUS_ICONS.get(record.status, ":material/insights:"),
                         query_params={ui.RUN_QUERY_PARAM: record.id},
                         help=f"{record.status}; opens its results")
        st.caption(f"Algorithm version {ALGORITHM_VERSIONS[0]}")


page = st.navigation(PAGES)
sidebar()
page.run()
