"""Real-browser journeys: a Streamlit server started by the test on a free port and a temp
database, driven by headless Chromium through Playwright (sync API)."""

from __future__ import annotations

from pathlib import Path

import pytest

from browser_support import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, Server


@pytest.fixture
def server(tmp_path):
    """A freshly started server (so deep links hit a server no page has been opened on)."""
    started = Server(tmp_path / "runs.db", tmp_path / "streamlit.log")
    yield started
    started.stop()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install the Debian chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def context(browser):
    created = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    created.set_default_timeout(30_000)
    yield created
    created.close()


@pytest.fixture
def page(context):
    return context.new_page()
