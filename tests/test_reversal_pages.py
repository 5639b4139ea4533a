"""AppTest for the reversal-curse walkthrough: query controls, accuracy views, an exercise, URL state, bad input."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import open_page
from tests.test_pages import _texts

PAGE = "walkthroughs/reversal_curse.py"


def _page(query: dict | None = None) -> AppTest:
    return open_page(PAGE, query, timeout=180)


@pytest.fixture(scope="module")
def page():
    return _page()


def _metrics(at) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in at.metric:
        out.setdefault(m.label, m.value)
    return out


def test_page_renders_the_curse(page):
    assert not page.error and len(page.header) >= 4
    m = _metrics(page)
    assert m["pet's rank (forward)"] == "1 of 150"  # Gofik Rapudan, set A: forward works
    assert m["owner's rank (backward)"] != "1 of 150"  # ... backward does not
    texts = _texts(page)
    assert "set A (one-way)" in texts and "Over 3 training seeds" in texts


def test_pick_type_and_bad_names():
    at = _page()
    pick = at.selectbox(key="reversal_query.pick")
    control = next(o for o in pick.options if "set B" in o)
    pick.select(control).run()
    assert not at.exception and not at.error
    assert _metrics(at)["owner's rank (backward)"] == "1 of 150"  # control set: both directions
    assert at.query_params["reversal_query.name"] == control.split(" — ")[0]
    box = at.text_input(key="reversal_query.name")
    box.set_value("Nipel").run()  # a pet name works too
    assert not at.exception and "Voran Zotijer" in _texts(at)
    at.text_input(key="reversal_query.name").set_value("   ").run()
    assert not at.exception and "Type a person's full name" in _texts(at)
    for bad in ("Zorglub Q", "<script>alert(1)</script>", "\u202e\u0000🎉", "x" * 60):
        at.text_input(key="reversal_query.name").set_value(bad).run()
        assert not at.exception
        assert "is not a person or pet" in _texts(at), bad


def test_tampered_url_falls_back_with_a_notice():
    at = _page({"reversal_query.top_k": "9999", "reversal_query.name": "nobody here", "reversal_accuracy.view": "pie",
                "reversal_query.evil": "1"})
    texts = _texts(at)
    assert "were not valid" in texts and "Ignored unknown URL parameter" in texts
    assert _metrics(at)["pet's rank (forward)"] == "1 of 150"


def test_accuracy_views_and_url():
    at = _page({"reversal_query.name": "Nipel", "reversal_query.top_k": "40"})
    assert at.slider(key="reversal_query.top_k").value == 40
    for view in ("gap", "curve", "accuracy"):
        at.radio(key="reversal_accuracy.view").set_value(view).run()
        assert not at.exception and not at.error
    assert "reversal_accuracy.view" not in at.query_params  # back at the YAML default


def test_guess_set_exercise():
    at = _page()
    boxes = [t for t in at.text_input if t.key.endswith(".answer")]
    assert len(boxes) >= 3
    box = boxes[-1]  # the last exercise: which set do the wrong guesses come from
    box.set_value("B").run()
    button = next(b for b in at.button if b.key == box.key.rsplit(".", 1)[0] + ".check")
    button.click().run()
    assert not at.exception
    assert "set-B people" in _texts(at)
