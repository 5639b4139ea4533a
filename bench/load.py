"""Load bench: N real Streamlit sessions over the websocket protocol against one running server.

Run: ``python -m bench.load`` (starts its own server with the repo's config, 35 sessions) or
``python -m bench.load --url http://host:port --pid PID`` for a server already running (start it with
``INTERP_STATS_FILE=/tmp/stats.json`` so the bench can read model loads and runs).

Every session joins within ``--join-s`` seconds and walks a workshop path, pausing a think time
between clicks as a reader does: open the induction-heads walkthrough, move a slider, pick another
layer, ablate heads, open the fact-recall walkthrough and run its activation-patching sweep. Slider
values, layers and heads are drawn per session from a few choices, so the shared cache sees both
hits and misses. Records p50/p95 per action, errors (exception elements, "view failed" alerts,
closed sockets, timeouts), busy answers, the server's peak RSS and its model loads, and writes
``bench/results/load.json``. The machine's load average is recorded: other processes share the CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

from bench.streamlit_client import Session
from deploy.warm import warm as warm_up

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
WIDGET_ACTIONS = ("slider", "select", "ablation", "patching_sweep")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, stats_file: str | None = None, env: dict | None = None) -> subprocess.Popen:
    """``streamlit run`` of the app with the repo's .streamlit/config.toml; waits for /_stcore/health."""
    full_env = os.environ | (env or {}) | ({"INTERP_STATS_FILE": stats_file} if stats_file else {})
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1"], cwd=ROOT, env=full_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_healthy(f"http://127.0.0.1:{port}", proc)
    return proc


def wait_healthy(url: str, proc: subprocess.Popen | None = None, timeout: float = 90) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not become healthy")


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of a process from /proc (``VmHWM`` is its peak so far)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used (/proc/<pid>/stat): a cost that other load does not inflate much."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_stats(files) -> dict:
    """Model loads / runs / busy summed over the servers' stats files (see app/limits.py)."""
    out = {"model_loads": {}, "model_runs": 0, "busy": 0}
    for f in files:
        try:
            s = json.loads(Path(f).read_text())
        except (OSError, ValueError):
            continue
        for k, v in s["model_loads"].items():
            out["model_loads"][k] = out["model_loads"].get(k, 0) + v
        out["model_runs"] += s["model_runs"]
        out["busy"] += s["busy"]
    return out


def affinity_cookie(base_url: str) -> str | None:
    """The ``name=value`` of the cookie a GET of the app's page sets (the proxy's session affinity)."""
    with urllib.request.urlopen(base_url + "/", timeout=30) as resp:
        cookies = [c.split(";")[0] for c in resp.headers.get_all("Set-Cookie") or []]
    return "; ".join(cookies) or None


async def session_path(base_url: str, idx: int, start_at: float, think: tuple[float, float], record, *,
                       cookie_jar: bool = False) -> None:
    """One student's clicks; each action's time and errors go to ``record(name, result)``."""
    rng = random.Random(idx)
    await asyncio.sleep(max(0.0, start_at - time.perf_counter()))
    s = Session(base_url)
    t = time.perf_counter()
    try:
        # behind the proxy a browser first loads the page, gets the affinity cookie, then opens the socket
        cookie = await asyncio.to_thread(affinity_cookie, base_url) if cookie_jar else None
        await s.connect(cookie=cookie)
    except Exception as err:  # a refused or dropped connection is an error of this session
        record("connect", None, [f"connect: {type(err).__name__}: {err}"], (time.perf_counter() - t) * 1000)
        return
    steps = [
        ("open_page", lambda: s.open("induction_heads")),
        ("slider", lambda: s.set({"repeated_tokens.half_len": rng.choice([10, 15, 20, 25, 35, 40])})),
        ("select", lambda: s.set({"repeated_tokens.layer": rng.choice(["0", "1"])})),
        ("ablation", lambda: s.set({"ablation.heads_list": rng.choice([["L1H7"], ["L0H0"], ["L1H7", "L1H0", "L1H1"]])})),
        ("open_page", lambda: s.open("fact_recall")),
        ("patching_sweep", lambda: s.set({"fact_layers.view": "activation patching"})),
    ]
    try:
        for i, (name, step) in enumerate(steps):
            if i:
                await asyncio.sleep(rng.uniform(*think))
            try:
                r = await step()
            except Exception as err:
                record(name, None, [f"{type(err).__name__}: {err}"], 0.0)
                return
            record(name, r, r.errors, r.ms)
            if any(e.startswith("socket closed") for e in r.errors):
                return
    finally:
        await s.close()


