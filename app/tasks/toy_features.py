"""Synthetic sparse features for the toy models of superposition.

Elhage et al. 2022, *Toy Models of Superposition*, section "Demonstrating Superposition"
(https://transformer-circuits.pub/2022/toy_model/index.html): each input is a vector of
``n`` independent features; a feature is 0 with probability ``S`` (the sparsity) and
otherwise uniform on [0, 1]. Each feature also carries an importance ``I_i`` that weights
its reconstruction error; we use a geometric decay ``I_i = r**i``.

Many models are trained at once (one per instance: a sparsity, an importance profile,
a random restart), so a batch is laid out ``(instance, feature, sample)``: samples last
keeps the model's matrix products long and cheap on a CPU.

Worked example (2 instances, 3 features, 4 samples; density = 1 - S)::

    >>> g = torch.Generator().manual_seed(0)
    >>> x = feature_batch(torch.tensor([[1.0] * 3, [0.25] * 3]), 4, g)
    >>> x.shape                    # (instance, feature, sample)
    torch.Size([2, 3, 4])
    >>> (x[0] > 0).all().item()    # density 1: every feature is on
    True
    >>> # instance 1: each entry is on with probability 0.25, so most are exactly 0

One uniform draw per entry gives both the on/off decision and the value: with
``u ~ U[0, 1)``, ``max(0, 1 - u / p)`` is 0 with probability ``1 - p`` and otherwise
uniform on (0, 1] (for ``u < p``, ``u / p`` is uniform on [0, 1)). Random numbers are most of
the cost of training these small models, so drawing one per entry instead of two matters.
"""

from __future__ import annotations

import torch


def importance(n_features: int, decay: float) -> torch.Tensor:
    """``decay ** i`` for i = 0..n-1: feature 0 matters most. Shape (n_features,)."""
    if n_features < 1:
        raise ValueError("need at least one feature")
    if not 0.0 < decay <= 1.0:
        raise ValueError(f"importance decay must be in (0, 1], got {decay}")
    return decay ** torch.arange(n_features, dtype=torch.float32)


def density_from_sparsity(sparsity: float) -> float:
    """Feature probability ``1 - S``; S must leave some chance of a feature being on."""
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity S must be in [0, 1), got {sparsity}")
    return 1.0 - sparsity


def feature_batch(density: torch.Tensor, batch: int, generator: torch.Generator,
                  out: torch.Tensor | None = None) -> torch.Tensor:
    """A batch of sparse features: (instance, feature, sample).

    ``density``: (instance, feature) probability that each feature is on (1 - S).
    ``out``: an optional (instance, feature, sample) buffer to draw into (saves an allocation per step).
    """
    n_inst, n_features = density.shape
    if out is None:
        out = torch.empty(n_inst, n_features, batch, device=density.device)
    u = out.uniform_(generator=generator)  # (inst, feat, batch)
    p = density[:, :, None]  # (inst, feat, 1)
    return u.div_(p).neg_().add_(1.0).clamp_(min=0.0)  # in place: the buffer becomes the batch
