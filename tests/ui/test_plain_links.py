"""Issue 13 item 10: a URL, a www. address or an e-mail address in uploaded text, a run name or
a user name is never rendered as a link, on any page.

Streamlit renders Markdown with GitHub's autolinks: ``http://…``, ``www.…`` and ``a@b.c`` become
links without brackets. ``ui.plain`` escapes ``:`` and ``.`` and puts a word joiner after ``@``,
which breaks all three (the renderer finds e-mail addresses after unescaping); this test
walks every Markdown-rendering element of every page and fails on any unescaped one.
"""

from __future__ import annotations

import re

from apptest_support import completed_run, no_exception, open_page
from streamlit.testing.v1 import AppTest

import ui_helpers as ui
from ganglioside.runs.executors import SynchronousExecutor

HOSTILE = "see http://evil.example www.evil.example mail a@evil.example"
AUTOLINK = re.compile(r"(?<!\\)(https?|ftp)(?<!\\):(?<!\\)//|www\.|@[\w-]+\.[a-z]", re.I)
MARKDOWN_ELEMENTS = ("markdown", "caption", "error", "warning", "info", "success", "title",
                     "header", "subheader", "exception", "toast")


def markdown_sources(app: AppTest) -> list[str]:
    """The Markdown source of every element Streamlit renders as Markdown, and of labels."""
    texts = [str(element.value) for kind in MARKDOWN_ELEMENTS for element in app.get(kind)]
    texts += [str(element.value) for kind in MARKDOWN_ELEMENTS
              for element in app.sidebar.get(kind)]
    texts += [link.proto.label for link in [*app.get("page_link"),
                                            *app.sidebar.get("page_link")]]
    texts += [element.proto.label for kind in ("expander", "tab", "metric")
              for element in app.get(kind)]
    return texts


def links_in(app: AppTest) -> list[str]:
    return [text for text in markdown_sources(app) if AUTOLINK.search(text)]


def test_plain_breaks_every_kind_of_autolink():
    assert AUTOLINK.search(HOSTILE)  # the pattern finds what Streamlit would link
    assert not AUTOLINK.search(ui.plain(HOSTILE))
    assert ui.plain(HOSTILE).replace("\\", "").replace("\u2060", "") == HOSTILE


def test_no_page_renders_a_link_from_a_name_a_user_or_a_file(app, store):
    run_id = completed_run(store, name=HOSTILE, user=HOSTILE)
    failing = store.create_run(f"Name,RT\n{HOSTILE},x\n".encode(), "http://evil.example.csv",
                               name=HOSTILE, user=HOSTILE)
    SynchronousExecutor(store).submit(failing)
    app.user = {"is_logged_in": True, "email": "chemist@lab.example", "name": HOSTILE}

    shown_on = []
    for page, run in (("analyze", run_id), ("results", run_id), ("history", None),
                      ("analyze", failing), ("results", failing), ("method", None)):
        open_page(app, page, run)
        no_exception(app)
        assert not links_in(app), (page, links_in(app))
        if any("evil" in text for text in markdown_sources(app)):
            shown_on.append(page)
    assert {"analyze", "results"} <= set(shown_on)  # the hostile text was drawn, escaped
