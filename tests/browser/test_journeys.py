"""What a lab member does in a real browser: upload, watch progress, explore, download, reload,
deep links on a fresh server, History opening a run in the same tab. Screenshots go to /tmp/shots (1400x900)."""

from __future__ import annotations

import re

import numpy as np
import openpyxl
import pandas as pd
import pytest
from browser_support import DATA, REPO, Server, shot, wait_idle
from playwright.sync_api import expect

from ganglioside.params import AnalysisParams
from ganglioside.runs.store import RunStore
from tests.sample_runs import completed_run

pytestmark = pytest.mark.browser

SAMPLE = DATA / "testwork_user.csv"
SAMPLE_ROWS = 323
METHOD_TITLE = (REPO / "docs" / "overview.md").read_text(encoding="utf-8").splitlines()[0][2:]
TABS = ("Regression", "Compounds", "Fragments", "OAc", "Overview")
RUN_URL = re.compile(r".*[?&]run=([0-9a-f]{16}).*")


def widget(page, key: str):
    """The element Streamlit renders for the widget or container with this key."""
    return page.locator(f".st-key-{key}")


def click(page, key: str) -> None:
    widget(page, key).locator("button[data-testid^='stBaseButton']:visible").first.click()


def upload(page, path) -> None:
    with page.expect_file_chooser() as chooser:
        click(page, "analyze_upload")
    chooser.value.set_files(str(path))


def metric(page, label: str):
    """The value of the summary card with this label."""
    card = page.locator("[data-testid='stMetric']").filter(
        has=page.locator("[data-testid='stMetricLabel']", has_text=re.compile(f"^{label}")))
    return card.locator("[data-testid='stMetricValue']").first


def test_upload_run_explore_download_and_reload(server, page, tmp_path):
    page.goto(server.url)
    wait_idle(page)
    expect(page.get_by_role("heading", name="Analyze a peak table")).to_be_visible()
    shot(page, "01_analyze_empty")

    upload(page, SAMPLE)
    expect(metric(page, "Rows")).to_have_text(f"{SAMPLE_ROWS}")
    widget(page, "analyze_run_name").locator("input").fill("Porcine brain, batch 7")
    page.get_by_text("Advanced settings").click()
    expect(widget(page, "analyze_param_outlier_threshold")).to_be_visible()
    wait_idle(page)
    shot(page, "02_analyze_preview_and_settings")

    click(page, "analyze_run")   # the sample takes well under a second: results open directly
    page.wait_for_url(re.compile(r".*/results\?run=[0-9a-f]{16}"), timeout=120_000)
    expect(metric(page, "Rows")).to_have_text(f"{SAMPLE_ROWS}")
    expect(page.get_by_role("heading", name="Porcine brain, batch 7")).to_be_visible()
    wait_idle(page)
    shot(page, "04_results_overview")

    for tab in TABS:
        page.get_by_role("tab", name=tab).click()
        panel = page.get_by_role("tabpanel", name=tab)
        expect(panel).to_be_visible()
        if tab == "Regression":
            expect(widget(page, "results_chart_rt").locator("canvas, svg").first).to_be_visible()
        if tab == "Compounds":
            expect(widget(page, "results_compounds_table")).to_be_visible()
        wait_idle(page)
        shot(page, f"05_results_{tab.lower()}")

    with page.expect_download() as download:
        click(page, "results_download_xlsx")
    assert download.value.suggested_filename == "testwork_user_results.xlsx"
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    book = openpyxl.load_workbook(saved)
    assert book.sheetnames[:2] == ["Compounds", "Regression"]
    compounds = book["Compounds"]
    assert compounds.max_row == SAMPLE_ROWS + 1
    header = [cell.value for cell in next(compounds.iter_rows(max_row=1))]
    assert header[:3] == ["row_id", "line", "Name"] and "status" in header

    results_url = page.url
    page.reload()
    wait_idle(page)
    assert page.url == results_url
    expect(metric(page, "Rows")).to_have_text(f"{SAMPLE_ROWS}")
    expect(page.get_by_role("heading", name="Porcine brain, batch 7")).to_be_visible()


@pytest.mark.parametrize("path, heading", [("results?run={run}", "Deep link check"),
                                           ("history", "History"),
                                           ("method", METHOD_TITLE)])
