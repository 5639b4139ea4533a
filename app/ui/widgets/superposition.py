"""Widgets for "Toy Models of Superposition" (Elhage et al. 2022).

``toy_model_ui`` trains a row of n→2 models live (one per sparsity) and draws the chosen
one's geometry; ``phase_diagram_ui`` trains one 2→1 model live and marks it on the shipped
phase diagram; ``dimensionality_ui`` draws the shipped dimensions-per-feature sweep.
No analysis happens here: numbers come from ``compute_superposition``.
"""

from __future__ import annotations

import math

import plotly.graph_objects as go
import streamlit as st
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from app.analysis import superposition as sp
from app.ui import compute_superposition as cs
from app.ui.params import commit, from_url, seed, show_code, state_key
from app.widgets.superposition import (
    DENSITIES,
    IMPORTANCES,
    SPARSITIES,
    DimensionalityParams,
    PhaseDiagramParams,
    ToyModelParams,
    nearest,
)

PHASE_COLORS = {0: "#d9d9d9", 1: "#4c78a8", 2: "#e45756"}  # not learned, dedicated, superposition
STICKY = sp.STICKY
MARGIN = dict(l=10, r=10, t=40, b=10)


def _snap(key: str, field: str, options) -> None:
    """A URL or YAML value between two options moves to the nearest one before the slider is drawn."""
    sk = state_key(key, field)
    if st.session_state.get(sk) not in options:
        st.session_state[sk] = nearest(float(st.session_state.get(sk, options[0])), options)


def _importance_colors(n: int, decay: float) -> list[str]:
    imp = [decay ** i for i in range(n)]
    lo = min(imp)
    return sample_colorscale("Viridis", [0.0 if lo == 1 else (v - lo) / (1 - lo) for v in imp])


def _arrows(W: list[list[float]], colors: list[str], decay: float) -> go.Figure:
    """Columns of W (2, n) as arrows from the origin, coloured by importance."""
    n = len(W[0])
    fig = go.Figure()
    r = max(1.2, max(math.hypot(W[0][i], W[1][i]) for i in range(n)) * 1.15)
    for i in range(n):
        x, y = W[0][i], W[1][i]
        fig.add_annotation(x=x, y=y, ax=0, ay=0, xref="x", yref="y", axref="x", ayref="y", showarrow=True,
                           arrowhead=2, arrowwidth=3, arrowcolor=colors[i], text="")
        fig.add_annotation(x=x * 1.12, y=y * 1.12, text=str(i), showarrow=False, font=dict(size=13, color=colors[i]))
    fig.add_scatter(x=[W[0][i] for i in range(n)], y=[W[1][i] for i in range(n)], mode="markers",
                    marker=dict(color=[decay ** i for i in range(n)], colorscale="Viridis", size=9, showscale=True,
                                colorbar=dict(title="importance", thickness=12)),
                    customdata=[[i, decay ** i, math.hypot(W[0][i], W[1][i])] for i in range(n)],
                    hovertemplate="feature %{customdata[0]}<br>importance %{customdata[1]:.2f}<br>‖W_i‖ %{customdata[2]:.2f}"
                                  "<extra></extra>", showlegend=False)
    fig.update_xaxes(range=[-r, r], zeroline=True, title="hidden dim 0")
    fig.update_yaxes(range=[-r, r], zeroline=True, scaleanchor="x", scaleratio=1, title="hidden dim 1")
    fig.update_layout(title="Columns of W: where each feature goes in 2D", height=400, margin=MARGIN)
    return fig


