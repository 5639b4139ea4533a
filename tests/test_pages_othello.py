"""AppTest for the Othello-GPT walkthrough: playing, scrubbing, probes, edits, URL state, bad input."""

import re

import pytest
from streamlit.testing.v1 import AppTest

from app import zoo
from tests.conftest import ROOT, open_page
from tests.test_pages import _texts

PAGE = "walkthroughs/othello.py"


def _page(query: dict | None = None) -> AppTest:
    return open_page(PAGE, query, timeout=180)


@pytest.fixture(scope="module")
def page():
    return _page()


def test_page_renders(page):
    assert len(page.header) >= 5
    assert not page.error
    assert "to move" in _texts(page)
    assert "Its top move" in _texts(page) and "of 64 squares wrong" in _texts(page)


def test_buttons_play_undo_reset_and_url():
    at = _page()
    box = at.text_input(key="othello_board.moves")
    start = box.value
    at.button(key="othello_board.__rand").click().run()
    after = at.text_input(key="othello_board.moves").value
    assert len(after.split()) == len(start.split()) + 1
    assert at.query_params["othello_board.moves"] in (after, [after])
    at.button(key="othello_board.__undo").click().run()
    assert at.text_input(key="othello_board.moves").value == start
    at.button(key="othello_board.__reset").click().run()
    assert at.text_input(key="othello_board.moves").value == ""
    assert "play the first move" in _texts(at)
    assert not at.exception


def test_typed_illegal_move_is_named_in_place():
    at = _page()
    at.text_input(key="othello_board.moves").set_value("f5 f5").run()
    assert any("move 2 (f5) is illegal" in e.value for e in at.error)
    at.text_input(key="othello_board.moves").set_value("f5 zz").run()
    assert any("not a move list" in e.value for e in at.error)
    assert not at.exception


def test_sample_game_and_scrubber():
    at = _page()
    at.selectbox(key="othello_board.__sample").set_value(1).run()
    moves = at.text_input(key="othello_board.moves").value.split()
    assert len(moves) >= 50
    at.slider(key="othello_board.upto").set_value(10).run()
    assert "Black (●) to move" in _texts(at) or "White (○) to move" in _texts(at)
    assert at.text_input(key="othello_board.moves").value.split() == moves  # scrubbing keeps the game
    assert not at.exception


@pytest.mark.parametrize("basis", ["mine_theirs", "black_white"])
def test_probe_layers_and_bases(basis):
    at = _page()
    at.radio(key="othello_board.basis").set_value(basis).run()
    for layer in (0, zoo.config("othello-gpt")["n_layers"]):
        at.slider(key="othello_board.layer").set_value(layer).run()
        assert not at.exception and not at.error


def test_edit_view_and_bad_square():
    at = _page()
    assert "edited board's legal moves" in _texts(at)
    at.slider(key="othello_edit.layer").set_value(0).run()
    assert not at.exception
    at.text_input(key="othello_edit.moves").set_value("").run()
    assert any("at least one move" in e.value for e in at.error)


@pytest.mark.parametrize("query", [{"othello_board.moves": "f5 f5 f5"}, {"othello_board.layer": "99"},
                                   {"othello_board.model": "attn-only-2l"}, {"othello_edit.square": "z9"},
                                   {"othello_edit.square": "a1"}, {"othello_board.moves": "<script>alert(1)</script>"},
                                   {"othello_attention.layer": "-1"}])
def test_tampered_url(query):
    at = _page(query)
    assert any("not valid" in w.value for w in at.warning)
    assert not at.exception


def test_prose_numbers_match_the_card():
    text = (ROOT / "content" / "othello.yaml").read_text()
    m = zoo.metrics("othello-gpt")
    for value in (m["intervention_match_rate"], m["intervention_unedited_match_rate"]):
        assert f"{value:.0%}" in text
    assert re.search(r"stuck near 75%", text) and 0.70 <= max(m["probe_acc_black_white"]) <= 0.80
