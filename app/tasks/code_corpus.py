"""An offline text corpus: the Python standard library's own source files.

Every machine with Python has it, so the text models can be rebuilt with no
network. Files are read in sorted order and split into train / validation by a
hash of their relative path, so the split does not depend on file order.

Example of the encoded stream (tokens from the shipped BPE tokenizer)::

    >>> tok = load_tokenizer(Path("models/attn-only-1l"))
    >>> tok.encode("def foo(x):").tokens
    ['def', 'Ġfoo', '(', 'x', '):']
"""

from __future__ import annotations

import hashlib
import sysconfig
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

BOS = "<|bos|>"
PAD = "<|pad|>"
UNK = "<|unk|>"
SPECIAL_TOKENS = [BOS, PAD, UNK]
_SKIP_PARTS = {"site-packages", "test", "tests", "idle_test", "__pycache__"}


def source_files(root: Path | None = None) -> list[Path]:
    """Sorted standard-library ``.py`` files, without test suites and site-packages."""
    root = Path(sysconfig.get_paths()["stdlib"]) if root is None else root
    files = [p for p in root.rglob("*.py") if not (_SKIP_PARTS & set(p.relative_to(root).parts))]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def split_of(rel_path: str, val_fraction: float = 0.05) -> str:
    """'val' for a stable ~5% of files (by hash of the relative path), else 'train'."""
    h = int(hashlib.sha256(rel_path.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "val" if h < val_fraction else "train"


def read_texts(split: str, max_chars: int | None = None, root: Path | None = None) -> list[str]:
    """Text of every file in ``split`` ('train' or 'val'), up to ``max_chars`` in all."""
    root = Path(sysconfig.get_paths()["stdlib"]) if root is None else root
    texts, total = [], 0
    for path in source_files(root):
        if split_of(path.relative_to(root).as_posix()) != split:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        texts.append(text)
        total += len(text)
        if max_chars is not None and total >= max_chars:
            break
    return texts


def train_tokenizer(texts: list[str], vocab_size: int) -> Tokenizer:
    """Byte-level BPE: any Unicode input (emoji, RTL, NUL) encodes without UNK."""
    tok = Tokenizer(models.BPE(unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def encode_stream(tok: Tokenizer, texts: list[str]) -> np.ndarray:
    """All files as one uint16 token stream, each file preceded by BOS."""
    bos = tok.token_to_id(BOS)
    ids: list[int] = []
    for enc in tok.encode_batch(texts):
        ids.append(bos)
        ids.extend(enc.ids)
    return np.asarray(ids, dtype=np.uint16)


def frequent_tokens(stream: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` most frequent non-special token ids in ``stream``, most frequent first."""
    counts = np.bincount(stream.astype(np.int64))
    counts[: len(SPECIAL_TOKENS)] = 0
    return np.argsort(-counts, kind="stable")[:k]


def sample_windows(stream: np.ndarray, n: int, ctx: int, rng: np.random.Generator, repeat_fraction: float = 0.0,
                   repeat_vocab: np.ndarray | None = None) -> np.ndarray:
    """``n`` random windows of ``ctx`` tokens, each starting with BOS: (n, ctx) int64.

    With ``repeat_fraction`` > 0, that share of windows is instead a span of k random
    tokens from ``repeat_vocab`` (k from 8 to ctx/2) repeated until the window is full,
    where only copying from earlier in the context can lower the loss. Example (k=3):
    [BOS, 812, 77, 1503, 812, 77, 1503, 812, ...].
    """
    starts = rng.integers(0, len(stream) - ctx, size=n)
    out = np.stack([stream[s : s + ctx - 1] for s in starts]).astype(np.int64)  # (n, ctx-1)
    if repeat_fraction > 0:
        for i in np.flatnonzero(rng.random(n) < repeat_fraction):
            span = rng.choice(repeat_vocab, size=rng.integers(8, ctx // 2))
            out[i] = np.resize(span, ctx - 1)  # tile the span
    bos = np.full((n, 1), 0, dtype=np.int64)
    return np.concatenate([bos, out], axis=1)  # (n, ctx); BOS id is 0 (first special token)
