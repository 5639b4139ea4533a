"""The model zoo: one registry of named models shipped in ``models/<name>/``.

``load(name)`` returns an eval-mode TransformerLens ``TransformerBridge`` booted
natively from ``config.json`` (the ``TransformerBridgeConfig`` fields) and
``model.safetensors`` (+ ``tokenizer.json``), built once per process.

A loaded model is shared by every session and thread. TransformerLens hooks on a
shared bridge are not thread-safe (measured: 75 of 80 hooked runs from 8 threads came
back wrong), so every forward pass that may add hooks or read a cache goes through
``with zoo.use(name) as model:``, which holds that model's lock.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch
from safetensors.torch import load_file

from app import limits

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"

# Set deliberately: for these tiny models one thread beat two by 2-40x on the shared
# 2-core machines (bench/threads.py measures it).
TORCH_THREADS = int(os.environ.get("INTERP_TORCH_THREADS", "1"))  # the override is for bench/load.py --threads
torch.set_num_threads(TORCH_THREADS)

_models: dict[tuple[str, int | None], object] = {}
_locks: dict[tuple[str, int | None], threading.RLock] = {}
_registry_lock = threading.Lock()
_build_locks: dict[tuple[str, int | None], threading.Lock] = {}  # one per model: first loads of different models overlap
_load_counts: dict[tuple[str, int | None], int] = {}  # how often each model was built (the load bench: once)


class UnknownModelError(KeyError):
    """Raised for a model name that is not in ``models/``."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


@functools.lru_cache(maxsize=1)
def _scan(stamp: tuple) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(transformers, toy models) in ``models/``; one directory scan per stamp (every widget asks on every rerun)."""
    folders = [p for p in MODELS_DIR.iterdir() if p.is_dir()]
    models = tuple(sorted(p.name for p in folders if (p / "config.json").is_file()))
    toys = tuple(sorted(p.name for p in folders if (p / "card.md").is_file() and not (p / "config.json").is_file()))
    return models, toys


def _listing() -> tuple[tuple[str, ...], tuple[str, ...]]:
    # models/ changes its mtime when a folder appears or goes; a recipe writing config.json into a folder it
    # made earlier does not, so the listing also expires every 2 s
    return _scan((MODELS_DIR.stat().st_mtime_ns, int(time.monotonic() // 2)))


def names() -> list[str]:
    """Every shipped model, sorted."""
    return list(_listing()[0])


def model_dir(name: str) -> Path:
    """The folder of a registered model; the name never becomes a path unless it is registered."""
    valid = names()
    if name not in valid:
        raise UnknownModelError(f"unknown model {name!r}; valid models: {', '.join(valid)}")
    return MODELS_DIR / name


def toy_names() -> list[str]:
    """Shipped toy models that are not transformers (a folder with card.md but no config.json), e.g. ``tms``.

    They never go through ``load``: their own analysis module reads their result files.
    """
    return list(_listing()[1])


def toy_dir(name: str) -> Path:
    """The folder of a shipped toy model; unknown names list the valid ones."""
    valid = toy_names()
    if name not in valid:
        raise UnknownModelError(f"unknown toy model {name!r}; valid toy models: {', '.join(valid)}")
    return MODELS_DIR / name


def _any_dir(name: str) -> Path:
    return toy_dir(name) if name in toy_names() else model_dir(name)


def config(name: str) -> dict:
    """The model's ``TransformerBridgeConfig`` fields, read from ``config.json`` (no weights)."""
    return json.loads((model_dir(name) / "config.json").read_text())


def card(name: str) -> str:
    """The model card (Markdown)."""
    return (_any_dir(name) / "card.md").read_text()


def metrics(name: str) -> dict:
    """The measured properties in ``metrics.json``."""
    return json.loads((_any_dir(name) / "metrics.json").read_text())


def hf_tokenizer(tokenizer):
    """Wrap a ``tokenizers.Tokenizer`` so TransformerLens can use it (adds BOS)."""
    from transformers import PreTrainedTokenizerFast

    from app.tasks.code_corpus import BOS, PAD, UNK

    hf = PreTrainedTokenizerFast(tokenizer_object=tokenizer, add_bos_token=True, bos_token=BOS, pad_token=PAD, unk_token=UNK)
    hf.init_kwargs["name_or_path"] = ""
    return hf


