"""Checks for the attribution-patching walkthrough (Nanda 2023; Syed, Rager & Conmy 2023).

Each check recomputes its answer on the live model with the page's default prompts (the same
``pairs_for`` the widget uses), so the answer follows the shipped weights.
"""

from __future__ import annotations

from app import zoo
from app.exercises.common import CheckResult, _int_answer, parse_head
from app.training.measure import head_label


def _pairs(model: str, task: str, n_prompts: int, seed: int):
    """The widget's prompt pairs on its default view (template 0, ABBA, spans of 10, no filler)."""
    from app.widgets.atp import pairs_for

    return pairs_for(model, task, n_prompts, seed, template=0, order="ABBA", half_len=10)


def _end_heads(answer: str, model: str, task: str, direction: str, n_prompts: int, seed: int):
    """(parsed head, AtP (L, H) at END, real patching (L, H) at END, n_heads), or a CheckResult for a bad answer."""
    from app.analysis import atp

    cfg = zoo.config(model)
    n_layers, n_heads = cfg["n_layers"], cfg["n_heads"]
    parsed = parse_head(answer)
    if parsed is None:
        return CheckResult(False, "Write a head as L<layer>H<head>, for example L1H3.")
    if not (0 <= parsed[0] < n_layers and 0 <= parsed[1] < n_heads):
        return CheckResult(False, f"That head does not exist: layers 0..{n_layers - 1}, heads 0..{n_heads - 1}.")
    pairs = _pairs(model, task, n_prompts, seed)
    with zoo.use(model) as m:
        est = atp.attribution(m, pairs, sites=["head"], direction=direction).values["head"][:, -1]  # (L, H) at END
        real = atp.patch_sweep(m, pairs, "head", direction=direction, positions=[-1])[0][:, 0]  # (L, H) at END
    return parsed, est, real, n_heads


def atp_end_head(answer: str, model: str, task: str = "ioi", direction: str = "denoise", n_prompts: int = 8,
                 seed: int = 0) -> CheckResult:
    """Which head, patched at the last position, changes the logit difference most?"""
    got = _end_heads(answer, model, task, direction, n_prompts, seed)
    if isinstance(got, CheckResult):
        return got
    parsed, est, real, n_heads = got
    want = divmod(int(real.abs().argmax()), n_heads)
    atp_best = divmod(int(est.abs().argmax()), n_heads)
    agree = "AtP ranks it first too" if atp_best == want else f"AtP would have said {head_label(*atp_best)}"
    if parsed == want:
        return CheckResult(True, f"Correct: patching {head_label(*want)} at the last position changes the logit "
                                 f"difference by {float(real[want]):+.2f}; {agree}.")
    return CheckResult(False, f"{head_label(*parsed)} changes it by {float(real[parsed]):+.2f}, another head by "
                              f"{float(real[want]):+.2f}. Read the right-hand heatmap's last column.")


def atp_worst_miss_head(answer: str, model: str, task: str = "ioi", direction: str = "noise", n_prompts: int = 8,
                        seed: int = 0) -> CheckResult:
    """Patched at the last position, which head's real effect does the AtP estimate miss by the most?"""
    got = _end_heads(answer, model, task, direction, n_prompts, seed)
    if isinstance(got, CheckResult):
        return got
    parsed, est, real, n_heads = got
    err = (est - real).abs()  # (L, H)
    want = divmod(int(err.argmax()), n_heads)
    if parsed == want:
        return CheckResult(True, f"Correct: at the last position {head_label(*want)} changes the logit difference by "
                                 f"{float(real[want]):+.2f} when patched, and AtP says {float(est[want]):+.2f}.")
    return CheckResult(False, f"{head_label(*parsed)}: AtP {float(est[parsed]):+.2f} against {float(real[parsed]):+.2f} "
                              f"by patching; another head is off by {float(err[want]):.2f}. Compare the last column "
                              "of the two heatmaps, or find the circle.")


def atp_forward_count(answer: str, model: str, task: str = "ioi", n_prompts: int = 8, seed: int = 0) -> CheckResult:
    """How many patched forward passes does real patching of every head at every position take?"""
    cfg = zoo.config(model)
    T = _pairs(model, task, 1, seed).clean.shape[1]
    want = cfg["n_layers"] * cfg["n_heads"] * T
    got = _int_answer(answer)
    if got is None:
        return CheckResult(False, "Answer with a whole number of forward passes.")
    if got in (want, want + 1, want + 2):  # with or without the unpatched base and source runs
        return CheckResult(True, f"Correct: {cfg['n_layers']} layers × {cfg['n_heads']} heads × {T} positions = "
                                 f"{want} patched forwards (plus the clean and corrupted runs), against 2 forwards "
                                 "and 1 backward for AtP.")
    return CheckResult(False, f"Not {got}. Count one forward per (layer, head, position): the prompt has {T} tokens "
                              "including BOS.")


CHECKS = {fn.__name__: fn for fn in (atp_end_head, atp_worst_miss_head, atp_forward_count)}
