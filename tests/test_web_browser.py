"""The web pages in a real headless Chromium (Debian's `chromium`, driven by Playwright's Python package).

An ILO logs in, corrects a notice's areas, removes a company from a notice and approves the
digest, which then arrives at a local SMTP server (aiosmtpd) with the corrections; a company
opens its signed link, adds a keyword, sees the preview change and unsubscribes a recipient.
The app runs on 127.0.0.1 in werkzeug's server in a thread. Screenshots of the main pages are
taken on every run, into a temporary folder; to refresh the ones the README shows, run with
`ILO_MONITOR_SCREENSHOTS=tests/screenshots` (so that a test run never changes tracked files).

Skipped, saying why, where /usr/bin/chromium or Playwright is absent (a user's machine); CI
installs the `chromium` package.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select
from test_alerts_support import SmtpServer, smtp_env, smtp_server
from test_web_support import PASSWORD, SECRET, build_world, make_app
from werkzeug.serving import make_server

from monitor.db import open_database, session_scope
from monitor.matching.models import Recipient
from monitor.web.tokens import CompanyLinks

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("ILO_MONITOR_SCREENSHOTS") or Path(tempfile.gettempdir()) / "ilo-monitor-screenshots")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright's Python package is not installed")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="browser tier skipped: /usr/bin/chromium is absent (apt-get install chromium)"
)
__all__ = ["smtp_server"]  # the fixture, imported for pytest


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def site(tmp_path: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """(base URL of the running app, database URL), mail going to the loopback SMTP server."""
    smtp_env(monkeypatch, smtp_server, tmp_path)
    monkeypatch.setenv("ILO_MONITOR_ILO_EMAILS", "ilos@ilo.example.nl")
    url = build_world(tmp_path)
    app = make_app(url)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", url
    finally:
        server.shutdown()
        thread.join(5)


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def test_ilo_reviews_corrects_and_approves_the_digest_which_arrives_corrected(
    browser: Any, site: tuple[str, str], smtp_server: SmtpServer
) -> None:
    base, _ = site
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.set_default_timeout(10_000)
    page.goto(f"{base}/ilo/digest")
    assert "/login" in page.url  # the ILO pages are behind the login
    _shot(page, "login.png")
    page.fill("input[name=email]", "jan@ilo.example.nl")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Log in')")
    page.wait_for_url(f"{base}/ilo/digest")
    assert page.locator("h1").inner_text() == "ILO weekly digest, week 2026-W48"
    # The hostile title is on the page as text, and nothing ran.
    assert page.locator("#notice-3").inner_text().count('<script>alert("x")</script>') == 1

    tools = page.locator("#tools-1")
    tools.locator("input[name=areas]").fill("vacuum")
    tools.locator("button:has-text('Save areas')").click()
    page.wait_for_selector(".flash:has-text('Areas corrected')")
    page.locator("#tools-1 button[aria-label^='Remove Acme']").click()
    page.wait_for_selector(".flash:has-text('Acme B.V. removed')")
    assert page.locator("#tools-1 .companies").inner_text().startswith("none")
    _shot(page, "ilo-digest.png")

    page.goto(f"{base}/ilo/notices/1")
    assert "corrected" in page.locator("#history").inner_text()
    _shot(page, "ilo-notice.png")
    page.goto(f"{base}/ilo/notices?text=cryostat")
    _shot(page, "ilo-notices.png")

    page.goto(f"{base}/ilo/digest")
    page.click("#approve")
    page.wait_for_selector("#approval")
    assert "Approved by Jan" in page.locator("#approval").inner_text()
    assert page.locator("#approve").count() == 0

    received = smtp_server.handler.to("ilos@ilo.example.nl")
    assert len(received) == 1
    html = received[0].message.get_body(("html",)).get_content()
    soup = BeautifulSoup(html, "html.parser")
    item = next(div for div in soup.select("div.item") if "Cryostat for HL-LHC" in div.get_text())
    # Filed under the corrected area, and Acme is gone from it.
    heading = item.find_previous("p").get_text()
    assert "Vacuum" in heading, heading
    assert "Acme" not in item.get_text() and "Companies: none" in " ".join(item.get_text().split())
    page.close()


def test_company_adds_a_keyword_sees_the_preview_change_and_unsubscribes(browser: Any, site: tuple[str, str]) -> None:
    base, url = site
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.set_default_timeout(10_000)
    page.goto(f"{base}/company/{CompanyLinks(SECRET).token('acme')}/")
    assert "Acme B.V." in page.locator("h1").inner_text()
    before = int(page.locator("#preview-count-1").inner_text())
    assert "Turbomolecular pumps" not in page.locator("#preview-1").inner_text()

    keywords = page.locator("#profile-1 textarea[name=keywords]")
    keywords.fill(keywords.input_value() + "\nturbomolecular")
    page.click("#profile-1 button[value=save]")
    page.wait_for_selector(".flash:has-text('Profile default saved')")
    assert int(page.locator("#preview-count-1").inner_text()) == before + 1
    assert "Turbomolecular pumps" in page.locator("#preview-1").inner_text()
    _shot(page, "company.png")

    page.click("button[aria-label='Unsubscribe a@acme.example.nl']")
    page.wait_for_selector(".flash:has-text('a@acme.example.nl is unsubscribed')")
    with session_scope(open_database(url)) as session:
        stops = {r.email: r.unsubscribed_at for r in session.scalars(select(Recipient))}
    assert stops["a@acme.example.nl"] is not None and stops["b@acme.example.nl"] is None

    # The unsubscribe link of a message: GET shows a confirmation and changes nothing.
    from alerts.tokens import Signer

    page.goto(f"{base}/unsubscribe/{Signer(SECRET).unsubscribe_token(recipient_id=2)}")
    assert page.locator("button:has-text('Yes, unsubscribe')").count() == 1
    _shot(page, "unsubscribe.png")
    with session_scope(open_database(url)) as session:
        assert session.scalars(select(Recipient).where(Recipient.id == 2)).one().unsubscribed_at is None
    page.close()
