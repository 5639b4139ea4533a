"""Widgets for Othello-GPT (Li et al. 2023) and its mine/theirs probes (Nanda 2023)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from app import zoo
from app.tasks import othello as oth
from app.ui import compute_othello as co
from app.ui import cvis
from app.ui.othello_figures import prediction_board, probability_bars, probe_board
from app.ui.params import commit, from_url, seed, show_code, state_key
from app.ui.widgets.framework import _compute
from app.widgets.othello import (
    MAX_MOVES_CHARS,
    BoardParams,
    EditParams,
    OthelloAttentionParams,
    OthelloTrainingParams,
    ProbeLayersParams,
)

_LAYER_HELP = "0 = the embeddings; k = the residual stream after block k"


def _layer_label(layer: int) -> str:
    return "embeddings" if layer == 0 else f"after block {layer}"


def _parsed(text: str) -> list[int] | None:
    try:
        return oth.parse_moves(text) if text.strip() else []
    except ValueError:
        return None


# --- board: callbacks run before the script, so they may set the move box's state ---------------

def _shown(key: str) -> list[int]:
    """The moves up to the scrubber's position (the position on the board)."""
    moves = _parsed(st.session_state.get(state_key(key, "moves"), "")) or []
    upto = st.session_state.get(state_key(key, "upto"), -1)
    return moves if upto < 0 else moves[:upto]


def _set_moves(key: str, moves: list[int], message: str | None = None) -> None:
    st.session_state[state_key(key, "moves")] = oth.format_moves(moves)
    st.session_state[state_key(key, "upto")] = -1
    st.session_state[f"{key}.__msg"] = message


def _playable(key: str) -> tuple[list[int], object] | None:
    """The shown moves and their replay, or None with a message when the list is bad or the game is over."""
    moves = _shown(key)
    try:
        rec = oth.replay(moves)
    except ValueError as err:
        st.session_state[f"{key}.__msg"] = str(err)
        return None
    if rec.over:
        st.session_state[f"{key}.__msg"] = "The game is over: neither side can move."
        return None
    return moves, rec


def _play(key: str, square: int) -> None:
    if (found := _playable(key)) is None:
        return
    moves, rec = found
    legal = np.flatnonzero(rec.legal[-1]).tolist()
    if square not in legal:
        side = "Black" if rec.players[-1] == oth.BLACK else "White"
        st.session_state[f"{key}.__msg"] = (f"{oth.square_name(square)} is not a legal move for {side} here. Legal moves: "
                                            f"{', '.join(oth.square_name(s) for s in legal)}.")
    else:
        _set_moves(key, [*moves, square])


def _on_click(key: str) -> None:
    event = st.session_state.get(f"{key}.__board")
    points = (event or {}).get("selection", {}).get("points", []) if isinstance(event, dict) else \
        getattr(getattr(event, "selection", None), "points", [])
    if points:
        p = points[0]
        _play(key, int(round(p["y"])) * 8 + int(round(p["x"])))


def _random_move(key: str) -> None:
    if (found := _playable(key)) is not None:
        moves, rec = found
        _set_moves(key, [*moves, int(np.random.default_rng().choice(np.flatnonzero(rec.legal[-1])))])


def _load_sample(key: str) -> None:
    choice = st.session_state.get(f"{key}.__sample", 0)
    if choice:
        _set_moves(key, oth.parse_moves(co.sample_games()[choice - 1]))


def _status(v: dict) -> str:
    score = f"black {v['black']} – white {v['white']}"
    if v["over"]:
        return f"Game over · {score}."
    side = "Black (●)" if v["player"] == oth.BLACK else "White (○)"
    passed = " (the other side had to pass)" if v["passes"] and v["passes"][-1] == len(v.get("moves", [])) else ""
    return f"{side} to move{passed} · {len(v['legal'])} legal moves · {score}."


