"""What a lab member sees at 1400, 800 and 390 px: no card, button, tab, label or heading cut
off, counts that add up to the compounds table, and a selected row followed across tabs."""

from __future__ import annotations

import re

import pytest
from browser_support import Server, wait_idle
from playwright.sync_api import expect
from tour import HEIGHT, WIDTHS, overflowing, tour

from ganglioside.presentation import TO_CHECK
from ganglioside.rules.status import STATUSES
from ganglioside.runs.store import RunStore
from tests.sample_runs import completed_run

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A server with one completed run of the lab's sample: (server, run id, result)."""
    folder = tmp_path_factory.mktemp("layout")
    store = RunStore(folder / "runs.db")
    run_id = completed_run(store, "testwork_user.csv", name="Porcine brain, batch 7")
    server = Server(folder / "runs.db", folder / "streamlit.log")
    yield server, run_id, store.load_result(run_id)
    server.stop()


def opened(browser, url: str, width: int = 1400):
    """A new page of this width showing ``url``, drawn and idle."""
    page = browser.new_page(viewport={"width": width, "height": HEIGHT})
    page.goto(url)
    wait_idle(page)
    return page


def card(page, label: str) -> int:
    value = page.locator("[data-testid='stMetric']").filter(
        has=page.locator("[data-testid='stMetricLabel']", has_text=re.compile(f"^{label}"))) \
        .locator("[data-testid='stMetricValue']").first.inner_text()
    return int(value.replace(",", ""))


@pytest.mark.parametrize("width", WIDTHS)
def test_nothing_is_cut_off_on_any_page(lab, browser, width):
    server, run_id, _ = lab
    page = browser.new_page(viewport={"width": width, "height": HEIGHT})
    cut = {}

    def check(name: str) -> None:
        found = overflowing(page)
        if found:
            cut[name] = found

    tour(page, server.url, run_id, check)
    page.close()
    assert not cut, cut


@pytest.mark.parametrize("width", WIDTHS)
def test_cards_add_up_to_the_compounds_table(lab, browser, width):
    server, run_id, result = lab
    page = opened(browser, f"{server.url}/results?run={run_id}", width)
    statuses = result.rows["status"].value_counts()
    assert card(page, "Rows") == len(result.rows)
    assert card(page, "Valid") == statuses.get("valid", 0)
    assert card(page, "To check") == sum(statuses.get(s, 0) for s in TO_CHECK)
    assert card(page, "Valid") + card(page, "To check") + card(page, "Unverified") + \
        card(page, "Invalid") == card(page, "Rows")
    expect(page.get_by_text(f"{statuses['outlier']} outliers, {statuses['fragment']} "
                            "fragments")).to_be_visible()
    page.close()


def test_a_row_selected_in_compounds_is_explained_and_followed_by_the_chart(lab, browser):
    server, run_id, result = lab
    page = opened(browser, f"{server.url}/results?run={run_id}&results_tab=Compounds")
    search = page.locator(".st-key-results_search input")
    search.fill("GM3(")
    search.press("Enter")
    wait_idle(page)
    grid = page.locator(".st-key-results_compounds_table [data-testid='stDataFrameResizable']")
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 16, box["y"] + 35 + 17)   # the first row's checkbox
    wait_idle(page)
    rows = result.rows
    first = rows[rows["Name"].str.contains("GM3(", regex=False)].iloc[0]
    pane = page.locator(".st-key-results_row_detail")
    expect(pane).to_contain_text(f"Line {first['line']} · {first['Name']}")
    expect(pane).to_contain_text("Rests on")
    page.get_by_role("tab", name="Regression").click()
    wait_idle(page)
    expect(page.get_by_role("combobox", name="Head group to plot")).to_have_value("GM3")
    page.close()


LEGEND_LABELS_JS = """() => [...document.querySelectorAll(
    ".st-key-method_rules [data-testid='stVegaLiteChart'] svg.marks")].map(svg => {
  const bottom = svg.getBoundingClientRect().bottom;
  return [...svg.querySelectorAll(".role-legend-label text")].map(text =>
    [text.textContent, text.getBoundingClientRect().bottom <= bottom + 0.5]);
})"""


@pytest.mark.parametrize("width", WIDTHS)
def test_every_method_figure_shows_its_whole_legend(lab, browser, width):
    """Each rule's figure draws the six statuses' colours, none cut off by the chart's edge
    (the Rule 5 figure's label above its bar once pushed the legend's last entry out)."""
    server, _, _ = lab
    page = opened(browser, f"{server.url}/method", width)
    page.locator(".st-key-method_rules [data-testid='stVegaLiteChart'] .role-legend-label") \
        .first.wait_for()
    legends = page.evaluate(LEGEND_LABELS_JS)
    page.close()
    assert len(legends) == 4
    for legend in legends:
        assert [label for label, _ in legend] == list(STATUSES), legend
        assert all(inside for _, inside in legend), legend


def test_the_overflow_check_sees_a_cut_off_button(lab, browser):
    server, _, _ = lab
    page = opened(browser, f"{server.url}/method", 390)
    assert overflowing(page) == []
    page.evaluate("""() => {
      const button = document.createElement("button");
      button.style.cssText = "width: 30px; overflow: hidden; white-space: nowrap";
      button.textContent = "Try the demo data";
      document.querySelector("[data-testid='stMainBlockContainer']").prepend(button);
    }""")
    assert any("Try the demo data" in found for found in overflowing(page))
    page.close()