def build(cfg_fields: dict, tokenizer=None, device: str | None = None):
    """A freshly initialised bridge for the given config fields (used by recipes and ``load``)."""
    from transformer_lens.config import TransformerBridgeConfig
    from transformer_lens.model_bridge import TransformerBridge

    cfg = TransformerBridgeConfig(**cfg_fields)
    return TransformerBridge.boot_native(cfg, tokenizer=tokenizer, device=device)


def checkpoints(name: str) -> list[int]:
    """Training steps with a shipped fp16 checkpoint (``checkpoints/step_NNNNN.safetensors``)."""
    folder = model_dir(name) / "checkpoints"
    return sorted(int(p.stem.split("_")[1]) for p in folder.glob("step_*.safetensors")) if folder.is_dir() else []


def curve(name: str) -> list[dict]:
    """The training record (``training.json``): one dict per eval step."""
    path = model_dir(name) / "training.json"
    return json.loads(path.read_text()) if path.is_file() else []


def repeat_vocab_at(folder: Path) -> list[int] | None:
    """The token ids a recipe drew its synthetic repeated spans from (``repeat_vocab.json``), if any."""
    path = folder / "repeat_vocab.json"
    return json.loads(path.read_text()) if path.is_file() else None


def repeat_vocab(name: str) -> list[int] | None:
    """``repeat_vocab_at`` for a registered model: the token set its repeated-token tests use."""
    return repeat_vocab_at(model_dir(name))


def _weights_path(name: str, checkpoint: int | None) -> Path:
    folder = model_dir(name)
    if checkpoint is None:
        return folder / "model.safetensors"
    valid = checkpoints(name)
    if checkpoint not in valid:
        raise UnknownModelError(f"{name} has no checkpoint at step {checkpoint}; shipped steps: {valid or 'none'}")
    return folder / "checkpoints" / f"step_{checkpoint:05d}.safetensors"


def _load_uncached(name: str, checkpoint: int | None):
    from tokenizers import Tokenizer

    folder = model_dir(name)
    tok_path = folder / "tokenizer.json"
    tokenizer = hf_tokenizer(Tokenizer.from_file(str(tok_path))) if tok_path.is_file() else None
    model = build(config(name), tokenizer)
    state = {k: v.float() for k, v in load_file(_weights_path(name, checkpoint)).items()}  # fp16 checkpoints
    model.load_state_dict(state, strict=True)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def load(name: str, checkpoint: int | None = None):
    """The shared eval-mode bridge for ``name`` (final weights, or a training checkpoint's)."""
    key = (name, checkpoint)
    model = _models.get(key)
    if model is not None:
        return model
    _weights_path(name, checkpoint)  # unknown names and steps raise here, before they get a lock
    with _registry_lock:  # held for a dict lookup only: a slow first load must not stall sessions on other models
        build_lock = _build_locks.setdefault(key, threading.Lock())
    with build_lock:
        if key not in _models:
            built = _load_uncached(name, checkpoint)
            _locks[key] = threading.RLock()
            _load_counts[key] = _load_counts.get(key, 0) + 1
            _models[key] = built  # published last: whoever sees it also finds its lock
        return _models[key]


@contextmanager
def use(name: str, checkpoint: int | None = None) -> Iterator[object]:
    """Hold the model's lock for the duration of a (possibly hooked) run.

    The run also takes one of ``limits.MAX_ACTIVE`` global slots: too much work in flight raises
    ``limits.Busy`` (a ValueError with a "try again" message) instead of queueing without end.
    """
    model = load(name, checkpoint)
    with limits.model_work(), _locks[(name, checkpoint)]:
        try:
            yield model
        finally:
            # A hook must never outlive the call that added it.
            model.reset_hooks()


def loaded() -> list[tuple[str, int | None]]:
    """(name, checkpoint) pairs loaded in this process so far (the load bench counts loads)."""
    return sorted(_models, key=lambda k: (k[0], -1 if k[1] is None else k[1]))


def load_counts() -> dict[tuple[str, int | None], int]:
    """How many times each (name, checkpoint) was built in this process (1 each when sharing works)."""
    return dict(_load_counts)