def _matrices(gram: list[list[float]], b: list[float]) -> go.Figure:
    n = len(b)
    fig = make_subplots(rows=1, cols=2, column_widths=[0.78, 0.22], horizontal_spacing=0.06,
                        subplot_titles=("WᵀW", "bias b"))
    lim = max(1e-6, max(abs(v) for row in gram for v in row))
    fig.add_heatmap(z=gram, x=list(range(n)), y=list(range(n)), colorscale="RdBu", zmid=0, zmin=-lim, zmax=lim,
                    reversescale=True, colorbar=dict(thickness=10),
                    hovertemplate="W_%{y}·W_%{x} = %{z:.3f}<extra></extra>", row=1, col=1)
    blim = max(1e-6, max(abs(v) for v in b))
    fig.add_heatmap(z=[[v] for v in b], x=["b"], y=list(range(n)), colorscale="RdBu", zmid=0, zmin=-blim, zmax=blim,
                    reversescale=True, showscale=False, texttemplate="%{z:.2f}", textfont=dict(size=10),
                    hovertemplate="b_%{y} = %{z:.3f}<extra></extra>", row=1, col=2)
    fig.update_yaxes(autorange="reversed", dtick=1, title="feature", row=1, col=1)
    fig.update_yaxes(autorange="reversed", dtick=1, row=1, col=2)
    fig.update_xaxes(dtick=1, row=1, col=1)
    fig.update_layout(height=330, margin=MARGIN)
    return fig


def _bars(norms: list[float], sup: list[float], colors: list[str]) -> go.Figure:
    n = len(norms)
    labels = [f"feature {i}" for i in range(n)]
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=("‖W_i‖: represented?", "Σⱼ≠ᵢ (Ŵ_i·W_j)²: shared?"))
    fig.add_bar(x=norms, y=labels, orientation="h", marker_color=colors, showlegend=False,
                hovertemplate="%{y}: ‖W_i‖ %{x:.3f}<extra></extra>", row=1, col=1)
    fig.add_bar(x=sup, y=labels, orientation="h", marker_color=colors, showlegend=False,
                hovertemplate="%{y}: superposition %{x:.3f}<extra></extra>", row=1, col=2)
    fig.add_vline(x=0.5, line_dash="dot", line_color="gray", row=1, col=1)
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=80 + 32 * n, margin=MARGIN)
    fig.update_annotations(font_size=12)
    return fig


def toy_model_ui(key: str, defaults: ToyModelParams) -> None:
    seed(key, from_url(key, defaults))
    cols = st.columns([2, 2, 1])
    n = cols[0].slider("Features n (into 2 dimensions)", 2, 10, key=state_key(key, "n_features"))
    decay = cols[1].slider("Importance decay r (feature i has importance rⁱ)", 0.5, 1.0, step=0.05,
                           key=state_key(key, "decay"))
    seed_value = cols[2].number_input("Seed", 0, 10_000, step=1, key=state_key(key, "seed"))
    _snap(key, "sparsity", SPARSITIES)
    sparsity = st.select_slider("Sparsity S (a feature is 0 with probability S)", SPARSITIES, key=state_key(key, "sparsity"))
    params = commit(key, defaults, {"n_features": n, "decay": round(float(decay), 4), "sparsity": sparsity,
                                    "seed": int(seed_value)})
    if params is None:
        return
    row = cs.toy_row(params.n_features, params.decay, params.seed)
    i = list(SPARSITIES).index(params.sparsity)
    k, first = row["represented"][i], row["first_all"]
    m = st.columns(3)
    m[0].metric("Represented", f"{k} of {params.n_features}", help="Features with ‖W_i‖ > 0.5 at the chosen sparsity.")
    m[1].metric("Loss", f"{row['loss'][i]:.4f}", help="Importance-weighted squared error per sample.")
    m[2].metric(f"All {params.n_features} from", "never" if first is None else f"S = {first}",
                help="The lowest trained sparsity from which on every feature is represented.")
    strip = go.Figure(go.Bar(x=[str(s) for s in SPARSITIES], y=row["represented"],
                             marker_color=["crimson" if j == i else "#9ecae1" for j in range(len(SPARSITIES))],
                             hovertemplate="S = %{x}: %{y} features<extra></extra>"))
    strip.update_layout(title="Features kept at each S (red: drawn below)", height=220, margin=MARGIN,
                        xaxis=dict(title="sparsity S", type="category"), yaxis=dict(range=[0, params.n_features + 0.5], dtick=1))
    st.plotly_chart(strip, key=f"{key}-strip")
    colors = _importance_colors(params.n_features, params.decay)
    st.plotly_chart(_arrows(row["W"][i], colors, params.decay), key=f"{key}-arrows")
    st.plotly_chart(_bars(row["norms"][i], row["superposition"][i], colors), key=f"{key}-bars")
    st.plotly_chart(_matrices(row["gram"][i], row["b"][i]), key=f"{key}-gram")
    show_code(params)


