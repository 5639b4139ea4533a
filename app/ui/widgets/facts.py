"""Widgets for "Fact Finding" (Nanda, Rajamanoharan, Kramár & Shah 2023,
https://www.alignmentforum.org/posts/iGuwZTHWb6DFY3sKB).

``fact_lookup``: ask the model about any first + last name and see every athlete of that last
name; ``fact_probes``: held-out probe accuracy by residual site; ``fact_layers``: MLP
mean-ablation or activation patching by layer. Numbers come from ``app.ui.compute_facts``.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from app.analysis.facts import load_world
from app.ui import compute_facts as cf
from app.ui.params import commit, from_url, seed, show_code, state_key
from app.ui.widgets.framework import _compute
from app.widgets.facts import FactLayersParams, FactLookupParams, FactProbeParams

MARGIN = dict(l=10, r=10, t=40, b=10)
VALUE_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#17becf"]  # one per attribute value
TRUE_COLOUR, OTHER_COLOUR = "#d62728", "#9aa5b1"
GENERIC_POSITIONS = ["BOS", "first name 1", "first name 2", "last name 1", "last name 2", "plays"]


def _name_pickers(key: str, world, allow_empty: bool) -> tuple[str, str]:
    extra = [""] if allow_empty else []
    fmt = lambda o: o or "(every athlete)"  # noqa: E731
    c = st.columns(2)
    first = c[0].selectbox("First name", extra + sorted(world.first_names), key=state_key(key, "first"), format_func=fmt)
    last = c[1].selectbox("Last name", extra + sorted(world.last_names), key=state_key(key, "last"), format_func=fmt)
    return first or "", last or ""


def _seed_names(key: str, world) -> None:
    """Empty names mean the first athlete: show that in the pickers (which have no empty option)."""
    a = world.athletes[0]
    for field, default in (("first", a.first_name), ("last", a.last_name)):
        if not st.session_state.get(state_key(key, field)):
            st.session_state[state_key(key, field)] = default


def fact_lookup_ui(key: str, defaults: FactLookupParams) -> None:
    seed(key, from_url(key, defaults))
    world = load_world(defaults.model)
    _seed_names(key, world)
    first, last = _name_pickers(key, world, allow_empty=False)
    attribute = st.radio("Attribute", ["sport", "city"], horizontal=True, key=state_key(key, "attribute"))
    params = commit(key, defaults, {"model": defaults.model, "first": first, "last": last, "attribute": attribute})
    if params is None:
        return
    r = _compute(cf.lookup, params.model, params.first, params.last, params.attribute)
    if r is None:
        return
    tokens = " · ".join(f"`{t}`" for t in r["tokens"])
    if r["true"]:
        st.markdown(f"**{r['name']}** is an athlete of the world: {params.attribute} **{r['true']}**. Tokens: {tokens}")
    else:
        st.info(f"Nobody in the world is called {r['name']}: each name is real, the pairing is new, so there is no "
                f"true {params.attribute}. The bars show what the model makes of an unseen combination.",
                icon=":material/help:")
    labels = [("✓ " if t else "✗ ") + text + " …" for t, text in zip(r["trained"], r["texts"])]
    fig = go.Figure()
    for j, v in enumerate(r["values"]):
        fig.add_bar(name=f"{v} ✓ true" if v == r["true"] else v, y=labels, x=[p[j] for p in r["probs"]],
                    orientation="h", marker_color=VALUE_COLOURS[j % len(VALUE_COLOURS)],
                    marker_line=dict(color="black", width=2 if v == r["true"] else 0),
                    hovertemplate=f"{v}: %{{x:.2f}}<extra></extra>")
    fig.update_layout(barmode="stack", title=f"p({params.attribute} | prompt)",
                      height=150 + 40 * len(labels), margin=MARGIN, xaxis_range=[0, 1], legend=dict(orientation="h", y=-0.25))
    fig.update_yaxes(autorange="reversed")
    st.plotly_chart(fig, width="stretch", key=f"{key}-fig")
    st.caption("✓ before a prompt: seen in training; ✗: never seen. Each bar splits the probability over the "
               f"{len(r['values'])} values; the true value (for a real athlete) is outlined and marked ✓ in the legend.")
    rows = r["same_last"]
    hits = sum(row["true"] == row["predicted"] for row in rows)
    st.markdown(f"**Everyone called {last}** ({len(rows)} athletes; model right on {hits}). The last name is the same, "
                f"the {params.attribute}s differ: only the whole name settles it.")
    st.dataframe([{"athlete": row["name"], "true": row["true"], "model": row["predicted"],
                   "p(true)": round(row["p_true"], 3)} for row in rows], hide_index=True)
    show_code(params)


def fact_probes_ui(key: str, defaults: FactProbeParams) -> None:
    seed(key, from_url(key, defaults))
    c = st.columns(2)
    attribute = c[0].radio("Attribute", ["sport", "city"], horizontal=True, key=state_key(key, "attribute"))
    position = c[1].radio("Token", ["last name", "first name", "final"], horizontal=True, key=state_key(key, "position"))
    params = commit(key, defaults, {"model": defaults.model, "attribute": attribute, "position": position})
    if params is None:
        return
    with st.spinner("Fitting one probe per site (two folds)…"):
        r = _compute(cf.probes, params.model, params.attribute, params.position)
    if r is None:
        return
    fig = go.Figure(go.Scatter(x=r["sites"], y=r["accuracy"], mode="lines+markers", name="held-out probe",
                               hovertemplate="%{x}: %{y:.1%}<extra></extra>"))
    fig.add_hline(y=r["chance"], line_dash="dash", line_color="black", annotation_text=f"chance {r['chance']:.0%}",
                  annotation_position="bottom right")
    fig.add_hline(y=r["ceiling"]["last"], line_dash="dot", line_color=TRUE_COLOUR,
                  annotation_text=f"best last-name-only rule {r['ceiling']['last']:.0%}", annotation_position="top left")
    fig.update_layout(title=f"{params.attribute.capitalize()} probe, {params.position} token",
                      yaxis_title="held-out accuracy", yaxis_range=[0, 1.05], height=380, margin=MARGIN)
    fig.update_xaxes(type="category", title="residual stream after …")
    st.plotly_chart(fig, width="stretch", key=f"{key}-fig")
    st.caption("Each point: a logistic-regression probe fitted on half the athletes and scored on the other half "
               "(then the other way round). Every name keeps one athlete per sport on each side, so a probe cannot "
               "score by knowing a token's other athletes.")
    show_code(params)


def _ablation_figure(r: dict) -> go.Figure:
    layers = [f"L{i}" for i in range(len(r["name tokens"]))]
    fig = go.Figure()
    fig.add_bar(name="MLP ablated at the name tokens", x=layers, y=r["name tokens"], marker_color="#636efa")
    fig.add_bar(name="MLP ablated at the final token", x=layers, y=r["final token"], marker_color="#00cc96")
    fig.add_hline(y=r["base"], line_dash="dash", line_color="black", annotation_text=f"no ablation {r['base']:.0%}")
    fig.add_hline(y=0.25, line_dash="dot", line_color=OTHER_COLOUR)
    fig.update_layout(barmode="group", title="Sport accuracy, one MLP ablated", yaxis_range=[0, 1.05],
                      yaxis_title="accuracy ('<name> plays')", height=380, margin=MARGIN, legend=dict(orientation="h", y=-0.2))
    return fig


def fact_layers_ui(key: str, defaults: FactLayersParams) -> None:
    seed(key, from_url(key, defaults))
    world = load_world(defaults.model)
    view = st.radio("Show", ["ablation", "patching"], horizontal=True, key=state_key(key, "view"),
                    format_func={"ablation": "MLP ablation", "patching": "activation patching"}.get)
    first, last = (st.session_state.get(state_key(key, "first"), ""), st.session_state.get(state_key(key, "last"), ""))
    if view == "patching":
        first, last = _name_pickers(key, world, allow_empty=True)
    params = commit(key, defaults, {"model": defaults.model, "view": view, "first": first, "last": last})
    if params is None:
        return
    if params.view == "ablation":
        bar = st.progress(0.0, text="Ablating each layer's MLP…")
        r = _compute(cf.ablation, params.model)
        bar.empty()
        if r is None:
            return
        st.plotly_chart(_ablation_figure(r), width="stretch", key=f"{key}-fig")
        st.caption("Mean-ablation replaces one MLP's output by its average over all athletes at that position, "
                   "removing whatever it wrote about this particular name. Dashed: no ablation; dotted: chance (25%).")
    else:
        with st.spinner("Patching every layer and position…"):
            r = _compute(cf.patching, params.model, params.first, params.last)
        if r is None:
            return
        x = r["positions"] if r["n_pairs"] == 1 else GENERIC_POSITIONS
        fig = go.Figure(go.Heatmap(z=r["grid"], x=x, y=[f"L{i} MLP" for i in range(len(r["grid"]))], colorscale="RdBu",
                                   zmid=0, reversescale=True, hovertemplate="%{y} at %{x}: %{z:.2f}<extra></extra>"))
        fig.update_layout(title="Sport logit difference restored", height=360, margin=MARGIN)
        fig.update_yaxes(autorange="reversed", type="category")
        fig.update_xaxes(type="category")
        st.plotly_chart(fig, width="stretch", key=f"{key}-fig")
        if r["n_pairs"] == 1:
            st.caption(f"Clean: {r['clean']} ({r['clean_sport']}); corrupted: {r['corrupt']} ({r['corrupt_sport']}), "
                       "same last name. 1 = the patched run prefers the clean sport as much as the clean run does.")
        else:
            st.caption(f"Average over {r['n_pairs']} pairs (each athlete against one with the same last name and "
                       "another sport). 1 = fully restored, 0 = no effect.")
    show_code(params)
