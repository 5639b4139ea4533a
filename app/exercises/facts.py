"""Checks for the fact-recall walkthrough (Meng et al. 2022; Nanda et al. 2023)."""

from __future__ import annotations

import numpy as np

from app import zoo
from app.exercises.common import CheckResult, _int_answer, _layer_answer


def _facts_setup(model: str):
    from app.analysis import facts as fa
    from app.tasks import facts

    return fa, facts, fa.load_world(model), facts.load_tokenizer(zoo.model_dir(model))


def facts_probe_layer(answer: str, model: str, threshold: float) -> CheckResult:
    """After which layer's MLP does the held-out sport probe at the last name token first reach ``threshold``?"""
    by_layer = zoo.metrics(model)["probe_acc_by_layer"]  # [embed, after L0, after L1, ...]
    want = next((i - 1 for i, acc in enumerate(by_layer) if i > 0 and acc >= threshold), None)
    if want is None:
        raise ValueError(f"no layer of {model} reaches {threshold:.0%}")
    got = _layer_answer(answer, len(by_layer) - 2)
    if got is None:
        return CheckResult(False, f"Answer with a layer number, 0 to {len(by_layer) - 2}.")
    if got == want:
        return CheckResult(True, f"Correct: after layer {want}'s MLP the probe reaches {by_layer[want + 1]:.0%} "
                                 f"(embedding: {by_layer[0]:.0%}).")
    return CheckResult(False, f"After layer {got}'s MLP the probe is at {by_layer[got + 1]:.0%}. Read the probe chart "
                              f"at the last name token: find the first 'mlp' point at or above {threshold:.0%}.")


def facts_distinct_sports(answer: str, model: str, last: str) -> CheckResult:
    """How many different sports does the model give the athletes called ``last``?"""
    fa, facts, world, tok = _facts_setup(model)
    group = [a for a in world.athletes if a.last_name == last]
    if not group:
        raise ValueError(f"{last!r} is not a last name of {model}'s world")
    with zoo.use(model) as m:
        table = fa.same_last_table(m, tok, world, group[0], "sport")
    want = len({row["predicted"] for row in table})
    k = _int_answer(answer)
    if k is None or not 1 <= k <= len(facts.SPORTS):
        return CheckResult(False, f"Answer with a whole number of sports, 1 to {len(facts.SPORTS)}.")
    if k == want:
        return CheckResult(True, f"Correct: the model gives the {len(table)} athletes called {last} {want} different "
                                 "sports, so the last name alone cannot be what it looks up.")
    return CheckResult(False, f"Not {k}. Pick {last} as the last name in the lookup view and count the distinct "
                              "values in the table's 'model' column.")


def facts_worst_mlp(answer: str, model: str) -> CheckResult:
    """Which layer's MLP, mean-ablated at the name tokens, lowers sport accuracy the most?"""
    fa, _, world, tok = _facts_setup(model)
    with zoo.use(model) as m:
        acc = fa.mlp_ablation(m, tok, world, "sport")["name tokens"]
    want = int(np.argmin(acc))
    got = _layer_answer(answer, len(acc) - 1)
    if got is None:
        return CheckResult(False, f"Answer with a layer number, 0 to {len(acc) - 1}.")
    if got == want:
        return CheckResult(True, f"Correct: without layer {want}'s MLP at the name tokens, sport accuracy falls to "
                                 f"{acc[want]:.0%}.")
    return CheckResult(False, f"Ablating layer {got}'s MLP at the name tokens leaves {acc[got]:.0%}; another layer "
                              "hurts more. Compare the blue bars in the ablation view.")


CHECKS = {fn.__name__: fn for fn in (facts_probe_layer, facts_distinct_sports, facts_worst_mlp)}
