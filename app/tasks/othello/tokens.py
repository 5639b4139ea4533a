"""Token encoding of Othello move sequences for the language model (Li et al. 2023, section 2.1).

Vocabulary of 61: token 0 is PAD; tokens 1..60 are the 60 playable squares (every square except
the centre four d4, e4, d5, e5 = indices 27, 28, 35, 36) in increasing square index. So a1..h3
(indices 0..23) are tokens 1..24, a4 (24) is 25, ..., c4 (26) is 27, f4 (29) is 28, and h8 (63) is 60.

Worked example (the opening f5 d6 c3, then two padding slots)::

    >>> encode([37, 43, 18, -1, -1])      # f5 = 37, d6 = 43, c3 = 18
    array([34, 40, 19,  0,  0])
    >>> decode([34, 40, 19, 0, 0])
    array([37, 43, 18, -1, -1])
"""

from __future__ import annotations

import numpy as np

from app.tasks.othello.board import CENTRE

PAD = 0
VOCAB_SIZE = 61
PLAYABLE = np.array([sq for sq in range(64) if sq not in CENTRE], dtype=np.int64)  # (60,)
SQUARE_TO_TOKEN = np.full(64, -1, dtype=np.int64)  # (64,) token of each square, -1 for the centre
SQUARE_TO_TOKEN[PLAYABLE] = np.arange(1, 61)
TOKEN_TO_SQUARE = np.concatenate([[-1], PLAYABLE]).astype(np.int64)  # (61,) square of each token, -1 for PAD
for _a in (SQUARE_TO_TOKEN, TOKEN_TO_SQUARE, PLAYABLE):
    _a.flags.writeable = False


def encode(moves) -> np.ndarray:
    """Square indices (any shape; ``-1`` = padding) -> int64 tokens of the same shape (PAD = 0)."""
    sq = np.asarray(moves)
    if sq.size and sq.dtype.kind not in "iu":
        raise ValueError(f"encode takes integer square indices, got dtype {sq.dtype}")
    sq = sq.astype(np.int64)
    bad = (sq < -1) | (sq > 63) | np.isin(sq, CENTRE)
    if bad.any():
        raise ValueError(f"square {int(sq[bad][0])} has no token: use 0..63 except the centre "
                         f"27, 28, 35, 36 (d4 e4 d5 e5), or -1 for padding")
    return np.where(sq < 0, PAD, SQUARE_TO_TOKEN[np.clip(sq, 0, 63)])


def decode(tokens) -> np.ndarray:
    """int tokens 0..60 (any shape) -> int64 square indices of the same shape (PAD -> -1)."""
    tok = np.asarray(tokens)
    if tok.size and tok.dtype.kind not in "iu":
        raise ValueError(f"decode takes integer tokens, got dtype {tok.dtype}")
    tok = tok.astype(np.int64)
    if tok.size and (tok.min() < 0 or tok.max() >= VOCAB_SIZE):
        raise ValueError(f"tokens must be 0..{VOCAB_SIZE - 1}, got {int(tok.min())}..{int(tok.max())}")
    return TOKEN_TO_SQUARE[tok]
