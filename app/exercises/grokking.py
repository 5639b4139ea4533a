"""Checks for the grokking walkthrough (modular addition, Nanda et al. 2023)."""

from __future__ import annotations

import torch

from app import zoo
from app.exercises.common import CheckResult, _int_answer


def largest_embed_frequency(answer: str, model: str = "modadd-113") -> CheckResult:
    """Which frequency carries the largest share of the number embeddings (grokking)? k and p-k are the same."""
    from app.analysis import fourier

    p = zoo.config(model)["d_vocab"] - 1
    with zoo.use(model) as m:
        norms = fourier.embed_freq_norms({k: v.detach() for k, v in m.state_dict().items()}, p).sqrt()
    best = int(norms.argmax()) + 1
    k = _int_answer(answer)
    if k is None or not 1 <= k < p:
        return CheckResult(False, f"Answer with a frequency k between 1 and {p // 2}.")
    k = min(k, p - k)  # cos(2 pi k x / p) and cos(2 pi (p - k) x / p) are the same function
    if k == best:
        return CheckResult(True, f"Correct: frequency {best} has embedding norm {float(norms[best - 1]):.2f}, the largest.")
    return CheckResult(False, f"Frequency {k} has norm {float(norms[k - 1]):.2f}; another reaches "
                              f"{float(norms.max()):.2f}. Read the tallest bar of the embedding view at the final weights.")


def key_frequency_count(answer: str, model: str = "modadd-113") -> CheckResult:
    """How many key frequencies does the model use (neuron clusters of the final weights)?"""
    from app.analysis import fourier
    from app.tasks import modadd

    p = zoo.config(model)["d_vocab"] - 1
    with zoo.use(model) as m, torch.no_grad():
        _, cache = m.run_with_cache(modadd.all_pairs(p), names_filter=lambda n: n == "blocks.0.mlp.hook_post")
    keys = fourier.key_frequencies(cache["blocks.0.mlp.hook_post"][:, -1].view(p, p, -1), p)
    n = _int_answer(answer)
    if n is None:
        return CheckResult(False, "Answer with a whole number.")
    if n == len(keys):
        return CheckResult(True, f"Correct: {len(keys)} key frequencies ({', '.join(map(str, keys))}).")
    return CheckResult(False, f"Not {n}. Count the red bars in the neurons-per-frequency chart at the final weights.")


def grok_step(answer: str, model: str = "modadd-113") -> CheckResult:
    """Roughly when does test accuracy jump? Anywhere between 10% and 90% of the jump counts."""
    curve = zoo.curve(model)
    start = next((pt["step"] for pt in curve if pt["test_accuracy"] >= 0.1), None)
    end = next((pt["step"] for pt in curve if pt["test_accuracy"] >= 0.9), None)
    if start is None or end is None:
        return CheckResult(False, "This model's test accuracy never jumps within its training record.")
    guess = _int_answer(answer)
    if guess is None:
        return CheckResult(False, "Answer with a training step, a number such as 5000.")
    slack = 2 * (curve[1]["step"] - curve[0]["step"])
    if start - slack <= guess <= end + slack:
        return CheckResult(True, f"Yes: test accuracy climbs from 10% to 90% between steps {start:,} and {end:,}.")
    side = "before" if guess < start else "after"
    return CheckResult(False, f"Step {guess:,} is {side} the jump. Switch the curves to accuracy and look again.")


CHECKS = {fn.__name__: fn for fn in (largest_embed_frequency, key_frequency_count, grok_step)}
