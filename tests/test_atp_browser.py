"""End to end on the attribution-patching page in a real browser: both views render clean with their
timing line, and a link opens the residual-stream view patched the other way."""

import pytest

from tests.test_browser import _assert_clean, _shoot, _wait_charts, _wait_idle, browser, server  # noqa: F401 (fixtures)

expect = pytest.importorskip("playwright.sync_api").expect


def test_attribution_patching_page_and_link(server, browser):  # noqa: F811
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    dialogs, outside = [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((server, "data:", "about:", "blob:")) else None)
    page.goto(f"{server}/attribution_patching", wait_until="networkidle")
    expect(page.get_by_text("AtP:").first).to_be_visible(timeout=180_000)
    _wait_idle(page, timeout=240_000)
    expect(page.get_by_text("AtP:").nth(1)).to_be_attached(timeout=180_000)
    page.wait_for_timeout(2000)
    _assert_clean(page)
    _wait_charts(page, 4)
    assert not dialogs and not outside, (dialogs, outside)
    _shoot(page, "attribution-patching.png")

    page.goto(f"{server}/attribution_patching?atp_resid.direction=noise", wait_until="networkidle")
    expect(page.get_by_text("one residual-stream slot (corrupted activation patched into the clean run)").first).to_be_attached(timeout=180_000)
    _wait_idle(page, timeout=240_000)
    _assert_clean(page)
    assert not dialogs and not outside, (dialogs, outside)
    page.get_by_text("Rows: the residual stream").first.scroll_into_view_if_needed()
    page.wait_for_timeout(1500)
    page.screenshot(path="test-artifacts/attribution-patching-resid.png")
