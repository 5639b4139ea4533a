"""AppTest for the superposition walkthrough: live training views, URL state, tampered URLs, exercise checks."""

import re

import pytest
from streamlit.testing.v1 import AppTest

from app.analysis import superposition as sp
from app.exercises import run_check
from tests.conftest import open_page
from tests.test_pages import _texts

PAGE = "walkthroughs/superposition.py"


def _page(query: dict | None = None) -> AppTest:
    return open_page(PAGE, query, timeout=300)


def _metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


@pytest.fixture(scope="module")
def page():
    return _page()


def test_page_renders_every_section(page):
    assert [h.value for h in page.header] == ["Five features, two dimensions", "A phase diagram for one extra feature",
                                              "Dimensions per feature stick at fractions", "What we ran, and how it differs"]
    assert not page.error
    assert len(page.get("plotly_chart")) >= 6
    assert not page.get("progress")  # the training bars are gone once the models are trained


def test_toy_model_sparsity_slider_shows_the_live_models():
    at = _page()
    at.select_slider(key="toy_model.sparsity").set_value(0.0).run()
    assert _metrics(at)["Represented"] == "2 of 5"
    assert at.query_params["toy_model.sparsity"] == "0.0"
    at.select_slider(key="toy_model.sparsity").set_value(0.97).run()
    assert _metrics(at)["Represented"] == "5 of 5"
    at.slider(key="toy_model.n_features").set_value(3).run()  # retrains a 3 -> 2 row
    assert not at.exception and not at.error
    assert _metrics(at)["Represented"].endswith("of 3")
    assert at.query_params["toy_model.n_features"] == "3"


def _phases(at) -> tuple[str, str]:
    """(the live model's phase, the nearest diagram cell's phase) from the phase widget's summary line."""
    line = next(m.value for m in at.markdown if m.value.startswith("Your model, trained now"))
    live, grid = re.findall(r"\*\*(.+?)\*\*", line)[:2]
    return live, grid


def test_phase_point_is_trained_and_marked():
    at = _page()
    at.select_slider(key="superposition_phase.relative_importance").set_value(0.1).run()
    at.select_slider(key="superposition_phase.density").set_value(1.0).run()
    assert _phases(at) == ("not learned", "not learned")
    at.select_slider(key="superposition_phase.relative_importance").set_value(10.0).run()
    assert _phases(at) == ("dedicated dimension", "dedicated dimension")
    at.select_slider(key="superposition_phase.density").set_value(0.01).run()
    assert _phases(at) == ("superposition", "superposition")
    assert at.query_params["superposition_phase.density"] == "0.01"


def test_dimensionality_highlight_moves():
    at = _page()
    options = at.select_slider(key="feature_dimensionality.inv_density").options
    at.select_slider(key="feature_dimensionality.inv_density").set_value(options[0]).run()
    assert not at.exception and "m/‖W‖_F² = **" in _texts(at)


def test_url_between_options_snaps_to_the_nearest():
    at = _page({"superposition_phase.relative_importance": "0.33", "superposition_phase.density": "0.011"})
    assert not at.warning
    assert at.select_slider(key="superposition_phase.relative_importance").value == 0.3
    assert at.select_slider(key="superposition_phase.density").value == 0.01


@pytest.mark.parametrize("query", [
    {"toy_model.sparsity": "0.42", "superposition_phase.density": "abc", "feature_dimensionality.inv_density": "-3"},
    {"toy_model.decay": "<b>x</b>", "superposition_phase.model": "attn-only-2l", "feature_dimensionality.model": "../x"},
    {"toy_model.n_features": "999", "superposition_phase.relative_importance": "1e9", "toy_model.bogus": "1"},
])
def test_tampered_url(query):
    at = _page(query)  # one bad value per widget: each falls back to its defaults with a notice
    assert sum("not valid" in w.value for w in at.warning) == 3 - ("toy_model.bogus" in query)
    assert not at.error


def test_checks_use_the_live_models():
    row = sp.default_row(5, 0.9)
    first = sp.first_all_represented(row)
    assert run_check("all_features_sparsity", str(first), {"n_features": 5, "decay": 0.9}).correct
    assert not run_check("all_features_sparsity", "0.0", {"n_features": 5, "decay": 0.9}).correct
    assert not run_check("all_features_sparsity", "soon", {"n_features": 5, "decay": 0.9}).correct
    assert run_check("pentagon_angle", "72", {"sparsity": 0.97}).correct
    assert not run_check("pentagon_angle", "90°", {"sparsity": 0.97}).correct
    assert run_check("dims_plateau", "1/2", {"lo": 2.3, "hi": 3.5}).correct
    pd = sp.shipped("phase_diagram.json")
    col = min(range(len(pd["relative_importance"])), key=lambda j: abs(pd["relative_importance"][j] - 0.3))
    k, _ = sp.phase_boundary([row[col] for row in pd["phase"]])
    edge = pd["density"][k - 1]  # the last superposed density of that column
    assert run_check("extra_feature_superposed_below", str(edge), {"relative_importance": 0.3}).correct
    for far in (pd["density"][0], 1.0, "dense"):
        assert not run_check("extra_feature_superposed_below", str(far), {"relative_importance": 0.3}).correct
    assert not run_check("dims_plateau", "1/3", {"lo": 2.3, "hi": 3.5}).correct


def test_exercise_button_in_the_page(page):
    first = sp.first_all_represented(sp.default_row(5, 0.9))
    at = page
    at.text_input(key="more-features-than-dimensions.ex0.answer").set_value(str(first)).run()
    at.button(key="more-features-than-dimensions.ex0.check").click().run()
    assert any("Yes" in s.value for s in at.success)
