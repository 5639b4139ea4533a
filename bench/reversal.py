"""Reversal-curse widget latency: p50/p95 over uncached calls (model loaded).

Run: ``python -m bench.reversal``. Writes bench/results/reversal.json as a list of
{"widget", "page", "p50_ms", "p95_ms", "n"} plus the machine's load average.

* ``reversal_query``: one fact forward + backward against its set's 150 candidates, plus the
  backward query against all 300 people (what a reader waits for after typing a new name);
* ``reversal_accuracy_group``: one set x direction, 150 queries x 150 candidates (the accuracy
  view runs four of these, behind a progress bar, cached after the first reader), A/B x
  forward/backward in turn;
* ``reversal_accuracy_group_backward``: the slow half of those alone (a backward query's answer is
  a two-token name: 150 queries x 50 distinct first names on top of each cached query prefix);
* ``reversal_accuracy_group_bridge``: the same backward group the way it ran before the cached
  prefix (``PlainGPT.prefix_cache``): full TransformerBridge forwards of every query + first name, for a
  before/after under the same load;
* ``reversal_query_figure``: building the two bar charts from a result.
Target (DESIGN): p95 <= 300 ms for every row but the ``_bridge`` reference.
"""

from __future__ import annotations

import time

from app import zoo
from app.analysis import reversal as rv
from app.analysis.reversal import load_world
from app.ui import compute_reversal as cr
from app.ui.widgets.reversal import _candidates_figure
from bench.common import run_and_write, summarise

MODEL = "reversal-small"
N = 20


def _time(fn, n: int) -> list[float]:
    out = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t) * 1000)
    return out


def _bridge_group(group: str) -> None:
    """The backward group scored with plain bridge forwards (the path before the cached prefix)."""
    with zoo.use(MODEL) as model:
        rv.group_score(lambda t: model(t), cr.word_tokenizer(MODEL), load_world(MODEL), group, "backward")


def latencies() -> list[dict]:
    zoo.load(MODEL)
    world = load_world(MODEL)
    cr.word_tokenizer(MODEL)
    query = cr.query.__wrapped__
    group = cr.group_score.__wrapped__
    query(MODEL, world.facts[0].person)  # warm-up
    people = [f.person for f in world.facts]
    times = {
        "reversal_query": _time(lambda i: query(MODEL, people[(7 * i) % len(people)]), N),
        "reversal_accuracy_group": _time(lambda i: group(MODEL, "AB"[i % 2], ("forward", "backward")[i // 2 % 2]), 16),
        "reversal_accuracy_group_backward": _time(lambda i: group(MODEL, "AB"[i % 2], "backward"), 20),
        "reversal_accuracy_group_bridge": _time(lambda i: _bridge_group("AB"[i % 2]), 6),
    }
    r = query(MODEL, people[0])
    times["reversal_query_figure"] = _time(lambda i: (_candidates_figure(r["forward"], 15, "f"),
                                                      _candidates_figure(r["backward"], 15, "b")), N)
    return summarise(times, "reversal-curse")


def main() -> None:
    run_and_write("reversal", latencies)


if __name__ == "__main__":
    main()
