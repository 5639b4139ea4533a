"""Speed of the Othello random-game generator and of vectorised board states, on one core.

Run: ``python -m bench.othello_games``. Times ``REPEATS`` calls of ``random_games(10_000, seed)``
and of ``board_states`` on those games (new seed each call), after one warm-up call, and reports
p50/p95 seconds and games per second at the median. Also records what the games look like
(lengths, early ends, passes), measured on the timed games. numpy's element-wise ops run on one
thread, so this is single-core speed. Writes bench/results/othello_games.json. Target: >= 10,000
games/s for the generator.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from app.tasks.othello import board_states, random_games

N_GAMES = 10_000
REPEATS = 5
RESULTS = Path(__file__).resolve().parent / "results"


def _timed(fn, *args, **kwargs) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t, out


def _summary(seconds: list[float]) -> dict:
    p50 = float(np.percentile(seconds, 50))
    return {"p50_s": round(p50, 4), "p95_s": round(float(np.percentile(seconds, 95)), 4),
            "games_per_s_at_p50": round(N_GAMES / p50), "calls": len(seconds), "games_per_call": N_GAMES}


def _passes(games: np.ndarray, player: np.ndarray) -> np.ndarray:
    """(n,) number of passes per game: the side that just moved is also the side to move next."""
    mover = np.concatenate([np.ones((len(games), 1), dtype=np.int8), player[:, :-1]], axis=1)  # (n, 60)
    return ((player == mover) & (games >= 0)).sum(1)


def main() -> None:
    load = os.getloadavg()[0]
    board_states(random_games(1000, seed=99))  # warm-up
    gen_s, states_s, lengths, passes = [], [], [], []
    for seed in range(REPEATS):
        dt, games = _timed(random_games, N_GAMES, seed=seed)
        gen_s.append(dt)
        dt, (_, player, _) = _timed(board_states, games)
        states_s.append(dt)
        lengths.append((games >= 0).sum(1))
        passes.append(_passes(games, player))
    lengths, passes = np.concatenate(lengths), np.concatenate(passes)
    result = {
        "random_games": _summary(gen_s),
        "board_states": _summary(states_s),
        "games": {"n": int(len(lengths)), "mean_length": round(float(lengths.mean()), 3),
                  "ended_before_60_moves": round(float((lengths < 60).mean()), 4),
                  "with_a_pass": round(float((passes > 0).mean()), 4),
                  "passes_per_game": round(float(passes.mean()), 4), "shortest": int(lengths.min())},
        "machine": {"cpus": os.cpu_count(), "load_avg_1min_at_start": round(load, 2),
                    "python": platform.python_version(), "numpy": np.__version__},
    }
    print(json.dumps(result, indent=1))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "othello_games.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
