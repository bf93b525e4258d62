"""Speed as a lab member feels it, in a real Chromium (issue 14): the first page, Run → results on
the sample, and a large run through the app to its Excel download.

    nice -n 10 python bench/browser.py                    # sample + a 100,000-row table
    nice -n 10 python bench/browser.py --rows 1000000     # 10^6 rows end to end

Each step is timed from the user's action to what they see: "server answering" is the health
endpoint's first reply after `streamlit run`; "first page interactive" is from then to the Analyze
page drawn, connected and idle; "Run → result tabs" from the click to the Results page's cards;
"large run" from the click to its results; "Excel download" from the click to the file saved.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "browser")]

from browser_support import CHROMIUM, CHROMIUM_ARGS, DATA, Server, wait_idle  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402

SAMPLE = DATA / "testwork_user.csv"


def timed(label: str, work) -> float:
    started = time.perf_counter()
    work()
    seconds = time.perf_counter() - started
    print(f"{label:<44} {seconds:7.2f} s", flush=True)
    return seconds


def upload_and_run(page, path: Path, rows_text: str, timeout_ms: int) -> None:
    with page.expect_file_chooser() as chooser:
        page.locator(".st-key-analyze_upload button[data-testid^='stBaseButton']:visible") \
            .first.click()
    chooser.value.set_files(str(path))
    expect(page.locator("[data-testid='stMetricValue']").first).to_have_text(
        rows_text, timeout=timeout_ms)
    wait_idle(page, timeout_ms)


def click_run_until_results(page, rows_text: str, timeout_ms: int) -> None:
    page.get_by_role("button", name="Run analysis").click()
    page.wait_for_url("**/results?run=*", timeout=timeout_ms)
    expect(page.get_by_role("tab", name="Overview")).to_be_visible(timeout=timeout_ms)
    expect(page.locator("[data-testid='stMetricValue']").first).to_have_text(
        rows_text, timeout=timeout_ms)


def big_table(path: Path, rows: int) -> None:
    from ganglioside.demo import make_demo_table

    make_demo_table(rows, seed=1).to_csv(path, index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the large run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        big = folder / "large.csv"
        big_table(big, args.rows)
        started = time.perf_counter()
        server = Server(folder / "runs.db", folder / "streamlit.log")
        print(f"{'server answering (streamlit run -> health)':<44} "
              f"{time.perf_counter() - started:7.2f} s")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 900},
                                        accept_downloads=True)
                timed("first page interactive (fresh server)",
                      lambda: (page.goto(server.url), wait_idle(page)))
                upload_and_run(page, SAMPLE, "323", 60_000)
                timed("Run -> result tabs, 323-row sample",
                      lambda: click_run_until_results(page, "323", 60_000))
                page.goto(server.url)
                wait_idle(page)
                big_rows = f"{args.rows:,}"
                timed(f"upload + inspect {big_rows} rows",
                      lambda: upload_and_run(page, big, big_rows, 600_000))
                timed(f"Run -> result tabs, {big_rows} rows",
                      lambda: click_run_until_results(page, big_rows, 1_800_000))

                def download() -> None:
                    prepare = page.get_by_role("button", name="Excel…")
                    if prepare.count():  # large: built in the background, then offered
                        prepare.click()
                        expect(page.get_by_role("button", name="Building the Excel file…")
                               ).to_be_visible(timeout=60_000)
                        print(f"{'  Excel: building shown after':<44} "
                              f"{time.perf_counter() - clicked:7.2f} s", flush=True)
                    with page.expect_download(timeout=1_800_000) as started_download:
                        page.get_by_role("button", name="Excel", exact=True).click(
                            timeout=1_800_000)
                    started_download.value.save_as(folder / "large.xlsx")

                clicked = time.perf_counter()
                timed(f"Excel download, {big_rows} rows", download)
                size = (folder / "large.xlsx").stat().st_size / 1e6
                print(f"{'Excel file size':<44} {size:7.1f} MB")
                browser.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
