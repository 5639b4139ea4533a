"""The privileged-basis page in a real browser: it renders clean, a control change lands in the URL,
hostile text stays text. Screenshot in test-artifacts/privileged-basis.png."""

from urllib.parse import quote

import pytest

from tests.test_browser import _assert_clean, _shoot, _wait_idle, browser, server  # noqa: F401 (fixtures)

expect = pytest.importorskip("playwright.sync_api").expect


def test_privileged_basis_page(server, browser):  # noqa: F811
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    payload = "<img src=x onerror=alert(1)>def f(x):\n    return x"
    page.goto(f"{server}/privileged_basis?basis_text.text={quote(payload)}", wait_until="networkidle")
    expect(page.get_by_text("Why no coordinate should be special").first).to_be_visible(timeout=90_000)
    _wait_idle(page, timeout=180_000)
    expect(page.get_by_text("Standard basis", exact=True).first).to_be_visible(timeout=60_000)
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=60_000)
    _assert_clean(page)
    _shoot(page, "privileged-basis.png")

    page.get_by_text("random", exact=True).first.click()  # the text widget's basis radio
    page.wait_for_url("**basis_text.basis=random**", timeout=30_000)
    _wait_idle(page)
    _assert_clean(page)
    assert not dialogs, dialogs
