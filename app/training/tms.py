"""Recipe ``tms``: precompute the toy-models-of-superposition results the page cannot train live.

``python -m app.training tms [--out DIR] [--device cpu|cuda] [--threads T] [--steps N] [--quick]`` writes
``models/tms/``:

- ``phase_diagram.json``: 2 features in 1 dimension over relative importance × density, each
  cell classified not learned / dedicated dimension / superposition (Elhage et al. 2022,
  https://transformer-circuits.pub/2022/toy_model/index.html, "Superposition as a Phase Change").
- ``dims_per_feature.json`` + ``dims_weights.safetensors``: equal-importance n→m models over
  sparsity, their dimensions per feature m/‖W‖_F² and per-feature fractional dimensionality
  (the paper's "Feature Dimensionality" section), plus the sticky fractions they sit at.
- ``metrics.json`` and ``card.md`` (rendered from the metrics by ``render_card``).

Seeded; CPU by default, CUDA when asked. Every model here is tiny: the work is the number
of instances, all trained in one tensor per experiment.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from safetensors.torch import save_file

from app.analysis import superposition as sp


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _rounded(t: torch.Tensor, digits: int = 4):
    """Nested lists of floats rounded for JSON."""
    return [_rounded(x, digits) for x in t] if t.ndim else round(float(t), digits)


def _logspace(lo: float, hi: float, k: int) -> tuple[float, ...]:
    return tuple(round(float(v), 5) for v in torch.logspace(lo, hi, k))


@dataclass(frozen=True)
class Recipe:
    seed: int = 0
    batch: int = 1024  # samples per step for the phase diagram and the dimensionality sweep
    # phase diagram: feature 0 has importance 1, the extra feature ``importance``; both share a density
    phase_importances: tuple[float, ...] = _logspace(-1, 1, 21)  # 0.1 .. 10
    phase_densities: tuple[float, ...] = _logspace(-2, 0, 17)  # 0.01 .. 1
    phase_restarts: int = 4
    phase_steps: int = 2000
    # feature dimensionality: n equal-importance features in m dimensions, one model per density
    dims_features: int = 100
    dims_hidden: int = 20
    dims_inv_density: tuple[float, ...] = _logspace(0, 1.3, 48)  # 1/(1-S) from 1 to 20
    dims_steps: int = 3000
    # the live row of 5→2 models (recorded so the card can state it; the page retrains it)
    row_features: int = 5
    row_decay: float = 0.9


QUICK = Recipe(phase_importances=(0.1, 1.0, 10.0), phase_densities=(0.01, 1.0), phase_restarts=2, phase_steps=200,
               dims_features=10, dims_hidden=4, dims_inv_density=(1.0, 3.0), dims_steps=200)

STICKY, FEATURE_FRACTIONS = sp.STICKY, sp.FEATURE_FRACTIONS
STICKY_TOL = 0.02  # a model "sits at" a fraction when m/‖W‖_F² is within this of it
FEATURE_TOL = 0.01  # half the gap between the closest two fractions (3/8 and 2/5), so no feature counts twice


def plateaus(inv_density: list[float], dims: list[float], tol: float = STICKY_TOL) -> list[dict]:
    """Sticky fractions that two or more consecutive models (in order of sparsity) sit at."""
    out = []
    for label, f in STICKY.items():
        near = [abs(d - f) < tol for d in dims]
        best: list[int] = []
        run: list[int] = []
        for i, ok in enumerate(near):
            run = run + [i] if ok else []
            if len(run) > len(best):
                best = run
        if len(best) >= 2:
            out.append({"fraction": label, "value": round(f, 4), "models": len(best),
                        "inv_density_from": inv_density[best[0]], "inv_density_to": inv_density[best[-1]],
                        "mean_dims_per_feature": round(sum(dims[i] for i in best) / len(best), 4)})
    return out


def feature_fraction_counts(frac_dims: torch.Tensor, tol: float = FEATURE_TOL) -> dict[str, int]:
    """How many features (over all models) have D_i within ``tol`` of each fraction."""
    return {label: int(((frac_dims - f).abs() < tol).sum()) for label, f in FEATURE_FRACTIONS.items()}


def phase_diagram(r: Recipe, device: str, log=print) -> dict:
    cfg = replace(sp.LIVE, steps=r.phase_steps, seed=r.seed, batch=r.batch)
    t = time.perf_counter()
    models = sp.phase_grid(r.phase_importances, r.phase_densities, r.phase_restarts, cfg, device=device)
    shape = (len(r.phase_densities), len(r.phase_importances))
    phase = sp.classify_extra(models.W).view(shape)  # (density, importance)
    log(f"phase diagram: {shape[0] * shape[1]} cells x {r.phase_restarts} restarts in {time.perf_counter() - t:.0f}s")
    return {"setup": {"n_features": 2, "d_hidden": 1, "restarts": r.phase_restarts, "steps": r.phase_steps,
                      "batch": cfg.batch, "lr": cfg.lr, "seed": r.seed, "threshold": sp.THRESHOLD},
            "relative_importance": list(r.phase_importances), "density": list(r.phase_densities),
            "labels": {str(k): v for k, v in sp.PHASES.items()},
            "phase": phase.tolist(),
            "W": _rounded(models.W[:, 0].view(*shape, 2)),  # (density, importance, feature): the 1-dim embedding
            "b": _rounded(models.b.view(*shape, 2)),
            "seconds": round(time.perf_counter() - t, 1)}


def dims_sweep(r: Recipe, device: str, log=print) -> tuple[dict, torch.Tensor]:
    cfg = replace(sp.LIVE, steps=r.dims_steps, seed=r.seed, batch=r.batch)
    t = time.perf_counter()
    density = [1 / v for v in r.dims_inv_density]
    models = sp.dims_sweep(r.dims_features, r.dims_hidden, density, cfg, device=device)
    dims = sp.dims_per_feature(models.W)  # (k,)
    frac = sp.fractional_dims(models.W)  # (k, n)
    log(f"dimensionality: {len(density)} models {r.dims_features}->{r.dims_hidden} in {time.perf_counter() - t:.0f}s")
    inv, dims_r, frac_r = list(r.dims_inv_density), _rounded(dims), _rounded(frac)
    result = {"setup": {"n_features": r.dims_features, "d_hidden": r.dims_hidden, "steps": r.dims_steps,
                        "batch": cfg.batch, "lr": cfg.lr, "seed": r.seed, "importance": "equal"},
              "inv_density": inv, "dims_per_feature": dims_r,
              "represented": sp.represented(models.W).tolist(),
              "fractional_dims": frac_r,  # summaries below use these rounded values, as --remeasure does
              "plateaus": plateaus(inv, dims_r), "feature_fractions": feature_fraction_counts(torch.tensor(frac_r)),
              "seconds": round(time.perf_counter() - t, 1)}
    return result, models.W


def live_row(r: Recipe) -> dict:
    """The page's default 5→2 row, trained exactly as the page does (CPU, one thread)."""
    t = time.perf_counter()
    models = sp.sparsity_row(r.row_features, r.row_decay)
    return {"n_features": r.row_features, "decay": r.row_decay, "sparsity": list(sp.SPARSITIES), "batch": sp.LIVE.batch,
            "represented": sp.represented(models.W).tolist(),
            "first_all_represented": sp.first_all_represented(models),
            "seconds": round(time.perf_counter() - t, 2)}


