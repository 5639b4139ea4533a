"""Checks for the IOI walkthrough (Wang et al. 2022, https://arxiv.org/abs/2211.00593).

Each check recomputes its answer on the live model (``app.analysis.ioi``) and says what to look at
when the answer is wrong.
"""

from __future__ import annotations

from app import zoo
from app.exercises.common import CheckResult, _check_head, parse_head


def _setup(model: str):
    from app.analysis import ioi as A
    from app.tasks import ioi

    return A, ioi, ioi.load_tokenizer(zoo.model_dir(model))


def ioi_top_dla_head(answer: str, model: str, template: int = 3, order: str = "ABBA") -> CheckResult:
    """Which head pushes the IO over S most directly (largest direct logit attribution at END)?"""
    A, _, tok = _setup(model)
    batch = A.standard_batch(tok, template, order)
    with zoo.use(model) as m:
        heads = A.dla(m, batch).heads  # (L, H)
    return _check_head(answer, heads, "direct logit attribution", "Read the largest cell of the DLA-per-head heatmap.")


def ioi_shortcut_model(answer: str, models: list[str], n: int = 64) -> CheckResult:
    """Which model loses most of its logit difference once filler and spans after S2 are added?"""
    A, ioi, _ = _setup(models[0])
    keep = {}
    for name in models:
        tok = ioi.load_tokenizer(zoo.model_dir(name))
        with zoo.use(name) as m:
            std = A.evaluate(m, tok, ioi.prompts(n, "test", seed=2))["logit_diff"]
            var = A.evaluate(m, tok, ioi.prompts(n, "test", seed=2, gaps=True, prefix=True))["logit_diff"]
        keep[name] = var / std if std > 0 else 0.0
    worst = min(keep, key=keep.get)
    given = answer.strip().lower()
    if given not in [m.lower() for m in models]:
        return CheckResult(False, f"Answer with a model name: {' or '.join(models)}.")
    summary = ", ".join(f"{k} keeps {100 * v:.0f}%" for k, v in keep.items())
    if given == worst.lower():
        return CheckResult(True, f"Correct: {summary} of its logit difference.")
    return CheckResult(False, f"Compare the two bar groups in the side-by-side view ({summary} is what you should see).")


def ioi_patch_role(answer: str, model: str, template: int = 3, order: str = "ABBA") -> CheckResult:
    """Patching the layer-0 residual stream (the token embeddings) from the ABC prompt: which position hurts most?"""
    A, _, tok = _setup(model)
    batch = A.standard_batch(tok, template, order)
    with zoo.use(model) as m:
        p = A.patch(m, batch, A.corrupted(tok, batch, "abc"), site="resid_pre")
    row = p.values[0]  # (T,)
    worst = int(row.argmin())
    roles = {v: k for k, v in batch.pos.items()}
    want = roles.get(worst, batch.labels[worst])
    given = answer.strip().upper()
    if given not in ("IO", "S1", "S2", "END"):
        return CheckResult(False, "Answer with a role: IO, S1, S2 or END.")
    if given == want.upper():
        return CheckResult(True, f"Correct: swapping the token at {want} alone moves the logit difference by "
                                 f"{float(row[worst]):+.2f} of the way to the ABC run's.")
    return CheckResult(False, f"Not {given}: look at the top row (layer 0) of the residual-stream heatmap and find "
                              "its darkest cell.")


def ioi_knockout_mover(answer: str, model: str, knock: str = "L0H3", template: int = 11,
                       order: str = "ABBA") -> CheckResult:
    """Knock out ``knock`` at END: which name mover (from the model's metrics) turns towards S the most?"""
    from app.widgets.induction import parse_heads

    A, _, tok = _setup(model)
    movers = [tuple(int(x) for x in h.split(".")) for h in zoo.metrics(model)["name_mover_heads"]]
    given = parse_head(answer)
    if given is None:
        return CheckResult(False, "Write one head as L<layer>H<head>, for example L1H3.")
    batch = A.standard_batch(tok, template, order)
    with zoo.use(model) as m:
        intact = A.knockout(m, batch, [])
        out = A.knockout(m, batch, parse_heads(knock), A.corrupted(tok, batch, "abc"))
    rise = {(l, h): float(out.attention["END->S"][l, h] - intact.attention["END->S"][l, h]) for l, h in movers}
    want = max(rise, key=rise.get)
    summary = ", ".join(f"L{l}H{h} {rise[(l, h)]:+.2f}" for l, h in movers)
    if given == want:
        return CheckResult(True, f"Correct: attention to S rises by {summary}.")
    if given not in rise:
        return CheckResult(False, f"L{given[0]}H{given[1]} is not one of the name movers "
                                  f"({', '.join(f'L{l}H{h}' for l, h in movers)}); compare their orange bars.")
    return CheckResult(False, "Compare the two orange bars (intact, knocked out) of each name mover.")


CHECKS = {"ioi_top_dla_head": ioi_top_dla_head, "ioi_shortcut_model": ioi_shortcut_model,
          "ioi_patch_role": ioi_patch_role, "ioi_knockout_mover": ioi_knockout_mover}
