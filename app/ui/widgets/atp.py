"""Widget for "Attribution Patching" (Nanda 2023, https://www.neelnanda.io/mechanistic-interpretability/attribution-patching).

``atp_compare``: the AtP estimate and real activation patching side by side (heatmaps on one colour
scale), a scatter of one against the other with r and the y = x line, the live timing of both, and
the cells where the estimate misses, circled. Numbers come from ``app.ui.compute_atp``.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from app import zoo
from app.ui import compute_atp as ca
from app.ui.params import commit, from_url, seed, show_code, state_key
from app.ui.widgets.framework import _compute
from app.widgets.atp import AtPParams, n_templates, speaks_ioi

MARGIN = dict(l=10, r=10, t=50, b=10)
MISS_COLOUR = "#2ca02c"
SITE_LABELS = {"head": "head outputs", "mlp": "MLP outputs", "resid": "residual stream"}
ONE_SITE = {"head": "head's output", "mlp": "MLP's output", "resid": "residual-stream slot"}
DIRECTION_LABELS = {"noise": "corrupted → clean run", "denoise": "clean → corrupted run"}


def _controls(key: str) -> dict:
    models = zoo.names()
    model = st.selectbox("Model", models, key=state_key(key, "model"))
    c = st.columns(2)
    task = c[0].radio("Prompts", ["ioi", "repeat"], horizontal=True, key=state_key(key, "task"),
                      format_func={"ioi": "IOI vs ABC", "repeat": "repeated tokens"}.get)
    sites = ["head", "resid"] if zoo.config(model).get("attn_only") else ["head", "mlp", "resid"]
    if st.session_state.get(state_key(key, "site")) not in sites:
        st.session_state[state_key(key, "site")] = "head"
    site = c[1].radio("Site", sites, horizontal=True, key=state_key(key, "site"), format_func=SITE_LABELS.get)
    c = st.columns(3)
    direction = c[0].radio("Patch", ["denoise", "noise"], key=state_key(key, "direction"),
                           format_func=DIRECTION_LABELS.get)
    n_prompts = c[1].slider("Prompt pairs", 1, 16, key=state_key(key, "n_prompts"))
    seed_value = c[2].number_input("Seed", 0, 1_000_000, step=1, key=state_key(key, "seed"))
    values = {"model": model, "task": task, "site": site, "direction": direction, "n_prompts": n_prompts,
              "seed": int(seed_value)}
    if task == "ioi" and speaks_ioi(model):
        c = st.columns(2)
        if not 0 <= st.session_state.get(state_key(key, "template"), 0) < n_templates():
            st.session_state[state_key(key, "template")] = 0
        values["template"] = c[0].selectbox("Template", list(range(n_templates())), key=state_key(key, "template"),
                                            format_func=_template_label)
        values["order"] = c[1].radio("Order", ["ABBA", "BABA"], horizontal=True, key=state_key(key, "order"))
        values["prefix"] = st.slider("Filler sentences before each prompt (longer prompts: more cells to patch)",
                                     0, 3, key=state_key(key, "prefix"))
    elif task == "repeat":
        values["half_len"] = st.slider("Random tokens in the span", 3, 60, key=state_key(key, "half_len"))
    return values


def _template_label(i: int) -> str:
    from app.tasks import ioi

    text = ioi.TEMPLATES[i].format(a="A", b="B", s="S", place="…", obj="…", gap="")
    return f"{i}: {text[:60]}{'…' if len(text) > 60 else ''}"


def _heatmaps(r: dict, site: str) -> go.Figure:
    est, act = r["estimate"], r["actual"]
    top = max(max(abs(v) for row in grid for v in row) for grid in (est, act)) or 1.0
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.03,
                        subplot_titles=(f"AtP estimate ({r['atp_ms']:.0f} ms)", f"activation patching ({r['patch_ms']:.0f} ms)"))
    for col, grid in ((1, est), (2, act)):
        fig.add_trace(go.Heatmap(z=grid, x=r["positions"], y=r["rows"], colorscale="RdBu", reversescale=True, zmid=0,
                                 zmin=-top, zmax=top,
                                 showscale=col == 2, hovertemplate="%{y} at %{x}: %{z:.3f}<extra></extra>"), row=1, col=col)
        xs = [r["positions"][j] for row in r["miss"] for j, m in enumerate(row) if m]
        ys = [r["rows"][i] for i, row in enumerate(r["miss"]) for m in row if m]
        if xs:
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", name="AtP misses", showlegend=col == 1,
                                     marker=dict(symbol="circle-open", size=11, color=MISS_COLOUR, line=dict(width=2)),
                                     hoverinfo="skip"), row=1, col=col)
    height = 240 + 14 * len(r["rows"]) if site == "head" else 300 + 22 * len(r["rows"])
    fig.update_layout(height=min(height, 760), margin=MARGIN, legend=dict(orientation="h", y=-0.12))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category", tickangle=-90, dtick=1, tickfont=dict(size=9))
    return fig


def _scatter(r: dict) -> go.Figure:
    xs = [v for row in r["actual"] for v in row]
    ys = [v for row in r["estimate"] for v in row]
    miss = [m for row in r["miss"] for m in row]
    text = [f"{name} at {pos}" for name in r["rows"] for pos in r["positions"]]
    lo, hi = min(xs + ys), max(xs + ys)
    fig = go.Figure()
    fig.add_scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="y = x", line=dict(color="black", dash="dash", width=1))
    for flag, name, colour in ((False, "cells", "#636efa"), (True, "AtP misses", MISS_COLOUR)):
        pick = [i for i, m in enumerate(miss) if m == flag]
        if pick:
            fig.add_scatter(x=[xs[i] for i in pick], y=[ys[i] for i in pick], text=[text[i] for i in pick],
                            mode="markers", name=name, marker=dict(color=colour, size=7, opacity=0.75),
                            hovertemplate="%{text}<br>patching %{x:.3f}<br>AtP %{y:.3f}<extra></extra>")
    fig.update_layout(title=f"Each cell: AtP against the real effect · r = {r['r']:.3f}", height=380, margin=MARGIN,
                      xaxis_title="activation patching: change in logit difference",
                      yaxis_title="AtP estimate", legend=dict(orientation="h", y=-0.25))
    return fig


def atp_compare_ui(key: str, defaults: AtPParams) -> None:
    seed(key, from_url(key, defaults))
    values = _controls(key)
    params = commit(key, defaults, values)
    if params is None:
        return
    r = _compute(ca.compare, params.model, params.task, params.site, params.direction, params.n_prompts, params.seed,
                 params.template, params.order, params.half_len, params.prefix)
    if r is None:
        return
    m = st.columns(4)
    m[0].metric("Logit diff, clean", f"{r['clean']:.2f}")
    m[1].metric("… corrupted", f"{r['corrupt']:.2f}")
    m[2].metric("r (AtP vs patching)", f"{r['r']:.3f}")
    speedup = r["patch_ms"] / max(r["atp_ms"], 1e-6)
    m[3].metric("Speedup", f"{speedup:.0f}×")
    st.markdown(f"**AtP: {r['atp_ms']:.0f} ms, patching: {r['patch_ms']:.0f} ms, speedup {speedup:.0f}×** "
                f"(2 forwards + 1 backward against {r['forwards']} forwards; measured when this view was first "
                "computed, on this machine).")
    st.plotly_chart(_heatmaps(r, params.site), width="stretch", key=f"{key}-heat")
    n_miss = sum(sum(row) for row in r["miss"])
    what = "corrupted activation patched into the clean run" if params.direction == "noise" else \
        "clean activation patched into the corrupted run"
    circled = (f"Circled: the {n_miss} cell(s) where AtP is off by more than 20% of the largest real effect."
               if n_miss else "No cell is off by more than 20% of the largest real effect.")
    st.caption(f"Change in the logit difference with one {ONE_SITE[params.site]} ({what}); both panels "
               f"share the colour scale. {circled}")
    st.plotly_chart(_scatter(r), width="stretch", key=f"{key}-scatter")
    cells = sorted(((abs(e - a), i, j, e, a) for i, (er, ar) in enumerate(zip(r["estimate"], r["actual"]))
                    for j, (e, a) in enumerate(zip(er, ar))), reverse=True)
    if n_miss:
        st.markdown("**Where the linear estimate fails** (largest misses):")
        st.dataframe([{"component": r["rows"][i], "position": r["positions"][j], "AtP": round(e, 3),
                       "patching": round(a, 3)} for _, i, j, e, a in cells[:min(n_miss, 8)]], hide_index=True)
    _path_view(key, params, r, cells[:12])
    show_code(params)


def _path_view(key: str, params: AtPParams, r: dict, cells: list) -> None:
    """The metric along the straight line from one cell's base activation to its patched value, and the AtP tangent."""
    options = [(i, j) for _, i, j, _, _ in cells]
    pick = st.selectbox("Look along the patch (the cells AtP misses most first)", options, key=f"{key}-cell",
                        format_func=lambda c: f"{r['rows'][c[0]]} at {r['positions'][c[1]]}")
    if pick is None:
        return
    i, j = pick
    p = _compute(ca.path, params.model, params.task, params.site, params.direction, params.n_prompts, params.seed,
                 params.template, params.order, params.half_len, i, j, params.prefix)
    if p is None:
        return
    est = r["estimate"][i][j]
    fig = go.Figure()
    fig.add_scatter(x=p["alphas"], y=p["curve"], mode="lines+markers", name="real: patch a fraction α of the way")
    fig.add_scatter(x=[0, 1], y=[0, est], mode="lines", name="AtP: the tangent at α = 0",
                    line=dict(dash="dash", color=MISS_COLOUR))
    fig.update_layout(title=f"{r['rows'][i]} at {r['positions'][j]}", height=320, margin=MARGIN,
                      xaxis_title="α (0 = unpatched, 1 = fully patched)", yaxis_title="change in logit difference",
                      legend=dict(orientation="h", y=-0.3))
    st.plotly_chart(fig, width="stretch", key=f"{key}-path")
    st.caption("AtP extrapolates the slope at the unpatched point; patching reads the curve's end. A straight "
               "curve means the estimate is exact; a bend (a softmax moving, a LayerNorm rescaling) is the miss.")
