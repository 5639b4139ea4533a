"""End to end on the IOI page in a real browser: it renders clean and offline, and a link sets the views."""

import pytest

from tests.test_browser import _assert_clean, _shoot, _wait_charts, _wait_idle, browser, server  # noqa: F401 (fixtures)

expect = pytest.importorskip("playwright.sync_api").expect


def test_ioi_page_and_link(server, browser):  # noqa: F811
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    dialogs, outside = [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((server, "data:", "about:", "blob:")) else None)
    page.goto(f"{server}/ioi?ioi_prompt.order=BABA&ioi_prompt.io=Kate&ioi_patching.site=z", wait_until="networkidle")
    expect(page.get_by_text("Interpretability in the Wild (IOI)").first).to_be_visible(timeout=120_000)
    expect(page.get_by_text("logit diff Kate − John").first).to_be_visible(timeout=120_000)
    _wait_idle(page, timeout=240_000)
    expect(page.get_by_text("Each cell puts one corrupted activation").first).to_be_attached(timeout=120_000)
    page.wait_for_timeout(2000)
    _assert_clean(page)
    _wait_charts(page, 6)
    assert not dialogs and not outside, (dialogs, outside)
    _shoot(page, "ioi.png")