def othello_board_ui(key: str, defaults: BoardParams) -> None:
    seed(key, from_url(key, defaults))
    st.session_state.setdefault(state_key(key, "upto"), -1)
    n_layers = zoo.config(defaults.model)["n_layers"]
    c = st.columns([3, 1, 1, 1])
    c[0].selectbox("Load a sample game", range(len(co.sample_games()) + 1), key=f"{key}.__sample",
                   format_func=lambda i: "—" if i == 0 else f"Random legal game #{i}", on_change=_load_sample, args=(key,))
    c[1].button("Undo", key=f"{key}.__undo", on_click=lambda: _set_moves(key, _shown(key)[:-1]), width="stretch")
    c[2].button("Random move", key=f"{key}.__rand", on_click=_random_move, args=(key,), width="stretch")
    c[3].button("Reset", key=f"{key}.__reset", on_click=lambda: _set_moves(key, []), width="stretch")
    moves_text = st.text_input("Moves so far (click the board, or type or paste a game record)", key=state_key(key, "moves"),
                               max_chars=MAX_MOVES_CHARS, placeholder="e.g. f5 d6 c3")
    moves = _parsed(moves_text)
    n = len(moves or [])
    if n:
        sk = state_key(key, "upto")
        if not 0 <= st.session_state[sk] <= n:
            st.session_state[sk] = n
        st.slider("Show the position after move", 0, n, key=sk)
    cols = st.columns([2, 3])
    layer = cols[0].slider("Probe layer", 0, n_layers, key=state_key(key, "layer"), help=_LAYER_HELP)
    basis = cols[1].radio("Probe labels", ["mine_theirs", "black_white"], horizontal=True, key=state_key(key, "basis"),
                          format_func=lambda b: {"mine_theirs": "mine / theirs / empty",
                                                 "black_white": "black / white / empty"}[b])
    params = commit(key, defaults, {"moves": moves_text, "layer": layer, "basis": basis})
    if params is None:
        return
    upto = st.session_state[state_key(key, "upto")] if n else -1
    shown = tuple(params.move_list if upto < 0 or upto >= n else params.move_list[:upto])
    message = st.session_state.get(f"{key}.__msg")
    if message:
        st.warning(message, icon=":material/block:")
        st.session_state[f"{key}.__msg"] = None
    v = _compute(co.board_view, params.model, shown, params.layer, params.basis)
    if v is None:
        return
    st.markdown(_status({**v, "moves": shown}))
    title = "Model: next-move probability" if "probs" in v else "Legal moves (ringed)"
    st.plotly_chart(prediction_board(v["board"], v["legal"], v.get("probs"), v["last"], title), key=f"{key}.__board",
                    on_select=lambda: _on_click(key), selection_mode="points", width="content",
                    config={"displayModeBar": False})
    if "probs" not in v:
        st.info("The model reads the moves played so far: play the first move (black), or load a sample game, to see "
                "its predictions and what the probe reads." if not v["over"] else
                "The game is over, so there is no next move to predict.", icon=":material/touch_app:")
        show_code(params)
        return
    probs = np.asarray(v["probs"])
    top = int(probs.argmax())
    verdict = "legal" if top in v["legal"] else "**illegal**"
    st.markdown(f"Click a ringed square to play it; amber shading is the model's probability. Its top move: "
                f"**{oth.square_name(top)}** ({probs[top]:.0%}, {verdict}); {probs[v['legal']].sum():.1%} of its "
                "probability is on legal moves.")
    st.plotly_chart(probe_board(v["reading"], v["truth"], v["basis"], v["player"],
                                f"Probe at layer {params.layer} ({_layer_label(params.layer)})"),
                    key=f"{key}.__probe", width="content", config={"displayModeBar": False})
    wrong = int((np.asarray(v["reading"]).argmax(-1) != np.asarray(v["truth"])).sum())
    st.markdown(f"What the linear probe reads (faint = unsure; red ✕ = wrong): **{wrong}** of 64 squares wrong.")
    show_code(params)


def othello_probe_layers_ui(key: str, defaults: ProbeLayersParams) -> None:
    params = from_url(key, defaults)
    m = zoo.metrics(params.model)
    mt, bw = m["probe_acc_mine_theirs"], m["probe_acc_black_white"]
    x = [_layer_label(i) for i in range(len(mt))]
    fig = go.Figure()
    fig.add_scatter(x=x, y=mt, name="mine / theirs / empty", mode="lines+markers")
    fig.add_scatter(x=x, y=bw, name="black / white / empty", mode="lines+markers")
    fig.add_hline(y=m["probe_acc_all_empty"], line_dash="dot", annotation_text="always 'empty'",
                  annotation_position="bottom right")
    fig.update_layout(height=360, yaxis_title="accuracy per square (held-out games)", yaxis_range=[0.4, 1.0],
                      margin={"l": 10, "r": 10, "t": 30, "b": 10}, legend={"orientation": "h", "y": 1.12})
    st.plotly_chart(fig, key=f"{key}.__fig")
    best = max(range(len(mt)), key=mt.__getitem__)
    st.markdown(f"Best mine/theirs layer: **{_layer_label(best)}** ({mt[best]:.1%}); black/white at the same layer: "
                f"**{bw[best]:.1%}**. Measured on {m['training'].get('probe_games', 'held-out')} fresh games' positions "
                "by the recipe, and re-measured by the tests.")
    show_code(params)


