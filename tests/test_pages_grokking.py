"""AppTest for the grokking walkthrough: every widget follows its controls and checkpoints; bad URLs get notices."""

import pytest
from streamlit.testing.v1 import AppTest

from app import zoo
from tests.conftest import open_page
from tests.test_pages import _texts as _md_texts

PAGE = "walkthroughs/grokking.py"
MODEL = "modadd-113"


def _texts(at) -> str:
    return _md_texts(at) + "\n" + "\n".join(f"{m.label}: {m.value}" for m in at.metric)


def _page(query: dict | None = None) -> AppTest:
    return open_page(PAGE, query, timeout=240)


@pytest.fixture(scope="module")
def page():
    return _page()


def test_page_renders_every_section(page):
    assert len(page.header) >= 6
    assert not page.error
    text = _texts(page)
    keys = zoo.metrics(MODEL)["key_frequencies"]
    assert ", ".join(map(str, keys)) in text  # the key frequencies are listed
    assert "logit variance in the key cosines" in text


def test_checkpoints_drive_the_views(page):
    steps = zoo.checkpoints(MODEL)
    early, mid = str(steps[0]), str(steps[len(steps) // 2])
    for key in ("grok_curves", "fourier_embedding", "periodic_activations", "logit_fourier", "grok_checkpoint"):
        page.select_slider(key=f"{key}.checkpoint").set_value(early).run()
        assert not page.exception and not page.error, key
        assert page.query_params[f"{key}.checkpoint"] == early
    assert f"step {int(early):,}" in _texts(page)
    page.select_slider(key="grok_checkpoint.checkpoint").set_value(mid).run()
    assert not page.exception and not page.error


def test_controls_and_url_round_trip():
    at = _page()
    at.radio(key="grok_curves.panel").set_value("accuracy").run()
    at.toggle(key="grok_curves.log_x").set_value(True).run()
    at.number_input(key="periodic_activations.neuron").set_value(5).run()
    at.number_input(key="logit_fourier.a").set_value(100).run()
    at.number_input(key="logit_fourier.b").set_value(50).run()
    assert not at.exception and not at.error
    assert "(100 + 50) mod 113 = **37**" in _texts(at)
    assert at.query_params["grok_curves.panel"] == "accuracy"
    assert at.query_params["periodic_activations.neuron"] == "5"
    at.radio(key="periodic_activations.kind").set_value("attention").run()
    at.selectbox(key="periodic_activations.head").select(3).run()
    assert not at.exception and not at.error
    assert at.query_params["periodic_activations.head"] == "3"
    assert at.query_params["periodic_activations.kind"] == "attention"
    again = _page({"logit_fourier.a": "100", "logit_fourier.b": "50", "periodic_activations.kind": "attention"})
    assert "(100 + 50) mod 113 = **37**" in _texts(again) and not again.error


def test_tampered_url_gets_notices_not_errors():
    at = _page({"grok_curves.panel": "<b>bogus</b>", "periodic_activations.neuron": "99999",
                "logit_fourier.a": "500", "fourier_embedding.checkpoint": "12345678", "grok_checkpoint.oops": "1",
                "periodic_activations.head": "-3"})
    assert not at.exception and not at.error
    warnings = " ".join(w.value for w in at.warning)
    assert warnings.count("were not valid") >= 4
    assert any("Ignored unknown URL parameter" in i.value for i in at.info)
