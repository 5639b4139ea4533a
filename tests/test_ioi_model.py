"""Measured properties of the shipped IOI models (``models/ioi-small``, ``models/ioi-shortcut``).

Each number in metrics.json that a test relies on is re-measured here on the shipped weights, and
the claims of the card (the small model does IOI on held-out templates and name pairs; the shortcut
model's logit difference collapses when S2 moves; the heads the card names carry the effect) are
checked against fresh runs.
"""

import pytest

from app import zoo
from app.analysis import ioi as A
from app.tasks import ioi
from app.training.ioi import LAYOUTS

MODELS = ("ioi-small", "ioi-shortcut")


@pytest.fixture(scope="module")
def toks():
    return {m: ioi.load_tokenizer(zoo.model_dir(m)) for m in MODELS}


def _heads(names):
    return [tuple(int(x) for x in h.split(".")) for h in names]


@pytest.mark.parametrize("name", MODELS)
def test_stored_logit_difference_is_reproduced(name, toks):
    m = zoo.metrics(name)
    with zoo.use(name) as model:
        ev = A.evaluate(model, toks[name], ioi.prompts(300, "test", seed=1))
        varied = A.evaluate(model, toks[name], ioi.prompts(300, "test", seed=2, gaps=True, prefix=True))
    assert ev["logit_diff"] == pytest.approx(m["logit_diff"], abs=1e-3)
    assert ev["accuracy"] == pytest.approx(m["ioi_accuracy"], abs=1e-3)
    assert varied["logit_diff"] == pytest.approx(m["varied_spans"]["logit_diff"], abs=1e-3)
    assert set(m) >= {"logit_diff", "ioi_accuracy", "name_mover_heads", "head_classes", "training"}


def test_both_models_solve_standard_held_out_prompts():
    for name in MODELS:
        m = zoo.metrics(name)
        assert m["logit_diff"] > 3.0 and m["ioi_accuracy"] > 0.8, name  # paper's GPT-2 small: about 3.5
        assert m["by_split"]["heldout_templates"]["accuracy"] > 0.75 and m["by_split"]["heldout_pairs"]["accuracy"] > 0.95
        assert m["by_split"]["train"]["accuracy"] == 1.0


def test_only_the_shortcut_model_breaks_when_s2_moves():
    short, small = zoo.metrics("ioi-shortcut"), zoo.metrics("ioi-small")
    keep = {n: m["varied_spans"]["logit_diff"] / m["logit_diff"] for n, m in (("short", short), ("small", small))}
    assert keep["short"] < 0.25 and short["varied_spans"]["accuracy"] < 0.7
    assert keep["small"] > 0.5 and small["varied_spans"]["accuracy"] > 0.85


def test_shortcut_is_one_layer_zero_head_reading_s2(toks):
    """The issue's finding, re-measured: a layer-0 head that reads S2 carries the shortcut model; no name movers."""
    m = zoo.metrics("ioi-shortcut")
    heads = m["head_classes"]["S-inhibition"] + m["head_classes"]["S-suppressor"]
    assert heads and all(h.startswith("0.") for h in heads[:1])
    assert not m["head_classes"]["name mover"]
    assert not m["head_classes"]["duplicate token"] and not m["head_classes"]["induction"]
    batch = A.standard_batch(toks["ioi-shortcut"], 3, "ABBA")
    with zoo.use("ioi-shortcut") as model:
        attn = A.attention_to_roles(model, batch)
        base = A.evaluate(model, toks["ioi-shortcut"], batch.prompts)["logit_diff"]
        ablated = A.ablate_heads(model, batch, _heads(heads[:1]), A.corrupted(toks["ioi-shortcut"], batch))
    l, h = _heads(heads[:1])[0]
    assert attn["END->S2"][l, h] > 0.5 > attn["END->IO"][l, h]
    assert ablated < 0.3 * base


def test_small_model_has_name_movers_that_carry_the_logit_difference(toks):
    """ioi-small's circuit, re-measured on the held-out layouts (3 templates x 2 orders, as the card's numbers):
    name movers attend END -> IO far more than to S, write the IO directly, and knocking them out at END collapses
    the logit difference (the paper's sections 3.1 and 4)."""
    m = zoo.metrics("ioi-small")
    movers = m["name_mover_heads"]
    assert len(movers) >= 2 and movers == m["head_classes"]["name mover"]
    assert m["head_classes"]["previous token"] and m["head_classes"]["induction"]  # two of the paper's early classes
    assert m["distractor_after_s2"]["accuracy"] > 0.85  # still right when the last name is not the subject
    tok = toks["ioi-small"]
    with zoo.use("ioi-small") as model:
        attn = A.mean_over_layouts(A.attention_to_roles, model, tok, LAYOUTS)
        dla = A.mean_over_layouts(lambda mm, b: A.dla(mm, b).heads, model, tok, LAYOUTS)
        batches = [A.standard_batch(tok, t, o) for t, o in LAYOUTS]
        base = sum(A.evaluate(model, tok, b.prompts)["logit_diff"] for b in batches) / len(batches)
        ablated = sum(A.ablate_heads(model, b, _heads(movers), A.corrupted(tok, b)) for b in batches) / len(batches)
    for l, h in _heads(movers):
        s_max = max(float(attn["END->S1"][l, h]), float(attn["END->S2"][l, h]))
        assert attn["END->IO"][l, h] > max(0.3, 3 * s_max)
    assert sum(float(dla[l, h]) for l, h in _heads(movers)) > 0.5 * base  # most of the direct effect
    assert ablated < 0.3 * base
    assert ablated == pytest.approx(m["ablation_logit_diff"]["name movers"], abs=1e-3)


def test_s_inhibition_head_steers_the_name_movers_away_from_s(toks):
    """The paper's test of an S-inhibition head (section 3.2), re-measured: the head attends END -> S2, and mean-ablating
    its output at END makes the name movers attend S far more (and the IO less)."""
    m = zoo.metrics("ioi-small")
    inhib = m["head_classes"]["S-inhibition"]
    assert inhib
    tok = toks["ioi-small"]
    movers = _heads(m["name_mover_heads"])
    batches = [A.standard_batch(tok, t, o) for t, o in LAYOUTS]
    with zoo.use("ioi-small") as model:
        attn = A.mean_over_layouts(A.attention_to_roles, model, tok, LAYOUTS)

        def mover_attention(heads):
            rows = [A.mover_attention_after_ablation(model, b, heads, movers, A.corrupted(tok, b)) for b in batches]
            return {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}

        before, after = mover_attention([]), mover_attention(_heads(inhib[:1]))
    l, h = _heads(inhib[:1])[0]
    assert attn["END->S2"][l, h] > max(0.4, 2 * attn["END->IO"][l, h])
    assert after["END->S"] > before["END->S"] + 0.2 and after["END->IO"] < before["END->IO"]
    assert after["END->S"] == pytest.approx(m["s_inhibition_test"][inhib[0]]["END->S"], abs=1e-3)
