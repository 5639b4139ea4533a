"""Is the residual stream's standard basis special? Per-dimension outlier statistics.

Technique: Dettmers et al. (2022), "LLM.int8(): 8-bit Matrix Multiplication for Transformers
at Scale", https://arxiv.org/abs/2208.07339 (section 4, "Emergent large magnitude features"),
found a few hidden dimensions whose values are far larger than the rest, systematically, across
tokens and layers. Elhage, Lasenby & Olah (2023), "Privileged Bases in the Transformer Residual
Stream", https://transformer-circuits.pub/2023/privileged-basis/index.html, used kurtosis as the
measure of such basis-aligned outliers and traced them to Adam's per-coordinate updates.

The residual stream has no nonlinearity acting on it coordinate by coordinate, so a rotation
``R`` of every weight that writes to it (and the inverse on every weight that reads it) gives the
same function. If nothing in training broke that symmetry, the standard basis would be no more
special than any other, and a statistic of the coordinates would not change under a random
rotation. For each residual-stream point (before each block and after the last) we compare, on
held-out tokens, the standard basis with a seeded random orthogonal basis ``x @ Q``:

- activation kurtosis: for each token's vector, ``E[(x_d - mean)^4] / var^2`` across its d_model
  coordinates (Pearson; about 3 when the coordinates look Gaussian), averaged over tokens. A few
  coordinates that are far larger than the rest, on most tokens, push it up; a rotation spreads
  them over every coordinate and brings it back to about 3. This is the headline number.
- per dimension, over tokens: mean |x_d|, max |x_d|, kurtosis, and the share of tokens on which
  |x_d| is at least 6 times the token's RMS (an outlier dimension, after Dettmers et al.'s rule).
  The kurtosis over tokens need not be high for an outlier dimension: one that is large on
  almost every token is a steady offset, not a heavy tail.

Position 0 (always BOS, whose residual is the same vector in every window under causal
attention) is left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

# Dettmers et al. (2022, section 4.1) call a hidden dimension an outlier where its magnitude reaches 6 on
# at least 6% of tokens (and in at least 25% of layers). Their 6 is in the raw units of their models;
# ours is in units of each token's RMS over its coordinates, the scale LayerNorm divides by.
OUTLIER_SCALE = 6.0
OUTLIER_TOKEN_SHARE = 0.06


def random_rotation(d: int, seed: int = 0) -> torch.Tensor:
    """(d, d) Haar-random orthogonal matrix from a seeded Gaussian's QR (signs fixed)."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, d, generator=g, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    return (q * torch.sign(torch.diagonal(r))).float()  # (d, d), columns orthonormal


def kurtosis(x: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """Pearson kurtosis along ``dim`` (Gaussian 3, uniform 1.8); a constant slice gives 0."""
    c = x.float() - x.float().mean(dim, keepdim=True)
    c2 = c * c
    var = c2.mean(dim)
    k = (c2 * c2).mean(dim) / var.clamp_min(1e-30) ** 2
    return torch.where(var > 0, k, torch.zeros_like(k))


def point_names(n_layers: int) -> list[str]:
    """Residual-stream hook names, in order: before each block, then after the last one."""
    return [f"blocks.{l}.hook_resid_pre" for l in range(n_layers)] + [f"blocks.{n_layers - 1}.hook_resid_post"]


def point_labels(n_layers: int) -> list[str]:
    """Short labels for ``point_names``: 'resid_pre 0', ..., 'resid_post N-1'."""
    return [f"resid_pre {l}" for l in range(n_layers)] + [f"resid_post {n_layers - 1}"]


def residual_stream(model, tokens: torch.Tensor) -> torch.Tensor:
    """(n_points, n_tokens, d_model) residual activations, position 0 dropped, batch flattened."""
    names = point_names(model.cfg.n_layers)
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens, names_filter=lambda n: n in names)
    return torch.stack([cache[n][:, 1:].reshape(-1, model.cfg.d_model).float().cpu() for n in names])


@dataclass(frozen=True)
class BasisStats:
    """Per-dimension statistics over tokens, axes (n_points, d_model), in one basis."""

    kurtosis: torch.Tensor
    max_abs: torch.Tensor
    mean_abs: torch.Tensor
    outlier_share: torch.Tensor  # share of tokens where |x_d| >= OUTLIER_SCALE x the token's RMS

    def mean_abs_ratio(self) -> torch.Tensor:
        """(n_points, d_model) each dimension's mean |x| over the median dimension's, per point."""
        return self.mean_abs / self.mean_abs.median(1, keepdim=True).values.clamp_min(1e-12)

    def outlier_dims(self, share: float = OUTLIER_TOKEN_SHARE) -> list[int]:
        """Dimensions over ``OUTLIER_SCALE`` x RMS on at least ``share`` of tokens at some point, most often first."""
        peak = self.outlier_share.max(0).values  # (d_model,)
        idx = torch.nonzero(peak >= share).flatten()
        return [int(i) for i in idx[torch.argsort(-peak[idx])]]


def basis_stats(acts: torch.Tensor, rotation: torch.Tensor | None = None) -> BasisStats:
    """Stats of ``acts`` (n_points, n_tokens, d), optionally after ``acts @ rotation``."""
    x = acts if rotation is None else acts @ rotation  # (n_points, n_tokens, d)
    rms = x.pow(2).mean(2, keepdim=True).sqrt()  # (n_points, n_tokens, 1)
    share = (x.abs() >= OUTLIER_SCALE * rms).float().mean(1)  # (n_points, d)
    return BasisStats(kurtosis(x, dim=1), x.abs().amax(1), x.abs().mean(1), share)


def token_kurtosis(acts: torch.Tensor, rotation: torch.Tensor | None = None) -> torch.Tensor:
    """(n_points,) mean over tokens of the kurtosis across the d_model coordinates of each vector."""
    x = acts if rotation is None else acts @ rotation
    return kurtosis(x, dim=2).mean(1)


def _r(t: torch.Tensor) -> list[float]:
    return [round(float(v), 3) for v in t]


def summary(acts: torch.Tensor, seed: int = 0) -> dict:
    """The numbers a card reports, in the standard basis and in the seeded random basis.

    ``max_kurtosis_*``: the largest, over residual points, of the mean activation-vector kurtosis
    (each token's vector, kurtosis across its coordinates; ~3 when no coordinate stands out).
    ``max_dim_kurtosis_*``: the largest per-dimension kurtosis over tokens.
    """
    rotation = random_rotation(acts.shape[-1], seed)
    std, rnd = basis_stats(acts), basis_stats(acts, rotation)
    tk_std, tk_rnd = token_kurtosis(acts), token_kurtosis(acts, rotation)
    return {
        "max_kurtosis_standard_basis": round(float(tk_std.max()), 3),
        "max_kurtosis_random_basis": round(float(tk_rnd.max()), 3),
        "kurtosis_by_point": {"standard": _r(tk_std), "random": _r(tk_rnd)},
        "max_dim_kurtosis_standard_basis": round(float(std.kurtosis.max()), 3),
        "max_dim_kurtosis_random_basis": round(float(rnd.kurtosis.max()), 3),
        "top_dim_by_point": [int(i) for i in std.mean_abs.argmax(1)],
        "top_mean_abs_ratio_by_point": {"standard": _r(std.mean_abs_ratio().amax(1)),
                                        "random": _r(rnd.mean_abs_ratio().amax(1))},
        "outlier_dims": std.outlier_dims(),
        "outlier_dims_random_basis": rnd.outlier_dims(),
        "rotation_seed": seed,
        "n_tokens": int(acts.shape[1]),
    }
