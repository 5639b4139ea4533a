"""Benchmark the workshop data layer on SQLite and on a throw-away PostgreSQL (when installed).

Per backend: join, one recorded attempt (alone, and while 35 students write at once), and the
teacher's dashboard query for a full class (35 students x 30 exercises x 2 attempts = 2,100 rows).
Writes bench/results/workshop.json (p50/p95 per operation, rows named "<backend>: <operation>").

    .venv/bin/python -m bench.workshop
"""

from __future__ import annotations

import tempfile
import threading
import time

from bench.common import run_and_write, summarise
from app.workshop import RateLimit, Workshop

N_STUDENTS, N_EXERCISES = 35, 30


def _ms(fn) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def _bench(url: str, backend: str) -> list[dict]:
    w = Workshop(url, limits=RateLimit(per_client=10**6, global_failures=10**6))
    times: dict[str, list[float]] = {k: [] for k in ("join", "attempt, alone", "attempt, 35 writing at once",
                                                      "dashboard, full class")}
    cls = w.create_class("Bench")
    kids = []
    for i in range(N_STUDENTS):
        t = time.perf_counter()
        kids.append(w.join(cls.join_code, f"s{i}", client=f"10.1.0.{i}"))
        times["join"].append((time.perf_counter() - t) * 1000)
    me = kids[0]
    for k in range(200):
        times["attempt, alone"].append(_ms(lambda k=k: w.record_attempt(
            cls.class_id, me.token, "grokking", f"warm.ex{k % 5}", "x", k % 2 == 0, 0, 1.0)))

    lock = threading.Lock()
    barrier = threading.Barrier(N_STUDENTS)

    def student(kid):
        barrier.wait()
        mine = []
        for e in range(N_EXERCISES):
            for a in range(2):
                mine.append(_ms(lambda e=e, a=a: w.record_attempt(
                    cls.class_id, kid.token, "induction-heads", f"s{e}.ex0", f"answer {a}", a == 1, a, 30.0)))
        with lock:
            times["attempt, 35 writing at once"].extend(mine)

    threads = [threading.Thread(target=student, args=(k,)) for k in kids]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    for _ in range(30):
        times["dashboard, full class"].append(_ms(lambda: w.dashboard(cls.class_id, cls.teacher_token)))
    dash = w.dashboard(cls.class_id, cls.teacher_token)
    expected = 200 + N_STUDENTS * N_EXERCISES * 2
    assert len(dash.attempts) == expected, (len(dash.attempts), expected)
    w.dispose()
    rows = summarise({f"{backend}: {k}": v for k, v in times.items()}, "workshop")
    for r in rows:  # the concurrent row also says how many attempts per second the 35 writers got through
        if r["widget"].endswith("at once"):
            r.update(attempts_per_s=round(N_STUDENTS * N_EXERCISES * 2 / wall, 1), wall_s=round(wall, 2))
    return rows


def rows() -> list[dict]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        out += _bench(f"sqlite:///{tmp}/workshop.sqlite3", "sqlite")
    try:
        from tests.workshop_pg import new_database, pg_bindir, pg_cluster
    except ImportError:
        return out
    if pg_bindir() is not None:
        with pg_cluster() as base:
            out += _bench(new_database(base), "postgresql")
    return out


if __name__ == "__main__":
    run_and_write("workshop", rows)
