"""AppTest fixtures: the app through its entry point, a temp run store per test and the
synchronous executor (GANGLIOSIDE_EXECUTOR=sync), so a submitted run is finished when the
script run that submitted it ends."""

from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from apptest_support import APP, TIMEOUT
from ganglioside.runs.store import RunStore


@pytest.fixture(autouse=True)
def isolated_store(tmp_path, monkeypatch):
    """Every test gets its own database and empty Streamlit caches."""
    db = tmp_path / "runs.db"
    monkeypatch.setenv("GANGLIOSIDE_DB", str(db))
    monkeypatch.setenv("GANGLIOSIDE_EXECUTOR", "sync")
    monkeypatch.delenv("GANGLIOSIDE_RETENTION_DAYS", raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield db
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def store(isolated_store) -> RunStore:
    return RunStore(isolated_store)


@pytest.fixture
def app() -> AppTest:
    """The app on its landing page (Analyze)."""
    return AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()


