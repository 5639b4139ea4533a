"""Warm a freshly started replica: open every live walkthrough once, so the first class does not pay for it.

A cold replica spends ~7 s on its first page (torch and TransformerLens imports, the page's models, their
first runs); 35 students joining a cold server in 10 s waited up to 16 s for a page (p95,
``bench/results/load_cold.json``) against 0.3 s on a warmed one (``bench/results/load.json``).
``python -m deploy.warm http://127.0.0.1:8501`` (``deploy/serve.py`` and ``deploy.local`` run it for you).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from app.ui.catalog import entries
from bench.streamlit_client import Session


def live_pages() -> list[str]:
    """URL paths of the live walkthroughs, in catalogue order."""
    return [e["id"].replace("-", "_") for e in entries() if e["status"] == "live"]


async def warm(url: str, pages: list[str] | None = None, timeout: float = 300.0, strict: bool = False) -> dict[str, float]:
    """Open each page in one session; returns {page: ms}. A page that errors is reported on stderr, or with
    ``strict`` raises RuntimeError (the load bench's warm-up must not hide a broken page)."""
    s = Session(url, timeout=timeout)
    await s.connect()
    out = {}
    try:
        for page in pages if pages is not None else live_pages():
            r = await s.open(page)
            out[page] = round(r.ms, 1)
            if r.errors and strict:
                raise RuntimeError(f"warm-up of {page} failed: {r.errors[:2]}")
            if r.errors:
                print(f"warm-up: {page}: {r.errors[:2]}", file=sys.stderr)
    finally:
        await s.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("url")
    ap.add_argument("--page", action="append", help="only these pages (URL paths); default: every live one")
    a = ap.parse_args()
    for page, ms in asyncio.run(warm(a.url, a.page)).items():
        print(f"{page:28s} {ms:8.0f} ms")


if __name__ == "__main__":
    main()
