"""Checks for the monosemanticity walkthrough (Bricken et al. 2023; Nanda 2023's open replication).

Each check re-measures on the shipped SAE (``models/<model>/sae/``) rather than trusting a stored answer.
"""

from __future__ import annotations

from functools import lru_cache

from safetensors.torch import load_file

from app import zoo
from app.analysis import sae as S
from app.exercises.common import CheckResult, _int_answer, _number_answer


@lru_cache(maxsize=2)
def _load(model: str):
    folder = zoo.model_dir(model) / "sae"
    sae, _ = S.load_saelens(folder)
    return sae, load_file(folder / "features.safetensors")


def _percent(answer: str) -> float | None:
    value = _number_answer((answer or "").replace("%", ""))
    if value is None:
        return None
    return value / 100 if value > 1 else value


def sae_dense_share(answer: str, model: str, threshold: int = S.DENSE_NEURONS) -> CheckResult:
    """What share of the alive features need more than ``threshold`` neurons for 90% of their decoder norm?"""
    sae, data = _load(model)
    alive = data["feature_firing"] > 0
    truth = float((S.neurons_for_share(sae.W_dec)[alive] > threshold).float().mean())
    got = _percent(answer)
    if got is None or not 0 <= got <= 1:
        return CheckResult(False, "Answer with a percentage, e.g. 75% or 0.75.")
    if abs(got - truth) <= 0.02:
        return CheckResult(True, f"Correct: {truth:.1%} of the {int(alive.sum())} alive features are dense in the "
                                 f"neuron basis by this measure; the open replication reported 92% for its SAE.")
    return CheckResult(False, f"Not {got:.0%}. Set the density view's sliders to 90% and {threshold} neurons and read "
                              "the share to the right of the dashed line.")


def sae_feature_for_token(answer: str, model: str, token: str, min_share: float = 0.5) -> CheckResult:
    """Name a feature whose top-activating tokens are mostly ``token`` (at least ``min_share`` of them)."""
    sae, data = _load(model)
    k = _int_answer(answer.lstrip("#"))
    if k is None or not 0 <= k < sae.d_sae:
        return CheckResult(False, f"Answer with a feature number between 0 and {sae.d_sae - 1}.")
    with zoo.use(model) as m:
        ids = m.to_tokens(token, prepend_bos=False)[0].tolist()
    if len(ids) != 1:
        raise ValueError(f"{token!r} is not a single token of {model}")
    flat = data["tokens"].long().flatten()
    acts = data["feature_top_act"][k].float()
    top = flat[data["feature_top_index"][k].long()][acts > 0]  # (<= k,) token ids of its strongest activations
    if len(top) == 0:
        return CheckResult(False, f"Feature {k} never fires on the held-out tokens (it is dead). Search for {token!r}.")
    share = float((top == ids[0]).float().mean())
    if share >= min_share:
        return CheckResult(True, f"Correct: {share:.0%} of feature {k}'s top activations are on {token!r}.")
    return CheckResult(False, f"Only {share:.0%} of feature {k}'s top activations are on {token!r}. Type the token into "
                              "the browser's search box and pick a feature with a high share.")


def sae_neurons_vs_features(answer: str, model: str) -> CheckResult:
    """On the monosemanticity proxy (top-token share), do features or neurons have the higher median?"""
    sae, data = _load(model)
    flat = data["tokens"].long().flatten()
    med = {}
    for name in ("feature", "neuron"):
        share = S.top_token_share(flat[data[f"{name}_top_index"].long()], data[f"{name}_top_act"])
        med[name] = float(share[data[f"{name}_firing"] > 0].median())  # alive units, as the page plots them
    word = (answer or "").strip().lower().rstrip("s")
    if word not in ("feature", "neuron"):
        return CheckResult(False, "Answer 'features' or 'neurons'.")
    best = max(med, key=med.get)
    msg = f"median top-token share: features {med['feature']:.2f}, neurons {med['neuron']:.2f}."
    return CheckResult(word == best, ("Correct: " if word == best else "Not quite: ") + msg)


CHECKS = {
    "sae_dense_share": sae_dense_share,
    "sae_feature_for_token": sae_feature_for_token,
    "sae_neurons_vs_features": sae_neurons_vs_features,
}
