"""Grokking widget latency: p50/p95 over uncached calls, each at another checkpoint (models loaded).

Run: ``python -m bench.grokking``. Writes bench/results/grokking.json as a list of
{"widget", "page", "p50_ms", "p95_ms", "n"}. Every call clears the per-checkpoint snapshot and
the result caches, so it is what a reader waits for after moving a slider to a checkpoint
nobody has viewed yet (the worst case). Target: p95 <= 300 ms.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from app import zoo
from app.ui import compute_grokking as cg
from app.ui.widgets.grokking import _curve_figure

MODEL = "modadd-113"
N = 30
RESULTS = Path(__file__).resolve().parent / "results"


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
    for call in _calls(0, steps).values():
        call()
    times: dict[str, list[float]] = {}
    for i in range(N):
        for widget, call in _calls(i + 1, steps).items():
            t = time.perf_counter()
            call()
            times.setdefault(widget, []).append((time.perf_counter() - t) * 1000)
    return [{"widget": w, "page": "grokking", "p50_ms": round(float(np.percentile(v, 50)), 1),
             "p95_ms": round(float(np.percentile(v, 95)), 1), "n": len(v)} for w, v in times.items()]


def main() -> None:
    torch.set_num_threads(zoo.TORCH_THREADS)
    load_before = round(os.getloadavg()[0], 2)  # other processes on the machine inflate every number
    rows = latencies()
    RESULTS.mkdir(exist_ok=True)
    out = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch thread(s)",
           "load_average_1min_before_after": [load_before, round(os.getloadavg()[0], 2)], "results": rows}
    (RESULTS / "grokking.json").write_text(json.dumps(out, indent=1) + "\n")
    for r in rows:
        print(f"{r['widget']:22s} p50 {r['p50_ms']:7.1f} ms   p95 {r['p95_ms']:7.1f} ms")


if __name__ == "__main__":
    main()
