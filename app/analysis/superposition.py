"""Toy models of superposition: train many small ReLU autoencoders at once and measure their geometry.

Elhage et al. 2022, *Toy Models of Superposition*,
https://transformer-circuits.pub/2022/toy_model/index.html

- The model ("Demonstrating Superposition", the ReLU output model): ``h = W x`` squeezes
  ``n`` features into ``m < n`` dimensions, ``x' = ReLU(Wᵀ h + b)`` reads them back, and the
  loss is ``Σ_i I_i (x_i - x'_i)²`` with importances ``I_i``.
- Geometry ("Demonstrating Superposition", the ‖W_i‖ / superposition bar charts): how much
  of each feature is kept (‖W_i‖) and how much the others leak into its direction,
  ``Σ_{j≠i} (Ŵ_i · W_j)²``.
- "Superposition as a Phase Change": for 2 features in 1 dimension, whether the extra
  feature is dropped, gets the dimension to itself, or shares it (``classify_extra``).
- "The Geometry of Superposition", *Feature Dimensionality*: dimensions per feature
  ``m / ‖W‖_F²`` and each feature's fractional dimensionality
  ``D_i = ‖W_i‖² / Σ_j (Ŵ_i · W_j)²``.

Every function takes a batch of instances: ``W`` is (instance, m, n) and ``b`` is
(instance, n). Training writes the gradient of the loss by hand (two matrix products
each way) instead of calling autograd: on one CPU thread this is 2-3x faster for models
this small, which is what lets the page train the 5→2 model live.
``tests/test_superposition_analysis.py`` checks the hand-written gradient against autograd.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, replace
from typing import Callable

import torch

from app import zoo
from app.tasks.toy_features import feature_batch, importance

THRESHOLD = 0.5  # ‖W_i‖ above this counts as "represented" (a learned feature has norm ~1, a dropped one ~0)


@dataclass(frozen=True)
class TrainConfig:
    """Training defaults; the live page and the recipe override a few of them."""

    steps: int = 1000
    batch: int = 1024
    lr: float = 1e-2  # Adam, cosine-decayed to 0 over ``steps``
    seed: int = 0
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    loss_window: float = 0.2  # the reported loss averages the last 20% of steps (many samples, cheap)


@dataclass(frozen=True)
class ToyModels:
    """A batch of trained toy models, one per instance."""

    W: torch.Tensor  # (inst, m, n)
    b: torch.Tensor  # (inst, n)
    loss: torch.Tensor  # (inst,) importance-weighted loss per sample, averaged over the last steps
    curve: torch.Tensor  # (points, inst) the same loss at evenly spaced steps
    curve_steps: list[int]


def forward(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """x' = ReLU(Wᵀ W x + b) for x: (inst, n, batch) -> (inst, n, batch)."""
    h = torch.bmm(W, x)  # (inst, m, batch)
    return torch.relu(torch.baddbmm(b[:, :, None], W.transpose(1, 2), h))


def loss_and_grads(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor, imp: torch.Tensor):
    """Loss per instance (summed over features, averaged over samples) and its gradients.

    W: (inst, m, n), b: (inst, n), x: (inst, n, batch), imp: (inst, n).
    With z = Wᵀ W x + b and err = ReLU(z) - x:
      dL/dz = 2 I ⊙ err ⊙ [z > 0] / batch
      dL/dW = (W x) (dL/dz)ᵀ + (W dL/dz) xᵀ      (W appears twice: once to encode, once to decode)
      dL/db = Σ_samples dL/dz
    """
    batch = x.shape[-1]
    h = torch.bmm(W, x)  # (inst, m, batch)
    z = torch.baddbmm(b[:, :, None], W.transpose(1, 2), h)  # (inst, n, batch)
    err = z.clamp(min=0) - x  # (inst, n, batch)
    w_err = err * imp[:, :, None]  # (inst, n, batch)
    loss = (w_err * err).sum((1, 2)) / batch  # (inst,)
    gz = torch.ops.aten.threshold_backward(w_err.mul_(2.0 / batch), z, 0.0)  # ReLU's backward: 0 where z <= 0
    gh = torch.bmm(W, gz)  # (inst, m, batch)
    gW = torch.bmm(h, gz.transpose(1, 2)).baddbmm_(gh, x.transpose(1, 2))  # (inst, m, n)
    gb = gz.sum(2)  # (inst, n)
    return loss, gW, gb


