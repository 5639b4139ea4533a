"""Speed of the modadd-113 recipe's training step on this machine (issue 6 asks for <= 45 min on 2 cores).

Times single full-batch AdamW steps of ``app.training.grokking.train_loop`` (the real step: forward at the
``=`` position, backward, optimizer) at 1 and 2 torch threads, and extrapolates the default recipe's
training time. The machine's load average is recorded: other jobs on the 2 cores inflate every number.
``python -m bench.grokking_recipe`` -> ``bench/results/grokking_recipe.json``.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import replace

import numpy as np
import torch

from app.training import grokking
from bench.common import RESULTS

STEPS = 300  # timed steps per thread count (after 20 warm-up steps)


def time_steps(threads: int) -> list[float]:
    """Per-step wall times (s) of the recipe's own loop, measured by its snapshot hook."""
    torch.set_num_threads(threads)
    recipe = replace(grokking.GrokRecipe(), steps=STEPS + 20, snapshot_every=1)
    stamps: list[float] = []
    grokking.train_loop(recipe, "cpu", on_snapshot=lambda step: stamps.append(time.perf_counter()))
    return list(np.diff(stamps)[20:])


def main() -> None:
    load_before = round(os.getloadavg()[0], 2)
    default = grokking.GrokRecipe()
    rows = []
    for threads in (1, 2):
        times = time_steps(threads)
        p50 = float(np.percentile(times, 50))
        rows.append({"threads": threads, "step_p50_ms": round(p50 * 1000, 1),
                     "step_p95_ms": round(float(np.percentile(times, 95)) * 1000, 1), "n": len(times),
                     "recipe_steps": default.steps, "recipe_minutes_at_p50": round(p50 * default.steps / 60, 1)})
        print(rows[-1])
    out = {"machine": f"{platform.machine()}, {os.cpu_count()} cores",
           "load_average_1min_before_after": [load_before, round(os.getloadavg()[0], 2)], "results": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "grokking_recipe.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
