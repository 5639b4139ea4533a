"""AppTest for the privileged-basis walkthrough: every widget's controls, the exercise check, URL state, bad input."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import open_page
from tests.test_pages import _texts

PAGE = "walkthroughs/privileged_basis.py"


def _page(query: dict | None = None) -> AppTest:
    return open_page(PAGE, query, timeout=180)


@pytest.fixture(scope="module")
def page():
    return _page()


def _metrics(at) -> dict[str, str]:
    """The first widget's metrics (the page has two basis_dims views with the same labels)."""
    out: dict[str, str] = {}
    for m in at.metric:
        out.setdefault(m.label, m.value)
    return out


def test_page_renders_with_measured_numbers(page):
    assert not page.error and len(page.header) >= 4
    m = _metrics(page)
    # the outliers-adam default view at the last point: standard basis far above 3, random about 3
    assert float(m["Standard basis"]) > 10
    assert 2.5 < float(m["Random basis"]) < 3.5
    assert "Activation kurtosis on this text" in _texts(page)


def test_dims_controls_and_url():
    at = _page()
    at.selectbox(key="basis_dims.model").select("outliers-sgd").run()
    at.selectbox(key="basis_dims.point").select(0).run()
    m = _metrics(at)
    assert float(m["Standard basis"]) < 3.5  # before block 0: embeddings only, no outlier yet
    for stat in ("max_abs", "kurtosis", "ln_gain"):
        at.selectbox(key="basis_dims.stat").select(stat).run()
        assert not at.exception and not at.error
    at.number_input(key="basis_dims.rotation_seed").set_value(5).run()
    assert at.query_params["basis_dims.model"] == "outliers-sgd"
    assert at.query_params["basis_dims.rotation_seed"] == "5"


def test_text_widget_basis_switch_and_bad_input():
    at = _page()
    at.radio(key="basis_text.basis").set_value("random").run()
    assert not at.exception and not at.error
    at.text_area(key="basis_text.text").set_value("").run()
    assert "empty" in _texts(at)
    at.text_area(key="basis_text.text").set_value("\u202e\u0000 emoji 🎉 <script>alert(1)</script>").run()
    assert not at.exception and "control character" in _texts(at)
    at.text_area(key="basis_text.text").set_value("x = 1\n" * 300).run()  # over the 128-token context
    assert not at.exception and "over the model's context" in _texts(at)


def test_compare_views():
    at = _page()
    at.radio(key="basis_compare.view").set_value("over_training").run()
    assert not at.exception and not at.error
    at.selectbox(key="basis_compare.other").select("outliers-adam").run()
    assert not at.exception


def test_outlier_dimension_exercise():
    at = _page()
    box = next(t for t in at.text_input if t.key.endswith(".answer"))
    box.set_value("not a number").run()
    next(b for b in at.button if b.key == box.key.replace(".answer", ".check")).click().run()
    assert "Answer with a dimension number" in _texts(at)


@pytest.mark.parametrize("query", [{"basis_dims.point": "99"}, {"basis_dims.stat": "<b>x</b>"},
                                   {"basis_text.model": "no-such-model"}, {"basis_compare.view": "sideways"},
                                   {"basis_text.basis": "diagonal"}])
def test_tampered_url(query):
    at = _page(query)
    assert any("not valid" in w.value for w in at.warning)
    assert not at.error
