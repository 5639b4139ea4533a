"""Widgets for "Towards Monosemanticity" (Bricken et al. 2023): training curves, feature browser, live text,
neuron-basis density and a features-vs-neurons monosemanticity proxy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from app.ui import compute_sae as cs
from app.ui import cvis
from app.ui.params import commit, from_url, seed, show_code, state_key
from app.ui.widgets.framework import _compute, _notes
from app.widgets.sae import (
    SAEDensityParams,
    SAEFeatureParams,
    SAEMonoParams,
    SAETextParams,
    SAETrainingParams,
    d_sae,
)

REPLICATION_DENSE = 0.92  # Nanda 2023's open replication: share of features dense in the neuron basis


def _margin(fig: go.Figure, height: int) -> None:
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10))


def sae_training_ui(key: str, defaults: SAETrainingParams) -> None:
    seed(key, from_url(key, defaults))
    params = commit(key, defaults, {})
    if params is None:
        return
    b = cs.bundle(params.model)
    curve, m = b["training"]["curve"], b["metrics"]
    x = [p["activations"] / 1e6 for p in curve]
    fig = make_subplots(rows=1, cols=3, subplot_titles=("L0 (features per token)", "FVU", "loss recovered"))
    fig.add_scatter(x=x, y=[p["l0"] for p in curve], row=1, col=1, name="L0")
    fig.add_scatter(x=x, y=[p["fvu"] for p in curve], row=1, col=2, name="FVU")
    fig.add_scatter(x=x, y=[p["loss_recovered"] for p in curve], row=1, col=3, name="loss recovered")
    for e in b["training"]["resampled"]:
        for col in (1, 2, 3):
            fig.add_vline(x=e["step"] * m["training"]["recipe"]["batch_rows"] / 1e6, line_dash="dot",
                          line_color="grey", row=1, col=col)
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_yaxes(range=[0, 1.05], row=1, col=3)
    fig.update_xaxes(title_text="activations seen (millions)")
    fig.update_layout(showlegend=False)
    _margin(fig, 320)
    st.plotly_chart(fig, key=f"{key}-curves")
    cols = st.columns(4)
    cols[0].metric("L0", f"{m['l0']:.1f}")
    cols[1].metric("FVU", f"{m['fvu']:.3f}")
    cols[2].metric("Loss recovered", f"{m['loss_recovered']:.1%}")
    cols[3].metric("Dead features", f"{m['dead_fraction']:.1%}")
    st.caption(f"Final numbers re-measured on {m['eval_tokens']:,} held-out tokens (dead: over {m['browser_tokens']:,}). "
               "Dotted lines: dead features resampled.")
    show_code(params)


def _feature_picker(key: str, model: str) -> int:
    n = d_sae(model)
    query = st.text_input("Search features by token (e.g. `self`, `(`, `import`)", key=state_key(key, "search"),
                          max_chars=40)
    if query.strip():
        hits = cs.search(model, query)
        if hits:
            st.dataframe(pd.DataFrame(hits), hide_index=True, height=min(250, 38 + 35 * len(hits)))
            st.caption("Type one of these numbers below to open it.")
        else:
            st.info(f"No feature's top-activating tokens contain {query!r}.", icon=":material/search_off:")
    sk = state_key(key, "feature")
    if not 0 <= st.session_state.get(sk, 0) < n:
        st.session_state[sk] = 0
    return int(st.number_input(f"Feature (0–{n - 1})", 0, n - 1, step=1, key=sk))


def sae_feature_ui(key: str, defaults: SAEFeatureParams) -> None:
    seed(key, from_url(key, defaults))
    model = defaults.model
    feature = _feature_picker(key, model)
    k = st.slider("Contexts", 1, 20, key=state_key(key, "k"))
    params = commit(key, defaults, {"feature": feature, "search": st.session_state[state_key(key, "search")], "k": k})
    if params is None:
        return
    with st.spinner("Reading the feature's top contexts…"):
        r = _compute(cs.feature_view, params.model, params.feature, params.k)
    if r is None:
        return
    head = f"**Feature {params.feature}**" + (f" — our label: *{r['label']}*" if r["label"] else "")
    st.markdown(f"{head} · fires on {r['firing']:.2%} of {r['n_tokens']:,} held-out tokens · max activation "
                f"{r['max_act']:.2f} · its decoder row needs {r['neurons_for_90']} neurons for 90% of its norm")
    if not r["tokens"]:
        st.info("This feature never fired on the held-out tokens (a dead feature).", icon=":material/block:")
    else:
        st.caption("Top-activating snippets, strongest first, separated by ┆; each token is coloured by the "
                   "feature's activation, and each snippet ends three tokens after its strongest token.")
        cvis.show("ColoredTokens", height=220, tokens=r["tokens"], values=r["values"], minValue=0.0,
                  maxValue=max(r["max_act"], 1e-6))
    cols = st.columns(2)
    edges = np.linspace(0, r["max_act"], len(r["hist"]) + 1)
    hist = go.Figure(go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=r["hist"], marker_color="#4c78a8",
                            hovertemplate="activation ≈ %{x:.2f}<br>%{y} tokens<extra></extra>"))
    hist.update_yaxes(type="log", title_text="tokens")
    hist.update_xaxes(title_text="activation (when > 0)")
    hist.update_layout(title="Activation histogram")
    _margin(hist, 300)
    cols[0].plotly_chart(hist, key=f"{key}-hist")
    pairs = r["suppressed"][::-1] + r["promoted"][::-1]
    logit = go.Figure(go.Bar(x=[v for _, v in pairs], y=[f"{t} " for t, _ in pairs], orientation="h",
                             marker_color=["#e45756" if v < 0 else "#54a24b" for _, v in pairs]))
    logit.update_layout(title="Logit effects (W_dec · W_out · W_U)", xaxis_title="direct effect per unit activation")
    logit.update_yaxes(type="category")
    _margin(logit, 300)
    cols[1].plotly_chart(logit, key=f"{key}-logits")
    show_code(params)


def sae_text_ui(key: str, defaults: SAETextParams) -> None:
    seed(key, from_url(key, defaults))
    model = defaults.model
    text = st.text_area("Code or text", key=state_key(key, "text"), height=110, max_chars=2000)
    n = d_sae(model)
    feature = st.number_input(f"Colour by feature (-1 = the most active on this text, up to {n - 1})", -1, n - 1,
                              step=1, key=state_key(key, "feature"))
    params = commit(key, defaults, {"text": text, "feature": int(feature)})
    if params is None:
        return
    r = _compute(cs.text_view, params.model, params.text, params.feature)
    if r is None:
        return
    _notes(r["notes"])
    st.caption(f"Tokens coloured by feature {r['feature']}" + (f" ({r['label']})" if r["label"] else "") + ".")
    cvis.show("ColoredTokens", height=130, tokens=r["tokens"], values=r["values"], minValue=0.0,
              maxValue=max(max(r["values"]), 1e-6))
    df = pd.DataFrame(r["rows"])
    st.markdown(f"Per token: **{df['features active'].mean():.1f}** features active on average, against "
                f"**{df['neurons > 0'].mean():.0f}** of the neurons above zero.")
    st.dataframe(df, hide_index=True, height=300)
    show_code(params)


def sae_density_ui(key: str, defaults: SAEDensityParams) -> None:
    seed(key, from_url(key, defaults))
    cols = st.columns(2)
    share = cols[0].slider("Share of a feature's squared norm", 0.5, 0.99, step=0.01, key=state_key(key, "share"))
    threshold = cols[1].slider("Dense if it needs more neurons than", 1, 256, key=state_key(key, "threshold"))
    params = commit(key, defaults, {"share": share, "threshold": threshold})
    if params is None:
        return
    r = cs.density(params.model, params.share)
    counts = np.array(r["counts"])
    dense = float((counts > params.threshold).mean()) if len(counts) else 0.0
    fig = go.Figure(go.Histogram(x=counts, xbins=dict(start=0.5, end=r["d_in"] + 0.5, size=4), marker_color="#4c78a8"))
    fig.add_vline(x=params.threshold + 0.5, line_dash="dash", line_color="crimson",
                  annotation_text=f"dense → ({dense:.0%})")
    fig.update_layout(title=f"Neurons needed for {params.share:.0%} of each feature's decoder norm ({r['alive']} alive)",
                      xaxis_title=f"neurons (of {r['d_in']})", yaxis_title="features")
    _margin(fig, 340)
    st.plotly_chart(fig, key=f"{key}-hist")
    c = st.columns(2)
    c[0].metric("Dense in the neuron basis (ours)", f"{dense:.0%}")
    c[1].metric("Open replication (Nanda 2023)", f"{REPLICATION_DENSE:.0%}")
    st.caption(f"Dead features are left out. A feature that is one neuron needs 1; a random direction needs "
               f"{r['random_median']:.0f} (median of 256 random Gaussian directions).")
    show_code(params)


def sae_mono_ui(key: str, defaults: SAEMonoParams) -> None:
    seed(key, from_url(key, defaults))
    params = commit(key, defaults, {})
    if params is None:
        return
    r = cs.monosemanticity(params.model)
    fig = go.Figure()
    for name, vals, colour in (("SAE features", r["features"], "#4c78a8"), ("MLP neurons", r["neurons"], "#f58518")):
        v = np.sort(np.array([x for x in vals if x == x]))  # drop NaN
        fig.add_scatter(x=v, y=np.arange(1, len(v) + 1) / max(1, len(v)), name=f"{name} (median {np.median(v):.2f})",
                        line=dict(color=colour, shape="hv"))
    fig.update_layout(title=f"Share of a unit's top {r['k']} activations on its single most common token",
                      xaxis_title="top-token share (1 = always the same token)", yaxis_title="cumulative share of units",
                      legend=dict(orientation="h", y=-0.25))
    _margin(fig, 360)
    st.plotly_chart(fig, key=f"{key}-ecdf")
    show_code(params)
