"""Shared pieces of the exercise checks: the result type and answer parsers (heads, integers, layers, numbers)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from app.training.measure import head_label


@dataclass(frozen=True)
class CheckResult:
    correct: bool
    feedback: str


_HEAD = re.compile(r"^\s*(?:l(?:ayer)?\s*)?(\d+)\s*(?:[.,:/\s]|h(?:ead)?)\s*(?:h(?:ead)?\s*)?(\d+)\s*$", re.I)


def parse_head(answer: str) -> tuple[int, int] | None:
    """'L0H3', 'l0h3', '0.3', '0,3', 'layer 0 head 3' -> (0, 3); anything else -> None."""
    m = _HEAD.match(answer or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def _check_head(answer: str, scores: torch.Tensor, what: str, where: str) -> CheckResult:
    """Compare a head answer with the argmax of ``scores`` (n_layers, n_heads)."""
    parsed = parse_head(answer)
    if parsed is None:
        return CheckResult(False, "Write a head as L<layer>H<head>, for example L0H3.")
    layer, head = parsed
    n_layers, n_heads = scores.shape
    if not (0 <= layer < n_layers and 0 <= head < n_heads):
        return CheckResult(False, f"L{layer}H{head} does not exist: layers 0..{n_layers - 1}, heads 0..{n_heads - 1}.")
    best = divmod(int(scores.argmax()), n_heads)
    got, top = float(scores[layer, head]), float(scores.max())
    if (layer, head) == best:
        return CheckResult(True, f"Correct: {head_label(*best)} has the highest {what} ({top:.3f}).")
    return CheckResult(False, f"{head_label(layer, head)} has {what} {got:.3f}, but another head reaches {top:.3f}. {where}")


def _int_answer(answer: str) -> int | None:
    try:
        return int(answer.replace(",", "").replace("step", "").strip())
    except ValueError:
        return None


def _layer_answer(answer: str, n_max: int) -> int | None:
    text = answer.lower().replace("layer", "").replace("after block", "").strip()
    if text in ("emb", "embed", "embeddings"):
        return 0
    value = _int_answer(text.lstrip("l"))
    return value if value is not None and 0 <= value <= n_max else None


def _number_answer(answer: str) -> float | None:
    """'0.9', '0,9', 'S = 0.9', '1/2' -> float; anything else -> None."""
    text = (answer or "").strip().lower().replace(",", ".").removeprefix("s").strip().removeprefix("=").strip()
    try:
        if "/" in text:
            num, den = text.split("/", 1)
            return float(num) / float(den)
        return float(text)
    except (ValueError, ZeroDivisionError):
        return None
