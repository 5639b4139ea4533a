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
        return measure(model, eval_tokens, zoo.repeat_vocab(name), zoo.curve(name))


@pytest.fixture(scope="module")
def measured():
    return {name: _measured(name) for name in TEXT_MODELS}


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_metrics_json_matches_shipped_weights(name, measured):
    stored = zoo.metrics(name)
    got = measured[name]
    assert set(got) == set(stored) - {"training"}
    assert got["loss"] == pytest.approx(stored["loss"], abs=2e-3)
    for field in ("copying_score", "prev_token_score", "induction_score"):
        assert set(got[field]) == set(stored[field]) == {f"L{l}H{h}" for l in range(zoo.config(name)["n_layers"])
                                                          for h in range(zoo.config(name)["n_heads"])}
        for head, value in stored[field].items():
            assert got[field][head] == pytest.approx(value, abs=2e-3), (field, head)
    for field in ("repeat_loss_first_half", "repeat_loss_second_half"):
        assert got[field] == pytest.approx(stored[field], abs=2e-3)
    assert got["phase_change_step"] == stored["phase_change_step"]
    assert got["ablation_head"] == stored["ablation_head"]
    assert got["ablation_loss_increase"] == pytest.approx(stored["ablation_loss_increase"], abs=2e-3)
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
    # Most one-layer heads copy (framework paper); the prose says six of our eight do.
    assert sum(v > 0.75 for v in m["copying_score"].values()) == 6


def test_two_layer_model_has_the_induction_circuit(measured):
    m = measured["attn-only-2l"]
    assert m["loss"] < measured["attn-only-1l"]["loss"]
    # content/*.yaml name L0H0 the previous-token head and L1H7 the induction head
    prev = max(m["prev_token_score"], key=m["prev_token_score"].get)
    ind = max(m["induction_score"], key=m["induction_score"].get)
    assert (prev, ind) == ("L0H0", "L1H7")
    assert m["prev_token_score"][prev] > 0.5 and m["induction_score"][ind] > 0.3  # 0.5 is the most a head can score
    # in-context learning: the second copy costs at most 20% of the first (issue 4's target)
    assert m["repeat_loss_second_half"] <= 0.2 * m["repeat_loss_first_half"]
    # ICL score on natural code: the paper reports about -0.4 for models with induction heads
    assert m["icl_score"] < -0.3 and measured["attn-only-1l"]["icl_score"] > m["icl_score"] + 0.2
    # ablating the top induction head costs the second copy more than 2 nats; the phase change is recorded
    assert m["ablation_head"] == "L1H7" and m["ablation_loss_increase"] > 2.0
    assert m["phase_change_step"] == _jump_step([max(p["induction_score"].values()) for p in zoo.curve("attn-only-2l")],
                                                [p["step"] for p in zoo.curve("attn-only-2l")])
    # L1H7's keys read L0H0 most, well above random matrices; the global maximum is another pair
    from app.analysis import circuits

    with zoo.use("attn-only-2l") as model:
        k = circuits.composition_scores(model, "K")  # (layer-0 head, layer-1 head)
    assert int(k[:, 7].argmax()) == 0 and float(k[0, 7]) > 2 * m["k_composition_max"]["random_baseline"]
    assert m["k_composition_max"]["pair"] != ["L0H0", "L1H7"]


def test_one_layer_control_has_no_induction(measured):
    assert max(measured["attn-only-1l"]["induction_score"].values()) < 0.05
    assert measured["attn-only-1l"]["phase_change_step"] is None


def _direct_top(model, text: str, k: int) -> list[str]:
    tok = model.to_tokens(text, prepend_bos=False)[0, 0]
    return model.to_str_tokens((model.W_E[tok] @ model.W_U).topk(k).indices)


def test_prose_claims_about_the_direct_path():
    # content/mathematical-framework.yaml: after " None" the top two are ":" and ",";
    # after " self" they are "._", "." and ".__".
    with zoo.use("attn-only-1l") as model:
        assert _direct_top(model, " None", 2) == [":", ","]
        assert _direct_top(model, " self", 3) == ["._", ".", ".__"]