def _log_heatmap(phase: dict, marker: tuple[float, float] | None) -> go.Figure:
    xs = [math.log10(v) for v in phase["relative_importance"]]
    ys = [math.log10(v) for v in phase["density"]]
    scale = []
    for c in range(3):  # a discrete colour per phase code 0, 1, 2
        scale += [[c / 3, PHASE_COLORS[c]], [(c + 1) / 3, PHASE_COLORS[c]]]
    labels = phase["labels"]
    text = [[labels[str(c)] for c in row] for row in phase["phase"]]
    fig = go.Figure(go.Heatmap(z=phase["phase"], x=xs, y=ys, zmin=-0.5, zmax=2.5, colorscale=scale, showscale=False,
                               text=text, hovertemplate="importance 10^%{x:.2f}, density 10^%{y:.2f}: %{text}<extra></extra>"))
    for c, name in labels.items():
        fig.add_scatter(x=[None], y=[None], mode="markers", marker=dict(size=12, symbol="square", color=PHASE_COLORS[int(c)]),
                        name=name)
    est_x = [math.log10(0.1) + k * 0.02 for k in range(101)]  # log10 r from -1 to 1
    fig.add_scatter(x=est_x, y=[math.log10(sp.boundary_estimate(10 ** x)) for x in est_x], mode="lines",
                    line=dict(color="black", dash="dash", width=1.5), name="estimate 2·min(1, r)/(1 + r)",
                    hoverinfo="skip")
    if marker is not None:
        fig.add_scatter(x=[math.log10(marker[0])], y=[math.log10(marker[1])], mode="markers", name="your model",
                        marker=dict(symbol="star", size=18, color="gold", line=dict(color="black", width=1.5)))
    ticks_x = [0.1, 0.3, 1, 3, 10]
    ticks_y = [0.01, 0.03, 0.1, 0.3, 1]
    fig.update_xaxes(title="relative importance of the extra feature", tickvals=[math.log10(v) for v in ticks_x],
                     ticktext=[str(v) for v in ticks_x])
    fig.update_yaxes(title="feature density 1 − S", tickvals=[math.log10(v) for v in ticks_y], ticktext=[str(v) for v in ticks_y])
    fig.update_xaxes(range=[xs[0] - 0.05, xs[-1] + 0.05])
    fig.update_yaxes(range=[ys[0] - 0.07, ys[-1] + 0.07])
    fig.update_layout(title="The extra feature, 2 features → 1 dim", height=460, margin=MARGIN,
                      legend=dict(orientation="h", y=-0.2))
    return fig


def phase_diagram_ui(key: str, defaults: PhaseDiagramParams) -> None:
    seed(key, from_url(key, defaults))
    _snap(key, "relative_importance", IMPORTANCES)
    _snap(key, "density", DENSITIES)
    cols = st.columns([2, 2, 1])
    rel = cols[0].select_slider("Relative importance of the extra feature", IMPORTANCES, key=state_key(key, "relative_importance"))
    density = cols[1].select_slider("Feature density 1 − S", DENSITIES, key=state_key(key, "density"))
    seed_value = cols[2].number_input("Seed", 0, 10_000, step=1, key=state_key(key, "seed"))
    params = commit(key, defaults, {"relative_importance": rel, "density": density, "seed": int(seed_value)})
    if params is None:
        return
    phase = cs.shipped("phase_diagram.json", params.model)
    live = cs.phase_point(params.relative_importance, params.density, params.seed)
    ri = min(range(len(phase["relative_importance"])),
             key=lambda j: abs(math.log(phase["relative_importance"][j] / params.relative_importance)))
    di = min(range(len(phase["density"])), key=lambda j: abs(math.log(phase["density"][j] / params.density)))
    grid_phase = phase["labels"][str(phase["phase"][di][ri])]
    live_phase = phase["labels"][str(live["phase"])]
    st.markdown(f"Your model, trained now: **{live_phase}**  \nNearest cell of the diagram: **{grid_phase}**  \n"
                f"W = ({live['W'][0]:+.2f}, {live['W'][1]:+.2f}), b = ({live['b'][0]:+.2f}, {live['b'][1]:+.2f})")
    if live_phase != grid_phase:
        st.info("Your point sits between cells or near a boundary, where restarts can land on either side.",
                icon=":material/info:")
    st.plotly_chart(_log_heatmap(phase, (params.relative_importance, params.density)), key=f"{key}-diagram")
    st.caption(f"Your model's loss: {live['loss']:.5f}. The diagram: {len(phase['density'])} × {len(phase['relative_importance'])} cells, best of "
               f"{phase['setup']['restarts']} restarts each, precomputed by `python -m app.training tms`.")
    show_code(params)


