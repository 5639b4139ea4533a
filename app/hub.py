"""Optional hub models (GPT-2 small for the IOI page), off by default.

With ``INTERP_READER_HUB=1`` in the environment the app may load a Hugging Face model through
``TransformerBridge.boot_transformers`` (e.g. ``"gpt2"``, the model Wang et al. 2022 study in
"Interpretability in the Wild", https://arxiv.org/abs/2211.00593). Without it, or without network,
``load`` raises ``HubUnavailable`` with a message the page shows in place. ``name`` may also be a
local folder holding a saved Hugging Face model (how the tests run it, offline).

A loaded hub model is shared like a zoo model: one instance per name, used under its own lock.
``standard_batch`` / ``corrupted`` build the same ``app.analysis.ioi.Batch`` our word-level models
use, tokenized by the hub model's own (BPE) tokenizer, so direct logit attribution, attention to
roles and activation patching run on GPT-2 small through the very functions they run on our models.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Iterator

import torch

from app import zoo  # noqa: F401  (sets torch's thread count)

ENV = "INTERP_READER_HUB"
MODEL_ENV = "INTERP_READER_HUB_MODEL"  # which hub model the pages' "gpt2" choice boots (default: gpt2)
DEFAULT = "gpt2"

_models: dict[str, object] = {}
_locks: dict[str, threading.RLock] = {}
_registry = threading.Lock()


class HubUnavailable(RuntimeError, ValueError):
    """The hub model cannot be used here (hub models off, or no network / no such model).

    Also a ValueError, so the pages' generic "input the model cannot use" handler shows it in place.
    """


def enabled() -> bool:
    return os.environ.get(ENV, "").strip().lower() in ("1", "true", "yes", "on")


def default_name() -> str:
    """The hub model the pages run: ``INTERP_READER_HUB_MODEL`` (a hub id or a local HF folder), else gpt2."""
    return os.environ.get(MODEL_ENV, "").strip() or DEFAULT


def _boot(name: str, tokenizer=None):
    from transformer_lens.model_bridge import TransformerBridge

    model = TransformerBridge.boot_transformers(name, device="cpu", tokenizer=tokenizer)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def load(name: str | None = None, tokenizer=None):
    """The shared eval-mode bridge for a hub model (or a local HF folder); HubUnavailable if not possible."""
    name = name or default_name()
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
def use(name: str | None = None, tokenizer=None) -> Iterator[object]:
    name = name or default_name()
    model = load(name, tokenizer)
    with _locks[name]:
        try:
            yield model
        finally:
            model.reset_hooks()


def name_token(model, name: str) -> int:
    """The single token id of ``' ' + name`` for this model; ValueError if the name is several tokens."""
    toks = model.to_tokens(" " + name, prepend_bos=False)[0]
    if len(toks) != 1:
        raise ValueError(f"' {name}' is {len(toks)} tokens for this model; IOI names must be single tokens")
    return int(toks[0])


def _single_token_names(model) -> list[str]:
    from app.tasks import ioi

    out = []
    for n in ioi.NAMES:
        try:
            name_token(model, n)
            out.append(n)
        except ValueError:
            pass
    return out


def standard_batch(model, template: int, order: str, n: int = 16, split: str = "test", seed: int = 0):
    """``n`` prompts of one template and order for a hub model, as an ``app.analysis.ioi.Batch``.

    Like ``app.analysis.ioi.standard_batch``, but tokenized by the model (BOS first) and kept to the
    prompts whose names are single tokens and whose token count is the most common one, so every row
    shares one layout. ValueError if fewer than 2 prompts qualify.
    """
    from app.analysis.ioi import Batch
    from app.tasks import ioi

    names = set(_single_token_names(model))
    ps = [p for p in ioi.prompts(n * 8, split=split, seed=seed, templates=[template])
          if p.order == order and {p.io, p.s} <= names]
    lengths = [model.to_tokens(p.text).shape[1] for p in ps]
    if not lengths:
        raise ValueError(f"template {template}: no prompts whose names are single tokens for this model")
    common = max(set(lengths), key=lengths.count)
    ps = [p for p, k in zip(ps, lengths) if k == common and _twin_fits(model, p, common, names)][:n]
    if len(ps) < 2:
        raise ValueError(f"template {template}: fewer than 2 prompts share one token layout for this model")
    tokens = model.to_tokens([p.text for p in ps])  # (N, T)
    ids = tokens[0].tolist()
    io, s = name_token(model, ps[0].io), name_token(model, ps[0].s)
    pos = {"IO": ids.index(io), "S1": ids.index(s), "S2": len(ids) - 1 - ids[::-1].index(s), "END": len(ids) - 1}
    role = {v: k for k, v in pos.items()}
    labels = [f"{i} {role.get(i, w.strip())}" for i, w in enumerate(model.to_str_tokens(tokens[0]))]
    return Batch(ps, tokens, torch.tensor([name_token(model, p.io) for p in ps]),
                 torch.tensor([name_token(model, p.s) for p in ps]), pos, labels)


def _twin_fits(model, prompt, length: int, names: set[str]) -> bool:
    """Whether the ABC and swap twins of ``prompt`` use single-token names and keep its token count."""
    from app.tasks import ioi

    twins = [ioi.corrupt(prompt, "abc"), ioi.corrupt(prompt, "swap")]
    return all(set(t.slots) <= names and model.to_tokens(t.text).shape[1] == length for t in twins)


def corrupted(model, batch, kind: str = "abc", seed: int = 0) -> torch.Tensor:
    """Tokens (N, T) of each prompt's corrupted twin, tokenized by the hub model (same layout as ``batch``)."""
    from app.tasks import ioi

    tokens = model.to_tokens([ioi.corrupt(p, kind, seed).text for p in batch.prompts])
    if tokens.shape != batch.tokens.shape:
        raise ValueError("a corrupted prompt changed the token count for this model; try another template")
    return tokens


@torch.no_grad()
def ioi_logit_diff(model, text: str, io: str, s: str, k: int = 8) -> dict:
    """IO - S logit difference after ``text`` on a BPE model (names as ' Name' tokens) and its top tokens."""
    ids = model.to_tokens(text)  # (1, T), BOS first
    logits = model(ids)[0, -1]  # (V,)
    probs = logits.softmax(-1)
    top = logits.topk(k)
    return {"logit_diff": float(logits[name_token(model, io)] - logits[name_token(model, s)]),
            "top": [(model.to_string(torch.tensor([int(i)])), float(v), float(probs[i]))
                    for v, i in zip(top.values, top.indices)]}
