"""End to end on the Othello page: click the board in a real browser, the move is played and lands in the URL."""

import pytest

from tests.test_browser import _assert_clean, _shoot, _wait_idle, browser, server  # noqa: F401 (fixtures)

expect = pytest.importorskip("playwright.sync_api").expect


def _click_square(page, square: str) -> None:
    """Click the centre of a cell of the prediction board, located through plotly's own axis mapping."""
    col, row = "abcdefgh".index(square[0]), int(square[1]) - 1
    sel = ".st-key-othello_board-__board .js-plotly-plot"  # the first match is the graph div
    page.locator(sel).first.scroll_into_view_if_needed()
    x, y = page.evaluate(
        """([sel, col, row]) => { const gd = document.querySelector(sel); const r = gd.getBoundingClientRect();
           const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
           return [r.left + xa._offset + xa.l2p(col), r.top + ya._offset + ya.l2p(row)]; }""", [sel, col, row])
    page.mouse.click(x, y)


def test_click_to_play_and_illegal_click(server, browser):  # noqa: F811
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{server}/othello?othello_board.moves=f5", wait_until="networkidle")
    expect(page.get_by_text("Play against its world model").first).to_be_visible(timeout=90_000)
    _wait_idle(page, timeout=180_000)
    expect(page.get_by_text("White (○) to move").first).to_be_visible(timeout=60_000)
    # this module's server gets a deep link as its very first request: the navigation must still be ours
    nav = page.locator("[data-testid='stSidebarNav']")
    expect(nav.get_by_text("Home", exact=True)).to_be_visible(timeout=30_000)
    assert "streamlit app" not in nav.inner_text().lower()
    _click_square(page, "f6")  # legal for white after f5
    page.wait_for_url("**othello_board.moves=f5+f6**", timeout=60_000)
    _wait_idle(page)
    expect(page.get_by_text("Black (●) to move").first).to_be_visible(timeout=60_000)
    _click_square(page, "a1")  # never legal this early
    expect(page.get_by_text("a1 is not a legal move").first).to_be_visible(timeout=60_000)
    _assert_clean(page)
    assert not dialogs
    _shoot(page, "othello-click.png")
