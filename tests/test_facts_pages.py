"""AppTest for the fact-recall walkthrough: lookup controls, probe and layer views, exercises, URL state, bad input."""

import pytest
from streamlit.testing.v1 import AppTest

from app.analysis.facts import load_world
from tests.conftest import answer_exercises, open_page
from tests.test_pages import _texts

PAGE = "walkthroughs/fact_recall.py"
MODEL = "facts-small"


def _page(query: dict | None = None) -> AppTest:
    return open_page(PAGE, query, timeout=240)


@pytest.fixture(scope="module")
def page():
    return _page()


def test_page_renders_every_section(page):
    assert not page.error and len(page.header) >= 4
    texts = _texts(page)
    a = load_world(MODEL).athletes[0]
    assert f"**{a.name}** is an athlete of the world" in texts
    assert f"Everyone called {a.last_name}" in texts
    assert "Mean-ablation replaces one MLP's output" in texts


def test_lookup_controls_unseen_pair_and_url():
    at = _page()
    world = load_world(MODEL)
    a = world.athletes[0]
    stranger = next(f for f in world.first_names if world.find(f, a.last_name) is None)  # a pairing nobody has
    at.selectbox(key="fact_lookup.first").set_value(stranger).run()
    assert not at.exception and not at.error
    assert f"Nobody in the world is called {stranger} {a.last_name}" in _texts(at)
    assert at.query_params["fact_lookup.first"] == stranger
    at.radio(key="fact_lookup.attribute").set_value("city").run()
    assert not at.exception and at.query_params["fact_lookup.attribute"] == "city"
    again = _page({"fact_lookup.first": stranger, "fact_lookup.last": a.last_name, "fact_lookup.attribute": "city"})
    assert f"Nobody in the world is called {stranger} {a.last_name}" in _texts(again) and not again.error


def test_probe_and_layer_views():
    at = _page()
    at.radio(key="fact_probes.position").set_value("final").run()
    at.radio(key="fact_probes.attribute").set_value("city").run()
    assert not at.exception and not at.error
    assert at.query_params["fact_probes.position"] == "final"
    at.radio(key="fact_layers.view").set_value("patching").run()
    assert not at.exception and not at.error
    assert "Average over" in _texts(at)
    a = load_world(MODEL).athletes[3]
    at.selectbox(key="fact_layers.first").set_value(a.first_name).run()
    assert "give both a first and a last name" in _texts(at)  # half a pair: a message in place
    at.selectbox(key="fact_layers.last").set_value(a.last_name).run()
    assert not at.exception and not at.error
    assert f"Clean: {a.name}" in _texts(at)


def test_tampered_url_falls_back_with_a_notice():
    at = _page({"fact_lookup.first": "<script>alert(1)</script>", "fact_lookup.attribute": "colour",
                "fact_probes.position": "\u202e\u0000🎉", "fact_layers.first": "x" * 500, "fact_layers.evil": "1"})
    assert not at.exception and not at.error
    texts = _texts(at)
    assert texts.count("were not valid") >= 3 and "Ignored unknown URL parameter" in texts
    assert "<script>" not in "".join(m.value for m in at.markdown)


def test_exercises_check_answers():
    assert "Answer with" in answer_exercises(_page(), "not a number")