def phase_boundaries(phase: dict) -> list[dict]:
    """Per importance: the densities either side of the best-fitting boundary, the estimate, and stray cells."""
    out = []
    dens = phase["density"]
    for j, r in enumerate(phase["relative_importance"]):
        k, off = sp.phase_boundary([row[j] for row in phase["phase"]])
        out.append({"importance": r, "superposed_up_to": dens[k - 1] if k else None,
                    "not_superposed_from": dens[k] if k < len(dens) else None,
                    "estimate": round(sp.boundary_estimate(r), 4), "stray_cells": off})
    return out


def summarize(phase: dict, dims: dict, row: dict, training: dict) -> dict:
    """metrics.json: every number here is computed from the result files (``--remeasure`` redoes it)."""
    flat = [c for row_ in phase["phase"] for c in row_]
    bounds = phase_boundaries(phase)
    return {"training": training,
            "phase_counts": {sp.PHASES[k]: flat.count(k) for k in sp.PHASES},
            "phase_boundaries": bounds, "phase_stray_cells": sum(b["stray_cells"] for b in bounds),
            "dims_plateaus": plateaus(dims["inv_density"], dims["dims_per_feature"]),
            "feature_fractions": feature_fraction_counts(torch.tensor(dims["fractional_dims"])),
            "dims_min": min(dims["dims_per_feature"]),
            "row": row}


def _machine(t: dict) -> str:
    extra = []
    if t.get("cpu_seconds") is not None:
        extra.append(f"{t['cpu_seconds']:.0f} s of CPU time")
    if t.get("load_avg_1m") is not None:
        extra.append(f"load average {t['load_avg_1m']} at the end")
    return f"{t['device']}, {t['threads']} thread(s), {t['seconds']:.0f} s wall" + (f" ({', '.join(extra)})" if extra else "")


