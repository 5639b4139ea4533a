"""IOI widget latency: p50/p95 over uncached calls (models loaded).

Run: ``python -m bench.ioi``. Writes bench/results/ioi.json as a list of
{"widget", "page", "p50_ms", "p95_ms", "n"}. Each call bypasses the result cache (``__wrapped__``)
and varies the template / names, so it is what a reader waits for on a view nobody has opened
yet. The prompt view is one forward pass; DLA one cached run over 16 prompts; patching the
residual stream runs n_layers x seq_len patched passes, head outputs n_layers x n_heads; the
side-by-side view evaluates 2 x 64 prompts per model; the knock-out view runs the batch twice (intact, ablated)
plus the ABC twins once.
"""

from __future__ import annotations

from app import zoo
from app.tasks import ioi
from app.ui import compute_ioi as ci
from bench.common import latency_rows, run_and_write

MODELS = ("ioi-small", "ioi-shortcut")
N = 8


def _calls(i: int) -> dict:
    model = MODELS[i % 2]
    template = ioi.TEST_TEMPLATES[i % len(ioi.TEST_TEMPLATES)]
    order = ioi.ORDERS[i % 2]
    p = ioi.make_prompt(template, ioi.NAMES[i % 30], ioi.NAMES[30 + i % 6], order)
    return {
        "ioi_prompt": lambda: ci.prompt_run.__wrapped__(model, p.text, p.io, p.s),
        "ioi_dla": lambda: ci.dla.__wrapped__(model, template, order),
        "ioi_patching_resid": lambda: ci.patch.__wrapped__(model, template, order, "abc", "resid_pre"),
        "ioi_patching_heads": lambda: ci.patch.__wrapped__(model, template, order, "abc", "z"),
        "ioi_compare": lambda: ci.compare.__wrapped__(model, 64),
        "ioi_knockout": lambda: ci.knockout.__wrapped__(model, template, order, ((0, 3),)),
    }


def latencies() -> list[dict]:
    for m in MODELS:
        zoo.load(m)  # loading is not widget time
    return latency_rows(_calls, N, "ioi")


def main() -> None:
    run_and_write("ioi", latencies)


if __name__ == "__main__":
    main()
