"""Widget latency: p50/p95 over 50 uncached calls per widget (model already loaded), and cold start.

Run: ``python -m bench.widgets``. Writes bench/results/widgets.json as a list of
{"widget", "page", "p50_ms", "p95_ms", "n"} plus bench/results/cold_start.json.
Each call uses new inputs (a different token, head or prompt) and bypasses the result
cache, so the numbers are what a user waits for on a fresh setting. Target: p95 <= 300 ms.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import torch

from app import zoo
from app.ui import compute
from app.ui import compute_induction as ci
from bench.common import RESULTS, latency_rows

N = 50
PAGES = {"repeated_tokens": "induction-heads", "ablation": "induction-heads", "phase_change": "induction-heads",
         "induction_text": "induction-heads"}  # the rest are on mathematical-framework
WORDS = [" self", "import", "def", " None", " return", " for", " in", " if", " else", " True", " x", " value",
         " name", " path", " os", "class", " lambda", " yield", " raise", " except"]
PROMPT = "def area(width, height):\n    return width * height\n\nimport os\nfor name in os.listdir(path):\n    print(name"


def _calls(i: int) -> dict:
    head = i % 8
    word = WORDS[i % len(WORDS)]
    text = PROMPT + f"  # {i}"  # a new prompt each call
    return {
        "direct_path": lambda: compute.direct_path.__wrapped__("attn-only-1l", word, 10),
        "attention": lambda: compute.attention.__wrapped__("attn-only-2l", text, i % 2),
        "circuit": lambda: compute.circuit.__wrapped__("attn-only-1l", 0, head, "OV" if i % 2 else "QK",
                                                       " self None True False if return def for in" + word),
        "copying_scores": lambda: compute.copying.__wrapped__("attn-only-2l", i % 2, head),
        "skip_trigrams": lambda: compute.skip_trigrams.__wrapped__("attn-only-1l", text, -1, 3),
        "composition": lambda: compute.composition.__wrapped__("attn-only-2l"),
        "repeated_tokens": lambda: ci.repeated.__wrapped__("attn-only-2l", None, 30, i, 1),
        "ablation": lambda: ci.ablation.__wrapped__("attn-only-2l", None, ((1, head),), "zero", 40, i),
        "phase_change": lambda: ci.repeated.__wrapped__("attn-only-2l", zoo.checkpoints("attn-only-2l")[i % 9], 30, 0, 1),
        "induction_text": lambda: ci.induction_text.__wrapped__("attn-only-2l", text + text, 1, head),
    }


def widget_latencies() -> list[dict]:
    for name in zoo.names():
        zoo.load(name)
        for step in zoo.checkpoints(name):  # loading is not widget time: each is loaded once per process
            zoo.load(name, step)
    return latency_rows(_calls, N, lambda w: PAGES.get(w, "mathematical-framework"))


COLD = """
import time; t0 = time.perf_counter()
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("streamlit_app.py", default_timeout=300)
at.run(); t1 = time.perf_counter()
at.switch_page("walkthroughs/mathematical_framework.py"); at.run(); t2 = time.perf_counter()
assert not at.exception
print(round((t1 - t0) * 1000), round((t2 - t1) * 1000))
"""


def cold_start(n: int = 3) -> dict:
    home, page = [], []
    for _ in range(n):
        out = subprocess.run([sys.executable, "-c", COLD], capture_output=True, text=True, check=True)
        a, b = map(int, out.stdout.split()[-2:])
        home.append(a)
        page.append(b)
    return {"home_ms": home, "framework_first_render_ms": page, "n": n,
            "what": "fresh process: imports + Home render; then the framework page's first render (loads both models, no cache)"}


def main() -> None:
    RESULTS.mkdir(exist_ok=True)
    rows = widget_latencies()
    (RESULTS / "widgets.json").write_text(json.dumps(rows, indent=1) + "\n")
    for r in rows:
        flag = "" if r["p95_ms"] <= 300 else "  <-- over 300 ms"
        print(f"{r['widget']:16s} p50 {r['p50_ms']:7.1f} ms  p95 {r['p95_ms']:7.1f} ms{flag}")
    cold = cold_start()
    cold["machine"] = {"cpu_count": __import__("os").cpu_count(), "torch_threads": torch.get_num_threads(),
                       "python": platform.python_version()}
    (RESULTS / "cold_start.json").write_text(json.dumps(cold, indent=1) + "\n")
    print("cold start:", cold)


if __name__ == "__main__":
    main()
