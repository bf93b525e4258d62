"""A visit of every page as a lab member sees it, at one window width: shared by the layout
tests (which check what is on screen) and docs/screenshots/take.py (which photographs it)."""

from __future__ import annotations

from typing import Callable

from browser_support import wait_idle

WIDTHS = (1400, 800, 390)
HEIGHT = 900
RESULT_TABS = ("Overview", "Regression", "Compounds", "Fragments", "OAc")
OVERFLOWING_JS = """() => {
  const boxes = "[data-testid='stMetric'], [data-testid='stMetricValue'],"
    + " [data-testid='stMetricLabel'], button, [role='tab'], [role='tablist'], label,"
    + " [data-testid='stWidgetLabel'], [data-testid='stExpander'] summary, h1, h2, h3";
  const cut = [];
  for (const element of document.querySelectorAll(boxes)) {
    if (!element.offsetParent || element.clientWidth === 0) continue;   // hidden
    if (element.closest("[data-testid='stSidebar']")) continue;          // drawn over the page
    if (element.scrollWidth > element.clientWidth + 1)
      cut.push(`${element.tagName} "${element.innerText.slice(0, 40)}" `
               + `${element.scrollWidth} > ${element.clientWidth}`);
  }
  const page = document.querySelector("[data-testid='stMain']");
  if (page && page.scrollWidth > page.clientWidth + 1)
    cut.push(`the page scrolls sideways: ${page.scrollWidth} > ${page.clientWidth}`);
  return cut;
}"""


def overflowing(page) -> list[str]:
    """Every visible card, button, tab, label or heading whose text is wider than its box, and
    a row of tabs that scrolls sideways (its last tabs hidden behind an arrow)."""
    return page.evaluate(OVERFLOWING_JS)


def tour(page, url: str, run_id: str, seen: Callable[[str], None]) -> None:
    """Open every page (and every results tab) and call ``seen(name)`` once each is drawn."""
    page.goto(url)
    wait_idle(page)
    seen("analyze_empty")
    page.get_by_role("button", name="Try the demo data").click()
    page.locator("[data-testid='stMetric']").first.wait_for()
    wait_idle(page)
    seen("analyze_demo")
    for tab in RESULT_TABS:
        page.goto(f"{url}/results?run={run_id}&results_tab={tab.replace(' ', '+')}")
        wait_idle(page)
        if tab == "Regression":
            page.locator(".st-key-results_chart_rt canvas, .st-key-results_chart_rt svg").first \
                .wait_for()
        seen(f"results_{tab.lower()}")
    page.goto(f"{url}/history")
    wait_idle(page)
    seen("history")
    page.goto(f"{url}/method")
    wait_idle(page)
    page.locator("[data-testid='stVegaLiteChart']").first.wait_for()
    seen("method")