def othello_edit_ui(key: str, defaults: EditParams) -> None:
    seed(key, from_url(key, defaults))
    n_layers = zoo.config(defaults.model)["n_layers"]
    moves_text = st.text_input("Position (moves so far)", key=state_key(key, "moves"), max_chars=MAX_MOVES_CHARS)
    moves = _parsed(moves_text)
    stones = []
    if moves:
        try:
            board = oth.replay(moves).boards[-1]
            stones = [oth.square_name(int(s)) for s in np.flatnonzero(board)]
        except ValueError:
            pass
    sk = state_key(key, "square")
    if stones and st.session_state.get(sk) not in stones:
        st.session_state[sk] = stones[0]
    cols = st.columns(3)
    square = cols[0].selectbox("Stone to swap", stones or [st.session_state.get(sk, "d4")], key=sk)
    layer = cols[1].slider("Edit from layer", 0, n_layers - 1, key=state_key(key, "layer"), help=_LAYER_HELP)
    scale = cols[2].slider("Strength", 0.5, 8.0, step=0.5, key=state_key(key, "scale"))
    params = commit(key, defaults, {"moves": moves_text, "square": square, "layer": layer, "scale": float(scale)})
    if params is None:
        return
    sq = oth.parse_square(params.square)
    v = _compute(co.edit_view, params.model, tuple(params.move_list), sq, params.layer, params.scale)
    if v is None:
        return
    tabs = st.tabs(["Edited board: model after the edit", "Real board: model before the edit"])
    with tabs[0]:
        st.plotly_chart(prediction_board(v["edited_board"], v["edited_legal"], v["after"], sq,
                                         f"{params.square} swapped; model after the edit"),
                        key=f"{key}.__b1", width="content", config={"displayModeBar": False})
    with tabs[1]:
        st.plotly_chart(prediction_board(v["board"], v["legal"], v["before"], sq, "Real board; model before the edit"),
                        key=f"{key}.__b0", width="content", config={"displayModeBar": False})
    st.plotly_chart(probability_bars(v["before"], v["after"], v["legal"], v["edited_legal"]), key=f"{key}.__bars")
    changed = set(v["legal"]) != set(v["edited_legal"])
    verdict = "match" if v["match_after"] else "do not match"
    st.markdown(
        f"After the edit, the model's top {len(v['edited_legal'])} moves **{verdict}** the edited board's legal moves"
        + ("" if changed else " (this swap does not change which moves are legal, so it is a weak test)")
        + f". Before the edit its top {len(v['legal'])} {'matched' if v['match_before'] else 'did not match'} the real "
          f"board's.")
    show_code(params)


def othello_attention_ui(key: str, defaults: OthelloAttentionParams) -> None:
    seed(key, from_url(key, defaults))
    n_layers = zoo.config(defaults.model)["n_layers"]
    moves_text = st.text_input("Game (moves)", key=state_key(key, "moves"), max_chars=MAX_MOVES_CHARS)
    layer = st.selectbox("Layer", list(range(n_layers)), key=state_key(key, "layer"))
    params = commit(key, defaults, {"moves": moves_text, "layer": layer})
    if params is None:
        return
    if not params.move_list:
        st.info("Type at least one move.", icon=":material/edit:")
        return
    r = _compute(co.attention, params.model, tuple(params.move_list), params.layer)
    if r is not None:
        cvis.show("AttentionPatterns", height=560, props=r["cvis"])
        st.caption("Tokens are moves: number, colour (● black, ○ white) and square.")
    show_code(params)


def othello_training_ui(key: str, defaults: OthelloTrainingParams) -> None:
    params = from_url(key, defaults)
    curve = zoo.curve(params.model)
    if not curve:
        st.info("This model has no training record.")
        return
    steps = [p["step"] for p in curve]
    fig = go.Figure()
    fig.add_scatter(x=steps, y=[p["legal_top1"] for p in curve], name="top-1 move is legal", yaxis="y")
    fig.add_scatter(x=steps, y=[p["val_loss"] for p in curve], name="held-out loss (nats)", yaxis="y2")
    fig.update_layout(height=340, xaxis_title="training step", margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      yaxis={"title": "legal share", "range": [0, 1.01]},
                      yaxis2={"title": "loss", "overlaying": "y", "side": "right", "showgrid": False},
                      legend={"orientation": "h", "y": 1.15})
    st.plotly_chart(fig, key=f"{key}.__fig")
    show_code(params)
