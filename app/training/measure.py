"""The measured properties a model card reports and the tests assert."""

from __future__ import annotations

import torch

from app.analysis import circuits, heads, icl, induction

REPEAT_HALF_LEN = 50
REPEAT_BATCH = 8


def head_label(layer: int, head: int) -> str:
    """'L{layer}H{head}', the label used in metrics, tables and exercise answers."""
    return f"L{layer}H{head}"


def per_head(t: torch.Tensor) -> dict[str, float]:
    return {head_label(l, h): round(float(t[l, h]), 4) for l in range(t.shape[0]) for h in range(t.shape[1])}


def half_rise_step(curve: list[dict]) -> int:
    """First recorded step where the best induction score has covered half its rise from the start."""
    best = [max(p["induction_score"].values()) for p in curve]
    lo, hi = best[0], max(best)
    return next(p["step"] for p, b in zip(curve, best) if b >= lo + (hi - lo) / 2)


def phase_change_step(curve: list[dict]) -> int | None:
    """``half_rise_step``, or None where the induction score never rises (no phase change)."""
    if not curve:
        return None
    best = [max(p["induction_score"].values()) for p in curve]
    if max(best) - best[0] < 0.1:  # no induction head formed (uniform attention scores about 0.01)
        return None
    return half_rise_step(curve)


def measure(model, eval_tokens: torch.Tensor, repeat_vocab=None, curve: list[dict] | None = None) -> dict:
    """Loss on the shipped eval windows, per-head copying / previous-token / induction scores,
    repeated-token losses, and (2+ layers) the strongest K-composition pair."""
    pos_loss = icl.per_position_loss(model, eval_tokens)  # (seq-1,)
    loss = float(pos_loss.mean())
    toks = heads.repeated_tokens(model.cfg.d_vocab, REPEAT_HALF_LEN, REPEAT_BATCH, seed=0, vocab=repeat_vocab)
    scores = heads.head_scores(model, toks, REPEAT_HALF_LEN)
    first, second = heads.half_losses(heads.per_token_loss(model, toks), REPEAT_HALF_LEN)
    top = divmod(int(scores.induction.argmax()), model.cfg.n_heads)  # the top induction head
    _, ablated = heads.half_losses(induction.ablated_loss(model, toks, [top]), REPEAT_HALF_LEN)
    out = {
        "loss": round(loss, 4),
        "icl_score": round(icl.icl_score(pos_loss), 4),
        "copying_score": per_head(circuits.copying_scores(model)),
        "prev_token_score": per_head(scores.previous_token),
        "induction_score": per_head(scores.induction),
        "repeat_loss_first_half": round(first, 4),
        "repeat_loss_second_half": round(second, 4),
        "phase_change_step": phase_change_step(curve or []),
        "ablation_head": head_label(*top),  # the top induction head ...
        "ablation_loss_increase": round(ablated - second, 4),  # ... zero-ablated: second-copy loss increase
    }
    if model.cfg.n_layers >= 2:
        k = circuits.composition_scores(model, "K")  # (H0, H1)
        src, dst = divmod(int(k.argmax()), k.shape[1])
        out["k_composition_max"] = {
            "pair": [head_label(0, src), head_label(1, dst)],
            "score": round(float(k.max()), 4),
            "random_baseline": round(circuits.random_composition_baseline(model), 4),
        }
    return out
