"""The grokking recipe end to end on CPU (a few steps), its re-measure mode and its pieces."""

from __future__ import annotations

import json

import torch

from app.analysis import fourier
from app.tasks import modadd
from app.training import grokking


def test_split_is_seeded_disjoint_and_complete():
    tr, te = modadd.split(seed=0)
    tr2, _ = modadd.split(seed=0)
    assert torch.equal(tr, tr2)
    assert len(tr) == round(0.3 * 113 * 113)
    assert len(set(tr.tolist()) | set(te.tolist())) == 113 * 113
    assert not set(tr.tolist()) & set(te.tolist())
    assert not torch.equal(tr, modadd.split(seed=1)[0])


def test_pairs_and_labels():
    pairs = modadd.all_pairs()
    assert pairs.shape == (113 * 113, 3)
    assert pairs[5 * 113 + 7].tolist() == [5, 7, 113]
    assert modadd.labels(pairs)[100 * 113 + 50].item() == (150 % 113)


def test_smoke_run_writes_a_consistent_model_folder(tmp_path):
    out = tmp_path / "modadd"
    grokking.main(["modadd-113", "--steps", "12", "--snapshot-every", "4", "--device", "cpu", "--out", str(out),
                   "--threads", "1"])
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "training.json", "metrics.json", "card.md", "checkpoints"} <= names
    points = json.loads((out / "training.json").read_text())
    assert [pt["step"] for pt in points] == [0, 4, 8, 12]
    for key in ("train_loss", "test_loss", "train_accuracy", "test_accuracy", "restricted_loss", "excluded_loss",
                "embed_norm_in_key_freqs", "weight_norm"):
        assert all(key in pt for pt in points)
    assert points[-1]["train_loss"] < points[0]["train_loss"]  # it trained
    m = json.loads((out / "metrics.json").read_text())
    for key in ("test_accuracy", "train_accuracy", "key_frequencies", "embed_norm_in_key_freqs",
                "logit_var_explained", "grok_step"):
        assert key in m
    assert sorted(int(p.stem.split("_")[1]) for p in (out / "checkpoints").iterdir()) == [0, 4, 8, 12]
    card = (out / "card.md").read_text()
    assert "token id 113" in card
    before = (out / "metrics.json").read_text()
    grokking.main(["--remeasure", "--out", str(out)])
    assert (out / "metrics.json").read_text() == before  # re-measuring the same weights gives the same numbers
    assert (out / "card.md").read_text() == card


def test_plain_forward_matches_the_bridge():
    from app import zoo

    cfg = grokking.GrokRecipe().bridge_config()
    torch.manual_seed(1)
    params = {k: v.detach() + 0.01 * torch.randn_like(v) for k, v in grokking.init_params(cfg, "cpu").items()}
    model = zoo.build(cfg)
    model.load_state_dict(params, strict=True)
    model.eval()
    tokens = modadd.all_pairs()[::97]  # (132, 3)
    with torch.no_grad():
        logits, cache = model.run_with_cache(tokens)
        ours = fourier.forward(params, tokens, cfg["n_heads"])
    torch.testing.assert_close(ours["logits"], logits[:, -1], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours["pattern"], cache["blocks.0.attn.hook_pattern"][:, :, -1], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(ours["mlp_post"], cache["blocks.0.mlp.hook_post"][:, -1], atol=1e-5, rtol=1e-5)


def test_phases_from_a_synthetic_curve():
    pts = [{"step": s, "train_accuracy": min(1.0, s / 10), "test_loss": tl}
           for s, tl in [(0, 5), (10, 8), (20, 9), (30, 8.5), (40, 1), (50, 0.01), (60, 0.005)]]
    ph = grokking.phases(pts)
    assert ph["memorisation_end"] == 10
    assert ph["cleanup_start"] in (30, 40) and ph["cleanup_end"] == 50