def _jump_step(values: list[float], steps: list[int]) -> int:
    """First step where a curve has covered half its range from its start value."""
    lo, hi = values[0], max(values)
    return next(s for s, v in zip(steps, values) if v >= lo + (hi - lo) / 2)


def test_training_record_shape():
    for name in TEXT_MODELS:
        curve = zoo.curve(name)
        assert len(curve) >= 40
        assert {"step", "val_loss", "icl_score", "loss_by_position", "prev_token_score", "induction_score"} <= set(curve[0])
        assert (zoo.model_dir(name) / "training.json").is_file()
        assert zoo.metrics(name)["training"]["curve_points"] == len(curve)
    steps = zoo.checkpoints("attn-only-2l")
    assert 6 <= len(steps) <= 10 and steps == zoo.metrics("attn-only-2l")["training"]["checkpoints"]


def test_phase_change_is_simultaneous_and_absent_in_control():
    curve = zoo.curve("attn-only-2l")
    steps = [p["step"] for p in curve]
    induction = [max(p["induction_score"].values()) for p in curve]
    prev = [max(p["prev_token_score"].values()) for p in curve]
    assert max(induction) - induction[0] > 0.3
    t = _jump_step(induction, steps)
    assert abs(_jump_step(prev, steps) - t) <= 500  # the previous-token head forms with it
    # the in-context-learning score drops at the jump: the 5 points from it on vs the 5 points 5-10 before it
    i = steps.index(t)
    before = sum(p["icl_score"] for p in curve[i - 10:i - 5]) / 5
    after = sum(p["icl_score"] for p in curve[i:i + 5]) / 5
    assert after < before - 0.1, (before, after)
    # the kept checkpoints straddle the jump
    ckpts = zoo.checkpoints("attn-only-2l")
    assert sum(s < t for s in ckpts) >= 2 and sum(s > t for s in ckpts) >= 2
    control = zoo.curve("attn-only-1l")
    assert max(max(p["induction_score"].values()) for p in control) < 0.05


def test_checkpoints_reproduce_recorded_scores():
    from app.analysis import heads
    from app.training.measure import REPEAT_BATCH, REPEAT_HALF_LEN

    curve = {p["step"]: p for p in zoo.curve("attn-only-2l")}
    for step in zoo.checkpoints("attn-only-2l")[::3]:
        with zoo.use("attn-only-2l", step) as model:
            toks = heads.repeated_tokens(model.cfg.d_vocab, REPEAT_HALF_LEN, REPEAT_BATCH, seed=0,
                                         vocab=zoo.repeat_vocab("attn-only-2l"))
            s = heads.head_scores(model, toks, REPEAT_HALF_LEN)
        for label, value in curve[step]["induction_score"].items():
            l, h = int(label[1]), int(label[3])
            assert float(s.induction[l, h]) == pytest.approx(value, abs=0.02), (step, label)  # fp16 vs fp32, CPU vs GPU


def test_exercise_checks_agree_with_the_prose():
    # content/induction-heads.yaml names L0H0 and L1H7; the ablation exercise's answer is L0H0
    from app.exercises import run_check

    assert run_check("top_detector_head", "L0H0", {"model": "attn-only-2l", "kind": "previous_token"}).correct
    assert run_check("top_detector_head", "L1H7", {"model": "attn-only-2l", "kind": "induction"}).correct
    assert not run_check("top_detector_head", "L1H0", {"model": "attn-only-2l", "kind": "induction"}).correct
    assert run_check("most_damaging_ablation", "L0H0", {"model": "attn-only-2l"}).correct
    assert run_check("phase_change_step", "5000", {"model": "attn-only-2l"}).correct
    assert not run_check("phase_change_step", "1000", {"model": "attn-only-2l"}).correct
    assert "number" in run_check("phase_change_step", "soon", {"model": "attn-only-2l"}).feedback
