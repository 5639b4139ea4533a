"""Smoke test of both recipes of the monosemanticity walkthrough: a few steps on a slice of the corpus, then the
folders they write load back (the model as a strict bridge, the SAE in SAELens' layout) with their cards."""

import json

from app.analysis import sae as S
from app.training import sae as T


def test_model_and_sae_recipes_smoke(tmp_path):
    model_dir, sae_dir = tmp_path / "m", tmp_path / "m" / "sae"
    T.main(["code-1l-mlp", "--steps", "3", "--max-chars", "200000", "--out", str(model_dir)])
    for name in ("config.json", "model.safetensors", "tokenizer.json", "eval_tokens.safetensors", "card.md",
                 "metrics.json", "training.json"):
        assert (model_dir / name).is_file(), name
    cfg = json.loads((model_dir / "config.json").read_text())
    assert cfg["d_mlp"] == 512 and cfg["attn_only"] is False and cfg["n_layers"] == 1
    T.load_bridge(model_dir)  # strict load into the TransformerBridge

    T.main(["code-1l-mlp-sae", "--steps", "4", "--max-chars", "200000", "--model-dir", str(model_dir),
            "--out", str(sae_dir)])
    sae, sae_cfg = S.load_saelens(sae_dir)
    assert (sae.d_in, sae.d_sae) == (512, 2048) and sae_cfg["hook_name"] == "blocks.0.mlp.hook_post"
    m = json.loads((sae_dir / "metrics.json").read_text())
    for key in ("l0", "fvu", "loss_recovered", "dead_fraction", "dense_in_neuron_basis_fraction"):
        assert isinstance(m[key], float), key
    assert m["training"]["steps"] == 4 and m["training"]["curve_points"] == 3
    assert (sae_dir / "card.md").read_text() == T.sae_card(m, json.loads((sae_dir / "training.json").read_text())["curve"])