def render_card(m: dict) -> str:
    """card.md from metrics.json (tests check the shipped card equals this)."""
    t, r, pc = m["training"], m["training"]["recipe"], m["phase_counts"]
    imps, dens, inv = r["phase_importances"], r["phase_densities"], r["dims_inv_density"]
    bounds = m["phase_boundaries"]
    within = sum(1 for b in bounds if b["superposed_up_to"] and (b["not_superposed_from"] or 1.0) * 2 >= b["estimate"]
                 >= b["superposed_up_to"] / 2)
    lines = [
        "# tms: toy models of superposition",
        "",
        "Small ReLU autoencoders x → W x → ReLU(Wᵀ W x + b) trained on synthetic sparse features "
        "(Elhage et al. 2022, *Toy Models of Superposition*). No transformer: the page trains the small "
        "models live; this folder holds what takes longer.",
        "",
        f"Trained by `python -m app.training tms`, seed {r['seed']}, on {_machine(t)}. Adam, lr 1e-2 cosine-decayed "
        f"to 0, batches of {r.get('batch', 1024):,} fresh samples ({m['row'].get('batch', 1024):,} for the live row).",
        "",
        "## Phase diagram (2 features → 1 dimension): `phase_diagram.json`",
        f"{len(imps)} relative importances ({imps[0]:g}–{imps[-1]:g}) × {len(dens)} densities ({dens[0]:g}–{dens[-1]:g}), "
        f"best of {r['phase_restarts']} restarts per cell, {r['phase_steps']} steps. Cells: "
        + ", ".join(f"{k} {v}" for k, v in pc.items()) + ".",
        f"Each importance column splits into superposition below a density and another phase above it; "
        f"{m['phase_stray_cells']} cells disagree with their column's best split (every restart stuck). "
        f"The estimate 2·min(1, r)/(1 + r) falls within a factor 2 of the split in {within} of {len(bounds)} columns.",
        "",
        f"## Dimensions per feature ({r['dims_features']} → {r['dims_hidden']}, equal importance): `dims_per_feature.json`",
        f"{len(inv)} models, 1/(1−S) from {inv[0]:g} to {inv[-1]:.1f}, {r['dims_steps']} steps each "
        f"(weights in `dims_weights.safetensors`). Lowest m/‖W‖_F²: {m['dims_min']:.3f}.",
        "Plateaus (two or more consecutive models within 0.02 of a sticky fraction):",
    ]
    lines += [f"- {p['fraction']}: {p['models']} models, 1/(1−S) {p['inv_density_from']:.2f}–{p['inv_density_to']:.2f}, "
              f"mean {p['mean_dims_per_feature']:.3f}" for p in m["dims_plateaus"]] or ["- none"]
    ff = m["feature_fractions"]
    lines += ["", f"Features whose fractional dimensionality D_i is within {FEATURE_TOL} of a fraction (all models): "
              + ", ".join(f"{k}: {v}" for k, v in ff.items()) + ".", "",
              "## The page's live row (5 → 2, importance 0.9^i)"]
    row = m["row"]
    lines += [f"Features represented (‖W_i‖ > 0.5) at S = {row['sparsity']}: {row['represented']}. "
              f"All {row['n_features']} from S = {row['first_all_represented']} on. "
              "How long the page waits for it: bench/results/superposition.json (p50/p95).",
              ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app.training tms", description=__doc__.split("\n")[0])
    parser.add_argument("name", nargs="?", default="tms", choices=["tms"], help="the model (app.training passes it)")
    parser.add_argument("--steps", type=int, help="override the phase-diagram and dimensionality step counts (smoke tests)")
    parser.add_argument("--out", type=Path, help="output folder (default models/tms)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default cpu: these models are tiny)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--quick", action="store_true", help="tiny grids and few steps (smoke tests)")
    parser.add_argument("--remeasure", action="store_true",
                        help="no long training: recompute metrics.json and card.md from the saved result files "
                             "(the page's live row, seconds, is retrained)")
    args = parser.parse_args(argv)
    from app import zoo  # sets the app's thread default; the recipe sets its own below

    torch.set_num_threads(args.threads)
    device = args.device or "cpu"
    recipe = QUICK if args.quick else Recipe()
    if args.steps:
        recipe = replace(recipe, phase_steps=args.steps, dims_steps=args.steps)
    out = args.out or zoo.MODELS_DIR / "tms"
    out.mkdir(parents=True, exist_ok=True)
    if args.remeasure:
        old = json.loads((out / "metrics.json").read_text())
        phase, dims = (json.loads((out / f).read_text()) for f in ("phase_diagram.json", "dims_per_feature.json"))
        torch.set_num_threads(1)  # the live row is cheap: retrain it as the page does (the page's settings may change)
        metrics = summarize(phase, dims, live_row(Recipe()), old["training"])
        (out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
        (out / "card.md").write_text(render_card(metrics))
        print(f"re-measured {out} from its result files (and retrained the live row)")
        return
    t, cpu0 = time.perf_counter(), time.process_time()
    phase = phase_diagram(recipe, device)
    dims, W = dims_sweep(recipe, device)
    torch.set_num_threads(1)  # the row is timed as the page runs it
    row = live_row(recipe)
    training = {"device": device, "threads": args.threads, "seconds": round(time.perf_counter() - t, 1),
                "cpu_seconds": round(time.process_time() - cpu0, 1), "load_avg_1m": _load(), "recipe": asdict(recipe)}
    metrics = summarize(phase, dims, row, training)
    (out / "phase_diagram.json").write_text(json.dumps(phase) + "\n")
    (out / "dims_per_feature.json").write_text(json.dumps(dims) + "\n")
    save_file({"W": W.contiguous()}, str(out / "dims_weights.safetensors"))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    (out / "card.md").write_text(render_card(metrics))
    print(f"wrote {out}: phase cells {metrics['phase_counts']}, plateaus "
          f"{[p['fraction'] for p in metrics['dims_plateaus']]} in {metrics['training']['seconds']:.0f}s")


if __name__ == "__main__":
    main()