def dimensionality_ui(key: str, defaults: DimensionalityParams) -> None:
    seed(key, from_url(key, defaults))
    runs = cs.shipped("dims_per_feature.json", defaults.model)
    inv = runs["inv_density"]
    options = [round(v, 2) for v in inv]
    _snap(key, "inv_density", options)
    chosen = st.select_slider("Highlight the model trained at 1/(1 − S) =", options, key=state_key(key, "inv_density"))
    params = commit(key, defaults, {"inv_density": chosen})
    if params is None:
        return
    i = options.index(nearest(params.inv_density, options))
    dims, frac = runs["dims_per_feature"], runs["fractional_dims"]
    setup = runs["setup"]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=(f"dimensions per feature m/‖W‖_F² ({setup['n_features']} → {setup['d_hidden']})",
                                        "fractional dimensionality D_i of every feature"))
    fig.add_scatter(x=inv, y=dims, mode="lines+markers", name="m/‖W‖_F²", marker=dict(size=6, color="#4c78a8"),
                    hovertemplate="1/(1−S) %{x:.2f}: %{y:.3f}<extra></extra>", row=1, col=1)
    fig.add_scatter(x=[inv[i]], y=[dims[i]], mode="markers", name="highlighted",
                    marker=dict(symbol="star", size=16, color="gold", line=dict(color="black", width=1)), row=1, col=1)
    xs = [inv[j] for j in range(len(inv)) for _ in frac[j]]
    ys = [d for row in frac for d in row]
    fig.add_scatter(x=xs, y=ys, mode="markers", name="D_i", marker=dict(size=4, color="#72b7b2", opacity=0.35),
                    hovertemplate="1/(1−S) %{x:.2f}: D_i %{y:.3f}<extra></extra>", row=2, col=1)
    fig.add_scatter(x=[inv[i]] * len(frac[i]), y=frac[i], mode="markers", name="highlighted model's features",
                    marker=dict(size=6, color="crimson"), row=2, col=1)
    for label, v in STICKY.items():
        fig.add_hline(y=v, line_dash="dot", line_color="gray", row=1, col=1, annotation_text=label,
                      annotation_position="top right", annotation_font_size=10)
        fig.add_hline(y=v, line_dash="dot", line_color="gray", row=2, col=1)
    ticks = [v for v in (1, 1.5, 2, 3, 5, 7, 10, 20, 50, 100, 200, 500, 1000) if inv[0] <= v <= inv[-1] * 1.01]
    fig.update_xaxes(type="log", tickvals=ticks, ticktext=[f"{v:g}" for v in ticks])
    fig.update_xaxes(title="1/(1 − S)", row=2, col=1)
    fig.update_yaxes(range=[0, 1.1], row=1, col=1)
    fig.update_yaxes(range=[0, 1.1], row=2, col=1)
    fig.update_layout(height=640, margin=MARGIN, legend=dict(orientation="h", y=-0.1))
    st.plotly_chart(fig, key=f"{key}-fig")
    near = {label: sum(abs(d - v) < 0.01 for d in frac[i]) for label, v in sp.FEATURE_FRACTIONS.items()}
    st.markdown(f"At 1/(1 − S) = {inv[i]:.2f}: m/‖W‖_F² = **{dims[i]:.3f}**, {runs['represented'][i]} of "
                f"{setup['n_features']} features represented. Features whose D_i is within 0.01 of a fraction: "
                + ", ".join(f"{k}: {v}" for k, v in near.items() if v) + (" none" if not any(near.values()) else "") + ".")
    show_code(params)
