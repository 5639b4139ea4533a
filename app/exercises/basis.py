"""Checks for the privileged-basis walkthrough (outlier dimensions)."""

from __future__ import annotations


from app import zoo
from app.exercises.common import CheckResult, _int_answer


def outlier_dimension(answer: str, model: str) -> CheckResult:
    """Which residual dimension is the model's outlier dimension (largest mean |x| at the last point)?"""
    from safetensors.torch import load_file

    from app.analysis import basis

    tokens = load_file(zoo.model_dir(model) / "eval_tokens.safetensors")["tokens"].long()
    with zoo.use(model) as m:
        acts = basis.residual_stream(m, tokens)[-1:]  # (1, tokens, d_model): after the last block
    stats = basis.basis_stats(acts)
    ratio = stats.mean_abs_ratio()[0]  # (d_model,)
    best, d = int(ratio.argmax()), acts.shape[-1]
    k = _int_answer(answer)
    if k is None or not 0 <= k < d:
        return CheckResult(False, f"Answer with a dimension number between 0 and {d - 1}.")
    if k == best:
        return CheckResult(True, f"Correct: dimension {best}'s mean |x| is {float(ratio[best]):.1f} times the median "
                                 "dimension's, the largest.")
    return CheckResult(False, f"Dimension {k}'s mean |x| is {float(ratio[k]):.1f} times the median dimension's; another "
                              f"reaches {float(ratio.max()):.1f}. Draw mean |x| at the last point and find the tallest bar.")


CHECKS = {fn.__name__: fn for fn in (outlier_dimension,)}
