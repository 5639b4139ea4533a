"""In-context-learning score and per-position loss.

Technique: Olsson et al. (2022), "In-context Learning and Induction Heads", section
"Key Concepts / In-context learning score":
https://transformer-circuits.pub/2022/in-context-learning-and-induction-heads/index.html.
The paper takes the loss at the 500th token minus the loss at the 50th token of a
512-token context. Scaled to our 256-token context that is token 250 minus token 25;
we average over positions 245-254 and 20-29 to cut noise from 32 eval windows.
"""

from __future__ import annotations

import torch

from app.analysis.heads import per_token_loss

LATE = slice(245, 255)  # predictions of tokens ~250
EARLY = slice(20, 30)  # predictions of tokens ~25


def per_position_loss(model, tokens: torch.Tensor) -> torch.Tensor:
    """(seq_len - 1,) loss at each position, averaged over the batch."""
    return per_token_loss(model, tokens).mean(0)


def icl_score(position_loss: torch.Tensor) -> float:
    """Late-token loss minus early-token loss (negative = the model learns in context)."""
    return float(position_loss[LATE].mean() - position_loss[EARLY].mean())


def binned(position_loss: torch.Tensor, n_bins: int = 32) -> list[float]:
    """Mean loss in ``n_bins`` equal runs of positions (for compact curves)."""
    return [round(float(chunk.mean()), 4) for chunk in position_loss.tensor_split(n_bins)]
