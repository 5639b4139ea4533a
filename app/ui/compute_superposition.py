"""Cached computations for the toy-models-of-superposition widgets (Elhage et al. 2022).

Training happens here, live, with a progress bar: the bar is created inside the cached
function so Streamlit can replay it (as nothing) when the result comes from the cache.
Results are plain lists keyed by their parameters in bounded ``st.cache_data``; no model
is shared between sessions, so no lock is needed. The shipped results of the ``tms``
recipe (phase diagram, dimensionality sweep) are read once per process.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st
import torch

from app.analysis import superposition as sp


def _bar(text: str):
    bar = st.progress(0.0, text=text)
    return bar, (lambda f: bar.progress(min(max(f, 0.0), 1.0), text=f"{text} {f:.0%}"))


def _geometry(W: torch.Tensor, b: torch.Tensor) -> dict:
    """Everything the geometry views draw, for a batch of models W (k, m, n), b (k, n)."""
    return {"W": W.tolist(), "b": b.tolist(), "norms": sp.norms(W).tolist(), "superposition": sp.superposition(W).tolist(),
            "gram": sp.gram(W).tolist(), "represented": sp.represented(W).tolist(),
            "fractional_dims": sp.fractional_dims(W).tolist()}


@st.cache_data(max_entries=32, show_spinner=False)
def toy_row(n_features: int, decay: float, seed: int) -> dict:
    """One n→2 model per sparsity in ``SPARSITIES`` (best of 4 restarts), trained together."""
    bar, progress = _bar(f"Training {len(sp.SPARSITIES)} models ({n_features} features → 2 dims, 4 restarts each)…")
    models = sp.sparsity_row(n_features, decay, cfg=replace(sp.LIVE, seed=seed), progress=progress)
    bar.empty()
    out = _geometry(models.W, models.b)
    out.update(sparsity=list(sp.SPARSITIES), loss=models.loss.tolist(), first_all=sp.first_all_represented(models),
               curve=models.curve.T.tolist(), curve_steps=models.curve_steps)
    return out


@st.cache_data(max_entries=64, show_spinner=False)
def phase_point(rel_importance: float, density: float, seed: int) -> dict:
    """The 2→1 model at one point of the phase diagram (best of 8 restarts)."""
    bar, progress = _bar("Training the 2 → 1 model (8 restarts)…")
    models = sp.phase_grid([rel_importance], [density], restarts=8, cfg=replace(sp.LIVE, seed=seed),
                            progress=progress)
    bar.empty()
    return {"W": models.W[0, 0].tolist(), "b": models.b[0].tolist(), "norm": sp.norms(models.W)[0].tolist(),
            "phase": int(sp.classify_extra(models.W)[0]), "loss": float(models.loss[0])}


@st.cache_resource(max_entries=8, show_spinner=False)
def shipped(file: str, model: str = "tms") -> dict:
    """A result file of the ``tms`` recipe (read-only: shared by every session)."""
    return sp.shipped(file, model)
