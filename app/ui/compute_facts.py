"""Cached, lock-protected computations for the fact-recall widgets (see compute.py).

Every model run holds the zoo's lock for the model; results are plain dicts for the cache.
The measurements themselves are ``app.analysis.facts``.
"""

from __future__ import annotations

import streamlit as st
import torch
from tokenizers import Tokenizer

from app import zoo
from app.analysis import facts as fa
from app.tasks import facts
from app.ui.compute import CACHE
from app.widgets.facts import POSITIONS


@st.cache_resource(max_entries=4, show_spinner=False)
def word_tokenizer(model_name: str) -> Tokenizer:
    return facts.load_tokenizer(zoo.model_dir(model_name))


def _names(world, first: str, last: str) -> tuple[str, str]:
    a = world.athletes[0]
    return first or a.first_name, last or a.last_name


@st.cache_data(**CACHE)
def lookup(model_name: str, first: str, last: str, attribute: str) -> dict:
    """The model's value probabilities for one name in every template, and its last name's athletes."""
    world, tok = fa.load_world(model_name), word_tokenizer(model_name)
    first, last = _names(world, first, last)
    if first not in world.first_names or last not in world.last_names:
        raise ValueError("Pick a first and a last name from the lists.")
    athlete = world.find(first, last)
    templates = [*facts.TEMPLATES[attribute], facts.HELD_OUT[attribute]]
    texts = [t.format(name=f"{first} {last}") for t in templates]
    with zoo.use(model_name) as model:
        probs = fa.attribute_probs(model, tok, texts, attribute)  # (n_templates, n_values)
        anchor = athlete or next(a for a in world.athletes if a.last_name == last)
        table = fa.same_last_table(model, tok, world, anchor, attribute)
    values = facts.ATTRIBUTES[attribute]
    return {"name": f"{first} {last}", "tokens": tok.encode(texts[0]).tokens, "values": values,
            "true": values[athlete.attr(attribute)] if athlete else None, "texts": texts,
            "trained": [True] * len(facts.TEMPLATES[attribute]) + [False], "probs": probs.tolist(),
            "same_last": table}


@st.cache_resource(max_entries=8, show_spinner=False)
def _probe_residuals(model_name: str, attribute: str) -> torch.Tensor:
    """(n_sites, N, T, d_model): every athlete's residual stream in the attribute's probe template.

    The probe view's data set is fixed per model: one forward serves every position. Keyed by the model's
    name like the zoo itself, which loads a model's weights once per process.
    """
    world, tok = fa.load_world(model_name), word_tokenizer(model_name)
    with zoo.use(model_name) as model:
        return fa.residuals(model, tok, world, facts.TEMPLATES[attribute][0], pos=None)[1]


@st.cache_data(**CACHE)
def probes(model_name: str, attribute: str, position: str) -> dict:
    """Held-out probe accuracy at every residual site, for one attribute at one token."""
    world, tok = fa.load_world(model_name), word_tokenizer(model_name)
    pos = -1 if position == "final" else POSITIONS[position]
    res = _probe_residuals(model_name, attribute)  # (S, N, T, d)
    with zoo.use(model_name) as model:
        by_site = fa.probe_by_site(model, tok, world, attribute, pos, res=res)
    return {"sites": list(by_site), "accuracy": list(by_site.values()),
            "chance": 1 / len(facts.ATTRIBUTES[attribute]),
            "ceiling": fa.single_token_ceiling(world, attribute)}


@st.cache_resource(max_entries=4, show_spinner=False)
def _sport_runs(model_name: str) -> fa.Runs:
    """Every athlete's unpatched sport run (logits, resid_mid, mlp_out per layer): the layer views start from it."""
    world, tok = fa.load_world(model_name), word_tokenizer(model_name)
    with zoo.use(model_name) as model:
        return fa.athlete_runs(model, tok, world.athletes, "sport")


@st.cache_data(**CACHE)
def ablation(model_name: str) -> dict:
    world, tok = fa.load_world(model_name), word_tokenizer(model_name)
    runs = _sport_runs(model_name)
    with zoo.use(model_name) as model:
        return {"base": fa.runs_accuracy(runs, tok, "sport"), **fa.mlp_ablation(model, tok, world, "sport", runs=runs)}


@st.cache_data(**CACHE)
def patching(model_name: str, first: str, last: str) -> dict:
    """Share of the sport logit difference restored per (layer, position); one athlete or all."""
    world, tok = fa.load_world(model_name), word_tokenizer(model_name)
    pairs = fa.swap_pairs(world, "sport")
    if first:
        pairs = [p for p in pairs if p[0].first_name == first and p[0].last_name == last]
        if not pairs:
            raise ValueError(f"{first} {last} is not an athlete of the world.")
    runs = _sport_runs(model_name)
    with zoo.use(model_name) as model:
        grid = fa.patch_mlp_by_layer(model, tok, pairs, "sport", runs=runs)  # (L, T)
    a, b = pairs[0]
    return {"grid": grid.tolist(), "n_pairs": len(pairs),
            "positions": ["BOS", *tok.encode(facts.prompt(a, facts.TEMPLATES["sport"][0])).tokens],
            "clean": a.name, "corrupt": b.name, "clean_sport": facts.SPORTS[a.sport],
            "corrupt_sport": facts.SPORTS[b.sport]}
