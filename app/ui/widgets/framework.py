"""Widgets for "A Mathematical Framework for Transformer Circuits" (Elhage et al. 2021).

Each ``*_ui(key, defaults)`` draws its controls, validates them through the widget's
parameter model (which also syncs the URL), asks ``compute`` for numbers and draws
plotly / circuitsvis figures. No analysis happens here.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app import zoo
from app.ui import compute, cvis
from app.ui.params import commit, from_url, seed, show_code, state_key
from app.widgets import (
    MAX_TEXT_CHARS,
    AttentionParams,
    CircuitParams,
    CompositionParams,
    CopyingParams,
    DirectPathParams,
    SkipTrigramParams,
)


def _model_select(key: str, min_layers: int = 1) -> str:
    options = [n for n in zoo.names() if zoo.config(n)["n_layers"] >= min_layers]
    return st.selectbox("Model", options, key=state_key(key, "model"))


def _layer_head(key: str, model: str, with_head: bool = True) -> tuple[int, int | None]:
    cfg = zoo.config(model)
    for field, n in (("layer", cfg["n_layers"]), ("head", cfg["n_heads"])):
        sk = state_key(key, field)
        if sk in st.session_state and not 0 <= st.session_state[sk] < n:
            st.session_state[sk] = 0  # switched to a model with fewer layers/heads
    cols = st.columns(2)
    layer = cols[0].selectbox("Layer", list(range(cfg["n_layers"])), key=state_key(key, "layer"))
    head = cols[1].selectbox("Head", list(range(cfg["n_heads"])), key=state_key(key, "head")) if with_head else None
    return layer, head


def _notes(notes) -> None:
    for note in notes:
        st.info(note, icon=":material/content_cut:")


def _compute(fn, *args):
    """Run a cached computation; input the model cannot use becomes a message in place."""
    try:
        return fn(*args)
    except ValueError as err:
        st.warning(str(err), icon=":material/edit:")
        return None


def _heatmap(z, x, y, title: str, xlabel: str, ylabel: str, zmid: float | None = 0.0, colorscale="RdBu") -> go.Figure:
    fig = go.Figure(go.Heatmap(z=z, x=x, y=y, colorscale=colorscale, zmid=zmid, reversescale=colorscale == "RdBu",
                               hovertemplate=f"{ylabel} %{{y}}<br>{xlabel} %{{x}}<br>%{{z:.3f}}<extra></extra>"))
    fig.update_layout(title=title, xaxis_title=xlabel, yaxis_title=ylabel, height=420, margin=dict(l=10, r=10, t=40, b=10))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category")
    return fig


def direct_path_ui(key: str, defaults: DirectPathParams) -> None:
    seed(key, from_url(key, defaults))
    model = _model_select(key)
    token = st.text_input("Current token (the first token of this text)", key=state_key(key, "token"), max_chars=100)
    k = st.slider("How many predictions", 1, 30, key=state_key(key, "k"))
    params = commit(key, defaults, {"model": model, "token": token, "k": k})
    if params is None:
        return
    result = _compute(compute.direct_path, params.model, params.token, params.k)
    if result is None:
        return
    st.caption(f"Current token: `{result['token']}` (id {result['token_id']}){result['note']}")
    fig = go.Figure(go.Bar(x=result["logits"], y=result["labels"], orientation="h",
                           hovertemplate="%{y}: %{x:.2f}<extra></extra>"))
    fig.update_layout(height=max(250, 24 * len(result["labels"])), xaxis_title="direct-path logit  W_E[token] · W_U",
                      margin=dict(l=10, r=10, t=10, b=10))
    fig.update_yaxes(autorange="reversed", type="category")
    st.plotly_chart(fig, key=f"{key}-fig")
    show_code(params)


def attention_ui(key: str, defaults: AttentionParams) -> None:
    seed(key, from_url(key, defaults))
    model = _model_select(key)
    layer, _ = _layer_head(key, model, with_head=False)
    text = st.text_area("Prompt", key=state_key(key, "text"), height=110, max_chars=MAX_TEXT_CHARS)
    params = commit(key, defaults, {"model": model, "layer": layer, "text": text})
    if params is None:
        return
    result = _compute(compute.attention, params.model, params.text, params.layer)
    if result is None:
        return
    _notes(result["notes"])
    cvis.show("AttentionPatterns", height=620, props=result["cvis"])
    show_code(params)


def circuit_ui(key: str, defaults: CircuitParams) -> None:
    seed(key, from_url(key, defaults))
    model = _model_select(key)
    layer, head = _layer_head(key, model)
    circuit = st.radio("Circuit", ["OV", "QK"], horizontal=True, key=state_key(key, "circuit"))
    tokens = st.text_input("Tokens to show (their tokens label the map)", key=state_key(key, "tokens"), max_chars=400)
    params = commit(key, defaults, {"model": model, "layer": layer, "head": head, "circuit": circuit, "tokens": tokens})
    if params is None:
        return
    result = _compute(compute.circuit, params.model, params.layer, params.head, params.circuit, params.tokens)
    if result is None:
        return
    if params.circuit == "OV":
        title, ylabel, xlabel = f"OV circuit of L{layer}H{head}", "attended token", "logit raised"
    else:
        title, ylabel, xlabel = f"QK circuit of L{layer}H{head}", "query token", "key token"
    st.plotly_chart(_heatmap(result["block"], result["labels"], result["labels"], title, xlabel, ylabel), key=f"{key}-fig")
    st.markdown(f"**Top pairs over the whole vocabulary** ({ylabel} → {xlabel})")
    st.dataframe(pd.DataFrame(result["pairs"]), hide_index=True, height=230)
    show_code(params)


def copying_scores_ui(key: str, defaults: CopyingParams) -> None:
    seed(key, from_url(key, defaults))
    model = _model_select(key)
    layer, head = _layer_head(key, model)
    params = commit(key, defaults, {"model": model, "layer": layer, "head": head})
    if params is None:
        return
    result = compute.copying(params.model, params.layer, params.head)
    n_layers = len(result["scores"])
    st.plotly_chart(_heatmap(result["scores"], [f"H{h}" for h in range(len(result["scores"][0]))],
                             [f"L{l}" for l in range(n_layers)], "Copying score of every head (OV eigenvalues)",
                             "head", "layer"), key=f"{key}-heat")
    eig_re, eig_im = result["eig_re"], result["eig_im"]
    fig = go.Figure(go.Scatter(x=eig_re, y=eig_im, mode="markers", marker=dict(size=9),
                               hovertemplate="Re %{x:.2f}<br>Im %{y:.2f}<extra></extra>"))
    fig.add_vline(x=0, line_color="grey")
    fig.add_hline(y=0, line_color="grey")
    fig.update_layout(title=f"Eigenvalues of L{layer}H{head}'s OV circuit: copying score {result['score']:.3f}",
                      xaxis_title="real part", yaxis_title="imaginary part", height=380,
                      margin=dict(l=10, r=10, t=40, b=10))
    st.plotly_chart(fig, key=f"{key}-eig")
    show_code(params)


def skip_trigrams_ui(key: str, defaults: SkipTrigramParams) -> None:
    seed(key, from_url(key, defaults))
    model = _model_select(key)
    text = st.text_area("Prompt", key=state_key(key, "text"), height=130, max_chars=MAX_TEXT_CHARS)
    cols = st.columns(2)
    position = cols[0].number_input("Current position (-1 = last token)", min_value=-1, max_value=10_000, step=1,
                                    key=state_key(key, "position"))
    k = cols[1].slider("Sources and predictions per head", 1, 10, key=state_key(key, "k"))
    params = commit(key, defaults, {"model": model, "text": text, "position": int(position), "k": k})
    if params is None:
        return
    result = _compute(compute.skip_trigrams, params.model, params.text, params.position, params.k)
    if result is None:
        return
    _notes(result["notes"])
    if zoo.config(params.model)["n_layers"] > 1:
        st.info("This model has more than one layer: the table reads layer 0's heads alone, which ignores composition.", icon=":material/info:")
    st.caption(f"Current token B = `{result['dest']}` at position {result['position']}. Each row: head attends to A, "
               "and A's OV row raises C. Together: the skip-trigram A … B → C.")
    st.dataframe(pd.DataFrame(result["rows"]), hide_index=True, height=360)
    show_code(params)


def composition_ui(key: str, defaults: CompositionParams) -> None:
    seed(key, from_url(key, defaults))
    model = _model_select(key, min_layers=2)
    params = commit(key, defaults, {"model": model})
    if params is None:
        return
    result = compute.composition(params.model)
    st.caption(f"Random-matrix baseline: {result['baseline']:.3f}. Scores well above it mean the heads really compose.")
    tabs = st.tabs(["K-composition", "Q-composition", "V-composition"])
    for tab, mode in zip(tabs, "KQV"):
        with tab:
            z = result[mode]
            fig = _heatmap(z, [f"L1H{h}" for h in range(len(z[0]))], [f"L0H{h}" for h in range(len(z))],
                           f"{mode}-composition: layer-0 head output read by layer-1 head's {dict(K='keys', Q='queries', V='values')[mode]}",
                           "layer-1 head", "layer-0 head", zmid=None, colorscale="Blues")
            st.plotly_chart(fig, key=f"{key}-{mode}")
    show_code(params)
