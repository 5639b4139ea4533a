"""Random legal Othello games and their board states for a whole batch at once (bitboards).

This is the synthetic data set of Li et al. (2023, section 2.1): every move drawn uniformly at
random from the legal moves, so the sequences teach the rules and no strategy. Each board is
two 64-bit integers (one per side, bit i = square i); numpy runs the move generator on all
games at once, one column of moves per step, so no Python loop runs per game.

Shifting a bitboard left by 1 moves every stone one column right (towards h), by 8 one row
down (towards row 8), by 9 and 7 diagonally; right shifts go the other way. A shift that
changes the column can wrap a stone round to the other edge, so the landing squares are
masked: column a is forbidden after a step to the right, column h after a step to the left.
Legal moves and flips both come from "flood fills": start at one side's stones, step into
opposing stones up to six times in a direction, then land on an empty square (a legal move)
or on one's own stone (the run in between is flipped).
"""

from __future__ import annotations

import numpy as np

from app.tasks.othello.record import IllegalMoveError

U64 = np.uint64
_ALL = 0xFFFFFFFFFFFFFFFF
_NOT_A = _ALL ^ 0x0101010101010101  # every square but column a
_NOT_H = _ALL ^ 0x8080808080808080  # every square but column h
BLACK_START = U64((1 << 28) | (1 << 35))  # e4, d5
WHITE_START = U64((1 << 27) | (1 << 36))  # d4, e5
# Four shift amounts (col+1, row+1, diagonal row+1 col+1, diagonal row+1 col-1) applied left, then right.
_SHIFTS = np.array([1, 8, 9, 7], dtype=U64)[:, None]  # (4, 1)
_MASK_LEFT = np.array([_NOT_A, _ALL, _NOT_A, _NOT_H], dtype=U64)[:, None]  # (4, 1) squares a left step may reach
_MASK_RIGHT = np.array([_NOT_H, _ALL, _NOT_H, _NOT_A], dtype=U64)[:, None]  # (4, 1) same for right steps
_GROUPS = ((np.left_shift, _MASK_LEFT), (np.right_shift, _MASK_RIGHT))
CHUNK = 16384  # games generated together (bigger is faster: fewer numpy calls); results do not depend on it


def legal_bits(own: np.ndarray, opp: np.ndarray) -> np.ndarray:
    """Legal moves of the side owning ``own``: (n,) uint64 bitboards in, (n,) uint64 out."""
    empty = ~(own | opp)  # (n,)
    out = np.zeros_like(own)
    for shift, mask in _GROUPS:
        o = opp & mask  # (4, n) opposing stones a step may land on
        x = shift(own, _SHIFTS) & o  # (4, n) runs of opposing stones next to own stones
        for _ in range(5):
            x |= shift(x, _SHIFTS) & o
        out |= np.bitwise_or.reduce(shift(x, _SHIFTS) & (empty & mask), axis=0)
    return out


def flip_bits(own: np.ndarray, opp: np.ndarray, move: np.ndarray) -> np.ndarray:
    """Stones flipped when ``own``'s side plays the single-bit ``move`` (0 = no move): (n,) uint64."""
    out = np.zeros_like(own)
    for shift, mask in _GROUPS:
        o = opp & mask  # (4, n)
        x = shift(move, _SHIFTS) & o  # (4, n) run of opposing stones from the move outwards
        for _ in range(5):
            x |= shift(x, _SHIFTS) & o
        closed = (shift(x, _SHIFTS) & (own & mask)) != 0  # (4, n) run ends on an own stone
        out |= np.bitwise_or.reduce(np.where(closed, x, U64(0)), axis=0)
    return out


def unpack(bits: np.ndarray) -> np.ndarray:
    """uint64 bitboards of any shape (...) -> (..., 64) uint8 0/1, square i at position i."""
    b = np.ascontiguousarray(bits, dtype="<u8")
    return np.unpackbits(b.view(np.uint8).reshape(*b.shape, 8), axis=-1, bitorder="little")


