"""Skip-trigrams read off a one-layer attention-only model for one prompt.

Technique: Elhage et al. (2021), "A Mathematical Framework for Transformer Circuits",
section "One-Layer Attention-Only Transformers" / "Skip-Trigrams":
https://transformer-circuits.pub/2021/framework/index.html. A head at the current
token B attends to an earlier token A (its QK circuit) and moves A's OV-circuit row
into the logits, raising some tokens C: the skip-trigram "A ... B -> C".
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SkipTrigram:
    """One (head, attended source) pair at the destination position."""

    head: int
    src_pos: int
    src_token: int
    attention: float
    dest_token: int
    predicted: list[int]  # tokens C the OV circuit of this source raises most
    ov_logits: list[float]  # their direct OV logits


@torch.no_grad()
def skip_trigrams(model, tokens: torch.Tensor, position: int, k: int, layer: int = 0) -> list[SkipTrigram]:
    """The top-``k`` attended sources per head at ``position`` and what each one predicts.

    ``tokens``: (seq,) token ids including BOS. Run under the model's zoo lock.
    """
    name = f"blocks.{layer}.attn.hook_pattern"
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens[None], names_filter=lambda n: n == name)
    seq = tokens.shape[0]
    pos = position % seq
    pattern = cache[name][0, :, pos, : pos + 1]  # (head, key)
    out: list[SkipTrigram] = []
    for h in range(model.cfg.n_heads):
        top = torch.topk(pattern[h], min(k, pos + 1))
        src_tokens = tokens[top.indices]  # (k,)
        ov = model.W_E[src_tokens] @ model.W_V[layer, h] @ model.W_O[layer, h] @ model.W_U  # (k, V)
        best = torch.topk(ov, k, dim=-1)
        for j in range(len(src_tokens)):
            out.append(SkipTrigram(h, int(top.indices[j]), int(src_tokens[j]), float(top.values[j]),
                                   int(tokens[pos]), best.indices[j].tolist(), best.values[j].tolist()))
    return out
