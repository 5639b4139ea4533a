"""Replay a move list into a checked game record (every position, legal set and flip).

Used by the UI to turn a URL's move list into boards, and by tests as the reference the
vectorised generator must agree with. A tampered list fails with an ``IllegalMoveError``
whose message names the move, the square and what would have been legal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.tasks.othello.board import (
    COLOR_NAMES, _flips, legal_moves, parse_moves, square_name, start_board)


class IllegalMoveError(ValueError):
    """Move ``index`` (0-based in the list; the message counts from 1) of a move list is illegal.

    ``square`` is what the list held there, ``legal`` the legal squares at that point
    (empty when the game was already over), ``player`` the side to move (0 if over), ``game``
    the row of a batch (``board_states``) or None.
    """

    def __init__(self, index: int, square, legal: list[int], player: int = 0, game: int | None = None):
        self.index, self.square, self.legal, self.player, self.game = index, square, list(legal), player, game
        try:
            shown = square_name(square)
        except ValueError:
            shown = f"{square!r}, not a square 0..63"
        if not self.legal:
            msg = f"move {index + 1} ({shown}) is illegal: the game is already over (neither side can move)"
        else:
            names = ", ".join(square_name(s) for s in self.legal)
            msg = f"move {index + 1} ({shown}) is illegal here for {COLOR_NAMES[player]}; legal moves: {names}"
        super().__init__(msg if game is None else f"game {game}: {msg}")


@dataclass(frozen=True)
class GameRecord:
    """Every position of a replayed game. T = number of moves; position t is the board BEFORE move t
    (position T is the final board).

    moves:   (T,) int64 square of each move
    boards:  (T+1, 64) int8 board at each position (1 black, -1 white, 0 empty)
    players: (T+1,) int8 side to move at each position, passes applied; 0 once the game is over
    legal:   (T+1, 64) bool legal moves at each position (all False once over)
    flipped: (T, 64) bool squares flipped by each move
    """

    moves: np.ndarray
    boards: np.ndarray
    players: np.ndarray
    legal: np.ndarray
    flipped: np.ndarray

    @property
    def before(self) -> np.ndarray:
        """(T, 64) int8 board before each move."""
        return self.boards[:-1]

    @property
    def after(self) -> np.ndarray:
        """(T, 64) int8 board after each move."""
        return self.boards[1:]

    @property
    def over(self) -> bool:
        """True when neither side can move in the final position."""
        return bool(self.players[-1] == 0)

    @property
    def passes(self) -> list[int]:
        """Indices t of moves played right after the opponent passed (same side moved at t-1 and t)."""
        p = self.players[: len(self.moves)]
        return [t for t in range(1, len(p)) if p[t] == p[t - 1]]


def replay(moves) -> GameRecord:
    """Play ``moves`` from the start position, checking each; ``IllegalMoveError`` at the first illegal one.

    ``moves``: square indices (trailing ``-1`` padding ignored) or a record string like ``"f5d6c3"``.
    """
    if isinstance(moves, str):
        moves = parse_moves(moves)
    arr = np.asarray(moves)
    if arr.size and arr.dtype.kind not in "iu":
        raise ValueError(f"moves must be integer square indices 0..63 (or a string like 'f5d6'), got {arr.dtype}")
    seq = [int(m) for m in arr.reshape(-1)]
    while seq and seq[-1] == -1:
        seq.pop()
    board, player = start_board(), 1
    options = legal_moves(board, player)
    boards, players, legal, flipped = [board], [player], [options], []
    for i, sq in enumerate(seq):
        if sq not in options:
            raise IllegalMoveError(i, sq, options, player)
        f = _flips(board.tolist(), player, sq)  # non-empty: sq is legal
        board = board.copy()
        board[f] = player
        board[sq] = player
        # the opponent moves next if they can, else the same side again (a pass), else nobody
        if options := legal_moves(board, -player):
            player = -player
        elif not (options := legal_moves(board, player)):
            player = 0
        boards.append(board)
        players.append(player)
        legal.append(options)
        flipped.append(f)
    t = len(seq)
    legal_arr = np.zeros((t + 1, 64), dtype=bool)
    flip_arr = np.zeros((t, 64), dtype=bool)
    for i, options in enumerate(legal):
        legal_arr[i, options] = True
    for i, f in enumerate(flipped):
        flip_arr[i, f] = True
    return GameRecord(moves=np.asarray(seq, dtype=np.int64), boards=np.stack(boards),
                      players=np.asarray(players, dtype=np.int8), legal=legal_arr, flipped=flip_arr)
