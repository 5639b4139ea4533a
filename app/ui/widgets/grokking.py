"""Widgets for "Progress measures for grokking via mechanistic interpretability" (Nanda et al. 2023).

Every view has a checkpoint slider over the shipped fp16 checkpoints; the numbers come from
``compute_grokking`` (one cached bridge run per checkpoint) and the training record.
"""

from __future__ import annotations

import math

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from app import zoo
from app.ui import compute_grokking as cg
from app.ui import cvis
from app.ui.params import commit, from_url, seed, show_code, state_key
from app.ui.widgets.framework import _compute
from app.ui.widgets.induction import _checkpoint_select
from app.widgets.grokking import (
    FourierEmbeddingParams,
    GrokCheckpointParams,
    GrokCurvesParams,
    LogitFourierParams,
    PeriodicParams,
)

PHASE_COLOURS = {"memorisation": "rgba(99,110,250,0.10)", "circuit formation": "rgba(239,85,59,0.10)",
                 "cleanup": "rgba(0,204,150,0.13)"}
KEY_COLOUR, OTHER_COLOUR = "#d62728", "#9aa5b1"
MARGIN = dict(l=10, r=10, t=40, b=10)


def _step_of(params) -> int:
    return params.step if params.step is not None else zoo.metrics(params.model)["training"]["steps"]


def _where(params) -> str:
    return "the final weights" if params.step is None else f"step {params.step:,}"


def _phase_spans(model: str) -> list[tuple[str, int, int]]:
    ph = zoo.metrics(model)["phases"]
    last = zoo.metrics(model)["training"]["steps"]
    bounds = [("memorisation", 0, ph["memorisation_end"]), ("circuit formation", ph["memorisation_end"], ph["cleanup_start"]),
              ("cleanup", ph["cleanup_start"], ph["cleanup_end"])]
    return [(name, a, last if b is None else b) for name, a, b in bounds if a is not None]


def _mark(fig: go.Figure, model: str, step: int, log_x: bool = False, rows: int = 1, col: int | None = None) -> None:
    last = zoo.metrics(model)["training"]["steps"]
    width = (lambda a, b: math.log10(b / max(a, 1)) / math.log10(last)) if log_x else (lambda a, b: (b - a) / last)
    for name, a, b in _phase_spans(model):
        for row in range(1, rows + 1):
            kw = {"row": row, "col": col} if col else {}
            fig.add_vrect(x0=max(a, 1), x1=b, fillcolor=PHASE_COLOURS[name], line_width=0, layer="below", **kw)
        if width(a, b) > 0.12:  # a narrow band gets no label (the caption lists every phase)
            # shapes take data coordinates, annotations on a log axis take log10(x)
            fig.add_annotation(x=math.log10(max(a, 1)) if log_x else a, y=1, yref="paper", text=name, showarrow=False,
                               xanchor="left", yanchor="bottom", font_size=10)
    for row in range(1, rows + 1):
        kw = {"row": row, "col": col} if col else {}
        fig.add_vline(x=max(step, 1), line_color="crimson", line_dash="dash", **kw)


def _curve_figure(model: str, panel: str, step: int, log_x: bool, height: int = 420) -> go.Figure:
    curve = zoo.curve(model)
    xs = [max(pt["step"], 1) for pt in curve]  # step 0 drawn at 1 on a log axis
    series = {"loss": [("train_loss", "train loss"), ("test_loss", "test loss")],
              "accuracy": [("train_accuracy", "train accuracy"), ("test_accuracy", "test accuracy")],
              "progress": [("train_loss", "train loss"), ("test_loss", "test loss"),
                           ("restricted_loss", "restricted loss"), ("excluded_loss", "excluded loss")]}[panel]
    fig = go.Figure()
    for field, label in series:
        dash = "dot" if field in ("restricted_loss", "excluded_loss") else None
        fig.add_scatter(x=xs, y=[pt[field] for pt in curve], name=label, mode="lines", line=dict(dash=dash))
    _mark(fig, model, step, log_x)
    fig.update_layout(height=height, margin=MARGIN, legend=dict(orientation="h", y=-0.2), xaxis_title="training step",
                      yaxis_title="accuracy" if panel == "accuracy" else "loss (nats, log scale)")
    fig.update_xaxes(type="log" if log_x else "linear")
    if panel != "accuracy":
        fig.update_yaxes(type="log")
    return fig


