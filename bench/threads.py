"""Torch thread count vs latency and throughput for the shipped models.

Run: ``python -m bench.threads``. For 1 and 2 torch threads: p50/p95 of a single
forward (attn-only-2l, 128 tokens) alone, and throughput with 4 concurrent callers
(each model call serialised by the zoo lock, as in the app). Writes
bench/results/threads.json. The app uses ``zoo.TORCH_THREADS``.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from app import zoo

RESULTS = Path(__file__).resolve().parent / "results"


def _forward(tokens):
    with zoo.use("attn-only-2l") as model, torch.no_grad():
        model.run_with_cache(tokens)


def main() -> None:
    tokens = torch.randint(3, 2048, (1, 128), generator=torch.Generator().manual_seed(0))
    zoo.load("attn-only-2l")
    rows = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for _ in range(5):
            _forward(tokens)
        lat = []
        for _ in range(50):
            t = time.perf_counter()
            _forward(tokens)
            lat.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: _forward(tokens), range(100)))
        rows.append({"threads": threads, "p50_ms": round(float(np.percentile(lat, 50)), 2),
                     "p95_ms": round(float(np.percentile(lat, 95)), 2),
                     "calls_per_s_4_callers": round(100 / (time.perf_counter() - t), 1)})
        print(rows[-1])
    torch.set_num_threads(zoo.TORCH_THREADS)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "threads.json").write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
