"""Modular addition, the task of the grokking paper.

Nanda, Chan, Lieberum, Smith & Steinhardt (2023), "Progress measures for grokking via
mechanistic interpretability", https://arxiv.org/abs/2301.05217, section 3 (setup).

Every input is three tokens ``a b =`` with ``a, b`` in ``0..p-1`` and ``=`` the token id
``p``; the answer is ``(a + b) mod p``, read off the logits at the ``=`` position (only the
first ``p`` logits, the numbers). A seeded fraction of all ``p * p`` pairs is the training set;
the rest is the test set.
"""

from __future__ import annotations

import torch

P = 113  # the paper's modulus
EQUALS = P  # token id of "="


def all_pairs(p: int = P) -> torch.Tensor:
    """Every input, row ``a * p + b`` = ``[a, b, p]``: (p*p, 3) int64."""
    a = torch.arange(p).repeat_interleave(p)  # (p*p,)
    b = torch.arange(p).repeat(p)  # (p*p,)
    return torch.stack([a, b, torch.full_like(a, p)], dim=1)  # (p*p, 3)


def labels(tokens: torch.Tensor, p: int = P) -> torch.Tensor:
    """``(a + b) mod p`` for rows ``[a, b, =]``: (N,)."""
    return (tokens[:, 0] + tokens[:, 1]) % p


def split(p: int = P, frac_train: float = 0.3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded train / test indices into ``all_pairs(p)`` (disjoint, together every pair)."""
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(p * p, generator=gen)  # (p*p,)
    n_train = int(round(frac_train * p * p))
    return perm[:n_train].sort().values, perm[n_train:].sort().values


def train_mask(p: int = P, frac_train: float = 0.3, seed: int = 0) -> torch.Tensor:
    """(p, p) bool: True where the pair ``(a, b)`` is in the training set."""
    mask = torch.zeros(p * p, dtype=torch.bool)
    mask[split(p, frac_train, seed)[0]] = True
    return mask.view(p, p)