def grok_curves_ui(key: str, defaults: GrokCurvesParams) -> None:
    seed(key, from_url(key, defaults))
    model = defaults.model
    checkpoint = _checkpoint_select(key, model, "Checkpoint (marked by the red line)")
    cols = st.columns([3, 1])
    labels = {"loss": "loss", "accuracy": "accuracy", "progress": "progress measures"}
    panel = cols[0].radio("Show", list(labels), format_func=labels.get, horizontal=True, key=state_key(key, "panel"))
    log_x = cols[1].toggle("log steps", key=state_key(key, "log_x"))
    params = commit(key, defaults, {"checkpoint": checkpoint, "panel": panel, "log_x": log_x})
    if params is None:
        return
    step = _step_of(params)
    point = min(zoo.curve(model), key=lambda pt: abs(pt["step"] - step))
    m = st.columns(2)
    m[0].metric("train accuracy", f"{point['train_accuracy']:.1%}")
    m[1].metric("test accuracy", f"{point['test_accuracy']:.1%}")
    m = st.columns(2)
    m[0].metric("restricted loss", f"{point['restricted_loss']:.2g}")
    m[1].metric("excluded loss", f"{point['excluded_loss']:.2g}")
    st.plotly_chart(_curve_figure(model, params.panel, step, params.log_x), key=f"{key}-fig")
    spans = _phase_spans(model)
    if spans:
        st.caption("Phases: " + "; ".join(f"{name} {a:,}–{b:,}" for name, a, b in spans)
                   + f". Values at step {point['step']:,}.")
    show_code(params)


def _norm_bars(data: dict, height: int = 340) -> go.Figure:
    ks = list(range(1, len(data["norms"]) + 1))
    colours = [KEY_COLOUR if k in data["keys"] else OTHER_COLOUR for k in ks]
    fig = go.Figure(go.Bar(x=ks, y=data["norms"], marker_color=colours,
                           hovertemplate="frequency %{x}<br>norm %{y:.2f}<extra></extra>"))
    fig.update_layout(height=height, margin=MARGIN, xaxis_title="frequency k (w = 2πk/113)",
                      yaxis_title="embedding norm", title="Number embeddings, norm per Fourier frequency")
    return fig


def fourier_embedding_ui(key: str, defaults: FourierEmbeddingParams) -> None:
    seed(key, from_url(key, defaults))
    checkpoint = _checkpoint_select(key, defaults.model)
    params = commit(key, defaults, {"checkpoint": checkpoint})
    if params is None:
        return
    data = _compute(cg.embedding, params.model, params.step)
    if data is None:
        return
    m = st.columns([3, 2])
    m[0].metric("key frequencies (final model)", ", ".join(map(str, data["keys"])) or "none")
    m[1].metric("their share of the norm", f"{data['share_of_freq_norm']:.0%}")
    st.caption(f"Largest frequencies at this checkpoint: {', '.join(map(str, data['top']))}.")
    st.plotly_chart(_norm_bars(data), key=f"{key}-fig")
    st.caption(f"At {_where(params)}. Red bars: the final model's key frequencies.")
    show_code(params)


def _grid_figure(grid, title: str, colourbar: str, height: int = 430) -> go.Figure:
    fig = go.Figure(go.Heatmap(z=grid, colorscale="Viridis", colorbar=dict(title=colourbar),
                               hovertemplate="a %{y}<br>b %{x}<br>%{z:.3f}<extra></extra>"))
    fig.update_layout(title=title, height=height, margin=MARGIN, xaxis_title="b", yaxis_title="a")
    fig.update_yaxes(autorange="reversed", scaleanchor="x")
    return fig


def _cluster_bars(summary: dict, keys: list[int], height: int = 280) -> go.Figure:
    ks = list(range(1, len(summary["counts"]) + 1))
    fig = go.Figure(go.Bar(x=ks, y=summary["counts"], marker_color=[KEY_COLOUR if k in keys else OTHER_COLOUR for k in ks],
                           hovertemplate="frequency %{x}<br>%{y} neurons<extra></extra>"))
    fig.update_layout(height=height, margin=MARGIN, xaxis_title="frequency k", yaxis_title="neurons",
                      title=f"Neurons clustered by frequency ({summary['unclustered']} in none)")
    return fig


