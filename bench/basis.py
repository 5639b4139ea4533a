"""Privileged-basis widget latency: p50/p95 over uncached calls (models loaded, held-out residual computed once).

Run: ``python -m bench.basis``. Writes bench/results/basis.json: {"machine", "first_view_ms", "results": [
{"widget", "page", "p50_ms", "p95_ms", "n"}]}. Each call uses a new random-basis seed, point or text and
bypasses the result cache, so it is what a reader waits for on a fresh setting. basis_compare only reads
metrics.json and training.json, so it is not timed. ``first_view_ms`` is the one-off forward pass over the
held-out windows per model and process (like loading the model). Target: p95 <= 300 ms.
"""

from __future__ import annotations

import json
import platform
import time

import torch

from app import zoo
from app.ui.widgets import basis as ub
from app.widgets.basis import OUTLIER_MODELS
from bench.common import RESULTS, latency_rows

N = 30
TEXT = "def add(self, item):\n    if item not in self.items:\n        self.items.append(item)\n    return self\n"


def _calls(i: int) -> dict:
    model = OUTLIER_MODELS[i % 2]
    return {
        "basis_dims": lambda: ub.point_stats.__wrapped__(model, i + 1, i % 5),
        "basis_text": lambda: ub.text_residual.__wrapped__(model, TEXT + f"# {i}", "blocks.3.hook_resid_post",
                                                           ("standard", "random")[i % 2], i),
    }


def main() -> None:
    torch.set_num_threads(zoo.TORCH_THREADS)
    first = {}
    for name in OUTLIER_MODELS:
        zoo.load(name)
        t = time.perf_counter()
        ub.held_out_residual(name)
        first[name] = round((time.perf_counter() - t) * 1000)
    rows = latency_rows(_calls, N, "privileged-basis")
    RESULTS.mkdir(exist_ok=True)
    out = {"machine": f"{platform.machine()}, {torch.get_num_threads()} torch thread(s)", "first_view_ms": first,
           "results": rows}
    (RESULTS / "basis.json").write_text(json.dumps(out, indent=1) + "\n")
    print("first view (held-out forward pass):", first)
    for r in rows:
        print(f"{r['widget']:16s} p50 {r['p50_ms']:7.1f} ms   p95 {r['p95_ms']:7.1f} ms")


if __name__ == "__main__":
    main()
