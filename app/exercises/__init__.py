"""Auto-checks for exercises: each computes the answer on the live model and says what to fix.

A check is ``fn(answer: str, **args) -> CheckResult``; walkthrough YAML names it in
``exercise.check.fn`` with its ``args``. One module per walkthrough (or family of them) holds its
checks and a ``CHECKS`` dict; this package merges them. No Streamlit here.
"""

from __future__ import annotations

import inspect
from typing import Callable

from app import zoo
from app.exercises import basis, circuits, facts, grokking, othello, reversal, superposition
from app.exercises import atp
from app.exercises import ioi
from app.exercises import sae
from app.exercises.common import CheckResult, parse_head
from app.exercises.basis import outlier_dimension
from app.exercises.grokking import grok_step, key_frequency_count, largest_embed_frequency

__all__ = ["CHECKS", "CheckResult", "parse_head", "run_check", "validate_args", "outlier_dimension", "grok_step",
           "key_frequency_count", "largest_embed_frequency"]

CHECKS: dict[str, Callable[..., CheckResult]] = {}
for _module in (othello, circuits, grokking, basis, superposition, reversal, facts, atp):
    CHECKS.update(_module.CHECKS)
CHECKS.update(ioi.CHECKS)
CHECKS.update(sae.CHECKS)


def validate_args(fn: str, args: dict) -> str | None:
    """A message if ``args`` do not fit the check's signature (or name unknown models), else None."""
    sig = inspect.signature(CHECKS[fn])
    params = [p for p in sig.parameters if p != "answer"]
    unknown = set(args) - set(params)
    if unknown:
        return f"unknown args {sorted(unknown)} for check {fn!r}; it takes {params}"
    missing = [p for p in params if sig.parameters[p].default is inspect.Parameter.empty and p not in args]
    if missing:
        return f"check {fn!r} needs args {missing}"
    if "model" in args and args["model"] not in zoo.names():
        return f"unknown model {args['model']!r}; valid models: {', '.join(zoo.names())}"
    return None


def run_check(fn: str, answer: str, args: dict) -> CheckResult:
    """Run a registered check; an answer the check cannot parse gets feedback, never an exception."""
    try:
        return CHECKS[fn](answer[:200], **args)
    except (ValueError, KeyError, IndexError) as err:
        return CheckResult(False, f"Could not check that answer: {err}")
