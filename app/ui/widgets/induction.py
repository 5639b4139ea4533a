"""Widgets for "In-context Learning and Induction Heads" (Olsson et al. 2022)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from app import zoo
from app.ui import compute_induction as ci
from app.ui import cvis
from app.ui.params import commit, from_url, seed, show_code, state_key
from app.ui.widgets.framework import _compute, _layer_head, _model_select, _notes
from app.widgets import AblationParams, InductionTextParams, PhaseChangeParams, RepeatedTokensParams
from app.widgets.induction import parse_heads


def _checkpoint_select(key: str, model: str, label: str = "Training checkpoint") -> str:
    steps = zoo.checkpoints(model)
    final_step = zoo.metrics(model)["training"]["steps"]
    options = [str(s) for s in steps if s != final_step] + ["final"]
    sk = state_key(key, "checkpoint")
    if st.session_state.get(sk) not in options:
        st.session_state[sk] = "final"
    if len(options) == 1:
        return "final"
    return st.select_slider(label, options, key=sk,
                            format_func=lambda o: f"final (step {final_step})" if o == "final" else f"step {o}")


def _repeated_view(result: dict | None) -> None:
    """One layer's attention on the repeated sequence, then every head's detector scores."""
    if result is None:
        return
    cvis.show("AttentionPatterns", height=540, props=result["cvis"])
    _detector_table(result["table"])


def _detector_table(table: list[dict]) -> None:
    df = pd.DataFrame(table)
    prev_best = df.loc[df["previous_token"].idxmax(), "head"]
    ind_best = df.loc[df["induction"].idxmax(), "head"]
    st.markdown(f"Previous-token head: **{prev_best}** · induction head: **{ind_best}** "
                "(TransformerLens `head_detector`, fraction of attention on the expected position)")
    bar = st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="%.3f")
    st.dataframe(df, hide_index=True, height=260,
                 column_config={"previous_token": bar, "induction": bar, "duplicate_token": bar})


def repeated_tokens_ui(key: str, defaults: RepeatedTokensParams) -> None:
    seed(key, from_url(key, defaults))
    model = _model_select(key)
    checkpoint = _checkpoint_select(key, model)
    cols = st.columns(2)
    half_len = cols[0].slider("Random tokens per copy", 5, 120, key=state_key(key, "half_len"))
    seed_value = cols[1].number_input("Seed", 0, 1_000_000, step=1, key=state_key(key, "seed"))
    layer, _ = _layer_head(key, model, with_head=False)
    params = commit(key, defaults, {"model": model, "checkpoint": checkpoint, "half_len": half_len,
                                    "seed": int(seed_value), "layer": layer})
    if params is None:
        return
    _repeated_view(_compute(ci.repeated, params.model, params.step, params.half_len, params.seed, params.layer))
    show_code(params)


def head_multiselect(key: str, model: str, label: str) -> list[str]:
    """A multiselect of the model's heads (L1H3 ...), seeded from the widget's ``heads`` field (URL or YAML, already
    validated by ``from_url``); heads the current model lacks are dropped. Commit ``", ".join(result)``."""
    cfg = zoo.config(model)
    options = [f"L{l}H{h}" for l in range(cfg["n_layers"]) for h in range(cfg["n_heads"])]
    chosen_key = state_key(key, "heads_list")
    if chosen_key not in st.session_state:
        st.session_state[chosen_key] = [f"L{l}H{h}" for l, h in parse_heads(st.session_state[state_key(key, "heads")])]
    st.session_state[chosen_key] = [h for h in st.session_state[chosen_key] if h in options]
    return st.multiselect(label, options, key=chosen_key)


def ablation_ui(key: str, defaults: AblationParams) -> None:
    seed(key, from_url(key, defaults))
    model = _model_select(key)
    checkpoint = _checkpoint_select(key, model)
    chosen = head_multiselect(key, model, "Heads to ablate")
    cols = st.columns(3)
    mode = cols[0].radio("Ablation", ["zero", "mean"], horizontal=True, key=state_key(key, "mode"))
    half_len = cols[1].slider("Random tokens per copy", 5, 120, key=state_key(key, "half_len"))
    seed_value = cols[2].number_input("Seed", 0, 1_000_000, step=1, key=state_key(key, "seed"))
    params = commit(key, defaults, {"model": model, "checkpoint": checkpoint, "heads": ", ".join(chosen), "mode": mode,
                                    "half_len": half_len, "seed": int(seed_value)})
    if params is None:
        return
    with st.spinner("Running the model with and without the heads…"):
        r = ci.ablation(params.model, params.step, tuple(params.head_list), params.mode, params.half_len, params.seed)
    (b1, b2), (a1, a2) = r["before_halves"], r["after_halves"]
    m = st.columns(3)
    m[0].metric("2nd-copy advantage, intact", f"{b1 - b2:.2f} nats")
    m[1].metric("… with the heads ablated", f"{a1 - a2:.2f} nats", delta=f"{(a1 - a2) - (b1 - b2):.2f}", delta_color="off")
    m[2].metric("2nd-copy loss after ablation", f"{a2:.2f}", delta=f"{a2 - b2:+.2f}", delta_color="inverse")
    x = list(range(1, len(r["before"]) + 1))
    fig = go.Figure()
    fig.add_scatter(x=x, y=r["before"], name="intact", mode="lines")
    if params.head_list:
        fig.add_scatter(x=x, y=r["after"], name=f"{params.mode}-ablated: {', '.join(chosen)}", mode="lines")
    fig.add_vline(x=r["half_len"] + 0.5, line_dash="dot", annotation_text="second copy starts")
    fig.update_layout(height=340, xaxis_title="position of the predicted token", yaxis_title="loss (nats)",
                      margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.12))
    st.plotly_chart(fig, key=f"{key}-fig")
    show_code(params)


def phase_change_ui(key: str, defaults: PhaseChangeParams) -> None:
    seed(key, from_url(key, defaults))
    model = defaults.model
    checkpoint = _checkpoint_select(key, model, "Checkpoint (the views below follow it)")
    params = commit(key, defaults, {"checkpoint": checkpoint})
    if params is None:
        return
    curve, control = zoo.curve(params.model), zoo.curve(params.control)
    step = params.step if params.step is not None else zoo.metrics(params.model)["training"]["steps"]
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=("held-out loss", "in-context-learning score (late − early token loss)",
                                        "head scores on repeated random tokens"))
    for c, name, dash in ((curve, params.model, None), (control, params.control, "dot")):
        xs = [p["step"] for p in c]
        fig.add_scatter(x=xs, y=[p["val_loss"] for p in c], name=f"{name} loss", line=dict(dash=dash), row=1, col=1)
        fig.add_scatter(x=xs, y=[p["icl_score"] for p in c], name=f"{name} ICL", line=dict(dash=dash), row=2, col=1)
    xs = [p["step"] for p in curve]
    for field, label in (("induction_score", "best induction head"), ("prev_token_score", "best previous-token head")):
        fig.add_scatter(x=xs, y=[max(p[field].values()) for p in curve], name=f"{params.model} {label}", row=3, col=1)
    fig.add_scatter(x=[p["step"] for p in control], y=[max(p["induction_score"].values()) for p in control],
                    name=f"{params.control} best induction head", line=dict(dash="dot"), row=3, col=1)
    for row in (1, 2, 3):
        fig.add_vline(x=step, line_color="crimson", line_dash="dash", row=row, col=1)
    fig.update_layout(height=640, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=-0.08))
    fig.update_xaxes(title_text="training step", row=3, col=1)
    st.plotly_chart(fig, key=f"{key}-curves")

    heat = go.Figure(go.Heatmap(z=[p["loss_by_position"] for p in curve], y=xs, colorscale="Viridis",
                                x=[f"{i * 8}-{i * 8 + 7}" for i in range(len(curve[0]["loss_by_position"]))],
                                hovertemplate="step %{y}<br>positions %{x}<br>loss %{z:.2f}<extra></extra>"))
    heat.add_hline(y=step, line_color="crimson", line_dash="dash")
    heat.update_layout(title="Loss by token position over training", height=330, xaxis_title="token positions",
                       yaxis_title="step", margin=dict(l=10, r=10, t=40, b=10))
    st.plotly_chart(heat, key=f"{key}-heat")

    st.markdown(f"**At {'the final weights' if params.step is None else f'step {params.step}'}**: "
                "layer-1 attention on repeated random tokens, and every head's detector scores.")
    _repeated_view(_compute(ci.repeated, params.model, params.step, params.half_len, 0, 1))
    show_code(params)


def induction_text_ui(key: str, defaults: InductionTextParams) -> None:
    seed(key, from_url(key, defaults))
    model = _model_select(key, min_layers=2)
    text = st.text_area("Text with a repeated span", key=state_key(key, "text"), height=110)
    head = st.text_input("Head to inspect ('auto' = the strongest induction head)", key=state_key(key, "head"), max_chars=20)
    params = commit(key, defaults, {"model": model, "text": text, "head": head})
    if params is None:
        return
    layer, h = params.layer_head()
    result = _compute(ci.induction_text, params.model, params.text, layer, h)
    if result is None:
        return
    _notes(result["notes"])
    st.caption("Each token coloured by the probability the model gave it before seeing it: repeated spans light up.")
    cvis.show("ColoredTokens", height=140, tokens=result["tokens"], values=result["values"], minValue=0.0, maxValue=1.0)
    if result["rows"]:
        st.dataframe(pd.DataFrame(result["rows"]), hide_index=True, height=260)
    else:
        st.info("No token occurs twice (with a token after its first occurrence), so there is nothing for an induction head to copy.")
    show_code(params)
