"""Othello widget latency: p50/p95 over uncached calls on fresh positions (model and probes loaded).

Run: ``python -m bench.othello``. Writes bench/results/othello.json. Each call uses a different
position (a prefix of a seeded random game), bypassing the result cache. Target: p95 <= 300 ms.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from app import zoo
from app.tasks import othello as oth
from app.ui import compute_othello as co

N = 40
MODEL = "othello-gpt"
RESULTS = Path(__file__).resolve().parent / "results"


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


def main() -> None:
    zoo.load(MODEL)
    co.probes(MODEL)
    positions = _positions()
    for call in _calls(positions[0], 0).values():  # warm-up
        call()
    times: dict[str, list[float]] = {}
    for i, moves in enumerate(positions):
        for name, call in _calls(moves, i).items():
            t = time.perf_counter()
            call()
            times.setdefault(name, []).append((time.perf_counter() - t) * 1000)
    rows = [{"widget": k, "p50_ms": round(float(np.percentile(v, 50)), 1), "p95_ms": round(float(np.percentile(v, 95)), 1),
             "n": len(v)} for k, v in times.items()]
    out = {"machine": f"{platform.machine()}, torch threads {torch.get_num_threads()}", "rows": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "othello.json").write_text(json.dumps(out, indent=1) + "\n")
    for r in rows:
        print(f"{r['widget']:26s} p50 {r['p50_ms']:7.1f} ms  p95 {r['p95_ms']:7.1f} ms")


if __name__ == "__main__":
    main()
