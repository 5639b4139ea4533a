"""Weight-level circuits of attention-only transformers (no LayerNorm).

Technique: the path expansion of Elhage et al. (2021), "A Mathematical Framework for
Transformer Circuits", https://transformer-circuits.pub/2021/framework/index.html.
With no LayerNorm and no MLPs the logits are a sum of paths: the direct path
W_E W_U (section "Zero-Layer Transformers"), one term per head through its QK and OV
circuits (section "One-Layer Attention-Only Transformers"), and, from two layers,
compositions between heads (section "Two-Layer Attention-Only Transformers").

All matrices are TransformerLens ``FactoredMatrix`` objects so that a vocab x vocab
circuit never has to be materialised unless a caller asks for a block of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformer_lens import FactoredMatrix


@dataclass(frozen=True)
class TokenScores:
    """Top tokens with a score each; ``ids[i]`` has score ``scores[i]``."""

    ids: list[int]
    scores: list[float]


@dataclass(frozen=True)
class TokenPairs:
    """Top (row token, column token) pairs of a vocab x vocab circuit."""

    rows: list[int]
    cols: list[int]
    scores: list[float]


def direct_path(model) -> FactoredMatrix:
    """W_E W_U: (d_vocab, d_vocab) logits for the next token from the current token alone."""
    return FactoredMatrix(model.W_E, model.W_U)  # (V, d) @ (d, V)


def ov_circuit(model, layer: int, head: int) -> FactoredMatrix:
    """W_E W_V W_O W_U: row = attended (source) token, column = logit it adds."""
    return FactoredMatrix(model.W_E @ model.W_V[layer, head], model.W_O[layer, head] @ model.W_U)


def qk_circuit(model, layer: int, head: int) -> FactoredMatrix:
    """W_E W_Q W_K^T W_E^T: row = query (destination) token, column = key (source) token.

    Pre-softmax attention score from token embeddings alone (positional terms dropped).
    For layer > 0 this is the direct (embedding-to-embedding) part of the circuit only.
    """
    scale = model.cfg.d_head**0.5
    return FactoredMatrix(model.W_E @ model.W_Q[layer, head], model.W_K[layer, head].T @ model.W_E.T) * (1 / scale)


@torch.no_grad()
def top_in_row(circuit: FactoredMatrix, row: int, k: int) -> TokenScores:
    """The ``k`` largest entries of one row of a vocab x vocab circuit."""
    values = (circuit.A[row] @ circuit.B)  # (V,)
    top = torch.topk(values, k)
    return TokenScores(top.indices.tolist(), top.values.tolist())


@torch.no_grad()
def top_pairs(circuit: FactoredMatrix, k: int, exclude: set[int] = frozenset()) -> TokenPairs:
    """The ``k`` largest entries of the whole circuit, skipping rows/columns in ``exclude``."""
    full = circuit.AB.clone()  # (V, V): 16 MB at V = 2048
    if exclude:
        idx = torch.tensor(sorted(exclude))
        full[idx, :] = float("-inf")
        full[:, idx] = float("-inf")
    top = torch.topk(full.flatten(), k)
    n_cols = full.shape[1]
    return TokenPairs((top.indices // n_cols).tolist(), (top.indices % n_cols).tolist(), top.values.tolist())


@torch.no_grad()
def block(circuit: FactoredMatrix, rows: list[int], cols: list[int]) -> torch.Tensor:
    """A (len(rows), len(cols)) block of the circuit, computed without the full matrix."""
    return circuit.A[rows] @ circuit.B[:, cols]


@torch.no_grad()
def ov_eigenvalues(model, layer: int, head: int) -> torch.Tensor:
    """Non-zero eigenvalues of the full OV circuit (complex, length d_head)."""
    return ov_circuit(model, layer, head).eigenvalues


def copying_score(eigenvalues: torch.Tensor) -> float:
    """Sum of eigenvalues over sum of their magnitudes, in [-1, 1] (framework paper, "Copying").

    Near +1: the head maps a token to (a boost of) itself, i.e. it copies what it attends to.
    """
    return float(eigenvalues.sum().real / eigenvalues.abs().sum())


@torch.no_grad()
def copying_scores(model) -> torch.Tensor:
    """(n_layers, n_heads) copying score of every head's direct OV circuit."""
    cfg = model.cfg
    return torch.tensor(
        [[copying_score(ov_eigenvalues(model, l, h)) for h in range(cfg.n_heads)] for l in range(cfg.n_layers)]
    )


@torch.no_grad()
def composition_scores(model, mode: str) -> torch.Tensor:
    """(n_heads, n_heads) Q/K/V-composition of layer-0 heads (rows) into layer-1 heads (cols).

    Wraps ``TransformerBridge.all_composition_scores``, the framework paper's
    ||W_A W_B||_F / (||W_A||_F ||W_B||_F).
    """
    if model.cfg.n_layers < 2:
        raise ValueError("composition needs at least two layers; pick attn-only-2l")
    scores = model.all_composition_scores(mode)
    scores = getattr(scores, "scores", scores)  # (L, H, L, H)
    return scores[0, :, 1, :].detach()


@torch.no_grad()
def random_composition_baseline(model, n_samples: int = 200, seed: int = 0) -> float:
    """Mean composition score of random Gaussian matrices with the model's shapes.

    The framework paper compares scores against this baseline, which is far from zero
    when d_head is small relative to d_model.
    """
    from transformer_lens.utilities import composition_scores as tl_composition_scores

    g = torch.Generator().manual_seed(seed)
    d, dh = model.cfg.d_model, model.cfg.d_head
    a = FactoredMatrix(torch.randn(n_samples, d, dh, generator=g), torch.randn(n_samples, dh, d, generator=g))
    b = FactoredMatrix(torch.randn(n_samples, d, dh, generator=g), torch.randn(n_samples, dh, d, generator=g))
    return float(tl_composition_scores(a, b).mean())
