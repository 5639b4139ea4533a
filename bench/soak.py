"""Soak and torch-thread benches against the real server (websocket sessions, see bench/streamlit_client.py).

``python -m bench.soak`` -- 200 sessions in waves of 10: each opens the induction-heads walkthrough, moves a
slider and an ablation to values drawn from a wide range (so the bounded caches fill up and evict), and
leaves. RSS is sampled after a warm-up of 20 sessions and at the end; the growth between the two is what a
day of visitors would add. Writes bench/results/soak.json.

``python -m bench.soak --threads`` -- throughput with 16 concurrent sessions doing uncached model work
(ablations with fresh seeds), for a server at 1 torch thread (the app's setting, ``zoo.TORCH_THREADS``)
and at torch's default (one per core). Writes bench/results/threads_sessions.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import time

import numpy as np
import torch

from bench.load import RESULTS, cpu_s, free_port, read_stats, rss_mb, start_server
from bench.streamlit_client import Session

URL = "http://127.0.0.1:{port}"


async def _visit(url: str, idx: int, errors: list) -> None:
    rng = random.Random(idx)
    s = Session(url, timeout=300)
    try:
        await s.connect()
        for step in (lambda: s.open("induction_heads"),
                     lambda: s.set({"repeated_tokens.half_len": rng.randint(5, 120)}),
                     lambda: s.set({"ablation.seed": rng.randint(0, 10_000), "ablation.heads_list": ["L1H7"]})):
            r = await step()
            errors += r.errors
    except Exception as err:
        errors.append(f"{type(err).__name__}: {err}")
    finally:
        await s.close()


def soak(n: int = 200, wave: int = 10, warmup: int = 20) -> dict:
    stats = tempfile.NamedTemporaryFile(suffix=".json", delete=False).name
    port = free_port()
    proc = start_server(port, stats)
    url, errors, samples = URL.format(port=port), [], []
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    try:
        done = 0
        while done < n:
            k = min(wave, n - done)

            async def batch(start=done, k=k):
                await asyncio.gather(*(_visit(url, i, errors) for i in range(start, start + k)))

            asyncio.run(batch())
            done += k
            time.sleep(1.0)  # let the server drop the closed sessions
            samples.append({"sessions": done, "rss_mb": round(rss_mb(proc.pid), 1)})
            print(samples[-1], flush=True)
            if done >= warmup:  # written after every wave: a run cut short still leaves its numbers
                _write(samples, warmup, n, wave, errors, proc, stats, t0, load_before)
    finally:
        proc.terminate()
        proc.wait(20)
    return json.loads((RESULTS / "soak.json").read_text())


def _write(samples, warmup, n, wave, errors, proc, stats, t0, load_before) -> None:
    warm = next(s["rss_mb"] for s in samples if s["sessions"] >= warmup)
    out = {"sessions_planned": n, "sessions": samples[-1]["sessions"], "wave": wave, "errors": len(errors),
           "error_samples": errors[:5],
           "rss_after_warmup_mb": warm, "rss_end_mb": samples[-1]["rss_mb"],
           "rss_growth_after_warmup_mb": round(samples[-1]["rss_mb"] - warm, 1),
           "peak_rss_mb": round(rss_mb(proc.pid, "VmHWM"), 1), "samples": samples,
           "server_cpu_s_per_session": round(cpu_s(proc.pid) / samples[-1]["sessions"], 2),
           "model_loads": read_stats([stats])["model_loads"], "wall_s": round(time.perf_counter() - t0, 1),
           "cpu_cores": os.cpu_count(),
           "load_average_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)]}
    (RESULTS / "soak.json").write_text(json.dumps(out, indent=1) + "\n")


async def _model_worker(url: str, idx: int, actions: int, times: list, errors: list) -> None:
    s = Session(url, timeout=600)
    await s.connect()
    try:
        r = await s.open("induction_heads")
        errors += r.errors
        for j in range(actions):
            r = await s.set({"ablation.seed": 100_000 + idx * 1000 + j, "ablation.heads_list": ["L1H7", "L0H0"]})
            times.append(r.ms)
            errors += r.errors
    finally:
        await s.close()


def threads(sessions: int = 16, actions: int = 6) -> dict:
    rows = []
    for label, n_threads in (("app setting (zoo.TORCH_THREADS)", 1), ("torch default", torch.get_num_threads())):
        port = free_port()
        proc = start_server(port, env={"INTERP_TORCH_THREADS": str(n_threads)})
        url, times, errors = URL.format(port=port), [], []
        try:
            asyncio.run(_model_worker(url, -1, 1, [], errors))  # warm-up: models loaded, page cached
            load_before = os.getloadavg()[0]
            t = time.perf_counter()

            async def crowd(url=url, times=times, errors=errors):
                await asyncio.gather(*(_model_worker(url, i, actions, times, errors) for i in range(sessions)))

            asyncio.run(crowd())
            wall = time.perf_counter() - t
        finally:
            proc.terminate()
            proc.wait(20)
        rows.append({"torch_threads": n_threads, "label": label, "sessions": sessions,
                     "ablations_per_s": round(len(times) / wall, 2), "p50_ms": round(float(np.percentile(times, 50)), 1),
                     "p95_ms": round(float(np.percentile(times, 95)), 1), "n": len(times), "errors": len(errors),
                     "load_average_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)]})
        print(rows[-1], flush=True)
    out = {"what": f"{sessions} websocket sessions, each opening the induction page then running {actions} "
                   "uncached head ablations (fresh seeds) back to back", "cpu_cores": os.cpu_count(), "rows": rows}
    (RESULTS / "threads_sessions.json").write_text(json.dumps(out, indent=1) + "\n")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", action="store_true", help="torch threads at 16 sessions instead of the soak")
    ap.add_argument("--sessions", type=int, default=None)
    a = ap.parse_args()
    RESULTS.mkdir(exist_ok=True)
    out = threads(a.sessions or 16) if a.threads else soak(a.sessions or 200)
    print(json.dumps({k: v for k, v in out.items() if k != "samples"}, indent=1))


if __name__ == "__main__":
    main()
