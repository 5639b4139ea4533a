"""Fourier analysis and progress measures on synthetic inputs and a tiny random bridge (no weights)."""

from __future__ import annotations

import math

import pytest
import torch

from app.analysis import fourier
from app.analysis import grokking as g
from app.tasks import modadd
from app.training import grokking as recipe

P = modadd.P


def _cos(k, x):
    return torch.cos(2 * math.pi * k * x / P)


def test_basis_is_orthonormal():
    b = fourier.basis()
    torch.testing.assert_close(b @ b.T, torch.eye(P), atol=1e-5, rtol=0)


def test_embedding_norms_find_the_frequency():
    x = torch.arange(P).double()
    emb = torch.zeros(P + 1, 8)
    emb[:P, 0] = _cos(14, x).float()
    emb[:P, 1] = torch.sin(2 * math.pi * 35 * x / P).float() * 0.5
    norms = fourier.embed_freq_norms({"embed.weight": emb})
    assert norms.argmax().item() + 1 == 14 and norms.argsort(descending=True)[1].item() + 1 == 35
    assert fourier.embed_norm_share({"embed.weight": emb}, [14, 35]) == pytest.approx(1.0, abs=1e-5)
    assert fourier.embed_norm_share({"embed.weight": emb}, [14]) == pytest.approx(1 / 1.25, abs=1e-4)


def test_neurons_cluster_by_frequency():
    a = torch.arange(P).double()[:, None]
    b = torch.arange(P).double()[None, :]
    torch.manual_seed(0)
    cols = [torch.relu(_cos(14, a) + _cos(14, b)) for _ in range(5)]  # (p, p) periodic in a, b at k=14
    cols += [torch.relu(_cos(41, a + b) + 0.3) for _ in range(4)]  # k=41 through a product term
    cols += [torch.randn(P, P).double()]  # noise: no frequency
    cols += [torch.zeros(P, P).double()]  # dead
    grid = torch.stack(cols, dim=-1).float()  # (p, p, 11)
    freq, share = fourier.neuron_clusters(grid)
    assert freq.tolist() == [14] * 5 + [41] * 4 + [0, 0]
    assert fourier.key_frequencies(grid) == [14, 41]


def test_logit_fit_recovers_cosine_amplitudes():
    s = modadd.all_pairs()[:, :2].sum(1).double()[:, None]
    c = torch.arange(P).double()[None, :]
    torch.manual_seed(0)
    logits = 3 * _cos(14, s - c) + _cos(35, s - c) + 0.5 * torch.randn(P * P, P).double() + 7.0
    alpha, _ = fourier.cos_fit(logits)
    assert alpha[13].item() == pytest.approx(3, abs=0.01) and alpha[34].item() == pytest.approx(1, abs=0.01)
    assert fourier.logit_var_explained(logits, [14, 35]) == pytest.approx(5 / 5.25, abs=0.01)
    assert fourier.logit_var_explained(logits, [14]) == pytest.approx(4.5 / 5.25, abs=0.01)
    assert fourier.logit_var_explained(logits, []) == 0.0


def test_excluded_logits_lose_the_key_directions():
    s = modadd.all_pairs()[:, :2].sum(1).double()
    logits = (_cos(14, s[:, None] - torch.arange(P).double()[None]) * 5).float()  # perfect algorithm at k=14
    labels = modadd.labels(modadd.all_pairs())
    full, acc = fourier.loss_acc(logits, labels)
    excluded, _ = fourier.loss_acc(fourier.excluded_logits(logits, [14]), labels)
    assert acc == 1.0 and excluded > full + 1 and float(excluded) == pytest.approx(math.log(P), abs=0.01)
    kept, _ = fourier.loss_acc(fourier.excluded_logits(logits, [15]), labels)
    assert float(kept) == pytest.approx(float(full), abs=1e-4)


@pytest.fixture(scope="module")
def tiny():
    """The real config with random weights: a bridge and its state dict."""
    from app import zoo

    cfg = recipe.GrokRecipe().bridge_config()
    torch.manual_seed(0)
    params = {k: v.detach() for k, v in recipe.init_params(cfg, "cpu").items()}
    model = zoo.build(cfg)
    model.load_state_dict(params, strict=True)
    return model.eval(), params


def test_restricted_logits_drop_only_non_key_terms(tiny):
    _, params = tiny
    logits, grid = fourier.all_logits(params, 4)
    a = torch.arange(P).double()[:, None, None]
    b = torch.arange(P).double()[None, :, None]
    scale = torch.rand(512).double()[None, None, :]
    key_only = (scale * (1 + _cos(14, a) + torch.sin(2 * math.pi * 14 * b / P) + _cos(14, a + b))).float()  # (p, p, 512)
    torch.testing.assert_close(fourier.restricted_logits(params, logits, key_only, [14]), logits, atol=1e-3, rtol=1e-3)
    w_logit = params["blocks.0.mlp.out.weight"].T @ params["unembed.weight"][:P].T
    centred = grid.reshape(P * P, -1) - grid.reshape(P * P, -1).mean(0)
    torch.testing.assert_close(fourier.restricted_logits(params, logits, grid, []), logits - centred @ w_logit,
                               atol=2e-3, rtol=1e-3)


def test_snapshot_matches_the_hooked_bridge(tiny):
    model, params = tiny
    snap = g.snapshot(model)
    ref = g.hooked_snapshot(model)
    assert snap.attn_to_a.shape == (4, P, P) and snap.neurons.shape == (P, P, 512) and snap.logits.shape == (P * P, P)
    torch.testing.assert_close(snap.attn_to_a, ref["attn_to_a"], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(snap.neurons, ref["neurons"], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(snap.logits, ref["logits"], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(snap.neuron(7), ref["neurons"][:, :, 7], atol=1e-4, rtol=1e-4)
    row = g.logits_vs_fit(snap, 3, 4, [14])
    assert len(row["actual"]) == P and abs(sum(row["actual"])) < 1e-6
    fit = g.logit_fit(snap, [14])
    assert fit["combined"] == pytest.approx(fit["per_freq"][13])
    assert len(g.embedding_norms(snap)) == P // 2
    assert sum(g.neuron_summary(snap)["counts"]) + g.neuron_summary(snap)["unclustered"] == 512


def test_progress_measures_on_random_weights(tiny):
    _, params = tiny
    train_idx, _ = modadd.split()
    m = fourier.progress(params, 4, [14, 35], train_idx)
    assert 0 <= m["train_accuracy"] < 0.05 and 0 <= m["test_accuracy"] < 0.05  # chance is 1/113
    assert abs(m["train_loss"] - math.log(P)) < 1.5 and m["weight_norm"] > 0
    assert 0 < m["embed_norm_in_key_freqs"] < 0.2  # 2 of 56 frequencies of a random embedding


def test_checkpoint_choice_spans_the_run():
    steps = list(range(0, 30_001, 100))
    kept = recipe.choose_checkpoints(steps, {"memorisation_end": 400, "cleanup_start": 9000, "cleanup_end": 12000}, 40)
    assert len(kept) == 40 and kept[0] == 0 and kept[-1] == 30_000 and set(kept) <= set(steps)
    assert sum(400 <= s <= 12000 for s in kept) >= 20