async def run_sessions(base_url: str, n: int, join_s: float, think: tuple[float, float], monitor=None,
                       cookie_jar: bool = False) -> dict:
    times: dict[str, list[float]] = {}
    errors: list[str] = []
    busy = [0]

    def record(name, result, errs, ms):
        if result is not None:
            times.setdefault(name, []).append(ms)
            busy[0] += result.busy
        errors.extend(f"{name}: {e}" for e in errs)

    t0 = time.perf_counter()
    starts = [t0 + join_s * i / max(1, n) for i in range(n)]
    tasks = [asyncio.create_task(session_path(base_url, i, starts[i], think, record, cookie_jar=cookie_jar))
             for i in range(n)]
    stop = asyncio.Event()

    async def watch():
        while not stop.is_set():
            if monitor:
                monitor()
            await asyncio.sleep(0.5)

    w = asyncio.create_task(watch())
    await asyncio.gather(*tasks)
    stop.set()
    await w
    actions = [{"name": k, "p50_ms": round(float(np.percentile(v, 50)), 1), "p95_ms": round(float(np.percentile(v, 95)), 1),
                "n": len(v)} for k, v in times.items()]
    return {"actions": actions, "errors": errors, "busy_answers": busy[0], "wall_s": round(time.perf_counter() - t0, 1)}


PATH_PAGES = ("induction_heads", "fact_recall")


def run_load(base_url: str, n: int = 35, join_s: float = 10.0, think: tuple[float, float] = (2.0, 8.0),
             pids=(), stats_files=(), cookie_jar: bool = False, warm: bool = True) -> dict:
    """Drive ``n`` sessions; returns the load.json dict (without writing it).

    ``warm``: one session opens the path's pages first (per server behind a proxy: the bench cannot pick a
    replica, so a cold replica's first page still counts in the class's numbers).
    """
    peak = {p: 0.0 for p in pids}
    # the teacher's check before class: one session opens each page of the path once (models load, TL imports)
    warm_ms = asyncio.run(warm_up(base_url, list(PATH_PAGES), strict=True)) if warm else {}

    def monitor():
        for p in pids:
            try:
                peak[p] = max(peak[p], rss_mb(p))
            except OSError:
                pass

    load_before = os.getloadavg()[0]
    cpu_before = sum(cpu_s(p) for p in pids)
    res = asyncio.run(run_sessions(base_url, n, join_s, think, monitor, cookie_jar=cookie_jar))
    monitor()
    server_cpu = sum(cpu_s(p) for p in pids) - cpu_before
    stats = read_stats(stats_files)
    widget_p95 = [a["p95_ms"] for a in res["actions"] if a["name"] in WIDGET_ACTIONS]
    return {
        "sessions": n,
        "errors": len(res["errors"]),
        "p95_ms": max(a["p95_ms"] for a in res["actions"]) if res["actions"] else None,
        "widget_p95_ms": max(widget_p95) if widget_p95 else None,
        "actions": res["actions"],
        "peak_rss_mb": round(max(peak.values()), 1) if peak else None,
        "model_loads": sum(stats["model_loads"].values()),
        "model_loads_by_model": stats["model_loads"],
        "model_runs": stats["model_runs"],
        "busy_answers": res["busy_answers"],
        "error_samples": res["errors"][:10],
        "join_s": join_s,
        "warm_up_first_open_ms": warm_ms,  # cold server: TL import + model loads, before the class joins
        "think_s": list(think),
        "wall_s": res["wall_s"],
        # the server's own CPU time for all sessions: sessions per core = think-time budget / this per session
        "server_cpu_s": round(server_cpu, 1) if pids else None,
        "server_cpu_s_per_session": round(server_cpu / n, 2) if pids else None,
        "cpu_cores": os.cpu_count(),
        "load_average_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", help="a running server (default: start one)")
    ap.add_argument("--pid", type=int, action="append", default=[], help="server process id(s) for peak RSS")
    ap.add_argument("--stats", action="append", default=[], help="the server's INTERP_STATS_FILE(s)")
    ap.add_argument("--sessions", type=int, default=35)
    ap.add_argument("--join-s", type=float, default=10.0)
    ap.add_argument("--think", type=float, nargs=2, default=(2.0, 8.0), metavar=("MIN", "MAX"))
    ap.add_argument("--out", default=str(RESULTS / "load.json"))
    ap.add_argument("--cold", action="store_true", help="no warm-up visit: the class meets a cold server")
    a = ap.parse_args()
    proc = None
    if a.url is None:
        stats = tempfile.NamedTemporaryFile(suffix=".json", delete=False).name
        port = free_port()
        proc = start_server(port, stats)
        a.url, a.pid, a.stats = f"http://127.0.0.1:{port}", [proc.pid], [stats]
    try:
        out = run_load(a.url, a.sessions, a.join_s, tuple(a.think), a.pid, a.stats, warm=not a.cold)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(20)
    Path(a.out).parent.mkdir(exist_ok=True)
    Path(a.out).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({k: v for k, v in out.items() if k != "actions"}, indent=1))
    for r in out["actions"]:
        print(f"{r['name']:16s} p50 {r['p50_ms']:7.1f} ms   p95 {r['p95_ms']:7.1f} ms   n {r['n']}")


if __name__ == "__main__":
    main()
