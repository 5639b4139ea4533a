"""The shipped code-1l-mlp model and its SAE: every card number re-measured on held-out data.

L0, FVU and loss recovered are re-measured on the model's held-out windows (``eval_tokens.safetensors``,
splicing through the bridge's ``blocks.0.mlp.hook_post``); firing rates (dead / dense features) on the
browser's held-out windows; neuron-basis density from the decoder weights."""

import json

import pytest
import torch
from safetensors.torch import load_file

from app import zoo
from app.analysis import sae as S
from app.training import sae as T

MODEL = "code-1l-mlp"
DIR = zoo.MODELS_DIR / MODEL
SAE_DIR = DIR / "sae"


@pytest.fixture(scope="module")
def measured():
    return T.measure_sae(DIR, SAE_DIR)


@pytest.fixture(scope="module")
def shipped():
    return json.loads((SAE_DIR / "metrics.json").read_text())


def test_model_config_loss_and_card():
    cfg = zoo.config(MODEL)
    assert cfg["n_layers"] == 1 and cfg["d_mlp"] == 512 and not cfg["attn_only"] and cfg["normalization_type"] is None
    m, curve = zoo.metrics(MODEL), zoo.curve(MODEL)
    eval_tokens = load_file(DIR / "eval_tokens.safetensors")["tokens"].long()
    with zoo.use(MODEL) as model, torch.no_grad():
        loss = float(model(eval_tokens, return_type="loss"))  # the bridge reproduces PlainGPT's training-time number
    assert loss == pytest.approx(m["loss"], abs=2e-3)
    assert m["loss"] < curve[0]["val_loss"] - 2.0  # it learned: far below the untrained model's loss
    assert len(curve) >= 20
    assert zoo.card(MODEL) == T.model_card(cfg, m, curve)


def test_sae_files_in_saelens_layout():
    cfg = json.loads((SAE_DIR / "cfg.json").read_text())
    assert cfg["d_in"] == 512 and 4 * 512 <= cfg["d_sae"] <= 8 * 512
    assert cfg["hook_name"] == S.HOOK and cfg["hook_layer"] == 0 and cfg["normalize_activations"] == "none"
    w = load_file(SAE_DIR / "sae_weights.safetensors")
    assert w["W_enc"].shape == (512, cfg["d_sae"]) and w["W_dec"].shape == (cfg["d_sae"], 512)
    assert w["b_enc"].shape == (cfg["d_sae"],) and w["b_dec"].shape == (512,)


@pytest.mark.parametrize("key,tol", [("l0", 0.05), ("fvu", 1e-3), ("loss_recovered", 1e-3), ("dead_fraction", 1e-4),
                                     ("dense_in_neuron_basis_fraction", 1e-4), ("loss_clean", 1e-3)])
def test_card_numbers_re_measured(measured, shipped, key, tol):
    assert measured[key] == pytest.approx(shipped[key], abs=tol)


def test_sae_quality(shipped):
    assert shipped["loss_recovered"] >= 0.8  # the target
    assert 1 < shipped["l0"] < 100  # sparse: a few dozen of 2,048 features per token at most
    assert shipped["fvu"] < 0.5
    assert shipped["dead_fraction"] < 0.2
    curve = json.loads((SAE_DIR / "training.json").read_text())["curve"]
    assert len(curve) >= 20 and curve[-1]["l0"] < curve[0]["l0"]


def test_browser_firing_rates_re_measured():
    """Dead / dense fractions rest on the shipped firing rates: recount them over the browser's windows."""
    data = load_file(SAE_DIR / "features.safetensors")
    sae, _ = S.load_saelens(SAE_DIR)
    model = T.load_plain(DIR, "cpu")
    fired = torch.zeros(sae.d_sae)
    tokens = data["tokens"].long()
    with torch.no_grad():
        for i in range(0, len(tokens), 32):
            fired += (sae.encode(T.plain_post(model, tokens[i : i + 32])[1]) > 0).flatten(0, 1).sum(0)
    assert torch.allclose(fired / tokens.numel(), data["feature_firing"], atol=1e-6)


def test_logit_effects_are_the_direct_path():
    """W_dec[i] @ W_out @ W_U equals the change in the model's logits when the decoder row is added to the MLP's
    post-activations (one layer, no LayerNorm: nothing else reads that position's MLP output)."""
    sae, _ = S.load_saelens(SAE_DIR)
    tokens = load_file(DIR / "eval_tokens.safetensors")["tokens"][:1, :40].long()
    with zoo.use(MODEL) as model, torch.no_grad():
        w_out, w_u = model.blocks[0].mlp.out.weight.T, model.unembed.weight.T  # (d_mlp, d_model), (d_model, vocab)
        effect = S.logit_effects(sae, w_out, w_u, 3)  # (vocab,)
        clean = model(tokens)
        bumped = model.run_with_hooks(tokens, fwd_hooks=[(S.HOOK, lambda a, hook: a + sae.W_dec[3])])
    assert torch.allclose(bumped[0, 20] - clean[0, 20], effect, atol=1e-3)
