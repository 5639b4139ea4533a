"""Live-training latency of the superposition widgets: p50/p95 over fresh seeds (no cache).

Run: ``python -m bench.superposition``. Writes bench/results/superposition.json. What a reader
waits for when they move a training slider to a setting nobody has used yet:

- ``toy_row_5to2``: the toy_model widget's training, 12 sparsities x 4 restarts of the 5→2
  model in one tensor, 1,000 Adam steps (target: <= 3 s on the 2-core machine);
- ``toy_single_5to2``: one sparsity, 4 restarts (for comparison);
- ``phase_point_2to1``: the phase-diagram widget's live 2→1 model, 8 restarts;
- ``shipped_json``: reading the recipe's phase diagram and dimensionality sweep (done once per process).

One torch thread, as in the app (``app.zoo`` sets it). The machine is shared, so the load
average at the start and end is recorded beside the numbers.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from app import zoo  # noqa: F401  (sets torch threads to the app's value)
from app.analysis import superposition as sp

RESULTS = Path(__file__).resolve().parent / "results"


def _time(fn, n: int) -> dict:
    fn(0)  # warm-up
    times = []
    for i in range(1, n + 1):
        t = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t)
    return {"p50_s": round(float(np.percentile(times, 50)), 3), "p95_s": round(float(np.percentile(times, 95)), 3),
            "max_s": round(max(times), 3), "n": n}


def main(n: int = 20) -> None:
    RESULTS.mkdir(exist_ok=True)
    load_before = os.getloadavg()
    rows = {
        "toy_row_5to2": _time(lambda i: sp.sparsity_row(5, 0.9, cfg=replace(sp.LIVE, seed=1000 + i)), n),
        "toy_single_5to2": _time(lambda i: sp.sparsity_row(5, 0.9, sparsities=(0.9,), cfg=replace(sp.LIVE, seed=1000 + i)), n),
        "phase_point_2to1": _time(lambda i: sp.phase_grid([2.0], [0.1], restarts=8, cfg=replace(sp.LIVE, seed=1000 + i)), n),
        "shipped_json": _time(lambda i: (sp.shipped("phase_diagram.json"), sp.shipped("dims_per_feature.json")), n),
    }
    out = {"results": rows, "target": "toy_row_5to2 p95 <= 3 s",
           "machine": {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                       "python": platform.python_version(), "torch": torch.__version__,
                       "load_avg_1m_before": round(load_before[0], 2), "load_avg_1m_after": round(os.getloadavg()[0], 2)}}
    (RESULTS / "superposition.json").write_text(json.dumps(out, indent=1) + "\n")
    for name, r in rows.items():
        print(f"{name:18s} p50 {r['p50_s']:6.3f} s  p95 {r['p95_s']:6.3f} s  (n={r['n']})")
    print("load average", out["machine"]["load_avg_1m_before"], "->", out["machine"]["load_avg_1m_after"])


if __name__ == "__main__":
    main()
