"""Measure attribution patching against activation patching on a shipped IOI model and MERGE the two
numbers into its ``metrics.json`` (``python -m app.training.atp_measure ioi-small``).

Technique: Nanda (2023), https://www.neelnanda.io/mechanistic-interpretability/attribution-patching;
the comparison follows its IOI demonstration (head outputs, clean prompt vs ABC-corrupted twin).

- ``atp_vs_ap_r``: Pearson r between the AtP estimate and real activation patching over every
  (layer, position, head) cell of head outputs (``hook_z``), on ``VIEW``: the page's default view
  (template 0, ABBA, 8 pairs, seed 0, clean activations patched into the corrupted run: the
  "denoise" convention of TransformerLens' ``attribution_patch`` and ``patching``). The other
  direction is reported by ``--spread`` and on the page, not hidden.
  ``tests/test_atp_model.py`` recomputes it. ``--spread`` also reports r on template 0 and the
  held-out templates in both orders and both directions (printed, and written to
  bench/results/atp.json by ``bench/atp.py``, not to metrics.json).
- ``atp_speedup``: median wall time of the real head x position sweep over median wall time of the
  AtP pass for head outputs (2 forwards + 1 backward), same prompts, one torch thread. A timing,
  so never asserted by tests; ``bench/atp.py`` records p50/p95 of both.

Only these two keys are written; every other key of metrics.json is kept as it is.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from app import zoo
from app.analysis import atp

VIEW = dict(task="ioi", n_prompts=8, seed=0, template=0, order="ABBA", direction="denoise")
KEYS = ("atp_vs_ap_r", "atp_speedup")


def view_pairs(model_name: str, template: int = VIEW["template"], order: str = VIEW["order"]) -> atp.Pairs:
    from app.tasks import ioi

    return atp.ioi_pairs(ioi.load_tokenizer(zoo.model_dir(model_name)), VIEW["n_prompts"], VIEW["seed"], template, order)


def head_r(model, pairs: atp.Pairs, direction: str = VIEW["direction"]) -> float:
    """r between AtP and patching over every head x position cell."""
    est = atp.attribution(model, pairs, sites=["head"], direction=direction).values["head"]
    real, _ = atp.patch_sweep(model, pairs, "head", direction=direction)
    return atp.correlation(est, real)


def timings(model, pairs: atp.Pairs, n_atp: int = 9, n_sweep: int = 3) -> tuple[list[float], list[float]]:
    """Wall times (s) of the head-output AtP pass and of the real head x position sweep, after a warm-up."""
    atp.attribution(model, pairs, sites=["head"])
    t_atp, t_sweep = [], []
    for _ in range(n_atp):
        start = time.perf_counter()
        atp.attribution(model, pairs, sites=["head"])
        t_atp.append(time.perf_counter() - start)
    for _ in range(n_sweep):
        start = time.perf_counter()
        atp.patch_sweep(model, pairs, "head")
        t_sweep.append(time.perf_counter() - start)
    return t_atp, t_sweep


def spread(model_name: str) -> list[dict]:
    """r (head outputs, both directions) for template 0 and the held-out templates, both orders."""
    from app.tasks import ioi

    rows = []
    with zoo.use(model_name) as model:
        for t in [VIEW["template"], *ioi.TEST_TEMPLATES]:
            for order in ioi.ORDERS:
                pairs = view_pairs(model_name, t, order)
                rows.append({"template": t, "order": order, "held_out": t in ioi.TEST_TEMPLATES,
                             "r_noise": round(head_r(model, pairs, "noise"), 4),
                             "r_denoise": round(head_r(model, pairs, "denoise"), 4)})
    return rows


def measure(model_name: str) -> dict:
    pairs = view_pairs(model_name)
    with zoo.use(model_name) as model:
        r = head_r(model, pairs)
        t_atp, t_sweep = timings(model, pairs)
    return {"atp_vs_ap_r": round(r, 4), "atp_speedup": round(statistics.median(t_sweep) / statistics.median(t_atp), 1)}


def merge(model_name: str, values: dict) -> dict:
    """Write ``values`` (our two keys only) into metrics.json, keeping every other key."""
    if set(values) - set(KEYS):
        raise ValueError(f"this script owns only {KEYS}")
    path = zoo.model_dir(model_name) / "metrics.json"
    metrics = json.loads(path.read_text()) if path.is_file() else {}
    metrics.update(values)
    path.write_text(json.dumps(metrics, indent=1) + "\n")
    return metrics


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app.training.atp_measure", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="an IOI model of the zoo, e.g. ioi-small")
    parser.add_argument("--dry-run", action="store_true", help="print, do not write metrics.json")
    parser.add_argument("--spread", action="store_true", help="also print r for every template x order")
    args = parser.parse_args(argv)
    values = measure(args.model)
    print(json.dumps(values))
    if args.spread:
        for row in spread(args.model):
            print(row)
    if not args.dry_run:
        merge(args.model, values)


if __name__ == "__main__":
    main()
