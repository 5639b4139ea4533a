"""Othello widget latency: p50/p95 over uncached calls on fresh positions (model and probes loaded).

Run: ``python -m bench.othello``. Writes bench/results/othello.json. Each call uses a different
position (a prefix of a seeded random game), bypassing the result cache. Target: p95 <= 300 ms.
"""

from __future__ import annotations

import numpy as np

from app import zoo
from app.tasks import othello as oth
from app.ui import compute_othello as co
from bench.common import latency_rows, run_and_write

N = 40
MODEL = "othello-gpt"


def _positions() -> list[tuple[int, ...]]:
    games = oth.random_games(N, seed=123)
    rng = np.random.default_rng(0)
    out = []
    for g in games:
        n = int((g >= 0).sum())
        out.append(tuple(int(m) for m in g[: int(rng.integers(5, n - 1))]))
    return out


def _calls(moves: tuple[int, ...], i: int) -> dict:
    board = oth.replay(list(moves)).boards[-1]
    stone = int(np.flatnonzero(board)[i % int((board != 0).sum())])
    return {
        "othello_board": lambda: co.board_view.__wrapped__(MODEL, moves, i % 7, "mine_theirs" if i % 2 else "black_white"),
        "othello_edit": lambda: co.edit_view.__wrapped__(MODEL, moves, stone, 1 + i % 4, 2.0),
        "othello_attention": lambda: co.attention.__wrapped__(MODEL, moves, i % 6),
        "replay (URL validation)": lambda: oth.replay(list(moves)),
    }


def latencies() -> list[dict]:
    zoo.load(MODEL)
    co.probes(MODEL)
    positions = _positions()
    # round 0 (the warm-up) and round 1 use the first position; round i > 0 uses position i - 1
    return latency_rows(lambda i: _calls(positions[max(i - 1, 0)], max(i - 1, 0)), len(positions), "othello")


def main() -> None:
    run_and_write("othello", latencies)


if __name__ == "__main__":
    main()
