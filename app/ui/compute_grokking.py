"""Cached, lock-protected computations for the grokking widgets (see compute.py).

One bridge run over all 113 * 113 inputs per (model, checkpoint) is kept as a resource (a few
at a time); every view reads plain lists derived from it through bounded ``st.cache_data``.
"""

from __future__ import annotations

import streamlit as st

from app import zoo
from app.analysis import fourier
from app.analysis import grokking as g
from app.ui.compute import CACHE


@st.cache_resource(max_entries=4, show_spinner=False)
def _snapshot(model_name: str, step: int | None) -> g.Snapshot:
    with zoo.use(model_name, step) as model:
        return g.snapshot(model, model.cfg.d_vocab - 1)


def key_freqs(model_name: str) -> list[int]:
    """The final model's key frequencies (metrics.json): the views mark them at every checkpoint."""
    return list(zoo.metrics(model_name)["key_frequencies"])


def _p(model_name: str) -> int:
    return zoo.config(model_name)["d_vocab"] - 1


@st.cache_data(**CACHE)
def embedding(model_name: str, step: int | None) -> dict:
    snap = _snapshot(model_name, step)
    norms = g.embedding_norms(snap, _p(model_name))
    keys = key_freqs(model_name)
    total = sum(n * n for n in norms)
    share = sum(norms[k - 1] ** 2 for k in keys) / total if total else 0.0
    top = sorted(range(len(norms)), key=lambda i: -norms[i])[:6]
    return {"norms": norms, "keys": keys, "share_of_freq_norm": share, "top": [i + 1 for i in top]}


@st.cache_data(**CACHE)
def neurons(model_name: str, step: int | None) -> dict:
    return g.neuron_summary(_snapshot(model_name, step), _p(model_name))


def auto_neuron(model_name: str) -> int:
    """The final model's neuron whose variance is most concentrated on its (key) frequency."""
    summary = neurons(model_name, None)
    keyed = [i for i, f in enumerate(summary["freq"]) if f > 0] or list(range(len(summary["freq"])))
    return max(keyed, key=lambda i: summary["share"][i])


@st.cache_data(**CACHE)
def neuron_grid(model_name: str, step: int | None, neuron: int) -> dict:
    grid = _snapshot(model_name, step).neuron(neuron)  # (p, p)
    freq, share = fourier.neuron_clusters(grid[:, :, None], _p(model_name))
    return {"grid": grid.tolist(), "freq": int(freq[0]), "share": float(share[0])}


@st.cache_data(**CACHE)
def attention_grid(model_name: str, step: int | None, head: int) -> dict:
    return {"grid": _snapshot(model_name, step).attn_to_a[head].tolist()}


@st.cache_data(**CACHE)
def logit_fit(model_name: str, step: int | None) -> dict:
    return g.logit_fit(_snapshot(model_name, step), key_freqs(model_name), _p(model_name))


@st.cache_data(**CACHE)
def logits_vs_fit(model_name: str, step: int | None, a: int, b: int) -> dict:
    return g.logits_vs_fit(_snapshot(model_name, step), a, b, key_freqs(model_name), _p(model_name))


@st.cache_data(**CACHE)
def one_input(model_name: str, step: int | None, a: int, b: int) -> dict:
    with zoo.use(model_name, step) as model:
        r = g.one_input(model, a, b, _p(model_name))
    return {"pattern": r["pattern"].tolist(), "top": r["top"]}
