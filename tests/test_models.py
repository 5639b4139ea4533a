"""Properties of the shipped weights: every number in each card is re-measured and asserted."""


import pytest
from safetensors.torch import load_file

from app import zoo
from app.training.card import render_card
from app.training.measure import measure

TEXT_MODELS = ["attn-only-1l", "attn-only-2l"]


def _measured(name):
    folder = zoo.model_dir(name)
    eval_tokens = load_file(folder / "eval_tokens.safetensors")["tokens"].long()
    with zoo.use(name) as model:
        return measure(model, eval_tokens, zoo.repeat_vocab(name))


@pytest.fixture(scope="module")
def measured():
    return {name: _measured(name) for name in TEXT_MODELS}


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_metrics_json_matches_shipped_weights(name, measured):
    stored = zoo.metrics(name)
    got = measured[name]
    assert set(got) == set(stored) - {"training"}
    assert got["loss"] == pytest.approx(stored["loss"], abs=2e-3)
    for field in ("copying_score", "previous_token_score", "induction_score"):
        assert set(got[field]) == set(stored[field]) == {f"L{l}H{h}" for l in range(zoo.config(name)["n_layers"])
                                                          for h in range(zoo.config(name)["n_heads"])}
        for head, value in stored[field].items():
            assert got[field][head] == pytest.approx(value, abs=2e-3), (field, head)
    for field in ("repeat_loss_first_half", "repeat_loss_second_half"):
        assert got[field] == pytest.approx(stored[field], abs=2e-3)
    if "k_composition_max" in stored:
        assert got["k_composition_max"]["pair"] == stored["k_composition_max"]["pair"]
        assert got["k_composition_max"]["score"] == pytest.approx(stored["k_composition_max"]["score"], abs=2e-3)


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_card_is_rendered_from_metrics(name):
    assert zoo.card(name) == render_card(zoo.config(name), zoo.metrics(name))


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_config_round_trips_and_is_eval(name):
    cfg = zoo.config(name)
    model = zoo.load(name)
    assert not model.training
    assert model.cfg.n_layers == cfg["n_layers"] and model.cfg.d_vocab == cfg["d_vocab"]
    state = load_file(zoo.model_dir(name) / "model.safetensors")
    assert set(state) == set(model.state_dict())


def test_one_layer_model_learned_code(measured):
    # Far below the uniform loss ln(2048) = 7.62: the model has learned the corpus.
    assert measured["attn-only-1l"]["loss"] < 5.5
    # One layer cannot form induction heads: the second copy of random tokens is not easier.
    m = measured["attn-only-1l"]
    assert m["repeat_loss_first_half"] - m["repeat_loss_second_half"] < 0.5
    # Most one-layer heads copy (framework paper): every copying score is clearly positive.
    assert min(m["copying_score"].values()) > 0.5


def test_two_layer_model_properties_the_prose_relies_on(measured):
    m = measured["attn-only-2l"]
    assert m["loss"] < measured["attn-only-1l"]["loss"]  # two layers help
    k = m["k_composition_max"]
    assert k["score"] > 2 * k["random_baseline"]  # real composition, well above random matrices
    # content/mathematical-framework.yaml says this model has no induction head and no layer-0
    # previous-token head: uniform attention over ~100 positions scores about 0.04 (previous-token)
    # and 0.01 (induction).
    assert max(m["induction_score"].values()) < 0.1
    assert max(v for head, v in m["previous_token_score"].items() if head.startswith("L0")) < 0.1


def _direct_top(model, text: str, k: int) -> list[str]:
    tok = model.to_tokens(text, prepend_bos=False)[0, 0]
    return model.to_str_tokens((model.W_E[tok] @ model.W_U).topk(k).indices)


def test_prose_claims_about_the_direct_path():
    # content/mathematical-framework.yaml: after " None" the top three are ":", "," and ")";
    # after " self" they are "._", "." and ".__".
    with zoo.use("attn-only-1l") as model:
        assert _direct_top(model, " None", 3) == [":", ",", ")"]
        assert _direct_top(model, " self", 3) == ["._", ".", ".__"]