def test_deep_link_on_a_freshly_started_server(tmp_path, page, path, heading):
    db = tmp_path / "runs.db"
    run_id = completed_run(RunStore(db), "testwork_small.csv", name="Deep link check")
    fresh = Server(db, tmp_path / "streamlit.log")   # no page opened on it yet
    try:
        page.goto(f"{fresh.url}/{path.format(run=run_id)}")
        wait_idle(page)
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
        nav = page.locator("[data-testid='stSidebarNav'] a")
        expect(nav).to_have_count(4)
        expect(nav.first).to_contain_text("Analyze")
        expect(page.get_by_text("Signed in as")).to_be_visible()   # the frame ran
        expect(page.get_by_text("Page not found")).to_have_count(0)
        shot(page, f"06_deep_link_{path.split('?')[0]}")
    finally:
        fresh.stop()


def big_table(path, rows: int = 150_000) -> None:
    """A long table (the sample repeated with jittered RT) so a run lasts several seconds."""
    sample = pd.read_csv(SAMPLE)
    table = sample.sample(n=rows, replace=True, random_state=7).reset_index(drop=True)
    table["RT"] = (table["RT"] + np.random.default_rng(7).normal(0, 0.03, rows)).round(3)
    table.to_csv(path, index=False)


def start_long_run(server, page, tmp_path) -> None:
    """Upload a 150,000-row table, run it, and wait until its progress bar shows."""
    big = tmp_path / "long_run.csv"
    big_table(big)
    page.goto(server.url)
    upload(page, big)
    expect(metric(page, "Rows")).to_have_text("150,000", timeout=120_000)
    click(page, "analyze_run")
    widget(page, "analyze_status").locator("[data-testid='stProgress']").wait_for()


def test_reload_mid_run_keeps_the_progress_and_reaches_results(server, page, tmp_path):
    start_long_run(server, page, tmp_path)
    page.wait_for_url(RUN_URL)
    run_id = RUN_URL.match(page.url).group(1)

    page.reload()
    progress = widget(page, "analyze_status").locator("[data-testid='stProgress']")
    progress.wait_for(state="visible")
    assert RUN_URL.match(page.url).group(1) == run_id
    expect(progress).to_contain_text(re.compile(r"Rule|Preprocessing|Reading|Running|Waiting"))
    shot(page, "07_progress_after_reload")
    page.wait_for_url(re.compile(rf".*/results\?run={run_id}"), timeout=300_000)
    expect(metric(page, "Rows")).to_have_text("150,000", timeout=120_000)


def test_history_opens_a_run_in_one_click_and_compares_two(server, page):
    completed_run(RunStore(server.db_path), "testwork_small.csv", name="Strict settings",
                  params=AnalysisParams(outlier_threshold=3.0, rt_tolerance=0.05))
    run_id = completed_run(RunStore(server.db_path), "testwork_small.csv", name="From history")
    page.goto(f"{server.url}/history")
    wait_idle(page)
    table = widget(page, "history_table")
    expect(table).to_be_visible()
    shot(page, "08_history")

    box = table.locator("[data-testid='stDataFrameResizable']").bounding_box()
    page.mouse.click(box["x"] + 55, box["y"] + 35 + 17)   # the "Open →" cell of the first row
    page.wait_for_url(RUN_URL)   # one click, the same tab (the identity stays)
    wait_idle(page)
    assert RUN_URL.match(page.url).group(1) == run_id
    expect(page.get_by_role("heading", name="From history")).to_be_visible()
    expect(metric(page, "Rows")).to_have_text("5")
    shot(page, "09_results_from_history")

    page.goto(f"{server.url}/history")
    wait_idle(page)

    for row in (0, 1):   # the selection checkboxes of the first two rows
        page.mouse.click(box["x"] + 16, box["y"] + 35 + 35 * row + 17)
        wait_idle(page)
        if row == 0:
            expect(page.get_by_role("link", name="Open results")).to_be_visible()
            expect(widget(page, "history_delete")).to_be_visible()
    expect(page.get_by_text("Differences: outlier_threshold, rt_tolerance")).to_be_visible()
    shot(page, "08b_history_compare")


def test_method_page(server, page):
    page.goto(f"{server.url}/method")
    wait_idle(page)
    expect(page.get_by_role("heading", name=METHOD_TITLE)).to_be_visible()
    shot(page, "10_method")


def test_a_running_analysis_can_be_cancelled(server, page, tmp_path):
    start_long_run(server, page, tmp_path)
    click(page, "analyze_cancel")
    expect(page.get_by_text("This analysis was cancelled")).to_be_visible(timeout=120_000)
    run_id = RUN_URL.match(page.url).group(1)
    assert RunStore(server.db_path).get_run(run_id).status == "cancelled"
    shot(page, "11_analyze_cancelled")
