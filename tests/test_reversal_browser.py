"""The reversal-curse page in a real browser: renders clean with its charts, a typed name lands in the URL,
hostile text stays text. Screenshot in test-artifacts/reversal-curse.png."""

from urllib.parse import quote

import pytest

from tests.test_browser import _assert_clean, _shoot, _wait_idle, browser, server  # noqa: F401 (fixtures)

expect = pytest.importorskip("playwright.sync_api").expect


def test_reversal_curse_page(server, browser):  # noqa: F811
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    payload = "<img src=x onerror=alert(1)>"
    page.goto(f"{server}/reversal_curse?reversal_query_nipel.name={quote(payload)}", wait_until="networkidle")
    expect(page.get_by_text("A fact that only works one way").first).to_be_visible(timeout=90_000)
    _wait_idle(page, timeout=180_000)
    expect(page.get_by_text("pet's rank (forward)").first).to_be_visible(timeout=60_000)
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=60_000)
    expect(page.get_by_text("is not a person or pet").first).to_be_visible(timeout=30_000)  # the hostile URL name
    expect(page.get_by_text("95% Wilson interval over the 150 queries").first).to_be_visible(timeout=60_000)  # accuracy
    _assert_clean(page)
    _shoot(page, "reversal-curse.png")

    box = page.get_by_label("…or type a person's full name or a pet's name").first
    box.fill("Duju")
    box.press("Enter")
    page.wait_for_url("**reversal_query.name=Duju**", timeout=30_000)
    _wait_idle(page)
    expect(page.get_by_text("best-scoring owner of Duju is Jita Navijek").first).to_be_visible(timeout=30_000)
    _assert_clean(page)
    assert not dialogs, dialogs
