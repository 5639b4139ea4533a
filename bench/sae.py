"""Monosemanticity widget latency: p50/p95 over uncached calls (model and SAE loaded).

Run: ``python -m bench.sae``. Writes bench/results/sae.json ({"widget", "page", "p50_ms", "p95_ms", "n"} rows plus
the machine's load average), via bench/common.py.

* ``sae_feature``: one feature's top contexts recomputed live on their windows, histogram, logit effects;
* ``sae_search``: rank every feature by how many of its top tokens contain a typed string;
* ``sae_text``: a ~60-token snippet through the model and the SAE, per-token top features and neurons;
* ``sae_density`` / ``sae_monosemanticity``: neuron counts of every decoder row; top-token shares of every unit.
Target: p95 <= 300 ms each on the 2-core machine.
"""

from __future__ import annotations

from app.ui import compute_sae as cs
from bench.common import latency_rows, run_and_write

MODEL = "code-1l-mlp"
N = 20
TEXTS = ["def area(self, r):\n    return 3.14159 * r ** 2\n", "for i, line in enumerate(open(path)):\n    print(i, line)\n",
         "import os\nimport sys\n\nclass Config(dict):\n    pass\n", "if x is None:\n    raise ValueError('x is missing')\n"]
SEARCHES = ["self", "(", "import", "return", "def", " =", "None", "\n"]


def rows() -> list[dict]:
    cs.bundle(MODEL)  # load the SAE and browser data once, as the app does
    cs.vocab_labels(MODEL)
    fns = {name: getattr(cs, name).__wrapped__ for name in ("feature_view", "search", "text_view", "density",
                                                            "monosemanticity")}

    def calls(i: int) -> dict:
        return {"sae_feature": lambda: fns["feature_view"](MODEL, (97 * i) % 2048, 8),
                "sae_search": lambda: fns["search"](MODEL, SEARCHES[i % len(SEARCHES)]),
                "sae_text": lambda: fns["text_view"](MODEL, TEXTS[i % len(TEXTS)] * 2, -1),
                "sae_density": lambda: fns["density"](MODEL, 0.5 + 0.02 * (i % 20)),
                "sae_monosemanticity": lambda: fns["monosemanticity"](MODEL)}

    return latency_rows(calls, N, "monosemanticity")


if __name__ == "__main__":
    run_and_write("sae", rows)
