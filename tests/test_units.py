"""Small pure units: head parsing, prompt cleaning, script-safe JSON, widget params."""

import json

import pytest
import torch
from pydantic import ValidationError

from app import widgets
from app.exercises import parse_head, validate_args
from app.prompts import clean, token_label
from app.ui.cvis import attention_props, props_json, safe_json, view_html


@pytest.mark.parametrize("text,want", [("L0H3", (0, 3)), ("l1h7", (1, 7)), ("0.3", (0, 3)), ("1, 2", (1, 2)),
                                       ("layer 1 head 4", (1, 4)), ("L1 H2", (1, 2)), ("head", None), ("", None), ("L0", None)])
def test_parse_head(text, want):
    assert parse_head(text) == want


def test_clean_removes_controls_and_caps():
    text, notes = clean("a\x00b\tc\n" + "x" * 3000)
    assert "\x00" not in text and "\t" in text and len(text) == 2000
    assert any("control" in n for n in notes) and any("2000" in n for n in notes)
    kept, notes = clean("\u202eabc\u200d😀")
    assert kept == "\u202eabc\u200d😀" and notes == []


def test_token_label():
    assert token_label(" self") == "·self" and token_label("\n") == "\\n" and token_label("") == "∅"


def test_safe_json_cannot_close_script():
    s = safe_json({"tokens": ["</script><script>alert(1)</script>", "a&b", "\u2028"]})
    assert "<" not in s and ">" not in s and "&" not in s and "\u2028" not in s
    assert json.loads(s)["tokens"][0] == "</script><script>alert(1)</script>"
    page = view_html("AttentionPatterns", tokens=["</script>"], attention=[[1.0]])
    assert page.count("</script>") == 1 and "unpkg" not in page and "/app/static/circuitsvis-" in page


def test_precomputed_props_are_script_safe_and_rounded():
    """Cached computes store props_json text; escaping the JSON text must equal escaping the values."""
    tokens = ["</script><script>alert(1)</script>", "a&b", "\u2028", "é😀"]
    text = props_json(tokens=tokens, values=[0.5, 1.0, 0.0, 0.25])
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"tokens": tokens, "values": [0.5, 1.0, 0.0, 0.25]}
    pattern = torch.tensor([[[1.0, 0.0], [0.123456, 0.876544]]])  # (head, query, key)
    att = json.loads(attention_props(tokens[:2], pattern, layer=0))
    assert att["attention"] == [[[1.0, 0.0], [0.1235, 0.8765]]] and att["headLabels"] == ["L0H0"]
    page = view_html("AttentionPatterns", props=text)
    assert page.count("</script>") == 1 and text in page
    assert view_html("AttentionPatterns", props=text) == page  # same props, same HTML: no iframe reload on rerun


def test_widget_params_validate_ranges_and_models():
    with pytest.raises(ValidationError, match="out of range"):
        widgets.CircuitParams(model="attn-only-1l", layer=1)
    with pytest.raises(ValidationError, match="valid models"):
        widgets.CircuitParams(model="../x")
    with pytest.raises(ValidationError, match="two layers"):
        widgets.CompositionParams(model="attn-only-1l")
    p = widgets.CircuitParams(model="attn-only-2l", layer=1, head=7)
    assert widgets.CircuitParams.model_validate(p.model_dump()) == p
    assert "FactoredMatrix" in p.code() and "models/attn-only-2l" in p.code()


def test_every_widget_has_a_ui_and_code():
    from app.ui.widgets import UI

    assert set(UI) == set(widgets.REGISTRY)
    for cls in widgets.REGISTRY.values():
        field = cls.model_fields["model"]
        # widgets with their own default model (toy models such as tms, Othello, grokking) keep it
        defaults = {} if not field.is_required() else {"model": "attn-only-2l"}
        code = cls.model_validate(defaults).code()
        compile(code, "<show code>", "exec")


def test_check_args_validation():
    assert validate_args("top_copying_head", {"model": "attn-only-1l"}) is None
    assert "needs args" in validate_args("direct_path_top", {"model": "attn-only-1l"})
    assert "unknown args" in validate_args("top_copying_head", {"model": "attn-only-1l", "x": 1})


def test_show_code_reproduces_the_figure(root, monkeypatch):
    """The direct-path snippet, run outside the app, gives the numbers the widget shows."""
    import torch

    from app import zoo
    from app.analysis import circuits

    monkeypatch.chdir(root)
    params = widgets.DirectPathParams(model="attn-only-1l", token=" self", k=5)
    scope: dict = {}
    exec(params.code(), scope)
    with zoo.use("attn-only-1l") as model:
        tok = int(model.to_tokens(" self", prepend_bos=False)[0, 0])
        want = circuits.top_in_row(circuits.direct_path(model), tok, 5)
    assert scope["top"].indices.tolist() == want.ids
    assert torch.allclose(scope["top"].values, torch.tensor(want.scores), atol=1e-5)


def test_no_legacy_pages_folder(root):
    """A pages/ folder beside streamlit_app.py switches Streamlit into legacy multipage mode (see app/ui/catalog.py)."""
    assert not (root / "pages").exists()
    assert (root / "walkthroughs" / "home.py").is_file()
