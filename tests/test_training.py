"""Recipes: a few-step smoke run writes a loadable model folder; recipe overrides are typed."""

import json

import pytest
from safetensors.torch import load_file

from app import zoo
from app.training import recipes
from app.training.__main__ import main


def test_unknown_recipe_and_keys():
    with pytest.raises(KeyError, match="attn-only-1l"):
        recipes.get("nope")
    with pytest.raises(TypeError, match="unknown recipe keys"):
        recipes.get("attn-only-1l", stepz=3)


def test_smoke_run_writes_loadable_model(tmp_path):
    out = tmp_path / "m"
    main(["attn-only-2l", "--steps", "3", "--out", str(out), "--max-chars", "200000", "--threads", "1"])
    for f in ("config.json", "model.safetensors", "tokenizer.json", "metrics.json", "card.md", "eval_tokens.safetensors"):
        assert (out / f).is_file(), f
    cfg = json.loads((out / "config.json").read_text())
    model = zoo.build(cfg)
    model.load_state_dict(load_file(out / "model.safetensors"), strict=True)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["training"]["steps"] == 3 and len(metrics["copying_score"]) == 16
    assert "L0H0" in metrics["copying_score"] and "k_composition_max" in metrics


def test_same_seed_same_weights(tmp_path):
    for name in ("a", "b"):
        main(["attn-only-1l", "--steps", "2", "--out", str(tmp_path / name), "--max-chars", "100000", "--threads", "1"])
    a = load_file(tmp_path / "a" / "model.safetensors")
    b = load_file(tmp_path / "b" / "model.safetensors")
    assert all((a[k] == b[k]).all() for k in a)
