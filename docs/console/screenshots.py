"""The README's pictures of the review console, made in Chromium from the console tests'
demo world (tests/browser/test_console_review.py: a grooming conversation with a picture and
a video, an authority's order, a trusted flagger's notice, a child sexual abuse server kept
for specialists). Run: `make screenshots` (writes docs/console/*.png)."""

from __future__ import annotations

import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from tests.browser.conftest import ARGS, CHROMIUM, Server  # noqa: E402
from tests.browser.test_console_review import world  # noqa: E402
from tests.service.conftest import PASSWORD, open_service  # noqa: E402

from veilleur.service.app import create_app  # noqa: E402

OUT = Path(__file__).resolve().parent


def main() -> None:
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp())
    (tmp / "media").mkdir()
    try:
        for s in open_service(str(tmp / "v.db"), tmp):
            cases = world(s, tmp)
            with Server(create_app(runtime=s.rt, start=False)) as server, \
                    sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                            args=ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 860})
                page.goto(f"{server.url}/console/login")
                page.fill("input[name=username]", "rita")
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(f"{server.url}/console/")
                page.screenshot(path=str(OUT / "queue.png"), full_page=True)
                page.goto(f"{server.url}/console/cases/{cases['dm']}")
                page.click("#take button")
                page.wait_for_selector("#decision")
                page.screenshot(path=str(OUT / "case.png"), full_page=True)
                page.click("#use-suggestion")
                page.keyboard.press("p")
                page.wait_for_selector("#confirm-button")
                page.locator("#decide").screenshot(path=str(OUT / "decision-form.png"))
                page.keyboard.press("c")
                page.wait_for_url("**/console/decisions/*")
                page.screenshot(path=str(OUT / "decision.png"), full_page=True)
                page.goto(f"{server.url}/console/transparency")
                page.screenshot(path=str(OUT / "transparency.png"), full_page=True)
                page.goto(f"{server.url}/transparency/{datetime.now(UTC).year}")
                page.screenshot(path=str(OUT / "transparency-report.png"))
                browser.close()
            break
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"written: {', '.join(sorted(p.name for p in OUT.glob('*.png')))}")


if __name__ == "__main__":
    main()