def periodic_ui(key: str, defaults: PeriodicParams) -> None:
    seed(key, from_url(key, defaults))
    model = defaults.model
    cfg = zoo.config(model)
    checkpoint = _checkpoint_select(key, model)
    kind = st.radio("Activation", ["neuron", "attention"], horizontal=True, key=state_key(key, "kind"),
                    format_func={"neuron": "an MLP neuron", "attention": "a head's attention from = to a"}.get)
    hk = state_key(key, "head")
    st.session_state[hk] = min(max(int(st.session_state.get(hk, 0)), 0), cfg["n_heads"] - 1)
    if kind == "neuron":
        neuron = st.number_input(f"Neuron (0..{cfg['d_mlp'] - 1}; -1 = the clearest one)", -1, cfg["d_mlp"] - 1, step=1,
                                 key=state_key(key, "neuron"))
        head = st.session_state[hk]
    else:
        head = st.selectbox("Head", list(range(cfg["n_heads"])), key=hk)
        neuron = st.session_state.get(state_key(key, "neuron"), -1)
    params = commit(key, defaults, {"checkpoint": checkpoint, "kind": kind, "neuron": int(neuron), "head": int(head)})
    if params is None:
        return
    if params.kind == "neuron":
        n = params.neuron if params.neuron >= 0 else cg.auto_neuron(model)
        data = _compute(cg.neuron_grid, model, params.step, n)
        if data is None:
            return
        freq = f"frequency {data['freq']} ({data['share']:.0%} of variance)" if data["freq"] else \
            f"no single frequency (best {data['share']:.0%})"
        st.plotly_chart(_grid_figure(data["grid"], f"Neuron {n}: {freq}", "ReLU out"), key=f"{key}-grid")
    else:
        data = _compute(cg.attention_grid, model, params.step, params.head)
        if data is None:
            return
        st.plotly_chart(_grid_figure(data["grid"], f"Head {params.head}: attention from '=' to a", "attention"),
                        key=f"{key}-grid")
    summary = _compute(cg.neurons, model, params.step)
    if summary is not None:
        st.plotly_chart(_cluster_bars(summary, cg.key_freqs(model)), key=f"{key}-clusters")
    st.caption(f"At {_where(params)}, over all {params.p}×{params.p} inputs.")
    show_code(params)


def _fit_bars(fit: dict, keys: list[int], height: int = 280) -> go.Figure:
    ks = list(range(1, len(fit["per_freq"]) + 1))
    fig = go.Figure(go.Bar(x=ks, y=fit["per_freq"], marker_color=[KEY_COLOUR if k in keys else OTHER_COLOUR for k in ks],
                           hovertemplate="frequency %{x}<br>%{y:.1%} of logit variance<extra></extra>"))
    fig.update_layout(height=height, margin=MARGIN, xaxis_title="frequency k", yaxis_title="share of variance",
                      yaxis_tickformat=".0%", title="Logit variance in each cos(w_k(a+b−c)) term")
    return fig


