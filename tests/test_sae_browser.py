"""The monosemanticity page in a real browser: a shared feature link opens that feature with its charts and token
colouring, hostile text stays text. Screenshot in test-artifacts/monosemanticity.png."""

from urllib.parse import quote

import pytest

from tests.test_browser import _assert_clean, _shoot, _wait_idle, browser, server  # noqa: F401 (fixtures)

expect = pytest.importorskip("playwright.sync_api").expect


def test_monosemanticity_page(server, browser):  # noqa: F811
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    payload = "<img src=x onerror=alert(1)> def f(self):"
    page.goto(f"{server}/monosemanticity?sae_feature.feature=194&sae_text.text={quote(payload)}",
              wait_until="networkidle")
    expect(page.get_by_text("Neurons fire for many things").first).to_be_visible(timeout=90_000)
    _wait_idle(page, timeout=180_000)
    expect(page.get_by_text("Feature 194").first).to_be_visible(timeout=60_000)
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=60_000)
    expect(page.locator("iframe").first).to_be_visible(timeout=60_000)  # circuitsvis token colouring
    _assert_clean(page)
    _shoot(page, "monosemanticity.png")
    assert not dialogs, dialogs
