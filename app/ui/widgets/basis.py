"""Widgets for outlier features and the privileged basis (Dettmers et al. 2022; Elhage et al. 2023).

Cached, lock-protected computations sit at the top (they return plain lists for the cache);
the ``*_ui`` functions draw controls and plotly figures. The measurements are in
``app.analysis.basis``.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
import torch
from plotly.subplots import make_subplots
from safetensors.torch import load_file

from app import prompts, zoo
from app.analysis import basis
from app.ui.compute import _labels
from app.ui.params import commit, from_url, seed, show_code, state_key
from app.ui.widgets.framework import _compute, _notes
from app.widgets import MAX_TEXT_CHARS
from app.widgets.basis import OUTLIER_MODELS, STAT_LABELS, BasisCompareParams, BasisDimsParams, BasisTextParams

MARGIN = dict(l=10, r=10, t=40, b=10)
COLOURS = {"standard": "#d62728", "random": "#9aa5b1"}


@st.cache_resource(max_entries=8, show_spinner=False)
def held_out_residual(model_name: str) -> tuple[torch.Tensor, list[list[float]]]:
    """(n_points, n_tokens, d_model) residual on the held-out windows, and the LayerNorm gains reading each point.

    One forward pass per model and process (~1.5 s on one core), shared read-only like the model itself.
    """
    tokens = load_file(zoo.model_dir(model_name) / "eval_tokens.safetensors")["tokens"].long()
    with zoo.use(model_name) as model:
        acts = basis.residual_stream(model, tokens)  # (n_points, n_tokens, d_model)
        n = model.cfg.n_layers
        state = model.state_dict()
        gains = [state[f"blocks.{p}.ln1.weight"] for p in range(n)] + [state["ln_final.weight"]]
    return acts, torch.stack(gains).tolist()


@st.cache_data(max_entries=64, show_spinner=False)
def point_stats(model_name: str, rotation_seed: int, point: int) -> dict:
    """Per-dimension stats at one residual point on the held-out windows, in both bases (~0.1 s)."""
    acts, gains = held_out_residual(model_name)
    x = acts[point : point + 1]  # (1, n_tokens, d_model)
    rotation = basis.random_rotation(x.shape[-1], rotation_seed)
    out = {"label": basis.point_labels(acts.shape[0] - 1)[point], "ln_gain": gains[point]}
    for name, rot in (("standard", None), ("random", rotation)):
        stats = basis.basis_stats(x, rot)
        out[name] = {"mean_abs": stats.mean_abs[0].tolist(), "max_abs": stats.max_abs[0].tolist(),
                     "kurtosis": stats.kurtosis[0].tolist(), "token_kurtosis": float(basis.token_kurtosis(x, rot)[0])}
    return out


@st.cache_data(max_entries=64, show_spinner=False)
def text_residual(model_name: str, text: str, hook_name: str, basis_name: str, rotation_seed: int) -> dict:
    """(position, d_model) residual of one text at one point, in the chosen basis."""
    with zoo.use(model_name) as model:
        prompt = prompts.to_prompt(model, text)
        with torch.no_grad():
            _, cache = model.run_with_cache(prompt.tokens[None], names_filter=lambda n: n == hook_name)
        x = cache[hook_name][0].float()  # (position, d_model)
        labels = _labels(model, prompt.tokens)
    if basis_name == "random":
        x = x @ basis.random_rotation(x.shape[-1], rotation_seed)
    return {"x": x.tolist(), "tokens": labels, "notes": list(prompt.notes),
            "kurtosis": basis.kurtosis(x[1:], dim=1).mean().item() if len(x) > 1 else None}


def _model_select(key: str, field: str = "model", label: str = "Model") -> str:
    options = [n for n in OUTLIER_MODELS if n in zoo.names()]
    sk = state_key(key, field)
    if st.session_state.get(sk) not in options:
        st.session_state[sk] = options[0]
    return st.selectbox(label, options, key=sk)


def _point_select(key: str, model: str) -> int:
    n = zoo.config(model)["n_layers"]
    sk = state_key(key, "point")
    if st.session_state.get(sk) not in range(-1, n + 1):
        st.session_state[sk] = -1
    def label(p: int) -> str:
        return f"before block {p}" if 0 <= p < n else f"after block {n - 1}" + (" (last)" if p == -1 else "")

    return st.selectbox("Residual stream", list(range(-1, n + 1)), key=sk, format_func=label)


def _seed_input(key: str, col) -> int:
    return int(col.number_input("Random-basis seed", 0, 1_000_000, step=1, key=state_key(key, "rotation_seed")))


def basis_dims_ui(key: str, defaults: BasisDimsParams) -> None:
    seed(key, from_url(key, defaults))
    model = _model_select(key)
    cols = st.columns([1.3, 1.3, 1])
    with cols[0]:
        point = _point_select(key, model)
    stat = cols[1].selectbox("Statistic", list(STAT_LABELS), key=state_key(key, "stat"), format_func=STAT_LABELS.get)
    rot = _seed_input(key, cols[2])
    params = commit(key, defaults, {"model": model, "point": point, "stat": stat, "rotation_seed": rot})
    if params is None:
        return
    with st.spinner("Running the held-out windows through the model…"):
        r = point_stats(params.model, params.rotation_seed, params.point_index)
    st.caption("Activation kurtosis at this point: each token's vector, kurtosis across its coordinates, "
               "averaged over the held-out tokens (about 3 when no coordinate stands out).")
    m = st.columns(2)
    m[0].metric("Standard basis", f"{r['standard']['token_kurtosis']:.1f}")
    m[1].metric("Random basis", f"{r['random']['token_kurtosis']:.1f}")
    dims = zoo.metrics(params.model)["outlier_dims"]
    st.caption(f"Outlier dimensions (at least {basis.OUTLIER_SCALE:g}x the token's RMS on at least "
               f"{basis.OUTLIER_TOKEN_SHARE:.0%} of tokens, at any point): **{', '.join(map(str, dims)) or 'none'}**")
    if params.stat == "ln_gain":
        fig = go.Figure(go.Bar(x=list(range(len(r["ln_gain"]))), y=r["ln_gain"], marker_color=COLOURS["standard"]))
        fig.update_layout(title=f"LayerNorm gain reading {r['label']}", xaxis_title="residual dimension",
                          yaxis_title="gain", height=380, margin=MARGIN)
    else:
        fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12,
                            subplot_titles=("standard basis", f"random orthogonal basis (seed {params.rotation_seed})"))
        for row, name in ((1, "standard"), (2, "random")):
            y = r[name][params.stat]
            fig.add_bar(x=list(range(len(y))), y=y, marker_color=COLOURS[name], name=name, row=row, col=1,
                        hovertemplate="dimension %{x}<br>%{y:.3f}<extra></extra>")
        fig.update_layout(height=460, margin=MARGIN, showlegend=False,
                          title=f"{STAT_LABELS[params.stat]}, {r['label']}")
        fig.update_xaxes(title_text="residual dimension", row=2, col=1)
    st.plotly_chart(fig, width="stretch", key=f"{key}-fig")
    show_code(params)


def basis_text_ui(key: str, defaults: BasisTextParams) -> None:
    seed(key, from_url(key, defaults))
    model = _model_select(key)
    text = st.text_area("Text", key=state_key(key, "text"), max_chars=MAX_TEXT_CHARS, height=120)
    cols = st.columns([1.3, 1, 1])
    with cols[0]:
        point = _point_select(key, model)
    basis_name = cols[1].radio("Basis", ["standard", "random"], horizontal=True, key=state_key(key, "basis"))
    rot = _seed_input(key, cols[2])
    params = commit(key, defaults, {"model": model, "text": text, "point": point, "basis": basis_name,
                                    "rotation_seed": rot})
    if params is None:
        return
    r = _compute(text_residual, params.model, params.text, params.hook_name, params.basis, params.rotation_seed)
    if r is None:
        return
    _notes(r["notes"])
    x = r["x"][1:]  # BOS row dropped: it is the same vector in every text
    if not x:
        st.info("Only the BOS token: type some text after it.", icon=":material/edit:")
        return
    if r["kurtosis"] is not None:
        st.caption(f"Activation kurtosis on this text ({params.basis} basis): {r['kurtosis']:.1f} (about 3 = no "
                   "coordinate stands out)")
    y = [f"{i + 1}: {t}" for i, t in enumerate(r["tokens"][1:])]
    fig = go.Figure(go.Heatmap(z=x, y=y, colorscale="RdBu", zmid=0, reversescale=True,
                               hovertemplate="token %{y}<br>dimension %{x}<br>%{z:.2f}<extra></extra>"))
    fig.update_layout(height=min(900, 160 + 14 * len(y)), margin=MARGIN, xaxis_title="residual dimension",
                      title=f"Residual stream, {params.basis} basis")
    fig.update_yaxes(autorange="reversed", type="category", tickfont=dict(size=9))
    st.plotly_chart(fig, width="stretch", key=f"{key}-fig")
    show_code(params)


def basis_compare_ui(key: str, defaults: BasisCompareParams) -> None:
    seed(key, from_url(key, defaults))
    cols = st.columns(2)
    with cols[0]:
        model = _model_select(key, "model", "First model")
    with cols[1]:
        other = _model_select(key, "other", "Second model")
    view = st.radio("View", ["by_point", "over_training"], horizontal=True, key=state_key(key, "view"),
                    format_func={"by_point": "by residual point", "over_training": "over training"}.get)
    params = commit(key, defaults, {"model": model, "other": other, "view": view})
    if params is None:
        return
    names = list(dict.fromkeys([params.model, params.other]))
    fig = go.Figure()
    dashes = {params.model: None, params.other: "dash"}
    if params.view == "by_point":
        for name in names:  # the measured numbers of metrics.json (tests re-measure them on the weights)
            k = zoo.metrics(name)["kurtosis_by_point"]
            labels = basis.point_labels(zoo.config(name)["n_layers"])
            for b in ("standard", "random"):
                fig.add_scatter(x=labels, y=k[b], name=f"{name}, {b} basis", mode="lines+markers",
                                line=dict(color=COLOURS[b], dash=dashes[name]))
        fig.update_xaxes(tickangle=-30)
    else:
        for name in names:
            curve = zoo.curve(name)
            if not curve or "max_kurtosis_standard_basis" not in curve[0]:
                st.info(f"{name}'s training record holds no activation kurtosis (it was recorded by an earlier "
                        "version of the recipe, which kept only the per-dimension numbers).", icon=":material/info:")
                continue
            steps = [p["step"] for p in curve]
            for b in ("standard", "random"):
                fig.add_scatter(x=steps, y=[p[f"max_kurtosis_{b}_basis"] for p in curve], name=f"{name}, {b} basis",
                                mode="lines", line=dict(color=COLOURS[b], dash=dashes[name]))
        fig.update_layout(xaxis_title="training step")
    fig.add_hline(y=3, line_dash="dot", annotation_text="Gaussian (3)", annotation_position="bottom right")
    fig.update_layout(height=460, margin=dict(l=10, r=10, t=90, b=10), yaxis_title="activation kurtosis",
                      legend=dict(orientation="h", y=1.02, yanchor="bottom", x=0))
    st.plotly_chart(fig, width="stretch", key=f"{key}-fig")
    show_code(params)
