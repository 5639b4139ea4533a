"""Optional hub models (GPT-2 small for the IOI page), off by default.

With ``INTERP_READER_HUB=1`` in the environment the app may load a Hugging Face model through
``TransformerBridge.boot_transformers`` (e.g. ``"gpt2"``, the model Wang et al. 2022 study in
"Interpretability in the Wild", https://arxiv.org/abs/2211.00593). Without it, or without network,
``load`` raises ``HubUnavailable`` with a message the page shows in place. ``name`` may also be a
local folder holding a saved Hugging Face model (how the tests run it, offline).

A loaded hub model is shared like a zoo model: one instance per name, used under its own lock.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Iterator

import torch

from app import zoo  # noqa: F401  (sets torch's thread count)

ENV = "INTERP_READER_HUB"
DEFAULT = "gpt2"

_models: dict[str, object] = {}
_locks: dict[str, threading.RLock] = {}
_registry = threading.Lock()


class HubUnavailable(RuntimeError):
    """The hub model cannot be used here (hub models off, or no network / no such model)."""


def enabled() -> bool:
    return os.environ.get(ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _boot(name: str, tokenizer=None):
    from transformer_lens.model_bridge import TransformerBridge

    model = TransformerBridge.boot_transformers(name, device="cpu", tokenizer=tokenizer)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def load(name: str = DEFAULT, tokenizer=None):
    """The shared eval-mode bridge for a hub model (or a local HF folder); HubUnavailable if not possible."""
    if not enabled():
        raise HubUnavailable(f"Hub models are off. To run this view on {name}, start the app with {ENV}=1 on a "
                             "machine with internet access (the weights are downloaded once).")
    with _registry:
        if name not in _models:
            try:
                _models[name] = _boot(name, tokenizer)
            except (OSError, ValueError, RuntimeError, ImportError) as err:  # offline, unknown name, bad folder
                raise HubUnavailable(f"{name} could not be loaded ({type(err).__name__}: {str(err)[:200]}). "
                                     "Hub models need network access the first time.") from None
            _locks[name] = threading.RLock()
        return _models[name]


@contextmanager
def use(name: str = DEFAULT, tokenizer=None) -> Iterator[object]:
    model = load(name, tokenizer)
    with _locks[name]:
        try:
            yield model
        finally:
            model.reset_hooks()


@torch.no_grad()
def ioi_logit_diff(model, text: str, io: str, s: str, k: int = 8) -> dict:
    """IO - S logit difference after ``text`` on a BPE model (names as ' Name' tokens) and its top tokens."""
    ids = model.to_tokens(text)  # (1, T), BOS first
    logits = model(ids)[0, -1]  # (V,)

    def one(name: str) -> int:
        toks = model.to_tokens(" " + name, prepend_bos=False)[0]
        if len(toks) != 1:
            raise ValueError(f"' {name}' is {len(toks)} tokens for this model; IOI names must be single tokens")
        return int(toks[0])

    probs = logits.softmax(-1)
    top = logits.topk(k)
    return {"logit_diff": float(logits[one(io)] - logits[one(s)]),
            "top": [(model.to_string(torch.tensor([int(i)])), float(v), float(probs[i]))
                    for v, i in zip(top.values, top.indices)]}
