"""Cached, lock-protected calls from widgets into app.analysis.

Results are cached per argument tuple with bounded ``st.cache_data`` (shared across
sessions); every model run holds that model's zoo lock. Returned values are plain
lists / dicts so the cache can copy them and figures can use them directly.
"""

from __future__ import annotations

import streamlit as st
import torch

from app import prompts, zoo
from app.analysis import circuits
from app.analysis.skip_trigrams import skip_trigrams as _skip_trigrams
from app.prompts import token_label
from app.ui import cvis

CACHE = dict(max_entries=256, show_spinner=False)
N_SPECIAL = 3  # BOS, PAD, UNK come first in the vocabulary


def _labels(model, ids) -> list[str]:
    return [token_label(model.to_string(torch.tensor([int(i)]))) for i in ids]


@st.cache_data(**CACHE)
def direct_path(model_name: str, token_text: str, k: int) -> dict:
    text, _ = prompts.clean(token_text, 100)
    if not text:
        raise ValueError("Type a token (for example ' self' or 'import').")
    with zoo.use(model_name) as model:
        ids = model.to_tokens(text, prepend_bos=False)[0]
        tok_id = int(ids[0])
        top = circuits.top_in_row(circuits.direct_path(model), tok_id, k)
        note = f" — the text has {len(ids)} tokens; using the first" if len(ids) > 1 else ""
        return {"token": token_label(model.to_string(ids[:1])), "token_id": tok_id, "note": note,
                "labels": _labels(model, top.ids), "logits": top.scores}


# a result holds every head's full attention pattern (up to ~5 MB pickled): few entries keep the
# cache bounded in bytes as well as in count (bench/soak.py measures the server's RSS)
@st.cache_data(max_entries=16, show_spinner=False)
def attention(model_name: str, text: str, layer: int) -> dict:
    with zoo.use(model_name) as model:
        prompt = prompts.to_prompt(model, text)
        name = f"blocks.{layer}.attn.hook_pattern"
        with torch.no_grad():
            _, cache = model.run_with_cache(prompt.tokens[None], names_filter=lambda n: n == name)
        pattern = cache[name][0]  # (head, query, key)
        labels = _labels(model, prompt.tokens)
        return {"tokens": labels, "cvis": cvis.attention_props(labels, pattern, layer), "notes": list(prompt.notes)}


@st.cache_data(**CACHE)
def circuit(model_name: str, layer: int, head: int, kind: str, token_text: str) -> dict:
    text, _ = prompts.clean(token_text, 400)
    with zoo.use(model_name) as model:
        ids = model.to_tokens(text, prepend_bos=False)[0].tolist() if text.strip() else []
        ids = list(dict.fromkeys(ids))[:40]  # unique, in order, at most 40
        if not ids:
            raise ValueError("Type a few words or code tokens to label the map.")
        fm = circuits.ov_circuit(model, layer, head) if kind == "OV" else circuits.qk_circuit(model, layer, head)
        block = circuits.block(fm, ids, ids)
        pairs = circuits.top_pairs(fm, 15, exclude=set(range(N_SPECIAL)))
        rows = [{"from": a, "to": b, "score": round(s, 3)}
                for a, b, s in zip(_labels(model, pairs.rows), _labels(model, pairs.cols), pairs.scores)]
        return {"labels": _labels(model, ids), "block": block.tolist(), "pairs": rows}


@st.cache_data(**CACHE)
def copying(model_name: str, layer: int, head: int) -> dict:
    with zoo.use(model_name) as model:
        scores = circuits.copying_scores(model)
        eig = circuits.ov_eigenvalues(model, layer, head)
        return {"scores": scores.tolist(), "eig_re": eig.real.tolist(), "eig_im": eig.imag.tolist(),
                "score": circuits.copying_score(eig)}


@st.cache_data(**CACHE)
def skip_trigrams(model_name: str, text: str, position: int, k: int) -> dict:
    with zoo.use(model_name) as model:
        prompt = prompts.to_prompt(model, text)
        seq = prompt.tokens.shape[0]
        notes = list(prompt.notes)
        if position >= seq:
            notes.append(f"position {position} is past the last token ({seq - 1}); using the last token")
            position = -1
        found = _skip_trigrams(model, prompt.tokens, position, k)
        rows = [{"head": f"L0H{t.head}", "A (attended)": f"{token_label(model.to_string(torch.tensor([t.src_token])))} @{t.src_pos}",
                 "attention": round(t.attention, 3), "B (current)": token_label(model.to_string(torch.tensor([t.dest_token]))),
                 "C (raised by A's OV)": "  ".join(_labels(model, t.predicted)),
                 "OV logit": round(t.ov_logits[0], 2)} for t in found]
        return {"rows": rows, "notes": notes, "position": position % seq,
                "dest": token_label(model.to_string(prompt.tokens[position:][:1]))}


@st.cache_data(**CACHE)
def composition(model_name: str) -> dict:
    with zoo.use(model_name) as model:
        out = {mode: circuits.composition_scores(model, mode).tolist() for mode in "QKV"}
    # measured by the recipe and asserted by tests/test_models.py; recomputing it costs ~650 ms
    out["baseline"] = zoo.metrics(model_name)["k_composition_max"]["random_baseline"]
    return out
