"""AppTest for the attribution-patching walkthrough: both views render with live timing, the controls
and URL round-trip, impossible combinations and tampered links give messages in place, and the
exercises check answers."""

import json
import re

import pytest

from app import zoo
from tests.conftest import answer_exercises, open_page
from tests.test_pages import _texts

PAGE = "walkthroughs/attribution_patching.py"


def _page(query: dict | None = None):
    return open_page(PAGE, query, timeout=300)


@pytest.fixture(scope="module")
def page():
    return _page()


def test_page_renders_both_views_with_timing(page):
    assert not page.error and len(page.header) >= 4
    texts = _texts(page)
    assert texts.count("**AtP: ") == 3 and texts.count("speedup") >= 3
    assert "2 forwards + 1 backward against" in texts
    labels = [m.label for m in page.metric]
    assert labels.count("r (AtP vs patching)") == 3
    r_values = [float(m.value) for m in page.metric if m.label == "r (AtP vs patching)"]
    assert all(-1.0 <= r <= 1.0 for r in r_values)
    assert len(page.get("plotly_chart")) >= 9  # per view: heatmap pair, scatter, path along one patch


def test_controls_and_url():
    at = _page()  # the residual-stream view: its sweep is the cheap one
    at.radio(key="atp_resid.direction").set_value("noise").run()
    assert not at.exception and not at.error
    assert at.query_params["atp_resid.direction"] == "noise"
    assert "corrupted activation patched into the clean run" in _texts(at)
    at.slider(key="atp_resid.n_prompts").set_value(2).run()
    assert not at.exception and not at.error and at.query_params["atp_resid.n_prompts"] == "2"
    again = _page({"atp_resid.direction": "noise", "atp_resid.n_prompts": "2"})
    assert again.radio(key="atp_resid.direction").value == "noise" and not again.error
    cells = again.selectbox(key="atp_resid-cell")
    assert len(cells.options) > 1
    cells.select_index(1).run()
    assert not again.exception and not again.error
    titles = [json.loads(c.proto.spec)["layout"].get("title", {}).get("text") for c in again.get("plotly_chart")]
    assert again.selectbox(key="atp_resid-cell").options[1] in titles  # the path chart follows the pick


def test_filler_prefix_lengthens_the_prompts():
    """The filler control adds positions: more cells for the real sweep, the same passes for AtP."""
    at = _page({"atp_resid.prefix": "2"})
    assert not at.exception and not at.error and at.slider(key="atp_resid.prefix").value == 2
    forwards = [int(n) for n in re.findall(r"backward against (\d+) forwards", _texts(at))]
    base = [int(n) for n in re.findall(r"backward against (\d+) forwards", _texts(_page()))]
    assert forwards and base and forwards[-1] > base[-1]  # the residual view: more positions, more forwards


def test_prompts_longer_than_the_context_are_refused(monkeypatch):
    """(With at most 3 filler sentences every template fits ioi-small's 64 tokens; the guard is for smaller models.)"""
    from app.ui import compute_atp as ca

    monkeypatch.setattr(zoo, "config", lambda name: {"n_ctx": 20})
    with pytest.raises(ValueError, match="filler sentence"):
        ca.pairs_for("ioi-small", "ioi", 2, 0, 0, "ABBA", 10, prefix=1)


def test_impossible_combination_is_a_message(page):
    other = next(n for n in zoo.names() if not n.startswith("ioi") and "n_ctx" in zoo.config(n))
    page.selectbox(key="atp_resid.model").set_value(other).run()  # still asked for IOI prompts
    assert not page.exception
    assert "does not know the IOI names" in _texts(page)
    page.selectbox(key="atp_resid.model").set_value("ioi-small").run()
    assert not page.exception and not page.error


def test_tampered_url_falls_back_with_a_notice():
    at = _page({"atp_heads.site": "<script>alert(1)</script>", "atp_heads.n_prompts": "999",
                "atp_resid.model": "\u202e\u0000🎉", "atp_heads.evil": "1"})
    assert not at.exception and not at.error
    texts = _texts(at)
    assert texts.count("were not valid") >= 2 and "Ignored unknown URL parameter" in texts
    assert "<script>" not in "".join(m.value for m in at.markdown)


def test_exercises_check_answers(page):
    texts = answer_exercises(page, "not an answer")
    assert texts.count("Write a head as") >= 2 and "whole number" in texts


def test_exercise_answers_follow_the_model():
    """The checks recompute their answers on the shipped weights: the head the page's prose names is accepted
    only if the sweep (or the estimate's miss) really puts it first."""
    from app.exercises import atp as ex
    from app.training.measure import head_label

    movers = zoo.metrics("ioi-small")["head_classes"]["name mover"]
    s_inhibition = zoo.metrics("ioi-small")["head_classes"]["S-inhibition"]
    top = ex.atp_end_head(head_label(*map(int, movers[0].split("."))), model="ioi-small")
    miss = ex.atp_worst_miss_head(head_label(*map(int, s_inhibition[0].split("."))), model="ioi-small")
    assert top.correct and "AtP ranks it first too" in top.feedback, top.feedback
    assert miss.correct, miss.feedback
    assert not ex.atp_worst_miss_head("L1H0", model="ioi-small").correct
    from app.training.atp_measure import view_pairs

    cfg, T = zoo.config("ioi-small"), view_pairs("ioi-small").clean.shape[1]
    assert ex.atp_forward_count(str(cfg["n_layers"] * cfg["n_heads"] * T), model="ioi-small").correct
    assert not ex.atp_end_head("L7H0", model="ioi-small").correct
