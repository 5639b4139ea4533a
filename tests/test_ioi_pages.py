"""AppTest for the IOI walkthrough: every view renders, controls and URL state, bad input, exercises, hub message."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import answer_exercises, open_page
from tests.test_pages import _texts

PAGE = "walkthroughs/ioi.py"


def _page(query: dict | None = None) -> AppTest:
    return open_page(PAGE, query, timeout=300)


@pytest.fixture(scope="module")
def page():
    return _page()


def _metrics(at) -> list[str]:
    return [m.label for m in at.metric]


def test_page_renders_every_section(page):
    assert not page.error and len(page.header) >= 5
    texts = _texts(page)
    assert "logit diff Mary − John" in _metrics(page)
    assert "16 prompts like" in texts and "Each cell puts one corrupted activation" in texts
    table = page.dataframe[0].value
    assert list(table.columns) == ["class", "ioi-small", "GPT-2 small (Wang et al. 2022)"]
    assert "9.9, 10.0, 9.6" in set(table["GPT-2 small (Wang et al. 2022)"])
    assert "Unavailable: hub models are off" in texts  # offline by default, said in place


def test_prompt_builder_free_text_and_url():
    at = _page()
    at.radio(key="ioi_prompt.order").set_value("BABA").run()
    at.selectbox(key="ioi_prompt.io").set_value("Anna").run()
    assert not at.exception and not at.error
    assert at.query_params["ioi_prompt.order"] == "BABA" and at.query_params["ioi_prompt.io"] == "Anna"
    assert "logit diff Anna − John" in _metrics(at)
    at.text_area(key="ioi_prompt.text").set_value("When Kate and Paul met, Paul wrote 😀 <b>to</b>").run()
    assert not at.exception and not at.error
    assert "not in the model's word-level vocabulary" in _texts(at)
    at.selectbox(key="ioi_prompt.s").set_value("Anna").run()  # IO == S: a message, no traceback
    assert not at.exception and "must be different" in _texts(at)


def test_patching_views_and_other_model():
    at = _page({"ioi_patching.site": "z", "ioi_patching.corruption": "swap", "ioi_dla.model": "ioi-shortcut"})
    assert not at.exception and not at.error
    assert "IO ↔ S" in _texts(at) or at.radio(key="ioi_patching.corruption").value == "swap"
    at.radio(key="ioi_patching.site").set_value("resid_pre").run()
    assert not at.exception and not at.error and "ioi_patching.site" not in at.query_params  # back to the default


def test_knockout_view_moves_the_name_movers_towards_s(page):
    """The knock-out view: the S-inhibition head's default knock-out flips the logit difference and turns the movers
    to S; clearing the heads gives the intact run; a head the model lacks in the link is refused with a notice."""
    labels = _metrics(page)
    assert "Logit diff, intact" in labels and "… heads knocked out" in labels
    value = {m.label: float(m.value) for m in page.metric if m.label in ("Logit diff, intact", "… heads knocked out")}
    assert value["Logit diff, intact"] > 0 > value["… heads knocked out"]
    page.multiselect(key="ioi_knockout.heads_list").set_value([]).run()
    assert not page.exception and not page.error
    value = {m.label: float(m.value) for m in page.metric if m.label in ("Logit diff, intact", "… heads knocked out")}
    assert value["Logit diff, intact"] == value["… heads knocked out"]
    assert page.query_params["ioi_knockout.heads"] == ""
    at = _page({"ioi_knockout.heads": "L7H7"})
    assert not at.exception and not at.error and "were not valid" in _texts(at)
    assert at.multiselect(key="ioi_knockout.heads_list").value == ["L0H3"]  # back to the walkthrough's head


def test_tampered_url_falls_back_with_a_notice():
    at = _page({"ioi_prompt.io": "<script>alert(1)</script>", "ioi_prompt.template": "99", "ioi_dla.order": "CDDC",
                "ioi_patching.model": "attn-only-2l", "ioi_compare.n": "-5", "ioi_heads.evil": "1",
                "ioi_prompt.text": "\u202e\u0000" + "x" * 3000})
    assert not at.exception and not at.error
    texts = _texts(at)
    assert texts.count("were not valid") >= 4 and "Ignored unknown URL parameter" in texts
    assert "<script>" not in "".join(m.value for m in at.markdown)


def test_exercises_check_answers():
    answer_exercises(_page(), "not an answer")
