"""Fact-recall widget latency: p50/p95 over uncached calls (model loaded).

Run: ``python -m bench.facts``. Writes bench/results/facts.json as a list of
{"widget", "page", "p50_ms", "p95_ms", "n"}. Each call bypasses the result cache
(``__wrapped__``) and uses another name, so it is what a reader waits for on a view nobody
has opened yet. The probe view fits 9 sites x 2 folds of L-BFGS probes; ablation runs
8 hooked passes over all athletes; patching all pairs runs 4 x 6 patched passes.
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
from app.analysis.facts import load_world
from app.ui import compute_facts as cf

MODEL = "facts-small"
N = 8
RESULTS = Path(__file__).resolve().parent / "results"


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
    for call in _calls(0, world).values():
        call()
    times: dict[str, list[float]] = {}
    for i in range(N):
        for widget, call in _calls(i + 1, world).items():
            t = time.perf_counter()
            call()
            times.setdefault(widget, []).append((time.perf_counter() - t) * 1000)
    return [{"widget": w, "page": "fact-recall", "p50_ms": round(float(np.percentile(v, 50)), 1),
             "p95_ms": round(float(np.percentile(v, 95)), 1), "n": len(v)} for w, v in times.items()]


def main() -> None:
    torch.set_num_threads(zoo.TORCH_THREADS)
    load_before = round(os.getloadavg()[0], 2)  # other processes on the machine inflate every number
    rows = latencies()
    RESULTS.mkdir(exist_ok=True)
    out = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch thread(s)",
           "load_average_1min_before_after": [load_before, round(os.getloadavg()[0], 2)], "results": rows}
    (RESULTS / "facts.json").write_text(json.dumps(out, indent=1) + "\n")
    for r in rows:
        print(f"{r['widget']:22s} p50 {r['p50_ms']:7.1f} ms   p95 {r['p95_ms']:7.1f} ms")


if __name__ == "__main__":
    main()
