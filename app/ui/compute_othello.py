"""Cached, lock-protected computations for the Othello-GPT widgets (see compute.py)."""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from app import zoo
from app.analysis import othello as ao
from app.tasks import othello as oth
from app.training.othello_measure import load_probes
from app.ui import cvis
from app.ui.compute import CACHE

N_SAMPLES = 6  # sample games offered on the board


@st.cache_resource(max_entries=8, show_spinner=False)
def probes(model_name: str) -> dict[str, ao.Probes]:
    return load_probes(zoo.model_dir(model_name))


@st.cache_data(max_entries=4, show_spinner=False)
def sample_games() -> list[str]:
    """A few seeded random legal games, as move lists."""
    return [oth.format_moves(g) for g in oth.random_games(N_SAMPLES, seed=7)]


def _position(moves: list[int]) -> dict:
    rec = oth.replay(moves)
    board, player = rec.boards[-1], int(rec.players[-1])
    black, white = oth.counts(board)
    return {"board": board.tolist(), "player": player, "legal": np.flatnonzero(rec.legal[-1]).tolist(),
            "over": rec.over, "black": black, "white": white, "passes": rec.passes,
            "last": int(moves[-1]) if moves else None}


def _square_probs(logits: torch.Tensor) -> list[float]:
    """(61,) token logits -> (64,) probability per square (0 on the centre squares; PAD's share left out)."""
    return ao.square_logits(logits.float()).softmax(-1).tolist()


@st.cache_data(**CACHE)
def board_view(model_name: str, moves: tuple[int, ...], layer: int, basis: str) -> dict:
    """The position, the model's next-move distribution and one probe's reading of the board."""
    pos = _position(list(moves))
    if not moves or pos["over"]:
        return pos
    n_layers = zoo.config(model_name)["n_layers"]
    name = ao.hook_name(layer, n_layers)
    tokens = torch.from_numpy(oth.encode(list(moves)))[None]  # (1, T)
    with zoo.use(model_name) as model, torch.no_grad():
        logits, cache = model.run_with_cache(tokens, names_filter=lambda n: n == name)
    resid = cache[name][0, -1].float()  # (d_model,)
    reading = probes(model_name)[basis].logits(resid[None], layer)[0].softmax(-1)  # (64, 3)
    truth = ao.board_labels(np.asarray(pos["board"])[None], np.asarray([pos["player"]]), basis)[0]  # (64,)
    return {**pos, "probs": _square_probs(logits[0, -1]), "reading": reading.tolist(), "truth": truth.tolist(),
            "basis": basis, "layer": layer}


@st.cache_data(**CACHE)
def edit_view(model_name: str, moves: tuple[int, ...], square: int, layer: int, scale: float) -> dict:
    """Predictions before and after swapping ``square`` between mine and theirs in the residual stream."""
    pos = _position(list(moves))
    if pos["over"]:
        raise ValueError("the game is over in this position: there is no next move to predict")
    edited = ao.flipped_board(np.asarray(pos["board"], dtype=np.int8), square)
    edited_legal = oth.legal_mask(edited, pos["player"])
    tokens = torch.from_numpy(oth.encode(list(moves)))[None]
    with zoo.use(model_name) as model, torch.no_grad():
        before = model(tokens)[0, -1]
        after = ao.flip_edit(model, tokens, probes(model_name)["mine_theirs"], layer, square, scale)
    legal = np.zeros(64, dtype=bool)
    legal[pos["legal"]] = True
    sq_before, sq_after = ao.square_logits(before.float()), ao.square_logits(after.float())
    return {**pos, "edited_board": edited.tolist(), "edited_legal": np.flatnonzero(edited_legal).tolist(),
            "before": sq_before.softmax(-1).tolist(), "after": sq_after.softmax(-1).tolist(),
            "match_before": ao.topk_matches(sq_before, legal), "match_after": ao.topk_matches(sq_after, edited_legal),
            "after_still_old": ao.topk_matches(sq_after, legal)}


@st.cache_data(**CACHE)
def attention(model_name: str, moves: tuple[int, ...], layer: int) -> dict:
    """One layer's attention over a game; tokens are the moves, labelled with their number and colour."""
    rec = oth.replay(list(moves))
    labels = [f"{i + 1}{'●' if rec.players[i] == oth.BLACK else '○'}{oth.square_name(m)}" for i, m in enumerate(moves)]
    name = f"blocks.{layer}.attn.hook_pattern"
    tokens = torch.from_numpy(oth.encode(list(moves)))[None]
    with zoo.use(model_name) as model, torch.no_grad():
        _, cache = model.run_with_cache(tokens, names_filter=lambda n: n == name)
    return {"tokens": labels, "cvis": cvis.attention_props(labels, cache[name][0], layer)}