def _pick(bits: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Index of the k-th set bit of each ``bits`` with k = floor(u * popcount): (n,) int64.
    Binary search on the popcount of the low half; rows with no bit give 0."""
    count = np.bitwise_count(bits).astype(np.int64)  # (n,)
    k = np.minimum((u * count).astype(np.int64), np.maximum(count - 1, 0))  # (n,) uniform in 0..count-1
    pos = np.zeros(bits.shape, dtype=np.int64)
    x = bits
    for width in (32, 16, 8, 4, 2, 1):
        low = x & U64((1 << width) - 1)
        c = np.bitwise_count(low).astype(np.int64)
        high = k >= c  # the wanted bit is in the upper half
        k = np.where(high, k - c, k)
        x = np.where(high, x >> U64(width), low)
        pos += high * width
    return pos


def _random_chunk(u: np.ndarray) -> np.ndarray:
    """Games driven by uniforms ``u`` (n, 60): (n, 60) int8 squares, -1 after the end."""
    n = u.shape[0]
    own = np.full(n, BLACK_START)  # (n,) stones of the side to move
    opp = np.full(n, WHITE_START)  # (n,)
    games = np.full((n, 60), -1, dtype=np.int8)
    for t in range(60):
        legal = legal_bits(own, opp)
        stuck = np.flatnonzero(legal == 0)
        if stuck.size:  # pass if the opponent can move; otherwise the game is over (legal stays 0)
            other = legal_bits(opp[stuck], own[stuck])
            j = stuck[other != 0]
            own[j], opp[j] = opp[j], own[j]
            legal[j] = other[other != 0]
        live = legal != 0
        if not live.any():
            break
        pos = _pick(legal, u[:, t])
        move = np.where(live, U64(1) << pos.astype(U64), U64(0))
        f = flip_bits(own, opp, move)
        own, opp = opp & ~f, own | move | f  # the opponent moves next
        games[:, t] = np.where(live, pos, -1)
    return games


def random_games(n: int, seed: int = 0) -> np.ndarray:
    """``n`` games of uniformly random legal moves: (n, 60) int8 square indices, -1 after the end.

    Deterministic per seed, and a prefix of a larger batch: ``random_games(10, s)`` equals
    ``random_games(1000, s)[:10]`` (each game reads its own row of one seeded uniform stream).
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative integer number of games, got {n!r}")
    rng = np.random.default_rng(seed)
    out = [_random_chunk(rng.random((min(CHUNK, n - i), 60))) for i in range(0, n, CHUNK)]
    return np.concatenate(out) if out else np.full((0, 60), -1, dtype=np.int8)


def board_states(games) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Replay (n, T) games (square indices, -1 padding last) all at once, checking every move.

    Returns, for each game and each step t (after move t):
      boards:  (n, T, 64) int8 board (1 black, -1 white, 0 empty)
      player:  (n, T) int8 side to move next, passes applied; 0 when the game is over
      legal:   (n, T, 64) bool legal moves of that side (all False when over)
    At padded steps the board stays the last one and player/legal are 0/False.
    Raises IllegalMoveError (with ``game`` set) at the first illegal move.
    """
    g = np.asarray(games)
    if g.ndim != 2 or (g.size and g.dtype.kind not in "iu"):
        raise ValueError(f"games must be an (n, T) integer array of squares, got shape {g.shape} {g.dtype}")
    g = g.astype(np.int64)
    n, T = g.shape
    if g.size and (g.min() < -1 or g.max() > 63):
        raise ValueError("games hold square indices 0..63, with -1 as padding after the end")
    own = np.full(n, BLACK_START)  # (n,) stones of the side to move
    opp = np.full(n, WHITE_START)
    black_moves = np.ones(n, dtype=bool)  # (n,) is the side to move black?
    legal = legal_bits(own, opp)  # (n,)
    ended = np.zeros(n, dtype=bool)  # padding seen
    black, white, legal_out = (np.zeros((n, T), dtype=U64) for _ in range(3))  # (n, T) each
    player = np.zeros((n, T), dtype=np.int8)
    for t in range(T):
        sq = g[:, t]
        active = sq >= 0
        if (active & ended).any():
            i = int(np.flatnonzero(active & ended)[0])
            raise ValueError(f"game {i}: move {t + 1} comes after padding (-1); padding must come last")
        ended |= ~active
        move = np.where(active, U64(1) << np.maximum(sq, 0).astype(U64), U64(0))  # (n,)
        bad = np.flatnonzero(active & ((legal & move) == 0))
        if bad.size:
            i = int(bad[0])
            options = np.flatnonzero(unpack(legal[i])).tolist()
            raise IllegalMoveError(t, int(sq[i]), options, 1 if black_moves[i] else -1, game=i)
        f = flip_bits(own, opp, move)
        own, opp = np.where(active, opp & ~f, own), np.where(active, own | move | f, opp)
        black_moves ^= active
        nxt = legal_bits(own, opp)
        stuck = np.flatnonzero(active & (nxt == 0))
        if stuck.size:  # the new side to move must pass if the other can move
            back = legal_bits(opp[stuck], own[stuck])
            j = stuck[back != 0]
            own[j], opp[j] = opp[j], own[j]
            black_moves[j] = ~black_moves[j]
            nxt[j] = back[back != 0]
        legal = nxt
        black[:, t] = np.where(black_moves, own, opp)
        white[:, t] = np.where(black_moves, opp, own)
        legal_out[:, t] = np.where(active, nxt, U64(0))
        player[:, t] = np.where(active & (nxt != 0), np.where(black_moves, 1, -1), 0)
    boards = unpack(black).view(np.int8) - unpack(white).view(np.int8)  # (n, T, 64)
    return boards, player, unpack(legal_out).view(bool)
