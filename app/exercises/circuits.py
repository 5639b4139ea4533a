"""Checks for the circuits walkthroughs (mathematical framework, induction heads) on the attention-only models."""

from __future__ import annotations

import torch

from app import zoo
from app.analysis import circuits
from app.exercises.common import CheckResult, parse_head, _check_head


def top_copying_head(answer: str, model: str) -> CheckResult:
    """Which head has the highest OV copying score?"""
    with zoo.use(model) as m:
        scores = circuits.copying_scores(m)
    return _check_head(answer, scores, "copying score", "Look for the brightest cell of the copying-score heatmap.")


def strongest_k_composition(answer: str, model: str = "attn-only-2l") -> CheckResult:
    """Which layer-1 head K-composes most strongly with any layer-0 head?"""
    with zoo.use(model) as m:
        k = circuits.composition_scores(m, "K")  # (H0, H1)
    per_l1 = torch.zeros(2, k.shape[1])
    per_l1[1] = k.max(dim=0).values  # the answer is a layer-1 head
    per_l1[0] = -1.0
    parsed = parse_head(answer)
    if parsed and parsed[0] == 0:
        return CheckResult(False, "K-composition reads a layer-0 head's output in a layer-1 head's keys: the answer is a layer-1 head (L1H?).")
    return _check_head(answer, per_l1, "K-composition", "Find the brightest column of the K-composition heatmap.")


def direct_path_top(answer: str, model: str, token: str) -> CheckResult:
    """What does the direct path predict most strongly after ``token``?"""
    with zoo.use(model) as m:
        tok_id = int(m.to_tokens(token, prepend_bos=False)[0, 0])
        logits = m.W_E[tok_id] @ m.W_U
        best = int(logits.argmax())
        best_str = m.to_string(torch.tensor([best]))
    if not answer:
        return CheckResult(False, "Type the token, including a leading space if it has one.")
    if answer == best_str or answer.strip() == best_str.strip():
        return CheckResult(True, f"Correct: {best_str!r} (logit {float(logits[best]):.2f}).")
    return CheckResult(False, f"Not the top one. Set the direct-path widget's token to {token!r} and read the first bar.")


def top_detector_head(answer: str, model: str, kind: str) -> CheckResult:
    """Which head does TransformerLens' detector name on the repeated-tokens view's default sequence?"""
    from app.analysis import induction

    if kind not in ("previous_token", "induction"):
        raise ValueError("kind must be previous_token or induction")
    with zoo.use(model) as m:
        vocab = induction.detector_vocab(m, zoo.repeat_vocab(model))
        text, _ = induction.repeated_text(m, vocab, half_len=30, seed=0)  # the widget's defaults
        scores = induction.detector_scores(m, text)[f"{kind}_head"]
    return _check_head(answer, scores, f"{kind.replace('_', '-')} score",
                       "Read the detector table under the repeated-tokens view (length 30, seed 0).")


def most_damaging_ablation(answer: str, model: str) -> CheckResult:
    """Which single head, zero-ablated, removes most of the second-copy advantage?"""
    from app.analysis import heads, induction

    with zoo.use(model) as m:
        half = 40
        toks = heads.repeated_tokens(m.cfg.d_vocab, half, 8, seed=0, vocab=zoo.repeat_vocab(model))
        n_layers, n_heads = m.cfg.n_layers, m.cfg.n_heads
        first, second = heads.half_losses(heads.per_token_loss(m, toks), half)
        adv = first - second
        drop = torch.zeros(n_layers, n_heads)
        for l in range(n_layers):
            for h in range(n_heads):
                a_first, a_second = heads.half_losses(induction.ablated_loss(m, toks, [(l, h)]), half)
                drop[l, h] = adv - (a_first - a_second)
    return _check_head(answer, drop, "drop in second-copy advantage (nats)",
                       f"Ablate heads one at a time in the ablation view; the intact advantage is {adv:.2f} nats.")


def phase_change_step(answer: str, model: str) -> CheckResult:
    """Roughly when does the induction head form? Within the window where its score rises."""
    curve = zoo.curve(model)
    best = [max(p["induction_score"].values()) for p in curve]
    lo, hi = best[0], max(best)
    steps = [p["step"] for p in curve]
    start = next(st for st, b in zip(steps, best) if b >= lo + 0.2 * (hi - lo))
    end = next(st for st, b in zip(steps, best) if b >= lo + 0.8 * (hi - lo))
    try:
        guess = float(answer.replace(",", "").replace("step", "").strip())
    except ValueError:
        return CheckResult(False, "Answer with a training step, a number such as 600.")
    if start - 100 <= guess <= end + 100:
        return CheckResult(True, f"Yes: the best induction score climbs from 20% to 80% of its range between steps {start} and {end}.")
    side = "before" if guess < start else "after"
    return CheckResult(False, f"Step {guess:.0f} is {side} the jump. Move the checkpoint slider and watch the bottom panel.")


CHECKS = {fn.__name__: fn for fn in (
    top_copying_head,
    strongest_k_composition,
    direct_path_top,
    top_detector_head,
    most_damaging_ablation,
    phase_change_step,
)}
