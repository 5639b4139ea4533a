"""Cached, lock-protected computations for the IOI widgets (see compute.py).

Every model run holds the zoo's lock for the model; results are plain lists / dicts for the cache.
The measurements themselves are ``app.analysis.ioi`` (Wang et al. 2022, https://arxiv.org/abs/2211.00593).
``dla`` and ``patch`` also run on the optional hub model (``HUB_MODEL``, GPT-2 small via ``app.hub``): the
same analysis functions, on a batch tokenized by the hub model's own tokenizer.
"""

from __future__ import annotations

import streamlit as st
import torch
from tokenizers import Tokenizer

from contextlib import contextmanager

from app import hub, prompts, zoo
from app.analysis import ioi as A
from app.tasks import ioi
from app.ui.compute import CACHE
from app.widgets.ioi import HUB_MODEL


@contextmanager
def _model_and_batch(model_name: str, template: int, order: str):
    """(model, batch, corrupt(batch, kind) -> tokens) under the model's lock, for a zoo model or the hub model."""
    if model_name == HUB_MODEL:
        with hub.use() as model:  # HubUnavailable (a ValueError) when hub models are off or unreachable
            batch = hub.standard_batch(model, template, order)
            yield model, batch, lambda kind: hub.corrupted(model, batch, kind)
        return
    tok = word_tokenizer(model_name)
    batch = A.standard_batch(tok, template, order)
    with zoo.use(model_name) as model:
        yield model, batch, lambda kind: A.corrupted(tok, batch, kind)


@st.cache_resource(max_entries=4, show_spinner=False)
def word_tokenizer(model_name: str) -> Tokenizer:
    return ioi.load_tokenizer(zoo.model_dir(model_name))


def encode_text(model_name: str, text: str) -> tuple[list[int], list[str], list[str]]:
    """(ids with BOS, token strings, notes) for free text; unknown words and over-long text are reported."""
    tok = word_tokenizer(model_name)
    text, notes = prompts.clean(text)
    if not text.strip():
        raise ValueError("The text is empty: type a sentence that ends right before a name, or use the builder.")
    enc = tok.encode(text)
    words = [text[a:b] for (a, b), i in zip(enc.offsets, enc.ids) if i == tok.token_to_id(ioi.UNK)]
    if words:
        notes.append(f"{len(words)} word(s) are not in the model's word-level vocabulary and became <|unk|>: "
                     f"{', '.join(dict.fromkeys(words))[:200]}")
    ids = ioi.encode(tok, text)
    n_ctx = zoo.config(model_name)["n_ctx"]
    if len(ids) > n_ctx:
        notes.append(f"{len(ids)} tokens is over the model's context of {n_ctx}: only the last {n_ctx - 1} are used")
        ids = ids[:1] + ids[-(n_ctx - 1):]
    return ids, [tok.id_to_token(i) for i in ids], notes


@st.cache_data(**CACHE)
def prompt_run(model_name: str, text: str, io: str, s: str, k: int = 10) -> dict:
    """Top next tokens and the IO - S logit difference after ``text``."""
    tok = word_tokenizer(model_name)
    ids, tokens, notes = encode_text(model_name, text)
    with zoo.use(model_name) as model:
        top = A.top_tokens(model, tok, ids, k)
        logits = model(torch.tensor([ids]))[0, -1]  # (V,)
    diff = float(logits[tok.token_to_id(io)] - logits[tok.token_to_id(s)])
    return {"tokens": tokens, "notes": notes, "top": top, "logit_diff": diff}


@st.cache_data(**CACHE)
def dla(model_name: str, template: int, order: str) -> dict:
    with _model_and_batch(model_name, template, order) as (model, batch, _):
        d = A.dla(model, batch)
    return {"heads": d.heads.tolist(), "layer_src": d.layer_src.tolist(), "labels": batch.labels,
            "mlp": None if d.mlp is None else d.mlp.tolist(), "embed": d.embed, "total": d.total,
            "example": batch.prompts[0].text, "n": len(batch.prompts)}


@st.cache_data(max_entries=64, show_spinner=False)
def patch(model_name: str, template: int, order: str, corruption: str, site: str) -> dict:
    """Noising sweep; the progress bar lives inside the cached function (a cache hit replays no bar)."""
    text = "Patching, one layer at a time…"
    bar = st.progress(0.0, text=text)
    try:
        with _model_and_batch(model_name, template, order) as (model, batch, corrupt):
            p = A.patch(model, batch, corrupt(corruption), site=site,
                        progress=lambda f: bar.progress(min(f, 1.0), text=f"{text} {f:.0%}"))
    finally:
        bar.empty()
    return {"values": p.values.tolist(), "labels": batch.labels, "clean": p.clean, "corrupted": p.corrupted,
            "example": batch.prompts[0].text, "example_bad": ioi.corrupt(batch.prompts[0], corruption).text}


@st.cache_data(**CACHE)
def knockout(model_name: str, template: int, order: str, heads: tuple[tuple[int, int], ...]) -> dict:
    """Every head's attention from END, intact and with ``heads`` mean-ablated at END over the ABC twins."""
    with _model_and_batch(model_name, template, order) as (model, batch, corrupt):
        intact = A.knockout(model, batch, [])
        out = A.knockout(model, batch, list(heads), corrupt("abc")) if heads else intact
    lists = lambda k: {r: v.tolist() for r, v in k.attention.items()}  # noqa: E731
    return {"intact": lists(intact), "out": lists(out), "ld_intact": intact.logit_diff, "ld_out": out.logit_diff,
            "example": batch.prompts[0].text, "n": len(batch.prompts)}


@st.cache_data(**CACHE)
def compare(model_name: str, n: int) -> dict:
    """Logit difference on standard held-out prompts and on prompts with filler and spans after S2."""
    tok = word_tokenizer(model_name)
    out = {}
    with zoo.use(model_name) as model:
        for label, varied in (("standard", False), ("filler + spans after S2", True)):
            out[label] = A.evaluate(model, tok, ioi.prompts(n, "test", seed=2, gaps=varied, prefix=varied))
        attn = A.attention_to_roles(model, A.standard_batch(tok, 11, "ABBA"))
    return {"eval": out, "attention": {k: v.tolist() for k, v in attn.items()}}
