"""Toy models of superposition without shipped files: data, the hand-written gradient, geometry, live training."""

import math

import pytest
import torch

from app.analysis import superposition as sp
from app.tasks.toy_features import density_from_sparsity, feature_batch, importance


def test_feature_batch_has_the_asked_density_and_uniform_values():
    g = torch.Generator().manual_seed(0)
    dens = torch.tensor([[1.0, 0.25, 0.02]])  # (inst=1, feat=3)
    x = feature_batch(dens, 200_000, g)  # (1, 3, batch)
    assert x.shape == (1, 3, 200_000)
    on = (x > 0).float().mean(-1)[0]
    assert on.tolist() == pytest.approx([1.0, 0.25, 0.02], abs=0.005)
    for f in range(3):
        vals = x[0, f][x[0, f] > 0]
        assert vals.max() <= 1 and vals.mean().item() == pytest.approx(0.5, abs=0.01)  # U[0, 1] when on


def test_importance_and_sparsity_helpers():
    assert importance(3, 0.5).tolist() == [1.0, 0.5, 0.25]
    assert density_from_sparsity(0.9) == pytest.approx(0.1)
    for bad in (lambda: importance(0, 0.9), lambda: importance(3, 0.0), lambda: density_from_sparsity(1.0)):
        with pytest.raises(ValueError):
            bad()


def test_hand_written_gradient_matches_autograd():
    g = torch.Generator().manual_seed(1)
    W = torch.randn(3, 2, 6, generator=g, dtype=torch.float64)
    b = torch.randn(3, 6, generator=g, dtype=torch.float64) * 0.3
    x = feature_batch(torch.full((3, 6), 0.4), 64, g).double()
    imp = torch.rand(3, 6, generator=g, dtype=torch.float64)
    Wa, ba = W.clone().requires_grad_(), b.clone().requires_grad_()
    out = sp.forward(Wa, ba, x)
    loss_auto = (imp[:, :, None] * (out - x) ** 2).sum((1, 2)) / x.shape[-1]  # (inst,)
    loss_auto.sum().backward()
    loss, gW, gb = sp.loss_and_grads(W, b, x, imp)
    assert torch.allclose(loss, loss_auto.detach())
    assert torch.allclose(gW, Wa.grad) and torch.allclose(gb, ba.grad)


def _polygon(k: int, norm: float = 1.0) -> torch.Tensor:
    a = torch.arange(k) * 2 * math.pi / k
    return (norm * torch.stack([a.cos(), a.sin()]))[None]  # (1, 2, k)


def test_geometry_of_known_arrangements():
    pent = _polygon(5)
    assert sp.fractional_dims(pent)[0].tolist() == pytest.approx([0.4] * 5, abs=1e-5)
    assert sp.dims_per_feature(pent).item() == pytest.approx(0.4)
    assert sp.superposition(pent)[0].tolist() == pytest.approx([1.5] * 5, abs=1e-5)  # 2 cos²72° + 2 cos²144°
    pair = torch.tensor([[[1.0, -1.0]]])  # antipodal pair in one dimension
    assert sp.fractional_dims(pair)[0].tolist() == pytest.approx([0.5, 0.5])
    ortho = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])  # two features in their own dims, one dropped
    assert sp.fractional_dims(ortho)[0].tolist() == pytest.approx([1.0, 1.0, 0.0])
    assert sp.superposition(ortho)[0].tolist() == pytest.approx([0.0, 0.0, 0.0])
    assert sp.represented(ortho).item() == 2
    gram = sp.gram(pent)[0]
    assert torch.allclose(gram.diagonal(), torch.ones(5), atol=1e-6)


def test_classify_extra_feature():
    W = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]], [[1.0, -1.0]], [[0.2, 0.9]]])  # (inst, m=1, n=2)
    assert sp.classify_extra(W).tolist() == [sp.NOT_LEARNED, sp.DEDICATED, sp.SUPERPOSED, sp.DEDICATED]


def test_best_of_keeps_the_lowest_loss_restart():
    W = torch.arange(4.0).view(4, 1, 1)
    models = sp.ToyModels(W, torch.zeros(4, 1), torch.tensor([3.0, 1.0, 0.5, 2.0]), torch.zeros(2, 4), [0, 1])
    best = sp.best_of(models, restarts=2)
    assert best.W.flatten().tolist() == [1.0, 2.0] and best.loss.tolist() == [1.0, 0.5]
    with pytest.raises(ValueError):
        sp.best_of(models, restarts=3)


def test_train_refuses_bad_shapes_and_densities():
    with pytest.raises(ValueError, match="must both be"):
        sp.train(torch.ones(2, 3), torch.ones(3, 2), 1)
    with pytest.raises(ValueError, match="densities"):
        sp.train(torch.ones(1, 2), torch.zeros(1, 2), 1)


@pytest.fixture(scope="module")
def row():
    """The page's default row: 5 features, importance 0.9^i, 12 sparsities, best of 4 restarts."""
    return sp.default_row(5, 0.9)


def test_dense_features_get_two_orthogonal_dimensions(row):
    W = row.W[sp.SPARSITIES.index(0.0)]  # (2, 5)
    norms = sp.norms(W[None])[0]
    assert sp.represented(W[None]).item() == 2
    assert set(torch.nonzero(norms > 0.5).flatten().tolist()) == {0, 1}  # the two most important
    w0, w1 = W[:, 0], W[:, 1]
    assert abs(float(w0 @ w1)) / float(w0.norm() * w1.norm()) < 0.05  # orthogonal: no superposition


def test_sparse_features_form_a_pentagon(row):
    W = row.W[sp.SPARSITIES.index(0.97)]  # (2, 5)
    norms = sp.norms(W[None])[0]
    assert sp.represented(W[None]).item() == 5
    assert norms.min() > 0.85 * norms.max()  # similar norms
    angles = sorted(math.degrees(math.atan2(float(W[1, i]), float(W[0, i]))) % 360 for i in range(5))
    gaps = [(angles[(i + 1) % 5] - angles[i]) % 360 for i in range(5)]
    assert all(abs(g - 72) < 10 for g in gaps), gaps
    assert sp.fractional_dims(W[None])[0].tolist() == pytest.approx([0.4] * 5, abs=0.05)


def test_more_sparsity_never_loses_features(row):
    counts = sp.represented(row.W).tolist()
    assert counts[0] == 2 and counts[-1] == 5
    assert all(b >= a - 1 for a, b in zip(counts, counts[1:])), counts  # restarts may wobble by one, no more
    first = sp.first_all_represented(row)
    assert first is not None and all(c == 5 for c, s in zip(counts, sp.SPARSITIES) if s >= first)


def test_show_code_trains_the_same_kind_of_model():
    """The toy_model widget's "Show code" (one restart, plain autograd) also finds the pentagon at S = 0.97."""
    from app.widgets.superposition import ToyModelParams

    scope: dict = {}
    exec(ToyModelParams(sparsity=0.97).code(), scope)
    W = scope["W"]  # (2, 5)
    assert (W.norm(dim=0) > 0.5).sum().item() == 5
    angles = sorted(math.degrees(math.atan2(float(W[1, i]), float(W[0, i]))) % 360 for i in range(5))
    gaps = [(angles[(i + 1) % 5] - angles[i]) % 360 for i in range(5)]
    assert all(abs(g - 72) < 12 for g in gaps), gaps