@torch.no_grad()
def train(importance: torch.Tensor, density: torch.Tensor, d_hidden: int, cfg: TrainConfig = TrainConfig(),
          progress: Callable[[float], None] | None = None, device: str | torch.device = "cpu") -> ToyModels:
    """Train one toy model per instance with Adam, all in one tensor.

    importance, density: (inst, n) per-feature importance I_i and probability of being on (1 - S).
    ``progress(fraction)`` is called about 50 times.
    """
    if importance.shape != density.shape or importance.ndim != 2:
        raise ValueError(f"importance {tuple(importance.shape)} and density {tuple(density.shape)} must both be (inst, n)")
    n_inst, n = importance.shape
    if not 1 <= d_hidden:
        raise ValueError("d_hidden must be at least 1")
    if not bool(((density > 0) & (density <= 1)).all()):
        raise ValueError("feature densities must be in (0, 1]")
    g = torch.Generator(device=device).manual_seed(cfg.seed)
    imp, dens = importance.to(device), density.to(device)
    W = torch.empty(n_inst, d_hidden, n, device=device).normal_(0, math.sqrt(2 / (d_hidden + n)), generator=g)  # Xavier
    b = torch.zeros(n_inst, n, device=device)
    params = (W, b)
    m1 = [torch.zeros_like(p) for p in params]
    m2 = [torch.zeros_like(p) for p in params]
    buf = torch.empty(n_inst, n, cfg.batch, device=device)
    every = max(1, cfg.steps // 50)
    window_start = int(cfg.steps * (1 - cfg.loss_window))
    window = torch.zeros(n_inst, device=device)
    curve, curve_steps = [], []
    for step in range(cfg.steps):
        x = feature_batch(dens, cfg.batch, g, out=buf)  # (inst, n, batch)
        loss, gW, gb = loss_and_grads(W, b, x, imp)
        if step >= window_start:
            window += loss
        if step % every == 0 or step == cfg.steps - 1:
            curve.append(loss.cpu())
            curve_steps.append(step)
            if progress is not None:
                progress(step / cfg.steps)
        lr = cfg.lr * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
        c1, c2 = 1 - cfg.beta1 ** (step + 1), 1 - cfg.beta2 ** (step + 1)
        for p, grad, a, v in zip(params, (gW, gb), m1, m2):  # Adam, by hand
            a.lerp_(grad, 1 - cfg.beta1)
            v.mul_(cfg.beta2).addcmul_(grad, grad, value=1 - cfg.beta2)
            p.addcdiv_(a, v.div(c2).sqrt_().add_(cfg.eps), value=-lr / c1)
    if progress is not None:
        progress(1.0)
    n_window = cfg.steps - window_start
    return ToyModels(W.cpu(), b.cpu(), (window / max(n_window, 1)).cpu(), torch.stack(curve), curve_steps)


def best_of(models: ToyModels, restarts: int) -> ToyModels:
    """Keep the lowest-loss restart of each setting: instances are laid out (setting, restart)."""
    n_inst = models.W.shape[0]
    if n_inst % restarts:
        raise ValueError(f"{n_inst} instances do not split into groups of {restarts} restarts")
    loss = models.loss.view(-1, restarts)  # (setting, restart)
    pick = loss.argmin(1) + torch.arange(loss.shape[0]) * restarts  # (setting,)
    return ToyModels(models.W[pick], models.b[pick], models.loss[pick], models.curve[:, pick], models.curve_steps)


# ---- the experiments: one tensor of instances each ---------------------------------------------------

LIVE = TrainConfig(batch=512)  # what the page trains: 1,000 Adam steps of 512 samples (same models as 1,024, 2x faster)
SPARSITIES = (0.0, 0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99)  # the live row of models


def sparsity_row(n_features: int, decay: float, sparsities=SPARSITIES, d_hidden: int = 2, restarts: int = 4,
                 cfg: TrainConfig = LIVE, progress=None) -> ToyModels:
    """One n→m model per sparsity S (the best of ``restarts``), all trained in one tensor.

    Importance I_i = decay**i; every feature has density 1 - S. The paper's first figure is
    such a row for 5 features in 2 dimensions. Instances: (sparsity, restart) -> best per sparsity.
    """
    S = torch.tensor(sparsities, dtype=torch.float32)  # (k,)
    imp = importance(n_features, decay).repeat(len(S) * restarts, 1)  # (k*restarts, n)
    dens = (1 - S).repeat_interleave(restarts)[:, None].expand(-1, n_features).contiguous()  # (k*restarts, n)
    return best_of(train(imp, dens, d_hidden, cfg, progress), restarts)


@functools.lru_cache(maxsize=8)
def default_row(n_features: int = 5, decay: float = 0.9, seed: int = 0) -> ToyModels:
    """``sparsity_row`` with the page's settings, memoised per process (exercise checks reuse it; don't mutate)."""
    return sparsity_row(n_features, decay, cfg=replace(LIVE, seed=seed))


def first_all_represented(models: ToyModels, sparsities=SPARSITIES) -> float | None:
    """The smallest sparsity in the row from which on every feature is represented (None if never)."""
    n = models.W.shape[-1]
    full = (represented(models.W) == n).tolist()
    for i, s in enumerate(sparsities):
        if all(full[i:]):
            return float(s)
    return None


def phase_grid(rel_importance, density, restarts: int = 4, cfg: TrainConfig = LIVE, progress=None,
               device="cpu") -> ToyModels:
    """2 features in 1 dimension over a grid: feature 0 has importance 1, the extra feature 1 ``rel_importance``.

    Both features have the same density. Returns the best restart per cell, cells laid out
    (density, importance) row-major: index = i_density * len(rel_importance) + i_importance.
    """
    rel = torch.as_tensor(rel_importance, dtype=torch.float32)  # (R,)
    dens = torch.as_tensor(density, dtype=torch.float32)  # (D,)
    d, r = torch.meshgrid(dens, rel, indexing="ij")  # (D, R) each
    imp = torch.stack([torch.ones_like(r), r], -1).reshape(-1, 2).repeat_interleave(restarts, 0)  # (D*R*restarts, 2)
    den = torch.stack([d, d], -1).reshape(-1, 2).repeat_interleave(restarts, 0)  # (D*R*restarts, 2)
    return best_of(train(imp, den, 1, cfg, progress, device=device), restarts)


def dims_sweep(n_features: int, d_hidden: int, density, cfg: TrainConfig, progress=None, device="cpu") -> ToyModels:
    """Equal-importance n→m models, one per density (the paper's feature-dimensionality experiment)."""
    dens = torch.as_tensor(density, dtype=torch.float32)[:, None].expand(-1, n_features).contiguous()  # (k, n)
    return train(torch.ones_like(dens), dens, d_hidden, cfg, progress, device=device)


# ---- geometry -------------------------------------------------------------------------------------


def norms(W: torch.Tensor) -> torch.Tensor:
    """‖W_i‖, how strongly each feature is embedded: (inst, m, n) -> (inst, n)."""
    return W.norm(dim=1)


def gram(W: torch.Tensor) -> torch.Tensor:
    """WᵀW: (inst, m, n) -> (inst, n, n). Its diagonal is ‖W_i‖², its off-diagonal the overlaps W_i·W_j."""
    return W.transpose(1, 2) @ W


def _overlaps(W: torch.Tensor) -> torch.Tensor:
    """(Ŵ_i · W_j)²: (inst, m, n) -> (inst, n_i, n_j); a feature with W_i = 0 has no direction, so its row is 0."""
    unit = W / W.norm(dim=1, keepdim=True).clamp(min=1e-8)  # (inst, m, n)
    return (unit.transpose(1, 2) @ W) ** 2  # (inst, n, n)


def superposition(W: torch.Tensor) -> torch.Tensor:
    """Σ_{j≠i} (Ŵ_i · W_j)²: how much the other features project onto feature i's direction. (inst, n)."""
    ov = _overlaps(W)
    return ov.sum(-1) - ov.diagonal(dim1=1, dim2=2)


def dims_per_feature(W: torch.Tensor) -> torch.Tensor:
    """m / ‖W‖_F²: hidden dimensions per represented feature (‖W‖_F² counts features of norm ~1). (inst,)."""
    return W.shape[1] / W.pow(2).sum((1, 2)).clamp(min=1e-8)


def fractional_dims(W: torch.Tensor) -> torch.Tensor:
    """D_i = ‖W_i‖² / Σ_j (Ŵ_i · W_j)²: the share of a dimension feature i gets. (inst, n).

    1 for a feature alone in its direction, 1/2 for an antipodal pair, 2/5 in a pentagon,
    0 for a feature that is not represented.
    """
    ov = _overlaps(W)
    return W.pow(2).sum(1) / ov.sum(-1).clamp(min=1e-8)


def represented(W: torch.Tensor, threshold: float = THRESHOLD) -> torch.Tensor:
    """How many features have ‖W_i‖ above ``threshold``. (inst,) ints."""
    return (norms(W) > threshold).sum(-1)


# Fractions of a dimension that features "stick" at (paper, "Feature Dimensionality"): 1 alone, 3/4 tetrahedron,
# 2/3 triangle, 1/2 antipodal pair, 2/5 pentagon, 1/3; per feature we also meet 3/8 (square antiprism), 2/7, 1/4.
STICKY = {"1": 1.0, "3/4": 0.75, "2/3": 2 / 3, "1/2": 0.5, "2/5": 0.4, "1/3": 1 / 3}
FEATURE_FRACTIONS = {**STICKY, "3/8": 0.375, "2/7": 2 / 7, "1/4": 0.25}

NOT_LEARNED, DEDICATED, SUPERPOSED = 0, 1, 2
PHASES = {NOT_LEARNED: "not learned", DEDICATED: "dedicated dimension", SUPERPOSED: "superposition"}


def classify_extra(W: torch.Tensor, threshold: float = THRESHOLD) -> torch.Tensor:
    """The phase of the last ("extra") feature of each instance. (inst,) ints, keys of ``PHASES``.

    not learned: the extra feature's norm stays below ``threshold``;
    dedicated: it is learned and no other feature overlaps its direction (superposition < 0.1);
    superposition: it is learned and shares its direction with another learned feature.
    """
    norm = norms(W)[:, -1]  # (inst,)
    shared = superposition(W)[:, -1]  # (inst,)
    out = torch.full_like(norm, SUPERPOSED, dtype=torch.long)
    out[shared < 0.1] = DEDICATED
    out[norm < threshold] = NOT_LEARNED
    return out


def phase_boundary(column: list[int]) -> tuple[int, int]:
    """Where one importance column of the phase diagram (low density first) stops being superposition.

    Returns (k, off): the split "superposition for the first k densities, another phase above"
    that fits the column best, and how many cells disagree with it (restarts that got stuck).
    """
    best = (0, len(column) + 1)
    for k in range(len(column) + 1):
        off = sum(c != SUPERPOSED for c in column[:k]) + sum(c == SUPERPOSED for c in column[k:])
        if off < best[1]:
            best = (k, off)
    return best


def boundary_estimate(rel_importance: float) -> float:
    """Back-of-the-envelope density below which the extra feature should share the dimension.

    With W = (1, -1) and no bias, sharing costs error only when both features are on:
    p² (1 + r) E[min(u, v)²] = p² (1 + r) / 6. Dropping the less important feature costs
    min(1, r) E[u²] p = min(1, r) p / 3. Sharing wins below p* = 2 min(1, r) / (1 + r).
    """
    r = rel_importance
    return 2 * min(1.0, r) / (1 + r)


def shipped(file: str, model: str = "tms") -> dict:
    """A result file written by the ``tms`` recipe (``python -m app.training tms``), e.g. phase_diagram.json."""
    return json.loads((zoo.toy_dir(model) / file).read_text())
