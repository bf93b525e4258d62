"""Helpers of the AppTest suite: paths, sample runs, finding elements by key or columns."""

from __future__ import annotations

import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.sample_runs import DATA, completed_run  # noqa: F401 (used by the page tests)

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "app.py"
TIMEOUT = 60


def sample_bytes(name: str) -> bytes:
    return (DATA / name).read_bytes()


def open_page(app: AppTest, page: str, run_id: str | None = None) -> AppTest:
    """Switch to app_pages/<page>.py (optionally with ?run=ID) and run it."""
    if run_id is not None:
        app.query_params["run"] = run_id
    return app.switch_page(f"app_pages/{page}.py").run()


def by_key(elements, key: str):
    """The element of a list with this widget/element key (AssertionError if absent)."""
    found = [e for e in elements if getattr(e, "key", None) == key]
    keys = [getattr(e, "key", None) for e in elements]
    assert found, f"no element with key {key!r}; keys: {keys}"
    return found[0]


def table_with(app: AppTest, *columns: str):
    """The value of the first st.dataframe having all these columns (display-only tables carry
    no key in AppTest)."""
    for frame in app.dataframe:
        if set(columns) <= set(frame.value.columns):
            return frame.value
    raise AssertionError(f"no table with columns {columns}")


def page_links(elements) -> list[tuple[str, str]]:
    """(label, query string) of every page link in an AppTest element tree (an app, a sidebar)."""
    return [(link.proto.label, link.proto.query_string) for link in elements.get("page_link")]


def no_exception(app: AppTest) -> None:
    assert not app.exception, [e.value for e in app.exception]


def raw_texts(elements) -> str:
    """The Markdown source of these elements."""
    return "\n".join(str(e.value) for e in elements)


def texts(elements) -> str:
    """What a reader sees: the Markdown source without backslash escapes (nor the invisible
    word joiners ``ui.plain`` puts after an ``@``)."""
    return re.sub(r"\\(.)", r"\1", raw_texts(elements)).replace("\u2060", "")
