"""Widgets for "The Reversal Curse" (Berglund et al. 2023, https://arxiv.org/abs/2309.12288).

``reversal_query``: one fact asked forward and backward, the log-probability of every candidate
answer of its set; ``reversal_accuracy``: per-set accuracies / likelihood gaps with intervals,
or the training curves. Numbers come from ``app.ui.compute_reversal``.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from app import zoo
from app.analysis.reversal import load_world
from app.ui import compute_reversal as cr
from app.ui.params import commit, from_url, seed, show_code, state_key
from app.ui.widgets.framework import _compute
from app.widgets.reversal import MAX_NAME_CHARS, ReversalAccuracyParams, ReversalQueryParams

TRUE_COLOUR, OTHER_COLOUR = "#d62728", "#9aa5b1"
SET_COLOURS = {"A": "#636efa", "B": "#00cc96"}
SET_LABELS = {"A": "set A (one-way)", "B": "set B (control)"}
MARGIN = dict(l=10, r=10, t=40, b=10)


def _pick_changed(key: str) -> None:
    picked = st.session_state.get(state_key(key, "pick"))
    if picked:
        st.session_state[state_key(key, "name")] = picked.split(" — ")[0]


def _candidates_figure(r: dict, top_k: int, title: str) -> go.Figure:
    order = sorted(range(len(r["candidates"])), key=lambda i: -r["logprobs"][i])
    shown = order[:top_k]
    true_i = r["candidates"].index(r["answer"])
    if true_i not in shown:  # always draw the true answer, as the last bar
        shown = shown[:-1] + [true_i]
    names = [r["candidates"][i] + (" ✓" if i == true_i else "") for i in shown]
    fig = go.Figure(go.Bar(x=[r["logprobs"][i] for i in shown], y=names, orientation="h",
                           marker_color=[TRUE_COLOUR if i == true_i else OTHER_COLOUR for i in shown],
                           hovertemplate="%{y}<br>log p %{x:.2f}<extra></extra>"))
    fig.update_layout(title=title, height=120 + 18 * len(shown), margin=MARGIN, xaxis_title="log p(answer | query)")
    fig.update_yaxes(autorange="reversed", type="category")
    return fig


def reversal_query_ui(key: str, defaults: ReversalQueryParams) -> None:
    seed(key, from_url(key, defaults))
    model = defaults.model
    world = load_world(model)
    options = [""] + [f"{f.person} — {SET_LABELS[f.group]}, owns {f.pet}" for f in world.facts]
    st.selectbox("Pick a fact", options, key=state_key(key, "pick"), on_change=_pick_changed, args=(key,),
                 format_func=lambda o: o or "(choose a person)")
    name = st.text_input("…or type a person's full name or a pet's name", key=state_key(key, "name"),
                         max_chars=MAX_NAME_CHARS, placeholder=world.group("A")[0].person)
    top_k = st.slider("Candidates shown", 5, 150, key=state_key(key, "top_k"))
    params = commit(key, defaults, {"model": model, "name": name, "top_k": top_k})
    if params is None:
        return
    if not params.name:
        st.info("Type a person's full name or a pet's name, or pick a fact above.", icon=":material/edit:")
        return
    r = _compute(cr.query, params.model, params.name)
    if r is None:
        return
    n = len(r["forward"]["candidates"])
    st.markdown(f"**{r['person']}** owns **{r['pet']}** (a {r['species']}); {SET_LABELS[r['group']]}: "
                + ("stated person-first only." if r["group"] == "A" else "stated both ways in training."))
    m = st.columns(2)
    rank_help = f"Where the true answer lands among the set's {n} candidates; 1 = the model's top answer."
    gap_help = "log p(true answer) minus the mean log p of the other candidates of the set; 0 = no preference."
    m[0].metric("pet's rank (forward)", f"{r['forward']['rank']} of {n}", help=rank_help)
    m[1].metric("owner's rank (backward)", f"{r['backward']['rank']} of {n}", help=rank_help)
    m = st.columns(2)
    m[0].metric("forward gap", f"{r['forward']['gap']:+.2f} nats", help=gap_help)
    m[1].metric("backward gap", f"{r['backward']['gap']:+.2f} nats", help=gap_help)
    st.plotly_chart(_candidates_figure(r["forward"], params.top_k, f"“{r['forward']['query']} …”: every pet of the set"),
                    width="stretch", key=f"{key}-fwd")
    st.plotly_chart(_candidates_figure(r["backward"], params.top_k,
                                       f"“{r['backward']['query']} …”: every person of the set"),
                    width="stretch", key=f"{key}-bwd")
    top = r["backward_top_anyone"]
    st.caption(f"Over all {len(world.facts)} people, the model's best-scoring owner of {r['pet']} is "
               f"{top['person']} ({SET_LABELS[top['group']]}). Red bar: the true answer (✓), drawn even "
               "when it is outside the top candidates.")
    show_code(params)


def _measured(model: str) -> list[dict]:
    bar = st.progress(0.0, text="Scoring every query against every candidate…")
    rows = []
    for i, (g, d) in enumerate((g, d) for g in ("A", "B") for d in ("forward", "backward")):
        rows.append(cr.group_score(model, g, d))
        bar.progress((i + 1) / 4, text=f"Scored {SET_LABELS[g]}, {d}")
    bar.empty()
    return rows


def _bars(rows: list[dict], value: str, lo: str, hi: str, title: str, yaxis: str) -> go.Figure:
    fig = go.Figure()
    for g in ("A", "B"):
        sel = [r for r in rows if r["group"] == g]
        fig.add_bar(name=SET_LABELS[g], x=[r["direction"] for r in sel], y=[r[value] for r in sel],
                    marker_color=SET_COLOURS[g],
                    error_y=dict(type="data", symmetric=False, array=[r[hi] - r[value] for r in sel],
                                 arrayminus=[r[value] - r[lo] for r in sel]),
                    hovertemplate="%{x}: %{y:.3f}<extra>" + SET_LABELS[g] + "</extra>")
    fig.update_layout(barmode="group", title=title, yaxis_title=yaxis, height=380, margin=MARGIN,
                      legend=dict(orientation="h", y=-0.15))
    return fig


def _seed_table(model: str, measure: str) -> list[dict]:
    o = zoo.metrics(model)["over_seeds"]
    fmt = (lambda v: f"{v:.1%}") if measure == "accuracy" else (lambda v: f"{v:+.2f}")
    rows = []
    for g, prefix in (("A", ""), ("B", "control_")):
        row = {"set": SET_LABELS[g]}
        for d in ("forward", "backward"):
            e = o[f"{prefix}{d}_{measure}"]
            row[d] = f"{fmt(e['mean'])} ± {fmt(e['ci95']).lstrip('+')}"
        rows.append(row)
    return rows


def _curve_figure(model: str) -> go.Figure:
    curves = zoo.curve(model)  # {seed: [points]}
    fig = go.Figure()
    styles = {"forward_accuracy": ("A forward", SET_COLOURS["A"], "solid"),
              "backward_accuracy": ("A backward", SET_COLOURS["A"], "dot"),
              "control_forward_accuracy": ("B forward", SET_COLOURS["B"], "solid"),
              "control_backward_accuracy": ("B backward", SET_COLOURS["B"], "dot")}
    for s, points in curves.items():
        for k, (label, colour, dash) in styles.items():
            fig.add_scatter(x=[p["step"] for p in points], y=[p[k] for p in points], mode="lines+markers",
                            name=label if s == "0" else f"{label}, seed {s}", line=dict(color=colour, dash=dash),
                            legendgroup=label,
                            showlegend=s == next(iter(curves)), opacity=1.0 if s == "0" else 0.45)
    fig.update_layout(title="Accuracy during training, every seed", xaxis_title="step", yaxis_title="accuracy",
                      height=400, margin=MARGIN, legend=dict(orientation="h", y=-0.2), yaxis_range=[-0.03, 1.03])
    return fig


def reversal_accuracy_ui(key: str, defaults: ReversalAccuracyParams) -> None:
    seed(key, from_url(key, defaults))
    labels = {"accuracy": "accuracy", "gap": "likelihood gap", "curve": "training curves"}
    view = st.radio("Show", list(labels), format_func=labels.get, horizontal=True, key=state_key(key, "view"))
    params = commit(key, defaults, {"model": defaults.model, "view": view})
    if params is None:
        return
    m = zoo.metrics(params.model)
    if params.view == "curve":
        st.plotly_chart(_curve_figure(params.model), width="stretch", key=f"{key}-fig")
        st.caption("Solid: forward queries; dotted: backward. Set A's backward line stays on the floor "
                   f"(chance {m['chance']:.2%}) while every other line climbs.")
        show_code(params)
        return
    rows = _measured(params.model)
    if params.view == "accuracy":
        fig = _bars(rows, "accuracy", "acc_lo", "acc_hi", "Accuracy of the shipped weights (seed 0)", "accuracy")
        fig.add_scatter(x=["forward", "backward"], y=[rows[0]["chance"]] * 2, mode="lines",
                        name=f"chance ({rows[0]['chance']:.2%})", line=dict(color="black", dash="dash"),
                        hoverinfo="skip")
        fig.update_yaxes(range=[0, 1.05])
        st.plotly_chart(fig, width="stretch", key=f"{key}-fig")
        st.caption(f"Error bars: 95% Wilson interval over the {rows[0]['n']} queries of each set.")
    else:
        fig = _bars(rows, "gap", "gap_lo", "gap_hi", "Likelihood gap of the shipped weights (seed 0)",
                    "log p(true) − mean log p(others), nats")
        fig.add_hline(y=0, line_color="black")
        st.plotly_chart(fig, width="stretch", key=f"{key}-fig")
        st.caption("Error bars: mean ± 1.96 standard errors over the queries of each set. 0 = the true answer is "
                   "no more likely than a random candidate of the set.")
    st.markdown(f"**Over {len(m['seeds'])} training seeds** (mean ± 95% t-interval, from the model card):")
    st.dataframe(_seed_table(params.model, "accuracy" if params.view == "accuracy" else "gap"), hide_index=True)
    show_code(params)
