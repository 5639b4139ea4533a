"""Cached, lock-protected computations for the induction-heads widgets (see compute.py)."""

from __future__ import annotations

import streamlit as st
import torch
from safetensors.torch import load_file

from app import prompts, zoo
from app.analysis import heads, induction
from app.prompts import token_label
from app.training.measure import head_label
from app.ui import cvis
from app.ui.compute import CACHE, _labels

ABLATION_BATCH = 8


@st.cache_data(max_entries=8, show_spinner=False)
def word_vocab(model_name: str) -> list[int]:
    with zoo.use(model_name) as model:
        return induction.detector_vocab(model, zoo.repeat_vocab(model_name))


# a result holds every head's full attention pattern (up to ~5 MB pickled): few entries keep the
# cache bounded in bytes as well as in count (bench/soak.py measures the server's RSS)
@st.cache_data(max_entries=16, show_spinner=False)
def repeated(model_name: str, step: int | None, half_len: int, seed: int, layer: int) -> dict:
    vocab = word_vocab(model_name)
    with zoo.use(model_name, step) as model:
        text, tokens = induction.repeated_text(model, vocab, half_len, seed)
        scores = induction.detector_scores(model, text)
        name = f"blocks.{layer}.attn.hook_pattern"
        with torch.no_grad():
            _, cache = model.run_with_cache(tokens[None], names_filter=lambda n: n == name)
        cfg = model.cfg
        table = [{"head": head_label(l, h), **{k.replace("_head", ""): round(float(v[l, h]), 3) for k, v in scores.items()}}
                 for l in range(cfg.n_layers) for h in range(cfg.n_heads)]
        return {"cvis": cvis.attention_props(_labels(model, tokens), cache[name][0], layer), "table": table}


@st.cache_data(max_entries=32, show_spinner=False)
def _means(model_name: str, step: int | None) -> torch.Tensor:
    eval_tokens = load_file(zoo.model_dir(model_name) / "eval_tokens.safetensors")["tokens"].long()
    with zoo.use(model_name, step) as model:
        return induction.head_means(model, eval_tokens[:8])


@st.cache_data(**CACHE)
def ablation(model_name: str, step: int | None, head_list: tuple, mode: str, half_len: int, seed: int) -> dict:
    means = _means(model_name, step) if mode == "mean" else None
    with zoo.use(model_name, step) as model:
        toks = heads.repeated_tokens(model.cfg.d_vocab, half_len, ABLATION_BATCH, seed, vocab=zoo.repeat_vocab(model_name))
        before = heads.per_token_loss(model, toks).mean(0)  # (seq-1,)
        after = induction.ablated_loss(model, toks, list(head_list), means).mean(0) if head_list else before
    return {"before": before.tolist(), "after": after.tolist(), "half_len": half_len,
            "before_halves": heads.half_losses(before, half_len), "after_halves": heads.half_losses(after, half_len)}


@st.cache_data(**CACHE)
def induction_text(model_name: str, text: str, layer: int, head: int) -> dict:
    with zoo.use(model_name) as model:
        prompt = prompts.to_prompt(model, text)
        guesses, true_next = induction.induction_guesses(model, prompt.tokens, layer, head)
        labels = _labels(model, prompt.tokens)
        rows = [{"position": g.pos, "current": labels[g.pos], "seen before at": g.prev,
                 "induction guess": token_label(model.to_string(torch.tensor([g.guess]))),
                 "P(guess)": round(g.prob, 3), "model's top-1": token_label(model.to_string(torch.tensor([g.top1]))),
                 f"L{layer}H{head} attention to guess": round(g.attention, 3)} for g in guesses]
        values = [0.0] + [float(v) for v in true_next[:-1]]  # colour token t by P(t | tokens before it)
        return {"tokens": labels, "values": values, "rows": rows, "notes": list(prompt.notes)}
