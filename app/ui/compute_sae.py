"""Cached, lock-protected computations for the monosemanticity widgets (see compute.py).

The SAE and its precomputed browser data (``features.safetensors``) are loaded once per process
(``st.cache_resource``); every model run holds the zoo lock.
"""

from __future__ import annotations

import json

import streamlit as st
import torch
from safetensors.torch import load_file

from app import prompts, zoo
from app.analysis import sae as S
from app.ui.compute import CACHE, _labels
from app.widgets.sae import sae_dir

SEPARATOR = " ┆ "  # drawn between snippets in one token view


@st.cache_resource(max_entries=4, show_spinner=False)
def bundle(model_name: str) -> dict:
    """SAE, browser data, metrics, curves and hand-written labels of ``model_name``'s SAE (read once)."""
    folder = sae_dir(model_name)
    sae, cfg = S.load_saelens(folder)
    data = load_file(folder / "features.safetensors")
    labels_path = folder / "labels.json"
    labels = {int(k): v for k, v in json.loads(labels_path.read_text()).items()} if labels_path.is_file() else {}
    return {"sae": sae, "cfg": cfg, "data": data, "metrics": json.loads((folder / "metrics.json").read_text()),
            "training": json.loads((folder / "training.json").read_text()), "labels": labels}


@st.cache_data(max_entries=4, show_spinner=False)
def vocab_labels(model_name: str) -> list[str]:
    with zoo.use(model_name) as model:
        return _labels(model, range(model.cfg.d_vocab))


@st.cache_data(**CACHE)
def feature_view(model_name: str, feature: int, k: int) -> dict:
    """Top-activating contexts (recomputed live), the activation histogram and the logit effects of one feature."""
    b = bundle(model_name)
    sae, data = b["sae"], b["data"]
    top_act = data["feature_top_act"][feature].float()
    flat = data["feature_top_index"][feature][top_act > 0][:k].long()
    vocab = vocab_labels(model_name)
    with zoo.use(model_name) as model:
        snippets = S.contexts(model, sae, data["tokens"].long(), flat, feature) if len(flat) else []
        w_out = model.blocks[0].mlp.out.weight.T  # (d_mlp, d_model)
        w_u = model.unembed.weight.T  # (d_model, d_vocab)
        effects = S.logit_effects(sae, w_out, w_u, feature)  # (d_vocab,)
    tokens, values = [], []
    for i, s in enumerate(snippets):
        if i:
            tokens.append(SEPARATOR)
            values.append(0.0)
        tokens += [vocab[t] for t in s["tokens"]]
        values += [max(0.0, a) for a in s["acts"]]
    up, down = effects.topk(10), (-effects).topk(10)
    hist = data["feature_hist"][feature].tolist()
    top = float(top_act.max()) if len(top_act) else 0.0
    counts = S.neurons_for_share(sae.W_dec[feature : feature + 1])
    return {"tokens": tokens, "values": values, "max_act": top, "hist": hist,
            "firing": float(data["feature_firing"][feature]), "n_tokens": int(data["tokens"].numel()),
            "top_tokens": [vocab[int(data["tokens"].flatten()[i])] for i in flat],
            "promoted": [(vocab[i], float(effects[i])) for i in up.indices.tolist()],
            "suppressed": [(vocab[i], float(effects[i])) for i in down.indices.tolist()],
            "neurons_for_90": int(counts[0]), "label": b["labels"].get(feature, "")}


@st.cache_data(max_entries=32, show_spinner=False)
def search(model_name: str, text: str) -> list[dict]:
    """Features whose top-activating tokens most often contain ``text`` (case-sensitive), best first."""
    text, _ = prompts.clean(text, 40)
    if not text.strip():
        return []
    b = bundle(model_name)
    vocab = vocab_labels(model_name)
    hit = torch.tensor([text in v for v in vocab])  # (d_vocab,)
    flat = b["data"]["tokens"].long().flatten()
    top = flat[b["data"]["feature_top_index"].long()]  # (d_sae, k) token ids
    alive = b["data"]["feature_firing"] > 0
    valid = b["data"]["feature_top_act"].float() > 0  # (d_sae, k)
    share = (hit[top] & valid).float().sum(1) / valid.sum(1).clamp_min(1) * alive  # (d_sae,)
    order = share.argsort(descending=True)[:12]
    return [{"feature": int(i), "share of top tokens": round(float(share[i]), 2),
             "label": b["labels"].get(int(i), "")} for i in order if share[i] > 0]


@st.cache_data(**CACHE)
def text_view(model_name: str, text: str, feature: int) -> dict:
    """Per token: the strongest features and neurons, and one feature's activation for colouring."""
    sae = bundle(model_name)["sae"]
    with zoo.use(model_name) as model:
        prompt = prompts.to_prompt(model, text)
        post = S.post_activations(model, prompt.tokens[None])[0]  # (T, d_mlp)
        labels = _labels(model, prompt.tokens)
    f = sae.encode(post)  # (T, d_sae)
    chosen = int(f.sum(0).argmax()) if feature < 0 else feature
    rows = []
    for t, label in enumerate(labels):
        fv, fi = f[t].topk(3)
        nv, ni = post[t].topk(3)
        rows.append({"token": label, "features active": int((f[t] > 0).sum()),
                     "top features": ", ".join(f"#{i} {v:.2f}" for v, i in zip(fv.tolist(), fi.tolist()) if v > 0),
                     "neurons > 0": int((post[t] > 0).sum()),
                     "top neurons": ", ".join(f"n{i} {v:.2f}" for v, i in zip(nv.tolist(), ni.tolist()))})
    return {"tokens": labels, "values": f[:, chosen].tolist(), "feature": chosen, "rows": rows,
            "notes": list(prompt.notes), "label": bundle(model_name)["labels"].get(chosen, "")}


@st.cache_data(max_entries=16, show_spinner=False)
def density(model_name: str, share: float) -> dict:
    b = bundle(model_name)
    alive = b["data"]["feature_firing"] > 0
    counts = S.neurons_for_share(b["sae"].W_dec, share)[alive]  # (alive features,)
    gen = torch.Generator().manual_seed(0)
    random = S.neurons_for_share(torch.randn(256, b["sae"].d_in, generator=gen), share)  # baseline: random directions
    return {"counts": counts.tolist(), "d_in": b["sae"].d_in, "alive": int(alive.sum()), "d_sae": b["sae"].d_sae,
            "random_median": float(random.float().median())}


@st.cache_data(max_entries=4, show_spinner=False)
def monosemanticity(model_name: str) -> dict:
    d = bundle(model_name)["data"]
    flat = d["tokens"].long().flatten()
    feat = S.top_token_share(flat[d["feature_top_index"].long()], d["feature_top_act"])[d["feature_firing"] > 0]
    neur = S.top_token_share(flat[d["neuron_top_index"].long()], d["neuron_top_act"])[d["neuron_firing"] > 0]
    return {"features": feat.tolist(), "neurons": neur.tolist(), "k": int(d["feature_top_index"].shape[1])}
