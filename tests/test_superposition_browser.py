"""The superposition page in the real browser: live training finishes, charts draw, a URL reproduces the view.

Uses the fixtures of tests/test_browser.py (Debian's Chromium through Playwright; skipped where it
is missing unless REQUIRE_BROWSER is set). Screenshot: test-artifacts/superposition.png.
"""

from playwright.sync_api import expect

from tests.test_browser import _assert_clean, _shoot, _wait_charts, _wait_idle, browser, server  # noqa: F401  (fixtures)


def test_superposition_page_trains_and_draws(server, browser):  # noqa: F811
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((server, "data:", "about:", "blob:")) else None)
    page.goto(f"{server}/superposition?toy_model.sparsity=0.97", wait_until="networkidle")
    expect(page.get_by_text("Five features, two dimensions").first).to_be_visible(timeout=90_000)
    _wait_idle(page, timeout=240_000)
    page.wait_for_timeout(2000)
    _assert_clean(page)
    _wait_charts(page, 6)
    body = page.inner_text("body")
    assert "5 of 5" in body  # the URL's sparsity: the pentagon
    assert "superposition" in body and "Dimensions per feature" in body
    assert not outside, outside
    _shoot(page, "superposition.png")
    page.close()
