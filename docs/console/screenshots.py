"""The README's pictures of the review console, made in Chromium from the demo data.

As `make run` does, the exports in `examples/demo` are scanned with the demo hash bank into a
database (here a temporary one), with `--cases` so that the findings open the cases a
reviewer takes; a specialist account is added to it, and the service is started on it. A
specialist (who alone sees every case, child sexual abuse included) then takes the private
conversation with `lea_13`, applies the engine's suggestion, previews and confirms it.
Nothing here comes from the tests. Run: `make screenshots` (writes docs/console/*.png).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
DEMO, BANK = ROOT / "examples" / "demo", ROOT / "examples" / "demo-bank.csv"
USER, PASSWORD = "sam", "demo specialist password"
# In the private conversation with lea_13, the message asking her for a photo.
NOTICE = "https://discord.com/channels/@me/800000000000000201/810000000000000022"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Debian's chromium on a machine without a display, a GPU or a network; a fresh profile.
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def veilleur(*args: str | Path, env: dict[str, str] | None = None) -> None:
    """The command line, as `make run` calls it (this Python's own `veilleur`)."""
    subprocess.run([sys.executable, "-m", "veilleur", *map(str, args)], cwd=ROOT, check=True,
                   env=env)


def demo_database(tmp: Path) -> Path:
    db = tmp / "demo.db"
    veilleur("scan", DEMO, "--bank", BANK, "--db", db, "--cases", "--quiet")
    veilleur("accounts", "add", USER, "--role", "specialist", "--language", "en", "--db", db,
             env=os.environ | {"VEILLEUR_PASSWORD": PASSWORD})
    return db


@contextmanager
def service(db: Path) -> Iterator[str]:
    """`veilleur serve` on the database, on a free loopback port; its address."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "veilleur", "serve", "--db", str(db),
                             "--port", str(port), "--media-root", str(DEMO)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the service did not start")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


def shoot(url: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 860}, locale="en-GB",
                                timezone_id="Europe/Paris")
        # lea_13 (or someone for her) reports the message asking for a photo on the public
        # form, as anyone may: the case then has a notice beside the engine's findings, and
        # the transparency pages count it.
        page.goto(f"{url}/notice?lang=en")
        page.fill("textarea[name=locations]", NOTICE)
        page.check("input[name=kind][value=grooming]")
        page.fill("textarea[name=explanation]", "an adult asks a 13-year-old for a photo")
        page.check("input[name=bona_fide]")
        page.wait_for_timeout(2500)  # the form's ticket must be a couple of seconds old
        page.click("button[type=submit]")
        page.wait_for_selector("#reference")
        page.wait_for_timeout(1500)  # the engine takes the notice in
        page.goto(f"{url}/console/login")
        page.fill("input[name=username]", USER)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{url}/console/")
        page.screenshot(path=str(OUT / "queue.png"), full_page=True)
        # The private conversation with lea_13: the case of the messages max_du_31 sent her.
        page.locator("#queue-rows tr[data-case]", has_text="max_du_31").first.locator(
            "a").first.click()
        page.wait_for_url("**/console/cases/*")
        page.click("#take button")
        page.wait_for_selector("#decision")
        if "lea_13" not in page.inner_text("#context"):
            raise RuntimeError("the case taken is not the conversation with lea_13")
        page.screenshot(path=str(OUT / "case.png"), full_page=True)
        page.click("#use-suggestion")
        page.keyboard.press("p")
        page.wait_for_selector("#confirm-button")
        page.locator("#decide").screenshot(path=str(OUT / "decision-form.png"))
        page.keyboard.press("c")
        page.wait_for_url("**/console/decisions/*")
        page.screenshot(path=str(OUT / "decision.png"), full_page=True)
        page.goto(f"{url}/console/transparency")
        page.screenshot(path=str(OUT / "transparency.png"), full_page=True)
        page.goto(f"{url}/transparency/{datetime.now(UTC).year}")
        page.screenshot(path=str(OUT / "transparency-report.png"))
        browser.close()


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    try:
        with service(demo_database(tmp)) as url:
            shoot(url)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"written: {', '.join(sorted(p.name for p in OUT.glob('*.png')))}")


if __name__ == "__main__":
    main()
