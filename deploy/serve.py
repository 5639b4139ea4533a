"""The container's entry point: start the Streamlit server, warm it (deploy/warm.py), then stay its parent.

SIGTERM and SIGINT are passed on to the server, so ``docker stop`` shuts it down cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys

from bench.load import wait_healthy
from deploy.warm import warm


def main(port: int = 8501, address: str = "0.0.0.0", pages: list[str] | None = None) -> int:
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
                               "--server.port", str(port), "--server.address", address])
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda s, _f: server.send_signal(s))
    try:
        wait_healthy(f"http://127.0.0.1:{port}", server, timeout=180)
        times = asyncio.run(warm(f"http://127.0.0.1:{port}", pages))
        print(f"warmed {len(times)} pages in {sum(times.values()) / 1000:.1f} s", flush=True)
    except Exception as err:  # a failed warm-up leaves a working, cold server
        print(f"warm-up failed: {err}", file=sys.stderr, flush=True)
    return server.wait()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=8501)
    ap.add_argument("--address", default="0.0.0.0")
    ap.add_argument("--page", action="append", help="warm only these pages (URL paths); default: every live one")
    a = ap.parse_args()
    sys.exit(main(a.port, a.address, a.page))
