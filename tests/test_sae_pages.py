"""AppTest for the monosemanticity walkthrough: every view renders, the feature URL round-trips, search, live
text, sliders, tampered URL params and bad text give messages, and the exercise checks answer on the shipped SAE."""

import json

import pytest
from streamlit.testing.v1 import AppTest

from app import zoo
from app.analysis import sae as S
from app.exercises import run_check
from tests.conftest import open_page
from tests.test_pages import _texts

PAGE = "walkthroughs/monosemanticity.py"
MODEL = "code-1l-mlp"


def _page(query: dict | None = None) -> AppTest:
    return open_page(PAGE, query, timeout=240)


@pytest.fixture(scope="module")
def page():
    return _page({"sae_feature.feature": "7"})


def test_page_renders_every_view(page):
    assert not page.error and len(page.header) >= 5
    texts = _texts(page)
    assert "**Feature 7**" in texts and "Per token:" in texts
    labels = {m.label: m.value for m in page.metric}
    shipped = json.loads((zoo.MODELS_DIR / MODEL / "sae" / "metrics.json").read_text())
    assert labels["Loss recovered"] == f"{shipped['loss_recovered']:.1%}"
    assert labels["Dense in the neuron basis (ours)"] == f"{shipped['dense_in_neuron_basis_fraction']:.0%}"
    assert labels["Open replication (Nanda 2023)"] == "92%"


def test_feature_picker_search_and_url():
    at = _page()
    at.number_input(key="sae_feature.feature").set_value(11).run()
    assert not at.exception and at.query_params["sae_feature.feature"] == "11"
    assert "**Feature 11**" in _texts(at)
    at.text_input(key="sae_feature.search").input("self").run()
    assert not at.exception and at.query_params["sae_feature.search"] == "self"
    at.text_input(key="sae_feature.search").input("⟂☃no-such-token").run()
    assert not at.exception and any("No feature's top-activating tokens contain" in i.value for i in at.info)


def test_tampered_url_params_fall_back_with_a_notice():
    at = _page({"sae_feature.feature": "999999", "sae_density.share": "abc", "sae_text.feature": "-7"})
    assert not at.exception
    assert sum("not valid" in w.value for w in at.warning) == 3
    assert "**Feature 1067**" in _texts(at)  # the YAML default


def test_live_text_and_density_controls():
    at = _page()
    at.text_area(key="sae_text.text").input("").run()
    assert not at.exception and any("empty" in w.value for w in at.warning)
    at.text_area(key="sae_text.text").input("<script>alert(1)</script> import os\u202e\x00 " * 3).run()
    assert not at.exception and not at.error
    at.number_input(key="sae_text.feature").set_value(5).run()
    assert not at.exception and at.query_params["sae_text.feature"] == "5"
    at.slider(key="sae_density.threshold").set_value(50).run()
    assert not at.exception and at.query_params["sae_density.threshold"] == "50"


def test_exercise_checks_on_the_shipped_sae():
    metrics = json.loads((zoo.MODELS_DIR / MODEL / "sae" / "metrics.json").read_text())
    dense = metrics["dense_in_neuron_basis_fraction"]
    assert run_check("sae_dense_share", f"{dense * 100:.1f}%", {"model": MODEL}).correct
    assert not run_check("sae_dense_share", f"{(dense + 0.1) * 100:.1f}", {"model": MODEL}).correct
    assert not run_check("sae_dense_share", "lots", {"model": MODEL}).correct
    word = "features" if metrics["top_token_share_median"]["features"] > metrics["top_token_share_median"]["neurons"] \
        else "neurons"
    assert run_check("sae_neurons_vs_features", word, {"model": MODEL}).correct
    assert not run_check("sae_neurons_vs_features", "both", {"model": MODEL}).correct
    from app.ui.compute_sae import search

    best = search.__wrapped__(MODEL, "self")[0]["feature"]
    assert run_check("sae_feature_for_token", str(best), {"model": MODEL, "token": "self"}).correct
    assert not run_check("sae_feature_for_token", "99999", {"model": MODEL, "token": "self"}).correct
    assert S.DENSE_NEURONS == 10  # the YAML's exercise text names this threshold
