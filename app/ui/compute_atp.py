"""Cached, lock-protected computations for the attribution-patching widget (see compute.py).

The AtP estimate and the real patching sweep run under the zoo's lock for the model (both add
hooks to the shared bridge); the sweep drives a progress bar created inside the cached function,
so a cache hit replays nothing. The timings are measured in this call, on this machine, and
cached with the result. The measurements themselves are ``app.analysis.atp``.
"""

from __future__ import annotations

import streamlit as st

from app import zoo
from app.analysis import atp
from app.training.measure import head_label
from app.widgets.atp import pairs_for

SWEEP_TEXT = {"head": "Patching every head at every position", "mlp": "Patching every MLP output at every position",
              "resid": "Patching the residual stream at every layer and position"}


def _rows(model_name: str, site: str) -> list[str]:
    cfg = zoo.config(model_name)
    if site == "head":
        return [head_label(l, h) for l in range(cfg["n_layers"]) for h in range(cfg["n_heads"])]
    return [f"L{l} {'MLP' if site == 'mlp' else 'resid_pre'}" for l in range(cfg["n_layers"])]


@st.cache_data(max_entries=64, show_spinner=False)
def compare(model_name: str, task: str, site: str, direction: str, n_prompts: int, seed: int, template: int,
            order: str, half_len: int, prefix: int = 0) -> dict:
    """AtP (every site, one pass) and real patching (one site), as (row, position) grids + timings."""
    pairs = pairs_for(model_name, task, n_prompts, seed, template, order, half_len, prefix)
    text = f"{SWEEP_TEXT[site]} ({len(pairs.labels)} positions, {n_prompts} prompt pairs)…"
    bar = st.progress(0.0, text=text)
    with zoo.use(model_name) as model:
        est = atp.attribution(model, pairs, direction=direction)
        real, seconds = atp.patch_sweep(model, pairs, site, direction=direction,
                                        progress=lambda f: bar.progress(min(f, 1.0), text=f"{text} {f:.0%}"))
    bar.empty()
    estimate = est.values[site]
    if site == "head":  # (L, T, H) -> (L*H, T): one row per head
        estimate, real = (x.permute(0, 2, 1).reshape(-1, x.shape[1]) for x in (estimate, real))
    miss = atp.failures(estimate, real)
    return {"rows": _rows(model_name, site), "positions": list(pairs.labels), "estimate": estimate.tolist(),
            "actual": real.tolist(), "miss": miss.tolist(), "r": atp.correlation(estimate, real),
            "atp_ms": est.seconds * 1000, "patch_ms": seconds * 1000, "forwards": real.numel() + 2,
            "clean": est.clean_metric, "corrupt": est.corrupt_metric}


@st.cache_data(max_entries=64, show_spinner=False)
def path(model_name: str, task: str, site: str, direction: str, n_prompts: int, seed: int, template: int,
         order: str, half_len: int, row: int, pos: int, prefix: int = 0) -> dict:
    """The metric along the line from one cell's base activation to its source value, and the AtP tangent."""
    pairs = pairs_for(model_name, task, n_prompts, seed, template, order, half_len, prefix)
    n_heads = zoo.config(model_name)["n_heads"]
    layer, head = divmod(row, n_heads) if site == "head" else (row, None)
    with zoo.use(model_name) as model:
        alphas, curve = atp.path(model, pairs, site, layer, pos, head, direction)
    return {"alphas": alphas, "curve": curve}
