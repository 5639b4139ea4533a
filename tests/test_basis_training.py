"""The outliers recipe: a few-step CPU smoke run writes a loadable folder; only the optimiser differs."""

import json
from dataclasses import asdict

import pytest
import torch
from safetensors.torch import load_file

from app import zoo
from app.training import outliers


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("outliers") / "m"
    outliers.main(["outliers-sgd", "--steps", "3", "--set", "eval_every=2", "--out", str(out),
                   "--max-chars", "150000", "--threads", "1", "--device", "cpu"])
    return out


def test_smoke_run_writes_loadable_model(smoke):
    for f in ("config.json", "model.safetensors", "tokenizer.json", "metrics.json", "card.md",
              "eval_tokens.safetensors", "training.json"):
        assert (smoke / f).is_file(), f
    cfg = json.loads((smoke / "config.json").read_text())
    assert cfg["normalization_type"] == "LN" and not cfg["attn_only"] and cfg["d_mlp"] == 4 * cfg["d_model"]
    model = zoo.build(cfg)
    model.load_state_dict(load_file(smoke / "model.safetensors"), strict=True)
    m = json.loads((smoke / "metrics.json").read_text())
    assert m["training"]["steps"] == 3 and m["training"]["recipe"]["optimizer"] == "sgd"
    assert m["max_kurtosis_standard_basis"] > 0 and m["max_kurtosis_random_basis"] > 0
    assert [p["step"] for p in json.loads((smoke / "training.json").read_text())] == [0, 2, 3]
    assert "SGD with momentum" in (smoke / "card.md").read_text()


def test_remeasure_reproduces_metrics(smoke):
    before = json.loads((smoke / "metrics.json").read_text())
    after = outliers.remeasure(smoke)
    assert after == before


def test_pair_differs_only_in_optimiser():
    a, s = (asdict(outliers.RECIPES[n]) for n in ("outliers-adam", "outliers-sgd"))
    differ = {k for k in a if a[k] != s[k]}
    assert differ <= {"name", "optimizer", "lr"}, differ
    assert isinstance(outliers.make_optimizer(outliers.RECIPES["outliers-adam"], [torch.zeros(1, requires_grad=True)]),
                      torch.optim.Adam)


def test_frozen_ln_gain_is_excluded_from_the_optimiser():
    assert outliers._is_ln_gain("layers.0._original_component.ln1._original_component.weight")
    assert outliers._is_ln_gain("ln_out._original_component.weight")
    assert not outliers._is_ln_gain("layers.0._original_component.ln1._original_component.bias")
    assert not outliers._is_ln_gain("layers.0._original_component.mlp._original_component.W_in")


def test_bad_recipe_keys_are_errors():
    with pytest.raises(SystemExit):
        outliers.main(["outliers-adam", "--set", "stepz=3"])
    with pytest.raises(SystemExit):
        outliers.main(["outliers-nope"])
