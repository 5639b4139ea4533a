"""The container's entry point (deploy/serve.py): server up, pages warmed before any visitor, clean SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.load import free_port, wait_healthy
from deploy.warm import live_pages

ROOT = Path(__file__).resolve().parent.parent


def test_live_pages_are_every_live_walkthrough():
    pages = live_pages()
    assert "induction_heads" in pages and "fact_recall" in pages and len(pages) == len(set(pages)) >= 11
    assert all((ROOT / "walkthroughs" / f"{p}.py").is_file() for p in pages)


def test_serve_warms_pages_before_any_visitor_and_stops_on_sigterm(tmp_path):
    port, stats = free_port(), tmp_path / "stats.json"
    env = os.environ | {"INTERP_STATS_FILE": str(stats)}
    proc = subprocess.Popen([sys.executable, "-m", "deploy.serve", "--port", str(port), "--address", "127.0.0.1",
                             "--page", "induction_heads", "--page", "fact_recall"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc, timeout=120)
        line = ""
        while not line.startswith("warmed"):  # serve prints this once its warm-up session is done
            line = proc.stdout.readline()
            assert line or proc.poll() is None, proc.stderr.read()
        assert line.startswith("warmed 2 pages")
        end = time.time() + 10  # the stats file is rewritten every second (app/limits.py)
        loads = {}
        while time.time() < end and set(loads) < {"attn-only-2l@final", "facts-small@final"}:
            time.sleep(0.5)
            if stats.is_file():
                loads = json.loads(stats.read_text())["model_loads"]
        # no visitor has come yet, but the two pages' models are loaded, once each
        assert loads.get("attn-only-2l@final") == 1 and loads.get("facts-small@final") == 1, loads
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
