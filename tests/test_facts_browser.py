"""End to end on the fact-recall page in a real browser: it renders clean, and a link picks the athlete."""

import pytest

from app.analysis.facts import load_world
from tests.test_browser import _assert_clean, _shoot, _wait_charts, _wait_idle, browser, server  # noqa: F401 (fixtures)

expect = pytest.importorskip("playwright.sync_api").expect


def test_fact_recall_page_and_link(server, browser):  # noqa: F811
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    dialogs, outside = [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((server, "data:", "about:", "blob:")) else None)
    a = load_world("facts-small").athletes[9]
    page.goto(f"{server}/fact_recall?fact_lookup.first={a.first_name}&fact_lookup.last={a.last_name}",
              wait_until="networkidle")
    expect(page.get_by_text(f"Everyone called {a.last_name}").first).to_be_visible(timeout=120_000)
    _wait_idle(page, timeout=240_000)
    expect(page.get_by_text("Mean-ablation replaces one MLP").first).to_be_attached(timeout=120_000)
    page.wait_for_timeout(2000)
    _assert_clean(page)
    _wait_charts(page, 3)
    assert not dialogs and not outside, (dialogs, outside)
    _shoot(page, "fact-recall.png")

    page.goto(f"{server}/fact_recall?fact_layers.view=patching&fact_layers.first={a.first_name}"
              f"&fact_layers.last={a.last_name}&fact_probes.position=final", wait_until="networkidle")
    expect(page.get_by_text(f"Clean: {a.name}").first).to_be_attached(timeout=120_000)
    _wait_idle(page, timeout=240_000)
    _assert_clean(page)
    assert not dialogs and not outside, (dialogs, outside)
    page.get_by_text(f"Clean: {a.name}").first.scroll_into_view_if_needed()
    page.wait_for_timeout(1500)
    page.screenshot(path="test-artifacts/fact-recall-patching.png")
