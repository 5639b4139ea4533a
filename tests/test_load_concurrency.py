"""Shared models under concurrent sessions: hooked runs (ablation, patching) beside plain views give exactly the
numbers each call gives alone, and no hook outlives its call.

The calls are the app's own compute functions without their Streamlit cache (``__wrapped__``), so every call
really runs the model through ``zoo.use`` as a session's rerun would.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

from app import zoo
from app.ui import compute, compute_facts, compute_induction

N_CALLS = 640
THREADS = 8


def _hook_count(model) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules())


def _calls() -> list[tuple[str, tuple]]:
    texts = ["def f(x):\n    return x + 1\n", "The heron and the kestrel met. The heron and the kestrel",
             "import os\nimport sys\n", "a b c a b c a b c"]
    world = compute_facts.fa.load_world("facts-small")
    athletes = [(a.first_name, a.last_name) for a in world.athletes[:3]]
    calls = []
    for heads in (((1, 7),), ((0, 0),), ((1, 7), (1, 0), (1, 1))):
        for mode in ("zero", "mean"):
            calls.append(("ablation", ("attn-only-2l", None, heads, mode, 12, 3)))
    for text in texts:
        calls.append(("attention", ("attn-only-2l", text, 1)))
        calls.append(("attention", ("attn-only-1l", text, 0)))
        calls.append(("induction_text", ("attn-only-2l", text, 1, 7)))
    for first, last in athletes:
        calls.append(("patching", ("facts-small", first, last)))
    return calls


FNS = {"ablation": compute_induction.ablation.__wrapped__, "attention": compute.attention.__wrapped__,
       "induction_text": compute_induction.induction_text.__wrapped__, "patching": compute_facts.patching.__wrapped__}


def test_concurrent_hooked_and_plain_runs_match_serial_runs():
    calls = _calls()
    alone = [FNS[kind](*args) for kind, args in calls]  # each call by itself, one at a time
    models = [zoo.load(n) for n in ("attn-only-1l", "attn-only-2l", "facts-small")]
    hooks_before = [_hook_count(m) for m in models]

    rng = random.Random(0)
    # the fact-recall patching sweep costs ~20 plain views: a few of them, among hundreds of cheap hooked/plain runs
    weights = [0.15 if kind == "patching" else 1.0 for kind, _ in calls]
    order = rng.choices(range(len(calls)), weights, k=N_CALLS)
    assert {calls[i][0] for i in order} == set(FNS)  # ablations, patching and plain views are mixed

    def run(i):
        kind, args = calls[i]
        return i, FNS[kind](*args)

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(run, order))
    differences = [calls[i] for i, r in results if r != alone[i]]
    assert len(results) == N_CALLS >= 600
    assert differences == [], f"{len(differences)} of {N_CALLS} concurrent calls differ from the serial ones"
    assert [_hook_count(m) for m in models] == hooks_before  # no hook left on a shared model
    # and a plain forward afterwards still gives the serial numbers
    assert FNS["attention"](*calls[6][1]) == alone[6]
