"""The dashboard's frame and router: page config, shared sidebar, one navigation.

Run with ``streamlit run app.py``. Every page lives in ``app_pages/`` and is thin: it reads its
inputs, calls the ``ganglioside`` core or submits a job, and draws the outcome. (Not ``pages/``:
beside the entry point that name makes a freshly started server serve a deep link such as
``/results`` as a legacy page without this frame, until some session has run this file.)
"""

import streamlit as st

import ui_helpers as ui
from ganglioside.errors import StoreFault
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


def sidebar(user) -> None:
    """Who is signed in (and Sign out, with OpenID Connect) and a link to the current run."""
    with st.sidebar:
        st.caption(f"Signed in as **{ui.plain(user.label)}** · {user.role}",
                   help="Members read every run and cancel or delete their own; admins "
                        "(GANGLIOSIDE_ADMINS) may do so for any run.")
        if st.user.get("is_logged_in"):
            st.button("Sign out", key="sidebar_sign_out", icon=":material/logout:",
                      on_click=st.logout)
        record = ui.peek_run(ui.selected_run_id())
        if record is not None:
            st.caption("Current run")
            st.page_link(ui.RESULTS_PAGE, label=ui.plain(record.name),
                         icon=ui.STATUS_ICONS.get(record.status, ":material/insights:"),
                         query_params={ui.RUN_QUERY_PARAM: record.id},
                         help=f"{record.status}; opens its results")
        st.caption(f"Algorithm version {ALGORITHM_VERSIONS[0]}")


def sign_in() -> None:
    """The only page offered before the user is known."""
    st.title("Ganglioside ID checker")
    if ui.auth_configured():
        st.write("Sign in with your institute account to see and start the lab's runs.")
        st.button("Sign in", key="sign_in", type="primary", icon=":material/login:",
                  on_click=st.login)
    else:
        st.error("The reverse proxy in front of this server did not say who you are. Open the "
                 "dashboard through the lab's address, or ask its administrator.")


def shown_store_faults(part, where=st) -> None:
    """Draw one part of the app; a run-store fault (disk full, damaged file, server down...)
    becomes a plain message there instead of a traceback, and the rest of the app still works."""
    try:
        part()
    except StoreFault as fault:
        where.error(ui.plain(str(fault)), icon=":material/database:")


user = ui.current_user()
if user is None:
    st.navigation([st.Page(sign_in, title="Sign in", url_path="sign-in")]).run()
    st.stop()
page = st.navigation(PAGES)
shown_store_faults(lambda: sidebar(user), st.sidebar)
shown_store_faults(page.run)
