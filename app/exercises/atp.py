"""Checks for the attribution-patching walkthrough (Nanda 2023; Syed, Rager & Conmy 2023).

Each check recomputes its answer on the live model with the page's default prompts (the same
``pairs_for`` the widget uses), so the answer follows the shipped weights.
"""

from __future__ import annotations

from app import zoo
from app.exercises.common import CheckResult, _int_answer, _layer_answer, parse_head
from app.training.measure import head_label


def _pairs(model: str, task: str, n_prompts: int, seed: int):
    from app.analysis import atp

    cfg = zoo.config(model)
    if task == "ioi":
        from app.tasks import ioi

        return atp.ioi_pairs(ioi.load_tokenizer(zoo.model_dir(model)), n_prompts, seed)
    return atp.repeat_pairs(cfg["d_vocab"], 10, n_prompts, seed, vocab=zoo.repeat_vocab(model))


def atp_end_head(answer: str, model: str, task: str = "ioi", direction: str = "denoise", n_prompts: int = 8,
                 seed: int = 0) -> CheckResult:
    """Which head, patched at the last position, changes the logit difference most?"""
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
        est = atp.attribution(m, pairs, sites=["head"], direction=direction).values["head"][:, -1]  # (L, H)
        real = atp.patch_sweep(m, pairs, "head", direction=direction, positions=[-1])[0][:, 0]  # (L, H) at END
    want = divmod(int(real.abs().argmax()), n_heads)
    got = real[parsed]
    atp_best = divmod(int(est.abs().argmax()), n_heads)
    agree = "AtP ranks it first too" if atp_best == want else f"AtP would have said {head_label(*atp_best)}"
    if parsed == want:
        return CheckResult(True, f"Correct: patching {head_label(*want)} at the last position changes the logit "
                                 f"difference by {float(real[want]):+.2f}; {agree}.")
    return CheckResult(False, f"{head_label(*parsed)} changes it by {float(got):+.2f}, another head by "
                              f"{float(real[want]):+.2f}. Read the right-hand heatmap's last column.")


def atp_worst_resid_layer(answer: str, model: str, task: str = "ioi", direction: str = "denoise", n_prompts: int = 8,
                          seed: int = 0) -> CheckResult:
    """At which layer's residual stream (0 = the embedding) is the AtP estimate furthest from patching?"""
    from app.analysis import atp

    n_layers = zoo.config(model)["n_layers"]
    got = _layer_answer(answer, n_layers - 1)
    if got is None:
        return CheckResult(False, f"Answer with a layer number, 0 to {n_layers - 1} (0 = the embedding).")
    pairs = _pairs(model, task, n_prompts, seed)
    with zoo.use(model) as m:
        est = atp.attribution(m, pairs, sites=["resid"], direction=direction).values["resid"]  # (L, T)
        real, _ = atp.patch_sweep(m, pairs, "resid", direction=direction)
    err = (est - real).abs().amax(dim=1)  # (L,) the worst cell of each layer
    want = int(err.argmax())
    if got == want:
        others = max((float(e) for i, e in enumerate(err) if i != want), default=0.0)
        return CheckResult(True, f"Correct: at layer {want} the worst cell is off by {float(err[want]):.2f} "
                                 f"(the other layers: at most {others:.2f}).")
    return CheckResult(False, f"Layer {got}'s worst cell is off by {float(err[got]):.2f}; another layer is off by "
                              f"{float(err[want]):.2f}. Switch the site to the residual stream and look for circles.")


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


CHECKS = {fn.__name__: fn for fn in (atp_end_head, atp_worst_resid_layer, atp_forward_count)}
