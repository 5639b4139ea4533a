"""Widgets for "Interpretability in the Wild" (Wang et al. 2022, https://arxiv.org/abs/2211.00593)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app import hub, zoo
from app.analysis.ioi import PAPER_HEADS
from app.tasks import ioi
from app.ui import compute_ioi as ci
from app.ui.params import commit, from_url, seed, show_code, state_key
from app.ui.widgets.framework import _compute, _heatmap, _notes
from app.ui.widgets.induction import head_multiselect
from app.widgets.ioi import (HUB_MODEL, IOI_MODELS, IOICompareParams, IOIDLAParams, IOIHeadsParams, IOIKnockoutParams,
                             IOIPatchParams, IOIPromptParams)


def _model_select(key: str, field: str = "model", label: str = "Model", hub_ok: bool = False) -> str:
    options = [m for m in IOI_MODELS if m in zoo.names()] + ([HUB_MODEL] if hub_ok else [])
    sk = state_key(key, field)
    if st.session_state.get(sk) not in options:
        st.session_state[sk] = options[0]
    return st.selectbox(label, options, key=sk, format_func=lambda m: f"{m} (GPT-2 small, hub model)"
                        if m == HUB_MODEL else m)


def _hub_off(model: str) -> bool:
    """True (and a message in place) when ``model`` is the hub model and hub models are off."""
    if model != HUB_MODEL or hub.enabled():
        return False
    st.info(f"Unavailable: GPT-2 small is a hub model, and hub models are off (offline by default). Start the app "
            f"with {hub.ENV}=1 on a machine with internet access to run this view on it.", icon=":material/cloud_off:")
    return True


def _run(model: str, fn, *args):
    """``_compute``, with a loading spinner when the hub model may have to be downloaded first."""
    if model != HUB_MODEL:
        return _compute(fn, *args)
    with st.spinner("Running on GPT-2 small (downloaded once, then kept in memory)…"):
        return _compute(fn, *args)


def _template_label(i: int) -> str:
    held = " (held out)" if i in ioi.TEST_TEMPLATES else " (short ending)" if i in ioi.SHORT_TEMPLATES else ""
    text = ioi.TEMPLATES[i].format(a="A", b="B", s="B", place="…", obj="…", gap="")
    return f"{i}{held}: {text}"


def _layout(key: str) -> tuple[int, str]:
    cols = st.columns([3, 1])
    template = cols[0].selectbox("Template", list(range(len(ioi.TEMPLATES))), key=state_key(key, "template"),
                                 format_func=_template_label)
    order = cols[1].radio("Order", ["ABBA", "BABA"], key=state_key(key, "order"), horizontal=True,
                          help="ABBA: the IO is named first in the first clause; BABA: the subject is.")
    return template, order


def _head_grid(z, title: str, zlabel: str = "logit diff", colorscale="RdBu", zmid=0.0) -> go.Figure:
    L, H = len(z), len(z[0])
    fig = _heatmap(z, [str(h) for h in range(H)], [str(l) for l in range(L)], title, "head", "layer", zmid, colorscale)
    fig.update_layout(height=300)
    fig.data[0].colorbar.title = zlabel
    return fig


def ioi_prompt_ui(key: str, defaults: IOIPromptParams) -> None:
    seed(key, from_url(key, defaults))
    model = _model_select(key)
    template, order = _layout(key)
    cols = st.columns(4)
    io = cols[0].selectbox("IO (answer)", ioi.NAMES, key=state_key(key, "io"))
    s = cols[1].selectbox("S (subject)", ioi.NAMES, key=state_key(key, "s"))
    place = cols[2].selectbox("Place", ioi.PLACES, key=state_key(key, "place"))
    obj = cols[3].selectbox("Object", ioi.OBJECTS, key=state_key(key, "obj"))
    text = st.text_area("Or free text (ends right before a name; empty = the built prompt)", key=state_key(key, "text"),
                        height=80, max_chars=2000)
    params = commit(key, defaults, {"model": model, "template": template, "order": order, "io": io, "s": s,
                                    "place": place, "obj": obj, "text": text})
    if params is None:
        return
    prompt_text = params.text or params.prompt().text
    r = _compute(ci.prompt_run, params.model, prompt_text, params.io, params.s)
    if r is None:
        return
    _notes(r["notes"])
    st.markdown(f"**Prompt:** {' '.join(r['tokens'][1:])}")
    m = st.columns(2)
    m[0].metric(f"logit diff {params.io} − {params.s}", f"{r['logit_diff']:+.2f}")
    m[1].metric("top-1 next token", r["top"][0][0], f"p = {r['top'][0][2]:.2f}", delta_color="off")
    labels, logits, probs = zip(*r["top"])
    colors = ["#2a9d8f" if t == params.io else "#e76f51" if t == params.s else "#8d99ae" for t in labels]
    fig = go.Figure(go.Bar(x=list(probs), y=list(labels), orientation="h", marker_color=colors,
                           customdata=list(logits), hovertemplate="%{y}: p=%{x:.3f}, logit %{customdata:.2f}<extra></extra>"))
    fig.update_layout(title="Next-token probabilities (green: IO, red: S)", height=320, xaxis_title="probability",
                      margin=dict(l=10, r=10, t=40, b=10))
    fig.update_yaxes(autorange="reversed")
    st.plotly_chart(fig, key=f"{key}-top")
    _hub_view(key, prompt_text, params.io, params.s)
    show_code(params)


def _hub_view(key: str, text: str, io: str, s: str) -> None:
    """The same prompt on GPT-2 small, when hub models are enabled (``INTERP_READER_HUB=1``) and reachable."""
    with st.expander(f"The same prompt on GPT-2 small ({hub.DEFAULT}, hub model)"):
        if not hub.enabled():
            st.info(f"Unavailable: hub models are off (offline by default). Start the app with {hub.ENV}=1 on a machine "
                    "with internet access to run GPT-2 small here.", icon=":material/cloud_off:")
            return
        if not st.button("Load GPT-2 small and run", key=f"{key}-hub"):
            return
        try:
            with st.spinner("Loading GPT-2 small (downloaded once)…"), hub.use() as model:
                r = hub.ioi_logit_diff(model, text, io, s)
        except (hub.HubUnavailable, ValueError) as err:
            st.warning(str(err), icon=":material/cloud_off:")
            return
        st.metric(f"GPT-2 small: logit diff {io} − {s}", f"{r['logit_diff']:+.2f}")
        st.dataframe(pd.DataFrame(r["top"], columns=["token", "logit", "probability"]), hide_index=True)


def ioi_dla_ui(key: str, defaults: IOIDLAParams) -> None:
    seed(key, from_url(key, defaults))
    model = _model_select(key, hub_ok=True)
    template, order = _layout(key)
    params = commit(key, defaults, {"model": model, "template": template, "order": order})
    if params is None or _hub_off(params.model):
        return
    r = _run(params.model, ci.dla, params.model, params.template, params.order)
    if r is None:
        return
    mlp = "" if r["mlp"] is None else ", the MLPs " + ", ".join(f"{v:+.2f}" for v in r["mlp"]) + " (layer 0 first)"
    st.caption(f"{r['n']} prompts like: “{r['example']}”. Mean logit difference {r['total']:.2f}; "
               f"embeddings contribute {r['embed']:+.2f} directly{mlp}.")
    st.plotly_chart(_head_grid(r["heads"], "Direct logit attribution per head (IO − S, at END)"), key=f"{key}-heads")
    L = len(r["layer_src"])
    fig = _heatmap(r["layer_src"], r["labels"], [str(l) for l in range(L)],
                   "Per layer, split by the source token END attends to", "source position", "layer")
    fig.update_layout(height=300)
    st.plotly_chart(fig, key=f"{key}-src")
    show_code(params)


def ioi_patching_ui(key: str, defaults: IOIPatchParams) -> None:
    seed(key, from_url(key, defaults))
    model = _model_select(key, hub_ok=True)
    template, order = _layout(key)
    cols = st.columns(2)
    corruption = cols[0].radio("Corrupted prompt", ["abc", "swap"], key=state_key(key, "corruption"), horizontal=True,
                               format_func={"abc": "ABC (three fresh names)", "swap": "IO ↔ S swapped"}.get)
    site = cols[1].radio("Patch", ["resid_pre", "z"], key=state_key(key, "site"), horizontal=True,
                         format_func={"resid_pre": "residual stream (layer × position)", "z": "head outputs"}.get)
    params = commit(key, defaults, {"model": model, "template": template, "order": order, "corruption": corruption,
                                    "site": site})
    if params is None or _hub_off(params.model):
        return
    r = _run(params.model, ci.patch, params.model, params.template, params.order, params.corruption, params.site)
    if r is None:
        return
    st.caption(f"Clean: “{r['example']}” (logit diff {r['clean']:.2f}); corrupted: “{r['example_bad']}” "
               f"({r['corrupted']:.2f}). Each cell puts one corrupted activation into the clean run: "
               "0 = no change, −1 = the logit difference falls all the way to the corrupted run's.")
    if params.site == "resid_pre":
        L = len(r["values"])
        fig = _heatmap(r["values"], r["labels"], [str(l) for l in range(L)],
                       "Residual stream before each layer, by position", "position", "layer")
        fig.update_layout(height=300)
    else:
        fig = _head_grid(r["values"], "Head outputs (all positions at once)", "effect")
    st.plotly_chart(fig, key=f"{key}-patch")
    show_code(params)


def ioi_heads_ui(key: str, defaults: IOIHeadsParams) -> None:
    seed(key, from_url(key, defaults))
    model = _model_select(key)
    params = commit(key, defaults, {"model": model})
    if params is None:
        return
    m = zoo.metrics(params.model)
    rows = [{"class": c, f"{params.model}": ", ".join(m["head_classes"].get(c, [])) or "none found",
             "GPT-2 small (Wang et al. 2022)": ", ".join(PAPER_HEADS.get(c, [])) or "not a class of the paper"}
            for c in [*PAPER_HEADS, *[c for c in m["head_classes"] if c not in PAPER_HEADS]]]
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    abl = m.get("ablation_logit_diff", {})
    st.markdown(f"Logit difference {m['logit_diff']:.2f} intact; with heads mean-ablated at END: "
                + ("; ".join(f"{k} → **{v:.2f}**" for k, v in abl.items()) or "no heads found to ablate") + ".")
    test = m.get("s_inhibition_test") or {}
    for head, v in test.items():
        if head != "none":
            st.markdown(f"S-inhibition test (paper section 3.2): with head {head} mean-ablated at END, the name "
                        f"movers attend S **{test['none']['END->S']:.2f} → {v['END->S']:.2f}** and the IO "
                        f"**{test['none']['END->IO']:.2f} → {v['END->IO']:.2f}**.")
    views = {"DLA per head": (m["dla_heads"], "logit diff", "RdBu", 0.0),
             "attention END → IO": (m["attention"]["END->IO"], "attention", "Blues", None),
             "attention END → S2": (m["attention"]["END->S2"], "attention", "Blues", None),
             "attention S2 → S1": (m["attention"]["S2->S1"], "attention", "Blues", None),
             "patching head outputs (ABC)": (m["patch_head_out_abc"], "effect", "RdBu", 0.0),
             **{f"detector: {k}": (v, "score", "Blues", None) for k, v in m["detectors"].items()}}
    choice = st.selectbox("Score per head", list(views), key=state_key(key, "view"))
    z, label, scale, mid = views[choice]
    st.plotly_chart(_head_grid(z, choice, label, scale, mid), key=f"{key}-grid")
    show_code(params)


def ioi_compare_ui(key: str, defaults: IOICompareParams) -> None:
    seed(key, from_url(key, defaults))
    cols = st.columns(2)
    with cols[0]:
        a = _model_select(key, "model", "Left model")
    with cols[1]:
        b = _model_select(key, "other", "Right model")
    n = st.slider("Prompts per condition", 8, 256, step=8, key=state_key(key, "n"))
    params = commit(key, defaults, {"model": a, "other": b, "n": n})
    if params is None:
        return
    fig = go.Figure()
    out = {}
    for name in (params.model, params.other):
        r = _compute(ci.compare, name, params.n)
        if r is None:
            return
        out[name] = r
        conds = list(r["eval"])
        fig.add_bar(name=name, x=conds, y=[r["eval"][c]["logit_diff"] for c in conds],
                    text=[f"{r['eval'][c]['accuracy']:.0%}" for c in conds], textposition="outside")
    fig.update_layout(title="Mean logit diff IO − S, held-out prompts (labels: accuracy)",
                      barmode="group", height=340, yaxis_title="logit diff", margin=dict(l=10, r=10, t=40, b=10))
    st.plotly_chart(fig, key=f"{key}-bars")
    cols = st.columns(2)
    for col, name in zip(cols, (params.model, params.other)):
        with col:
            st.markdown(f"**{name}**: name movers {', '.join(zoo.metrics(name)['name_mover_heads']) or 'none found'}")
            io_s = [[x - y for x, y in zip(r1, r2)] for r1, r2 in zip(out[name]["attention"]["END->IO"],
                                                                     out[name]["attention"]["END->S2"])]
            st.plotly_chart(_head_grid(io_s, "attention END→IO minus END→S2", "Δ attention"), key=f"{key}-{name}")
    show_code(params)


def ioi_knockout_ui(key: str, defaults: IOIKnockoutParams) -> None:
    seed(key, from_url(key, defaults))
    model = _model_select(key)
    template, order = _layout(key)
    cfg = zoo.config(model)
    chosen = head_multiselect(key, model, "Heads to knock out at END (output replaced by its mean over the ABC prompts)")
    params = commit(key, defaults, {"model": model, "template": template, "order": order, "heads": ", ".join(chosen)})
    if params is None:
        return
    r = _compute(ci.knockout, params.model, params.template, params.order, tuple(params.head_list))
    if r is None:
        return
    m = st.columns(2)
    m[0].metric("Logit diff, intact", f"{r['ld_intact']:.2f}")
    m[1].metric("… heads knocked out", f"{r['ld_out']:.2f}", delta=f"{r['ld_out'] - r['ld_intact']:+.2f}",
                delta_color="off")
    first = min((l for l, _ in params.head_list), default=0)
    later = [(l, h) for l in range(cfg["n_layers"]) for h in range(cfg["n_heads"]) if l > first or not params.head_list]
    if not later:
        st.info("Nothing reads from the last layer's heads: knock out an earlier head to see attention move.",
                icon=":material/info:")
        return
    x = [f"L{l}H{h}" for l, h in later]
    at = lambda run, role: [run[role][l][h] for l, h in later]  # noqa: E731
    fig = go.Figure()
    fig.add_bar(x=x, y=at(r["intact"], "END->IO"), name="END → IO, intact", marker_color="#a8dadc")
    fig.add_bar(x=x, y=at(r["out"], "END->IO"), name="END → IO, knocked out", marker_color="#2a9d8f")
    fig.add_bar(x=x, y=at(r["intact"], "END->S"), name="END → S (S1 + S2), intact", marker_color="#f4a261")
    fig.add_bar(x=x, y=at(r["out"], "END->S"), name="END → S (S1 + S2), knocked out", marker_color="#e76f51")
    fig.update_layout(barmode="group", height=360, yaxis_title="attention (mean over prompts)",
                      title="Attention from END of the heads after the knocked-out ones",
                      margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h", y=-0.2))
    st.plotly_chart(fig, key=f"{key}-bars")
    st.caption(f"{r['n']} prompts like: “{r['example']}”. Heads in the knocked-out heads' layers and below cannot "
               "change their attention, so they are left out.")
    show_code(params)
