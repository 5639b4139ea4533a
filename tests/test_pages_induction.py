"""AppTest for the induction-heads walkthrough: every widget interaction, URL state, bad input."""

import pytest

from app import zoo
from tests.test_pages import _texts
from streamlit.testing.v1 import AppTest

from tests.conftest import open_page

PAGE = "walkthroughs/induction_heads.py"


def _page(query: dict | None = None) -> AppTest:
    return open_page(PAGE, query, timeout=180)


@pytest.fixture(scope="module")
def page():
    return _page()


def test_page_renders(page):
    assert len(page.header) >= 5
    assert not page.error
    assert "Previous-token head" in _texts(page) and "induction head" in _texts(page)


def test_repeated_tokens_follow_checkpoint_and_controls():
    at = _page()
    steps = zoo.checkpoints("attn-only-2l")
    at.select_slider(key="repeated_tokens.checkpoint").set_value(str(steps[0])).run()
    at.slider(key="repeated_tokens.half_len").set_value(12).run()
    at.number_input(key="repeated_tokens.seed").set_value(7).run()
    at.selectbox(key="repeated_tokens.layer").select(0).run()
    assert not at.exception and not at.error
    assert at.query_params["repeated_tokens.checkpoint"] == str(steps[0])
    at.selectbox(key="repeated_tokens.model").select("attn-only-1l").run()
    assert not at.exception and at.selectbox(key="repeated_tokens.layer").value == 0


def _advantages(at) -> tuple[float, float]:
    metrics = {mt.label: mt.value for mt in at.metric}
    return (float(metrics["2nd-copy advantage, intact"].split()[0]),
            float(metrics["… with the heads ablated"].split()[0]))


def test_ablation_destroys_second_copy_advantage():
    # content/induction-heads.yaml: L1H7 alone removes about half; L1H7+L1H0+L1H1, or L0H0, nearly all
    at = _page()
    at.multiselect(key="ablation.heads_list").select("L1H7").run()
    assert not at.exception
    intact, ablated = _advantages(at)
    assert intact > 3.0 and 0.3 * intact < ablated < 0.6 * intact, (intact, ablated)
    assert at.query_params["ablation.heads"] == "L1H7"
    at.multiselect(key="ablation.heads_list").select("L1H0").select("L1H1").run()
    assert _advantages(at)[1] < 0.2 * intact
    at.multiselect(key="ablation.heads_list").set_value(["L0H0"]).run()
    assert _advantages(at)[1] < 0.2 * intact
    at.radio(key="ablation.mode").set_value("mean").run()
    at.slider(key="ablation.half_len").set_value(20).run()
    assert not at.exception and not at.error


def test_phase_change_slider():
    at = _page()
    steps = zoo.checkpoints("attn-only-2l")
    for s in (steps[0], steps[len(steps) // 2]):
        at.select_slider(key="phase_change.checkpoint").set_value(str(s)).run()
        assert not at.exception and not at.error
        assert f"step {s}" in _texts(at)


def test_induction_text_bad_and_good_input():
    at = _page()
    at.text_input(key="induction_text.head").set_value("L9H9").run()
    assert any("not a head" in e.value for e in at.error)
    at.text_input(key="induction_text.head").set_value("auto").run()
    at.text_area(key="induction_text.text").set_value("no repeats here").run()
    assert not at.exception
    at.text_area(key="induction_text.text").set_value("").run()
    assert "empty" in _texts(at)


@pytest.mark.parametrize("query", [{"repeated_tokens.checkpoint": "123456"}, {"ablation.heads": "L7H1"},
                                   {"ablation.heads": "<b>x</b>"}, {"phase_change.checkpoint": "abc"}])
def test_tampered_url(query):
    at = _page(query)
    assert any("not valid" in w.value for w in at.warning)


def test_controls_keep_their_defaults_after_leaving_the_page():
    """Leaving a page drops its widgets' values; coming back must re-seed them from the YAML/URL, not reset them
    to each control's first option (a stale 'already seeded' flag once did)."""
    at = _page()

    def values():
        return {w.key: w.value for kind in (at.selectbox, at.slider, at.number_input, at.radio) for w in kind}

    before = values()
    at.switch_page("walkthroughs/home.py").run()
    at.switch_page(PAGE).run()
    assert not at.exception
    assert values() == before
