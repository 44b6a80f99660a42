"""The operator dashboard in a real headless Chromium, against the real running service."""

import shutil
import sqlite3

import pytest

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def page():
    if CHROMIUM is None:
        pytest.skip("no chromium on PATH (Debian package 'chromium'; .ci/run installs it)")
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 850})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        yield page, errors
        browser.close()


def test_operator_sees_track_and_alert_and_acknowledges_it(service, page, tmp_path):
    _, base, db_path = service
    pg, errors = page
    pg.goto(base + "/")
    playwright_api.expect(pg.locator("#conn-state")).to_have_text("live", timeout=20_000)
    pg.locator("#map [data-track-id]").first.wait_for(timeout=30_000)
    ack_button = pg.locator("#alerts [data-alert-id] button.ack").first
    ack_button.wait_for(timeout=45_000)
    alert_id = int(
        pg.locator("#alerts [data-alert-id]").first.get_attribute("data-alert-id") or "0"
    )
    ack_button.click()
    pg.fill("#ack-operator", "browser-operator")
    pg.fill("#ack-note", "seen from the dashboard")
    pg.click("#ack-submit")
    card = pg.locator(f'#alerts [data-alert-id="{alert_id}"]')
    playwright_api.expect(card).to_contain_text("browser-operator", timeout=10_000)
    pg.screenshot(path=str(tmp_path / "dashboard.png"))

    with sqlite3.connect(db_path) as db:
        row = db.execute(
            "SELECT state, acknowledged_by, note FROM alerts WHERE alert_id=?", (alert_id,)
        ).fetchone()
    assert row == ("acknowledged", "browser-operator", "seen from the dashboard")
    assert errors == [], f"JavaScript errors on the page: {errors}"
