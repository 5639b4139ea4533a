"""Every page under Streamlit's AppTest: runs clean, every widget interaction, URL state, bad input."""

import shutil

import pytest
from streamlit.testing.v1 import AppTest

from app.content.loader import CONTENT_DIR
from tests.conftest import ROOT

PAGE = "walkthroughs/mathematical_framework.py"
TIMEOUT = 120  # TransformerLens import + model loads take far longer than AppTest's 3 s default


def _app(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at


def _page(query: dict | None = None) -> AppTest:
    at = _app(query)
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, at.exception
    return at


def _texts(at) -> str:
    parts = [e.value for e in at.markdown] + [e.value for e in at.error] + [e.value for e in at.warning]
    parts += [e.value for e in at.info] + [e.value for e in at.caption] + [e.value for e in at.success]
    return "\n".join(str(p) for p in parts)


def test_home_lists_every_paper():
    at = _app()
    at.run()
    assert not at.exception
    text = _texts(at) + "\n".join(s.value for s in at.subheader)
    from app.ui.catalog import entries

    items = entries()
    for item in items:  # every catalogue entry has its card, with its status badge
        assert item["title"] in text
    for status in {item["status"] for item in items}:
        assert status.replace("broken", "content error") in text
    assert not at.error


@pytest.fixture(scope="module")
def page():
    return _page()


def test_framework_page_renders_all_sections(page):
    headers = [h.value for h in page.header]
    assert headers == ["Why start with attention-only models", "The direct path is a bigram table",
                       "Each head is two circuits, QK and OV", "Copying, read from eigenvalues",
                       "One layer computes skip-trigrams", "Two layers compose"]
    assert not page.error
    assert len(page.get("plotly_chart")) >= 5
    assert len(page.dataframe) >= 2


def test_direct_path_interaction():
    at = _page()
    at.text_input(key="direct_path.token").set_value(" None").run()
    at.slider(key="direct_path.k").set_value(5).run()
    assert not at.exception and not at.error
    assert at.query_params["direct_path.token"] == " None" and at.query_params["direct_path.k"] == "5"
    at.selectbox(key="direct_path.model").select("attn-only-2l").run()
    assert not at.exception


def test_circuit_interaction_and_model_switch():
    at = _page()
    at.selectbox(key="circuit.model").select("attn-only-2l").run()
    at.selectbox(key="circuit.layer").select(1).run()
    at.selectbox(key="circuit.head").select(5).run()
    at.radio(key="circuit.circuit").set_value("QK").run()
    at.text_input(key="circuit.tokens").set_value("for in range").run()
    assert not at.exception and not at.error
    assert at.query_params["circuit.layer"] == "1" and at.query_params["circuit.circuit"] == "QK"
    # back to the one-layer model: the layer-1 selection must fall back to 0, not crash
    at.selectbox(key="circuit.model").select("attn-only-1l").run()
    assert not at.exception and at.selectbox(key="circuit.layer").value == 0


def test_copying_skip_trigram_composition_attention_interactions():
    at = _page()
    at.selectbox(key="copying_scores.head").select(3).run()
    at.text_area(key="skip_trigrams.text").set_value("x = compute(value)\nprint(value").run()
    at.number_input(key="skip_trigrams.position").set_value(3).run()
    at.slider(key="skip_trigrams.k").set_value(2).run()
    at.selectbox(key="attention.layer").select(0).run()
    at.text_area(key="attention.text").set_value("import os\nimport sys\n").run()
    at.selectbox(key="attention-2l.layer").select(0).run()
    assert not at.exception and not at.error


def test_url_reproduces_view():
    at = _page({"circuit.head": "4", "circuit.circuit": "QK", "direct_path.token": "import"})
    assert at.selectbox(key="circuit.head").value == 4
    assert at.radio(key="circuit.circuit").value == "QK"
    assert at.text_input(key="direct_path.token").value == "import"
    assert not at.warning


@pytest.mark.parametrize("query", [
    {"circuit.head": "99"},
    {"circuit.layer": "-1"},
    {"circuit.model": "../../etc/passwd"},
    {"circuit.circuit": "<script>alert(1)</script>"},
    {"direct_path.k": "lots"},
    {"copying_scores.layer": "1"},  # attn-only-1l has one layer
])
def test_tampered_url_falls_back_with_notice(query):
    at = _page(query)
    assert any("not valid" in w.value for w in at.warning), [w.value for w in at.warning]
    assert not at.error


def test_unknown_url_param_is_reported():
    at = _page({"circuit.colour": "red"})
    assert any("circuit.colour" in i.value for i in at.info)


@pytest.mark.parametrize("text,expect", [
    ("", "empty"),
    ("   \n ", "empty"),
    ("x = 1\n" * 400, "only the first 256 are used"),  # the box stops at 2000 characters
    ("def f(): return 'a' * 10\n" * 60, "context"),
    ("\u202eevil\u202c x = '😀\u200d👩' \x00\x01 done", "control character"),
    ("<img src=x onerror=alert(1)>", None),
])
def test_bad_prompts_get_messages(text, expect):
    at = _page()
    at.text_area(key="attention.text").set_value(text).run()
    assert not at.exception
    if expect:
        assert expect in _texts(at), _texts(at)


def test_out_of_range_position_is_explained():
    at = _page()
    at.number_input(key="skip_trigrams.position").set_value(5000).run()
    assert not at.exception and "past the last token" in _texts(at)


def test_exercise_checks():
    at = _page()
    answers = [b for b in at.text_input if b.key.endswith(".answer")]
    assert len(answers) == 3
    copying = next(b for b in answers if b.key.startswith("copying"))
    copying.set_value("L0H99").run()
    at.button(key=copying.key.replace(".answer", ".check")).click().run()
    assert any("does not exist" in e.value for e in at.error)
    copying = at.text_input(key=copying.key)
    copying.set_value("not a head").run()
    at.button(key=copying.key.replace(".answer", ".check")).click().run()
    assert any("L<layer>H<head>" in e.value for e in at.error)
    at.button(key="copying.ex0.hint").click().run()
    assert any("Hint 1" in i.value for i in at.info)


def test_exercise_correct_answer_from_model():
    from app import zoo

    scores = zoo.metrics("attn-only-1l")["copying_score"]
    best = max(scores, key=scores.get)
    at = _page()
    at.text_input(key="copying.ex0.answer").set_value(best).run()
    at.button(key="copying.ex0.check").click().run()
    assert any("Correct" in s.value for s in at.success)


def test_broken_yaml_keeps_page_alive(tmp_path, monkeypatch):
    for f in CONTENT_DIR.glob("*.yaml"):
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "mathematical-framework.yaml").write_text("id: mathematical-framework\ntitle: [oops\n")
    monkeypatch.setenv("INTERP_READER_CONTENT", str(tmp_path))
    at = _app()
    at.run()
    assert not at.exception
    assert any("broken YAML" in e.value for e in at.error)
    at.switch_page(PAGE)
    at.run()
    assert not at.exception and any("broken YAML" in e.value for e in at.error)
