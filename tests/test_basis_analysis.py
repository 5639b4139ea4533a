"""Unit tests of app.analysis.basis (no shipped weights): rotations, kurtosis, outlier detection."""

import math

import pytest
import torch

from app import zoo
from app.analysis import basis


def test_random_rotation_is_orthogonal_seeded_and_not_a_permutation():
    q = basis.random_rotation(64, seed=3)
    assert torch.allclose(q @ q.T, torch.eye(64), atol=1e-5)
    assert torch.equal(q, basis.random_rotation(64, seed=3))
    assert not torch.equal(q, basis.random_rotation(64, seed=4))
    assert q.abs().max() < 0.7  # a dense mix of coordinates, not a signed permutation


def test_kurtosis_known_distributions():
    g = torch.Generator().manual_seed(0)
    assert float(basis.kurtosis(torch.randn(200_000, generator=g))) == pytest.approx(3.0, abs=0.05)
    assert float(basis.kurtosis(torch.rand(200_000, generator=g))) == pytest.approx(1.8, abs=0.02)
    # one value in n far from the rest: kurtosis about n
    x = torch.zeros(1000)
    x[0] = 1.0
    assert float(basis.kurtosis(x)) == pytest.approx(998.0, rel=1e-3)
    assert float(basis.kurtosis(torch.full((10,), 2.0))) == 0.0  # constant: defined as 0, not NaN


def _acts_with_outlier(n_points=2, n_tokens=2000, d=64, dim=5, scale=20.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    acts = torch.randn(n_points, n_tokens, d, generator=g)  # (point, token, d)
    acts[:, :, dim] += scale  # a steady, basis-aligned offset on every token
    return acts


def test_basis_aligned_outlier_shows_in_standard_basis_only():
    acts = _acts_with_outlier()
    s = basis.summary(acts, seed=1)
    # one coordinate of 20 among 63 of ~1: kurtosis across coordinates is about d / (1 + 63 / 400) ~ 55
    assert s["max_kurtosis_standard_basis"] > 30
    assert s["max_kurtosis_random_basis"] < 4  # rotated: the offset is spread over every coordinate
    assert s["outlier_dims"] == [5] and s["outlier_dims_random_basis"] == []
    assert s["top_dim_by_point"] == [5, 5]
    # a steady offset is not a heavy tail: per-dimension kurtosis over tokens stays Gaussian
    assert s["max_dim_kurtosis_standard_basis"] < 3.5


def test_isotropic_activations_show_nothing_in_either_basis():
    g = torch.Generator().manual_seed(0)
    s = basis.summary(torch.randn(3, 4000, 64, generator=g), seed=0)
    for key in ("max_kurtosis_standard_basis", "max_kurtosis_random_basis"):
        assert 2.5 < s[key] < 3.3, (key, s[key])
    assert s["outlier_dims"] == [] and s["outlier_dims_random_basis"] == []


def test_rotation_preserves_norms_and_token_kurtosis_of_rotated_input_matches():
    acts = _acts_with_outlier(n_points=1, n_tokens=300, d=32)
    q = basis.random_rotation(32, seed=2)
    assert torch.allclose((acts @ q).norm(dim=-1), acts.norm(dim=-1), atol=1e-3)
    # reading rotated activations in the inverse rotation recovers the standard-basis numbers
    back = basis.token_kurtosis(acts @ q, q.T)
    assert torch.allclose(back, basis.token_kurtosis(acts), atol=1e-3)


def test_residual_stream_on_a_small_pre_ln_model():
    cfg = dict(model_name="t", n_layers=2, d_model=16, d_mlp=64, n_heads=2, d_head=8, n_ctx=32, d_vocab=50,
               attn_only=False, normalization_type="LN", act_fn="gelu", seed=0)
    model = zoo.build(cfg).eval()
    tokens = torch.randint(3, 50, (4, 10))
    acts = basis.residual_stream(model, tokens)
    assert acts.shape == (3, 4 * 9, 16)  # (points: 2 resid_pre + 1 resid_post, tokens without BOS position, d_model)
    assert basis.point_labels(2) == ["resid_pre 0", "resid_pre 1", "resid_post 1"]
    s = basis.summary(acts)
    assert all(math.isfinite(v) for v in s["kurtosis_by_point"]["standard"] + s["kurtosis_by_point"]["random"])
