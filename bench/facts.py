"""Fact-recall widget latency: p50/p95 over uncached calls (model loaded).

Run: ``python -m bench.facts``. Writes bench/results/facts.json as a list of
{"widget", "page", "p50_ms", "p95_ms", "n"}. Each call bypasses the result cache
(``__wrapped__``) and uses another name, so it is what a reader waits for on a view nobody
has opened yet. The probe view fits 9 sites x 2 folds of probes (one batched Newton solve) on
residuals cached per model; ablation and patching resume 8 ablations / 4 x 5 patched cells after
their layer from every athlete's run, cached per model. Those per-model caches (one forward each)
fill in the warm-up round, except the city probe residuals, which the first city call (round 1) pays.
"""

from __future__ import annotations

from app import zoo
from app.analysis.facts import load_world
from app.ui import compute_facts as cf
from bench.common import latency_rows, run_and_write

MODEL = "facts-small"
N = 8


def _calls(i: int, world) -> dict:
    a = world.athletes[(i * 37) % len(world.athletes)]
    return {
        "fact_lookup": lambda: cf.lookup.__wrapped__(MODEL, a.first_name, a.last_name, ("sport", "city")[i % 2]),
        "fact_probes": lambda: cf.probes.__wrapped__(MODEL, ("sport", "city")[i % 2], ("last name", "final")[i % 2]),
        "fact_layers_ablation": lambda: cf.ablation.__wrapped__(MODEL),
        "fact_layers_patch_one": lambda: cf.patching.__wrapped__(MODEL, a.first_name, a.last_name),
        "fact_layers_patch_all": lambda: cf.patching.__wrapped__(MODEL, "", ""),
    }


def latencies() -> list[dict]:
    world = load_world(MODEL)
    zoo.load(MODEL)  # loading is not widget time
    return latency_rows(lambda i: _calls(i, world), N, "fact-recall")


def main() -> None:
    run_and_write("facts", latencies)


if __name__ == "__main__":
    main()
