"""The card's numbers, re-measured on the shipped facts-small weights (and its no-caption comparison run)."""

import json

import pytest
import torch
from safetensors.torch import load_file

from app import zoo
from app.analysis import facts as fa
from app.tasks import facts

MODEL = "facts-small"


@pytest.fixture(scope="module")
def setup():
    return zoo.load(MODEL), facts.load_tokenizer(zoo.model_dir(MODEL)), fa.load_world(MODEL), zoo.metrics(MODEL)


@pytest.fixture(scope="module")
def no_captions():
    folder = zoo.model_dir(MODEL) / "no-captions"
    cfg = json.loads((folder / "config.json").read_text())
    model = zoo.build(cfg, zoo.hf_tokenizer(facts.load_tokenizer(zoo.model_dir(MODEL))))
    model.load_state_dict(load_file(folder / "model.safetensors"), strict=True)
    model.eval()
    return model, json.loads((folder / "metrics.json").read_text())


def test_shipped_files_and_size():
    folder = zoo.model_dir(MODEL)
    for name in ("config.json", "model.safetensors", "tokenizer.json", "card.md", "metrics.json", "world.json"):
        assert (folder / name).is_file(), name
    assert (folder / "model.safetensors").stat().st_size < 4_000_000
    cfg = zoo.config(MODEL)
    assert cfg["attn_only"] is False and cfg["act_fn"] == "gelu" and cfg["normalization_type"] == "LN"
    world = json.loads((folder / "world.json").read_text())["athletes"]
    assert [r["first"] + " " + r["last"] for r in world] == [a.name for a in fa.load_world(MODEL).athletes]


def test_attribute_accuracy(setup):
    model, tok, world, m = setup
    sport = [fa.accuracy(model, tok, world, "sport", t) for t in facts.TEMPLATES["sport"]]
    assert sum(sport) / len(sport) == pytest.approx(m["attribute_accuracy"], abs=1e-3)
    assert m["attribute_accuracy"] > 0.95 and m["attribute_accuracy_by_attribute"]["city"] > 0.95
    for attr in facts.ATTRIBUTES:
        acc = fa.accuracy(model, tok, world, attr, facts.TAG, within_values=True)
        assert acc == pytest.approx(m["caption_accuracy_within_values"][attr], abs=1e-3)


def test_probe_low_at_embedding_high_after_early_mlps(setup):
    model, tok, world, m = setup
    by_site = fa.probe_by_site(model, tok, world, "sport")
    by_layer = fa.probe_by_layer(by_site, zoo.config(MODEL)["n_layers"])
    assert by_layer == pytest.approx(m["probe_acc_by_layer"], abs=0.02)
    assert by_site["embed"] <= 0.3  # one token: chance (25%) by construction
    assert by_site["L0 mlp"] - by_site["L0 attn"] > 0.2  # layer 0's MLP makes the big step
    assert by_layer[2] > 0.85 and by_layer[-1] > 0.95  # after layer 1's MLP the sport is a direction


def test_ablation_and_patching_locate_the_lookup(setup):
    model, tok, world, m = setup
    abl = fa.mlp_ablation(model, tok, world, "sport")
    assert abl["name tokens"] == pytest.approx(m["mlp_ablation_accuracy"]["name tokens"], abs=1e-3)
    assert abl["name tokens"][0] < 0.45  # layer 0's MLP at the name tokens is needed ...
    assert min(abl["final token"][:3]) > 0.9  # ... while the first three MLPs at the final token are not
    grid = fa.patch_mlp_by_layer(model, tok, fa.swap_pairs(world, "sport"), "sport")  # (L, T)
    torch.testing.assert_close(grid.float(), torch.tensor(m["patch_mlp_out_by_layer_pos"]), atol=2e-3, rtol=0)
    assert grid[0, fa.LAST_NAME_POS] > 0.4 and grid[:3, -1].abs().max() < 0.15


def test_same_last_name_gets_different_sports(setup):
    model, tok, world, _ = setup
    for last in world.last_names[:6]:
        table = fa.same_last_table(model, tok, world, next(a for a in world.athletes if a.last_name == last))
        assert len({row["true"] for row in table}) == 4
        assert len({row["predicted"] for row in table}) >= 3


def test_no_caption_run_looks_up_at_the_final_token(setup, no_captions):
    _, tok, world, _ = setup
    model, m = no_captions
    name = fa.probe_by_site(model, tok, world, "sport")
    final = fa.probe_by_site(model, tok, world, "sport", pos=-1)
    assert name == pytest.approx(m["probe_acc_by_site"], abs=0.02)
    assert max(name.values()) < 0.45 and final["L3 mlp"] > 0.85
