"""End to end on the grokking page in a real browser: it renders clean, and the slider moves every view."""

import pytest

from app import zoo
from tests.test_browser import _assert_clean, _shoot, _wait_charts, _wait_idle, browser, server  # noqa: F401 (fixtures)

expect = pytest.importorskip("playwright.sync_api").expect


def test_grokking_page_and_checkpoint_link(server, browser):  # noqa: F811
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((server, "data:", "about:", "blob:")) else None)
    page.goto(f"{server}/grokking", wait_until="networkidle")
    expect(page.get_by_text("Memorise first, generalise much later").first).to_be_visible(timeout=90_000)
    _wait_idle(page, timeout=180_000)
    expect(page.get_by_text("key frequencies (final model)").first).to_be_visible(timeout=60_000)
    page.wait_for_timeout(2000)
    _assert_clean(page)
    _wait_charts(page, 8)
    _shoot(page, "grokking.png")

    step = zoo.checkpoints("modadd-113")[len(zoo.checkpoints("modadd-113")) // 2]
    page.goto(f"{server}/grokking?grok_checkpoint.checkpoint={step}&logit_fourier.a=100&logit_fourier.b=50",
              wait_until="networkidle")
    expect(page.get_by_text("Scrub through training").first).to_be_visible(timeout=90_000)
    _wait_idle(page, timeout=180_000)
    expect(page.get_by_text(f"At step {step:,}.").first).to_be_attached(timeout=60_000)
    expect(page.get_by_text("(100 + 50) mod 113 = 37").first).to_be_attached(timeout=60_000)
    _assert_clean(page)
    assert not dialogs and not outside, (dialogs, outside)
    _shoot(page, "grokking-checkpoint.png")
