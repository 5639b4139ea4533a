"""Shared by the per-walkthrough benchmarks: time fresh calls, write p50/p95 rows with the machine's load."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from app import zoo

RESULTS = Path(__file__).resolve().parent / "results"


def summarise(times: dict[str, list[float]], page: str | Callable[[str], str]) -> list[dict]:
    """Per-widget p50/p95 rows from call times in ms; ``page`` names the walkthrough (or maps a widget to it)."""
    page_of = page if callable(page) else (lambda _w: page)
    return [{"widget": w, "page": page_of(w), "p50_ms": round(float(np.percentile(v, 50)), 1),
             "p95_ms": round(float(np.percentile(v, 95)), 1), "n": len(v)} for w, v in times.items()]


def latency_rows(calls_for: Callable[[int], dict[str, Callable[[], object]]], n: int,
                 page: str | Callable[[str], str]) -> list[dict]:
    """``calls_for(i)`` gives one fresh call per widget for round ``i``; round 0 is the warm-up."""
    for call in calls_for(0).values():
        call()
    times: dict[str, list[float]] = {}
    for i in range(n):
        for widget, call in calls_for(i + 1).items():
            t = time.perf_counter()
            call()
            times.setdefault(widget, []).append((time.perf_counter() - t) * 1000)
    return summarise(times, page)


def run_and_write(name: str, rows_fn: Callable[[], list[dict]]) -> None:
    """Run ``rows_fn`` at the app's thread count and write results/<name>.json with the load average around it."""
    torch.set_num_threads(zoo.TORCH_THREADS)
    load_before = round(os.getloadavg()[0], 2)  # other processes on the machine inflate every number
    rows = rows_fn()
    RESULTS.mkdir(exist_ok=True)
    out = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch thread(s)",
           "load_average_1min_before_after": [load_before, round(os.getloadavg()[0], 2)], "results": rows}
    (RESULTS / f"{name}.json").write_text(json.dumps(out, indent=1) + "\n")
    for r in rows:
        print(f"{r['widget']:22s} p50 {r['p50_ms']:7.1f} ms   p95 {r['p95_ms']:7.1f} ms")
