"""Cached, lock-protected computations for the reversal-curse widgets (see compute.py).

Every model run holds the zoo's lock for the model; results are plain dicts for the cache.
The scoring itself is ``app.analysis.reversal``.
"""

from __future__ import annotations

import threading
import weakref

import streamlit as st
from tokenizers import Tokenizer

from app import zoo
from app.analysis import reversal as rv
from app.training.plain_gpt import PlainGPT
from app.ui.compute import CACHE


@st.cache_resource(max_entries=4, show_spinner=False)
def word_tokenizer(model_name: str) -> Tokenizer:
    """The model's raw word-level tokenizer (the analysis encodes with it)."""
    return Tokenizer.from_file(str(zoo.model_dir(model_name) / "tokenizer.json"))


_plain: "weakref.WeakKeyDictionary[object, PlainGPT]" = weakref.WeakKeyDictionary()  # bridge -> its weights
_plain_lock = threading.Lock()


def _forward(model_name: str, model):
    """The bridge's weights as a ``PlainGPT`` (cached-prefix scoring, same numbers); the bridge itself otherwise.

    ``from_state`` shares the bridge's tensors (no copy), so the wrapper kept per loaded bridge
    always computes with the bridge's current weights; building it costs ~10 ms, once per bridge.
    """
    cfg = zoo.config(model_name)
    if not PlainGPT.supports(cfg):
        return lambda tokens: model(tokens)  # (B, T) -> (B, T, d_vocab)
    with _plain_lock:
        if model not in _plain:
            _plain[model] = PlainGPT.from_state(model.state_dict(), cfg)
        return _plain[model]


def _result(r: rv.QueryResult) -> dict:
    return {"query": r.query, "answer": r.answer, "candidates": list(r.candidates), "logprobs": list(r.logprobs),
            "rank": r.rank, "gap": r.gap, "correct_logprob": r.correct_logprob}


@st.cache_data(**CACHE)
def query(model_name: str, name: str) -> dict:
    """Forward and backward query of the fact that ``name`` (a person or a pet) belongs to."""
    world = rv.load_world(model_name)
    fact = rv.find_fact(world, name) if name else world.group("A")[0]
    if fact is None:
        raise ValueError(f"{name!r} is not in the model's world; pick a name from the list")
    tok = word_tokenizer(model_name)
    with zoo.use(model_name) as model:
        run = _forward(model_name, model)
        fwd = rv.score_query(run, tok, world, fact, "forward")
        bwd = rv.score_query(run, tok, world, fact, "backward")
        everyone = rv.candidates_logprobs(run, tok, [fact], list(world.facts), "backward")[0]  # (all,)
    best = world.facts[int(everyone.argmax())]
    return {"person": fact.person, "pet": fact.pet, "group": fact.group, "species": fact.species,
            "forward": _result(fwd), "backward": _result(bwd),
            "backward_top_anyone": {"person": best.person, "group": best.group}}


@st.cache_data(**CACHE)
def group_score(model_name: str, group: str, direction: str) -> dict:
    """One set and direction measured live on the shipped weights, with a 95% Wilson interval."""
    world = rv.load_world(model_name)
    with zoo.use(model_name) as model:
        s = rv.group_score(_forward(model_name, model), word_tokenizer(model_name), world, group, direction)
    lo, hi = rv.wilson(s.correct, s.n)
    half = 1.96 * s.gap_sd / s.n ** 0.5
    return {"group": group, "direction": direction, "n": s.n, "accuracy": s.accuracy, "correct": s.correct,
            "acc_lo": lo, "acc_hi": hi, "gap": s.gap, "gap_lo": s.gap - half, "gap_hi": s.gap + half,
            "chance": s.chance}
