"""Attention-head behaviour on repeated random tokens: previous-token and induction scores.

Technique: Olsson et al. (2022), "In-context Learning and Induction Heads",
https://transformer-circuits.pub/2022/in-context-learning-and-induction-heads/index.html
(section "Definitions"). A sequence of random tokens repeated twice lets an induction
head predict the second half; its pattern attends from position i to i - L + 1.
Scores use TransformerLens' ``head_detector.compute_head_attention_similarity_score``
with our own detection patterns (``detect_head`` re-tokenizes text, and random token
ids do not survive a decode/encode round trip).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformer_lens.head_detector import compute_head_attention_similarity_score


@dataclass(frozen=True)
class HeadScores:
    """Per-head scores, axes (n_layers, n_heads)."""

    previous_token: torch.Tensor
    induction: torch.Tensor


def repeated_tokens(d_vocab: int, half_len: int, batch: int, seed: int, bos: int = 0, n_special: int = 3,
                    vocab=None) -> torch.Tensor:
    """(batch, 1 + 2*half_len): BOS then random tokens, repeated once.

    Tokens are drawn from ``vocab`` (a list of ids) if given, else from every non-special id.
    Example (half_len=3): [BOS, 812, 77, 1503, 812, 77, 1503].
    """
    g = torch.Generator().manual_seed(seed)
    if vocab is None:
        half = torch.randint(n_special, d_vocab, (batch, half_len), generator=g)
    else:
        ids = torch.as_tensor(list(vocab), dtype=torch.long)
        half = ids[torch.randint(0, len(ids), (batch, half_len), generator=g)]
    return torch.cat([torch.full((batch, 1), bos), half, half], dim=1)


def previous_token_pattern(seq_len: int) -> torch.Tensor:
    """(seq_len, seq_len) ones where query i attends to key i - 1."""
    return torch.diag(torch.ones(seq_len - 1), -1)


def induction_pattern(seq_len: int, half_len: int) -> torch.Tensor:
    """(seq_len, seq_len) ones where a second-half query i attends to key i - half_len + 1."""
    pat = torch.zeros(seq_len, seq_len)
    for i in range(1 + half_len, seq_len):
        pat[i, i - half_len + 1] = 1.0
    return pat


def head_scores(model, tokens: torch.Tensor, half_len: int) -> HeadScores:
    """Previous-token and induction score of every head, averaged over the batch."""
    cfg = model.cfg
    names = [f"blocks.{l}.attn.hook_pattern" for l in range(cfg.n_layers)]
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens, names_filter=lambda n: n in names)
    seq_len = tokens.shape[1]
    device = tokens.device
    prev_pat, ind_pat = previous_token_pattern(seq_len).to(device), induction_pattern(seq_len, half_len).to(device)
    prev = torch.zeros(cfg.n_layers, cfg.n_heads)
    ind = torch.zeros(cfg.n_layers, cfg.n_heads)
    for l in range(cfg.n_layers):
        pattern = cache[names[l]]  # (batch, head, q, k)
        for h in range(cfg.n_heads):
            for b in range(tokens.shape[0]):
                prev[l, h] += float(compute_head_attention_similarity_score(
                    pattern[b, h], prev_pat, exclude_bos=False, exclude_current_token=False, error_measure="mul"
                ))
                ind[l, h] += float(compute_head_attention_similarity_score(
                    pattern[b, h], ind_pat, exclude_bos=False, exclude_current_token=False, error_measure="mul"
                ))
    return HeadScores(prev / tokens.shape[0], ind / tokens.shape[0])


def per_token_loss(model, tokens: torch.Tensor) -> torch.Tensor:
    """(batch, seq_len - 1) next-token cross-entropy at every position."""
    with torch.no_grad():
        logits = model(tokens)  # (batch, seq, V)
    logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    return -logp.gather(-1, tokens[:, 1:, None])[..., 0]


def half_losses(loss: torch.Tensor, half_len: int) -> tuple[float, float]:
    """Mean loss on the first and second copy from a ([batch,] seq-1) per-token loss of repeated tokens.

    Position p predicts token p+1, so [1:half_len] predicts tokens 2..half_len of the first copy
    and [half_len+1:] tokens 2..half_len of the second.
    """
    return float(loss[..., 1:half_len].mean()), float(loss[..., half_len + 1 :].mean())

