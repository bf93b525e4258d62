"""The dashboard's server: ``streamlit run serve.py`` (``make run``).

It serves ``app.py`` (``st.App``) and, in its lifespan, starts the embedded worker when the server
starts, not when the first page is opened: runs submitted from the command line are executed and
runs left ``processing`` by a killed server are recovered with nobody on the site. The run store
is opened (and an SQLite file checked) at the same moment; a fault is logged as one message, and
the pages show it too.
"""

import logging
from contextlib import asynccontextmanager

import streamlit as st

import ui_helpers as ui
from ganglioside.errors import StoreFault

log = logging.getLogger("ganglioside.serve")


@asynccontextmanager
async def lifespan(app: st.App):
    """Start the run store's executor (the embedded worker) before the first request."""
    try:
        store, _ = ui.runner()
        counts = store.counts()
        log.warning("run store %s: %s; worker started", store.location, counts)
    except StoreFault as fault:
        log.error("%s", fault)
    yield


app = st.App("app.py", lifespan=lifespan)

if __name__ == "__main__":
    app.run()
