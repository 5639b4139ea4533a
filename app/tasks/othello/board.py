"""The scalar Othello engine: square names, the start position, legal moves, flips, passes.

Plain Python over one board at a time, written for clarity; ``batch.py`` is the fast
vectorised twin, and the tests replay its games through this module move by move.

A board is an int8 array of 64 squares (row-major, ``index = row * 8 + col``) holding
``BLACK = 1``, ``WHITE = -1`` or ``EMPTY = 0``. A square's name is its column letter then its
row number: ``"a1"`` is index 0, ``"h1"`` index 7, ``"a2"`` index 8, ``"h8"`` index 63. This is
the usual tournament notation (row 1 at the top), so published game records replay as written.
Rules as in the World Othello Federation rules: black moves first; a move must flip at least
one opposing stone along a row, column or diagonal; a player with no move passes; the game
ends when neither side can move.
"""

from __future__ import annotations

import re

import numpy as np

BLACK, WHITE, EMPTY = 1, -1, 0
COLOR_NAMES = {BLACK: "black", WHITE: "white"}
FILES = "abcdefgh"
CENTRE = (27, 28, 35, 36)  # d4, e4, d5, e5: occupied from the start, never played
_DIRECTIONS = [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (dr, dc) != (0, 0)]
_NAME_RE = re.compile(r"([a-h])([1-8])")


def _rays(sq: int) -> list[list[int]]:
    """The squares met walking from ``sq`` in each of the 8 directions (empty walks dropped)."""
    row, col = divmod(sq, 8)
    rays = []
    for dr, dc in _DIRECTIONS:
        ray, r, c = [], row + dr, col + dc
        while 0 <= r < 8 and 0 <= c < 8:
            ray.append(r * 8 + c)
            r, c = r + dr, c + dc
        if ray:
            rays.append(ray)
    return rays


RAYS = [_rays(sq) for sq in range(64)]


def square_name(sq: int) -> str:
    """``0 -> "a1"``, ``19 -> "d3"``, ``63 -> "h8"`` (letter = column, number = row)."""
    if isinstance(sq, bool) or not isinstance(sq, (int, np.integer)) or not 0 <= sq < 64:
        raise ValueError(f"square index must be an integer 0..63, got {sq!r}")
    row, col = divmod(int(sq), 8)
    return f"{FILES[col]}{row + 1}"


def parse_square(name: str) -> int:
    """``"c4" -> 26``: column letter a-h, row digit 1-8 (case and surrounding spaces ignored)."""
    text = name.strip().lower() if isinstance(name, str) else None
    m = _NAME_RE.fullmatch(text) if text else None
    if m is None:
        raise ValueError(f"{name!r} is not a square: write a column letter a-h then a row 1-8, like 'c4'")
    return (int(m.group(2)) - 1) * 8 + FILES.index(m.group(1))


def parse_moves(text: str) -> list[int]:
    """A move list as written in game records: ``"f5d6c3"``, ``"F5 d6, c3"`` -> ``[37, 43, 18]``."""
    cleaned = re.sub(r"[\s,;]+", "", text.lower()) if isinstance(text, str) else None
    if cleaned is None or len(cleaned) % 2 or not all(_NAME_RE.fullmatch(cleaned[i:i + 2])
                                                      for i in range(0, len(cleaned), 2)):
        raise ValueError(f"{str(text)[:40]!r} is not a move list: write squares like 'f5d6c3' or 'f5 d6 c3'")
    return [parse_square(cleaned[i:i + 2]) for i in range(0, len(cleaned), 2)]


def format_moves(moves) -> str:
    """``[37, 43, 18] -> "f5 d6 c3"`` (padding ``-1`` entries skipped)."""
    return " ".join(square_name(int(m)) for m in moves if int(m) >= 0)


def start_board() -> np.ndarray:
    """The opening position: d4 and e5 white, e4 and d5 black. (64,) int8."""
    board = np.zeros(64, dtype=np.int8)
    board[[27, 36]] = WHITE  # d4, e5
    board[[28, 35]] = BLACK  # e4, d5
    return board


def _check(board, player: int) -> list[int]:
    arr = np.asarray(board)
    if arr.size != 64 or not np.isin(arr, (BLACK, WHITE, EMPTY)).all():
        raise ValueError(f"a board is 64 squares of 1 (black), -1 (white) or 0 (empty); got shape {arr.shape}")
    if player not in (BLACK, WHITE):
        raise ValueError(f"player must be 1 (black) or -1 (white), got {player!r}")
    return [int(v) for v in arr.reshape(-1).tolist()]


def _flips(cells: list[int], player: int, sq: int) -> list[int]:
    """Opposing stones that a stone of ``player`` on empty ``sq`` would flip, in ray order."""
    out = []
    for ray in RAYS[sq]:
        run = []
        for s in ray:
            v = cells[s]
            if v == -player:
                run.append(s)
                continue
            if v == player:
                out.extend(run)
            break
    return out


def flips(board, player: int, sq: int) -> list[int]:
    """Squares flipped if ``player`` plays ``sq`` (sorted; empty if the move is illegal)."""
    cells = _check(board, player)
    square_name(sq)  # validates the index
    if cells[sq] != EMPTY:
        return []
    return sorted(_flips(cells, player, sq))


def legal_moves(board, player: int) -> list[int]:
    """Sorted squares where ``player`` may play: empty and flipping at least one stone."""
    cells = _check(board, player)
    return [sq for sq in range(64) if cells[sq] == EMPTY and _flips(cells, player, sq)]


def legal_mask(board, player: int) -> np.ndarray:
    """``legal_moves`` as a (64,) bool mask."""
    mask = np.zeros(64, dtype=bool)
    mask[legal_moves(board, player)] = True
    return mask


def play(board, player: int, sq: int) -> np.ndarray:
    """A new board (same shape) after ``player`` plays ``sq``; ValueError naming the square if illegal."""
    cells = _check(board, player)
    name = square_name(sq)
    color = COLOR_NAMES[player]
    if cells[sq] != EMPTY:
        raise ValueError(f"{name} is not a legal move for {color}: the square is already taken")
    flipped = _flips(cells, player, sq)
    if not flipped:
        legal = ", ".join(square_name(s) for s in legal_moves(board, player)) or "none (pass)"
        raise ValueError(f"{name} is not a legal move for {color}: it flips no stone; legal moves: {legal}")
    new = np.array(board, dtype=np.int8, copy=True)
    flat = new.reshape(-1)  # a view on ``new``
    flat[flipped] = player
    flat[sq] = player
    return new


def next_player(board, player: int) -> int:
    """Who moves after ``player`` has moved: the opponent, ``player`` again if the opponent
    must pass, or 0 when neither side can move (game over)."""
    if legal_moves(board, -player):
        return -player
    if legal_moves(board, player):
        return player
    return 0


def counts(board) -> tuple[int, int]:
    """(black stones, white stones)."""
    arr = np.asarray(board)
    return int((arr == BLACK).sum()), int((arr == WHITE).sum())


def board_text(board) -> str:
    """Eight lines, row 1 first, ``X`` black, ``O`` white, ``.`` empty (for tests and logs)."""
    cells = np.asarray(board).reshape(8, 8)
    return "\n".join("".join({BLACK: "X", WHITE: "O", EMPTY: "."}[int(v)] for v in row) for row in cells)
