"""Plotly Othello boards: stones, legal moves, the model's move probabilities, a probe's reading.

Row 1 is drawn at the top and column a at the left, as in printed game records. Every
cell carries its square index in ``customdata`` so a click on the chart names a square.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from app.analysis.othello import CLASSES
from app.tasks import othello as oth

_XY = [(sq % 8, sq // 8) for sq in range(64)]  # (column, row) of each square
_STONE = {oth.BLACK: "#111111", oth.WHITE: "#f5f5f5"}


def _frame(title: str, size: int = 380) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        title={"text": title, "font": {"size": 14}}, width=size, height=size + 10, showlegend=False,
        margin={"l": 30, "r": 10, "t": 40, "b": 10}, plot_bgcolor="#2e7d32", dragmode=False,
        xaxis={"range": [-0.5, 7.5], "tickvals": list(range(8)), "ticktext": list("abcdefgh"), "side": "top",
               "showgrid": False, "zeroline": False, "fixedrange": True},
        yaxis={"range": [7.5, -0.5], "tickvals": list(range(8)), "ticktext": [str(i) for i in range(1, 9)],
               "showgrid": False, "zeroline": False, "fixedrange": True, "scaleanchor": "x"},
    )
    for v in np.arange(-0.5, 8, 1.0):
        fig.add_shape(type="line", x0=v, x1=v, y0=-0.5, y1=7.5, line={"color": "#1b5e20", "width": 1})
        fig.add_shape(type="line", x0=-0.5, x1=7.5, y0=v, y1=v, line={"color": "#1b5e20", "width": 1})
    return fig


def _cells(fig: go.Figure, colors, hover: list[str], colorscale=None, cmax: float = 1.0) -> None:
    """One clickable square marker per cell (``customdata`` = square index)."""
    marker = {"symbol": "square", "size": 38, "color": colors, "line": {"width": 0}}
    if colorscale is not None:
        marker |= {"colorscale": colorscale, "cmin": 0.0, "cmax": cmax}
    fig.add_scatter(x=[x for x, _ in _XY], y=[y for _, y in _XY], mode="markers", marker=marker,
                    customdata=list(range(64)), hovertext=hover, hoverinfo="text")


def _stones(fig: go.Figure, board, opacity=None, highlight: int | None = None) -> None:
    board = np.asarray(board)
    for colour, fill in _STONE.items():
        squares = [sq for sq in range(64) if board[sq] == colour]
        if not squares:
            continue
        op = None if opacity is None else [float(opacity[sq]) for sq in squares]
        fig.add_scatter(x=[_XY[s][0] for s in squares], y=[_XY[s][1] for s in squares], mode="markers",
                        customdata=squares, hoverinfo="skip",
                        marker={"size": 28, "color": fill, "opacity": op,
                                "line": {"color": ["#e53935" if s == highlight else "#555555" for s in squares],
                                         "width": [3 if s == highlight else 1 for s in squares]}})


def _rings(fig: go.Figure, squares, color: str = "#fdd835", symbol: str = "circle-open", size: int = 16) -> None:
    if squares:
        fig.add_scatter(x=[_XY[s][0] for s in squares], y=[_XY[s][1] for s in squares], mode="markers",
                        customdata=list(squares), hoverinfo="skip",
                        marker={"symbol": symbol, "size": size, "color": color, "line": {"width": 2}})


def prediction_board(board, legal: list[int], probs: list[float] | None, last: int | None, title: str) -> go.Figure:
    """The position, shaded by the model's next-move probability, with legal moves ringed."""
    fig = _frame(title)
    legal_set = set(legal)
    if probs is None:
        _cells(fig, ["rgba(0,0,0,0)"] * 64,
               [f"{oth.square_name(s)}{' · legal' if s in legal_set else ''}" for s in range(64)])
    else:
        hover = [f"{oth.square_name(s)} · model p={probs[s]:.3f}{' · legal' if s in legal_set else ' · illegal'}"
                 for s in range(64)]
        _cells(fig, probs, hover, colorscale=[[0, "rgba(46,125,50,0)"], [1, "#ffb300"]], cmax=max(max(probs), 1e-6))
    _stones(fig, board, highlight=last)
    _rings(fig, sorted(legal_set))
    return fig


def probe_board(reading: list[list[float]], truth: list[int], basis: str, player: int, title: str) -> go.Figure:
    """What a probe reads: a stone of the class it picks, as opaque as its confidence; red x where it is wrong."""
    fig = _frame(title)
    reading_arr = np.asarray(reading)  # (64, 3)
    pred = reading_arr.argmax(-1)
    conf = reading_arr.max(-1)
    names = CLASSES[basis]
    hover = [f"{oth.square_name(s)} · probe: {names[pred[s]]} ({conf[s]:.2f}) · true: {names[truth[s]]}"
             for s in range(64)]
    _cells(fig, ["rgba(0,0,0,0)"] * 64, hover)
    if basis == "mine_theirs":  # draw mine/theirs in the colours they stand for in this position
        colour = np.where(pred == 0, 0, np.where(pred == 1, player, -player))
    else:
        colour = np.where(pred == 0, 0, np.where(pred == 1, oth.BLACK, oth.WHITE))
    _stones(fig, colour, opacity=np.clip(conf, 0.15, 1.0))
    wrong = [s for s in range(64) if pred[s] != truth[s]]
    _rings(fig, wrong, color="#e53935", symbol="x-thin-open", size=26)
    return fig


def probability_bars(before: list[float], after: list[float], legal: list[int], edited_legal: list[int]):
    """Top squares by probability before and after an edit, coloured by legality on the edited board."""
    order = sorted(range(64), key=lambda s: -max(before[s], after[s]))[:12]
    names = [oth.square_name(s) for s in order]
    fig = go.Figure()
    fig.add_bar(x=names, y=[before[s] for s in order], name="before the edit", marker_color="#90a4ae")
    fig.add_bar(x=names, y=[after[s] for s in order], name="after the edit", marker_color="#fb8c00")
    for i, s in enumerate(order):
        tag = ("legal both" if s in legal and s in edited_legal else "newly legal" if s in edited_legal
               else "no longer legal" if s in legal else "illegal")
        fig.add_annotation(x=names[i], y=max(before[s], after[s]), text=tag, showarrow=False, yshift=10,
                           font={"size": 9})
    fig.update_layout(barmode="group", height=320, yaxis_title="probability", margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      legend={"orientation": "h", "y": 1.15})
    return fig