def logit_fourier_ui(key: str, defaults: LogitFourierParams) -> None:
    seed(key, from_url(key, defaults))
    model = defaults.model
    checkpoint = _checkpoint_select(key, model)
    p = defaults.p
    cols = st.columns(2)
    a = cols[0].number_input(f"a (0..{p - 1})", 0, p - 1, step=1, key=state_key(key, "a"))
    b = cols[1].number_input(f"b (0..{p - 1})", 0, p - 1, step=1, key=state_key(key, "b"))
    params = commit(key, defaults, {"checkpoint": checkpoint, "a": int(a), "b": int(b)})
    if params is None:
        return
    fit = _compute(cg.logit_fit, model, params.step)
    row = _compute(cg.logits_vs_fit, model, params.step, params.a, params.b)
    if fit is None or row is None:
        return
    keys = cg.key_freqs(model)
    one = _compute(cg.one_input, model, params.step, params.a, params.b)
    m = st.columns(2)
    m[0].metric("logit variance in the key cosines", f"{fit['combined']:.1%}")
    if one is not None:
        best, prob = one["top"][0]
        m[1].metric("model's answer", f"{best}", delta=f"p = {prob:.3f}", delta_color="off")
    st.markdown(f"Correct answer: ({params.a} + {params.b}) mod {p} = **{(params.a + params.b) % p}**")
    cs = list(range(p))
    fig = go.Figure()
    fig.add_scatter(x=cs, y=row["actual"], name="model's logits (centred)", mode="lines")
    fig.add_scatter(x=cs, y=row["fit"], name=f"Σ α_k cos(w_k(a+b−c)), k in {keys}", mode="lines", line=dict(dash="dot"))
    fig.add_vline(x=(params.a + params.b) % p, line_color="crimson", line_dash="dash", annotation_text="a+b mod p")
    fig.update_layout(height=330, margin=MARGIN, xaxis_title="candidate answer c", yaxis_title="logit",
                      legend=dict(orientation="h", y=-0.25), title=f"Logits for {params.a} + {params.b} at {_where(params)}")
    st.plotly_chart(fig, key=f"{key}-row")
    st.plotly_chart(_fit_bars(fit, keys), key=f"{key}-bars")
    if one is not None:
        st.caption(f"Attention on the input {params.a} {params.b} = (a hooked run of the bridge): "
                   "the '=' position reads both numbers.")
        cvis.show("AttentionPatterns", height=330, tokens=[str(params.a), str(params.b), "="], attention=one["pattern"])
    show_code(params)


def grok_checkpoint_ui(key: str, defaults: GrokCheckpointParams) -> None:
    seed(key, from_url(key, defaults))
    model = defaults.model
    checkpoint = _checkpoint_select(key, model, "Checkpoint (every view below follows it)")
    params = commit(key, defaults, {"checkpoint": checkpoint})
    if params is None:
        return
    step = _step_of(params)
    emb = _compute(cg.embedding, model, params.step)
    summary = _compute(cg.neurons, model, params.step)
    fit = _compute(cg.logit_fit, model, params.step)
    if emb is None or summary is None or fit is None:
        return
    point = min(zoo.curve(model), key=lambda pt: abs(pt["step"] - step))
    keys = emb["keys"]
    m = st.columns(2)
    m[0].metric("test accuracy", f"{point['test_accuracy']:.1%}")
    m[1].metric("embedding in key freqs", f"{emb['share_of_freq_norm']:.0%}")
    m = st.columns(2)
    key_share = sum(summary["mean_share"][k - 1] for k in keys)
    m[0].metric("neuron variance in key freqs", f"{key_share:.0%}",
                help=f"{len(summary['freq']) - summary['unclustered']} of {len(summary['freq'])} neurons have >= 85% on one frequency")
    m[1].metric("logits in key cosines", f"{fit['combined']:.0%}")
    fig = make_subplots(rows=2, cols=2, vertical_spacing=0.16, horizontal_spacing=0.1,
                        subplot_titles=("losses (log)", "embedding norm", "clustered neurons", "logit variance"))
    curve = zoo.curve(model)
    xs = [pt["step"] for pt in curve]
    for field, label in (("train_loss", "train"), ("test_loss", "test"), ("restricted_loss", "restricted"),
                         ("excluded_loss", "excluded")):
        fig.add_scatter(x=xs, y=[pt[field] for pt in curve], name=label, mode="lines", row=1, col=1)
    fig.add_vline(x=step, line_color="crimson", line_dash="dash", row=1, col=1)
    ks = list(range(1, len(emb["norms"]) + 1))
    col = [KEY_COLOUR if k in keys else OTHER_COLOUR for k in ks]
    fig.add_bar(x=ks, y=emb["norms"], marker_color=col, showlegend=False, row=1, col=2)
    fig.add_bar(x=ks, y=summary["counts"], marker_color=col, showlegend=False, row=2, col=1)
    fig.add_bar(x=ks, y=fit["per_freq"], marker_color=col, showlegend=False, row=2, col=2)
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_layout(height=640, margin=dict(l=10, r=10, t=40, b=60), legend=dict(orientation="h", y=-0.12, x=0))
    fig.update_xaxes(title_text="frequency k", row=2, col=1)
    fig.update_xaxes(title_text="frequency k", row=2, col=2)
    st.plotly_chart(fig, key=f"{key}-fig")
    st.caption(f"At {_where(params)}. Red bars: the final model's key frequencies ({', '.join(map(str, keys))}).")
    show_code(params)
