"""Grokking widget latency: p50/p95 over uncached calls, each at another checkpoint (models loaded).

Run: ``python -m bench.grokking``. Writes bench/results/grokking.json as a list of
{"widget", "page", "p50_ms", "p95_ms", "n"}. Every call clears the per-checkpoint snapshot and
the result caches, so it is what a reader waits for after moving a slider to a checkpoint
nobody has viewed yet (the worst case). Target: p95 <= 300 ms.
"""

from __future__ import annotations

from app import zoo
from app.ui import compute_grokking as cg
from app.ui.widgets.grokking import _curve_figure
from bench.common import latency_rows, run_and_write

MODEL = "modadd-113"
N = 30


def _fresh(fn, *args):
    cg._snapshot.clear()
    return fn.__wrapped__(*args) if hasattr(fn, "__wrapped__") else fn(*args)


def _calls(i: int, steps: list) -> dict:
    step = steps[i % len(steps)]
    return {
        "grok_curves": lambda: _curve_figure(MODEL, ("loss", "accuracy", "progress")[i % 3], step or 0, bool(i % 2)),
        "fourier_embedding": lambda: _fresh(cg.embedding, MODEL, step),
        "periodic_activations": lambda: (_fresh(cg.neuron_grid, MODEL, step, i % 512), cg.neurons.__wrapped__(MODEL, step)),
        "periodic_attention": lambda: _fresh(cg.attention_grid, MODEL, step, i % 4),
        "logit_fourier": lambda: (_fresh(cg.logit_fit, MODEL, step), cg.logits_vs_fit.__wrapped__(MODEL, step, i % 113, 7)),
        "grok_checkpoint": lambda: (_fresh(cg.embedding, MODEL, step), cg.neurons.__wrapped__(MODEL, step),
                                    cg.logit_fit.__wrapped__(MODEL, step)),
    }


def latencies() -> list[dict]:
    steps = [None, *zoo.checkpoints(MODEL)]
    for s in steps:  # loading is not widget time
        zoo.load(MODEL, s)
    cg.neurons.__wrapped__(MODEL, None)  # auto_neuron and warm-up
    return latency_rows(lambda i: _calls(i, steps), N, "grokking")


def main() -> None:
    run_and_write("grokking", latencies)


if __name__ == "__main__":
    main()
