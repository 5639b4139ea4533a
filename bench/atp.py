"""Attribution patching vs activation patching: wall time of each, p50/p95 over repeated uncached calls.

Run: ``python -m bench.atp [MODEL]`` (default ioi-small). Writes bench/results/atp.json: the usual
{"widget", "page", "p50_ms", "p95_ms", "n"} rows for the AtP pass (head outputs only, and every site
at once as the page does) and the real sweeps (head x position, residual stream layer x position),
on the page's default IOI view (``app.training.atp_measure.VIEW``), the head sweep also batched (a layer's cells
in one forward, ``app.analysis.batched_patching``); then "speedup" (p50 ratios), "scaling" (the same head-output
timings as the number of (layer, head, position) cells grows: name-free filler sentences before the same prompts,
``atp.ioi_pairs(..., prefix=k)``, up to the model's context, and the 4-layer x 8-head ``ioi-shortcut`` on the
default prompts) and "r_spread" (r of head outputs on template 0 and the held-out templates, both orders, both
directions).
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import torch

from app import zoo
from app.analysis import atp
from app.analysis.batched_patching import patch_cells
from app.training import atp_measure as am
from bench.common import RESULTS, latency_rows, run_and_write

N = 5
N_SCALING = 3
PREFIXES = (0, 2, 4, 6)  # filler sentences: 16, 27, 47 and 64 tokens on the default view of ioi-small
SCALING_MODELS = ("ioi-small", "ioi-shortcut")


def _batched_head_sweep(model, pairs) -> torch.Tensor:
    """The head x position sweep with a layer's cells in one forward (same numbers as ``patch_sweep``'s TL loop):
    the fastest real patching we have, so AtP's speedup over it is the honest lower figure."""
    base, source = atp._base_source(pairs, "denoise")
    metric = atp._metric(pairs.answers)
    names = [atp.HOOKS["head"].format(l) for l in range(model.cfg.n_layers)]
    cache = atp._source_cache(model, source, names)
    cells = [(p, h) for p in range(base.shape[1]) for h in range(model.cfg.n_heads)]
    return torch.stack([patch_cells(model, base, n, cache[n], cells, metric) for n in names])  # (L, T*H)


def _calls(model_name: str, pairs) -> dict:
    def run(fn):
        def call():
            with zoo.use(model_name) as model:
                return fn(model)
        return call

    calls = {"atp_heads": run(lambda m: atp.attribution(m, pairs, sites=["head"])),
             "atp_all_sites": run(lambda m: atp.attribution(m, pairs)),
             "patch_heads": run(lambda m: atp.patch_sweep(m, pairs, "head")),
             "patch_heads_batched": run(lambda m: _batched_head_sweep(m, pairs)),
             "patch_resid": run(lambda m: atp.patch_sweep(m, pairs, "resid"))}
    if not zoo.config(model_name)["attn_only"]:
        calls["patch_mlp"] = run(lambda m: atp.patch_sweep(m, pairs, "mlp"))
    return calls


def _median_ms(fn, n: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 1)


def _scaling_row(model_name: str, pairs, n: int) -> dict:
    with zoo.use(model_name) as model:
        ms = {"atp_heads": _median_ms(lambda: atp.attribution(model, pairs, sites=["head"]), 3 * n),
              "patch_heads": _median_ms(lambda: atp.patch_sweep(model, pairs, "head"), n),
              "patch_heads_batched": _median_ms(lambda: _batched_head_sweep(model, pairs), n)}
        est = atp.attribution(model, pairs, sites=["head"]).values["head"]
        real, _ = atp.patch_sweep(model, pairs, "head")
    return {"p50_ms": ms, "r_denoise": round(atp.correlation(est, real), 4),
            "speedup": round(ms["patch_heads"] / ms["atp_heads"], 1),
            "speedup_vs_batched": round(ms["patch_heads_batched"] / ms["atp_heads"], 1)}


def scaling(model_name: str, prefixes=PREFIXES, n: int = N_SCALING) -> list[dict]:
    """Head-output AtP vs the real head x position sweep (one forward per cell, and batched) as the cells grow."""
    from app.tasks import ioi

    tok = ioi.load_tokenizer(zoo.model_dir(model_name))
    cfg = zoo.config(model_name)
    v = am.VIEW
    rows = []
    for k in prefixes:
        pairs = atp.ioi_pairs(tok, v["n_prompts"], v["seed"], v["template"], v["order"], prefix=k)
        T = int(pairs.clean.shape[1])
        if T > cfg["n_ctx"]:
            continue
        rows.append({"model": model_name, "prefix_sentences": k, "positions": T,
                     "cells": cfg["n_layers"] * cfg["n_heads"] * T, **_scaling_row(model_name, pairs, n)})
        print(rows[-1])
    return rows


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    model_name = argv[0] if argv else "ioi-small"
    zoo.load(model_name)  # loading is not measured
    pairs = am.view_pairs(model_name)
    run_and_write("atp", lambda: latency_rows(lambda i: _calls(model_name, pairs), N, "attribution-patching"))
    path = RESULTS / "atp.json"
    out = json.loads(path.read_text())
    p50 = {r["widget"]: r["p50_ms"] for r in out["results"]}
    out["model"], out["view"] = model_name, am.VIEW
    out["cells"] = {"head": int(pairs.clean.shape[1]) * zoo.config(model_name)["n_layers"] * zoo.config(model_name)["n_heads"]}
    out["speedup"] = {"heads_vs_atp_heads": round(p50["patch_heads"] / p50["atp_heads"], 1),
                      "heads_batched_vs_atp_heads": round(p50["patch_heads_batched"] / p50["atp_heads"], 1),
                      "heads_vs_atp_all_sites": round(p50["patch_heads"] / p50["atp_all_sites"], 1),
                      "resid_vs_atp_all_sites": round(p50["patch_resid"] / p50["atp_all_sites"], 1)}
    out["scaling"] = [row for name in SCALING_MODELS for row in
                      scaling(name, PREFIXES if name == model_name else (0,))]
    out["r_spread"] = am.spread(model_name)
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out["speedup"]), *out["r_spread"], sep="\n")


if __name__ == "__main__":
    main()
