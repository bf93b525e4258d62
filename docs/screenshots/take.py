"""Screenshots of every page at 1400, 800 and 390 px, for the README and for looking at.

    python docs/screenshots/take.py      # writes docs/screenshots/<page>_<width>.png

Starts its own server on a free port with a temporary database holding one run of the lab's
sample, and drives the Debian Chromium headless (as the browser tests do).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "browser")]

from browser_support import CHROMIUM, CHROMIUM_ARGS, Server  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from tour import HEIGHT, WIDTHS, tour  # noqa: E402

MAX_HEIGHT = 4000

from ganglioside.runs.store import RunStore  # noqa: E402
from tests.sample_runs import completed_run  # noqa: E402


def whole_page(page, path: Path, width: int) -> None:
    """The page at its full height (the app scrolls inside its own container, which a
    full-page screenshot does not see): grow the window to the content, shoot, shrink back."""
    height = page.evaluate("document.querySelector(\"[data-testid='stMain']\").scrollHeight")
    page.set_viewport_size({"width": width, "height": min(max(height, HEIGHT), MAX_HEIGHT)})
    page.wait_for_timeout(500)   # charts redraw at the new size
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": width, "height": HEIGHT})


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "runs.db"
        run_id = completed_run(RunStore(db), "testwork_user.csv", name="Porcine brain, batch 7",
                               user="A. Chemist", owner="a.chemist@lab.example")
        server = Server(db, Path(folder) / "streamlit.log")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                                     args=CHROMIUM_ARGS)
                for width in WIDTHS:
                    page = browser.new_page(viewport={"width": width, "height": HEIGHT})
                    tour(page, server.url, run_id,
                         lambda name: whole_page(page, HERE / f"{name}_{width}.png", width))
                    page.close()
                browser.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
