"""User text -> model tokens, with every adjustment reported (never silently changed).

Control characters (NUL and friends) are removed, text is cut at ``MAX_TEXT_CHARS``,
and tokens beyond the model's context are dropped. Byte-level BPE encodes any other
Unicode (RTL marks, emoji, zero-width joiners) without unknown tokens.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import torch

from app.widgets import MAX_TEXT_CHARS


@dataclass(frozen=True)
class Prompt:
    tokens: torch.Tensor  # (seq,) including BOS
    notes: tuple[str, ...]  # what was changed, for an in-place message


def clean(text: str, max_chars: int = MAX_TEXT_CHARS) -> tuple[str, list[str]]:
    notes = []
    kept = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    if len(kept) != len(text):
        notes.append(f"removed {len(text) - len(kept)} control character(s)")
    if len(kept) > max_chars:
        kept = kept[:max_chars]
        notes.append(f"text cut to its first {max_chars} characters")
    return kept, notes


def to_prompt(model, text: str) -> Prompt:
    """Tokens for ``text`` (BOS first), capped at the model's context. Raises ValueError if empty."""
    text, notes = clean(text)
    if not text.strip():
        raise ValueError("The text is empty: type some code or prose to run the model on.")
    tokens = model.to_tokens(text, truncate=False)[0]  # TransformerLens would cut silently at n_ctx
    n_ctx = model.cfg.n_ctx
    if tokens.shape[0] > n_ctx:
        notes.append(f"{tokens.shape[0]} tokens is over the model's context of {n_ctx}: only the first {n_ctx} are used")
        tokens = tokens[:n_ctx]
    return Prompt(tokens, tuple(notes))


def token_label(s: str) -> str:
    """A token as a visible label: newlines and tabs shown as escapes, spaces as '·' at the edges."""
    s = s.replace("\n", "\\n").replace("\t", "\\t")
    if s.startswith(" "):
        s = "·" + s[1:]
    return s or "∅"
