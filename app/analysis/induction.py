"""Induction heads: detection, ablation and in-context predictions.

Technique: Olsson et al. (2022), "In-context Learning and Induction Heads",
https://transformer-circuits.pub/2022/in-context-learning-and-induction-heads/index.html
(sections "Definitions" and "Argument 3: ablations"). Head scores use TransformerLens'
``head_detector.detect_head``, which tokenizes text, so the repeated "random tokens"
here are whole-word tokens that survive a decode/encode round trip: the detector sees
exactly the sequence we generated.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from transformer_lens.head_detector import detect_head

from app.analysis.heads import per_token_loss

DETECTORS = ("previous_token_head", "induction_head", "duplicate_token_head")


def word_vocab(model) -> list[int]:
    """Token ids that are a space plus letters and encode back to exactly themselves."""
    out = []
    for i in range(model.cfg.d_vocab):
        s = model.to_string(torch.tensor([i]))
        if len(s) > 2 and s[0] == " " and s[1:].isalpha() and s[1:].isascii():
            if model.to_tokens(s, prepend_bos=False)[0].tolist() == [i]:
                out.append(i)
    return out


def detector_vocab(model, repeat_vocab: list[int] | None) -> list[int]:
    """Whole-word tokens, restricted to the recipe's repeat vocabulary when it has one.

    Our models learned induction on the corpus's most frequent tokens; rarer whole words
    are copied by other heads, so the detector would name a different head on them.
    """
    words = word_vocab(model)
    if repeat_vocab is None:
        return words
    keep = set(repeat_vocab)
    return [t for t in words if t in keep]


def repeated_text(model, vocab: list[int], half_len: int, seed: int) -> tuple[str, torch.Tensor]:
    """Random whole-word tokens repeated once, as text and as (1 + 2*half_len,) tokens with BOS.

    Example (half_len=3): ' river batch total river batch total'.
    """
    rng = np.random.default_rng(seed)
    half = rng.choice(vocab, size=half_len, replace=len(vocab) < half_len).tolist()
    text = model.to_string(torch.tensor(half + half))
    tokens = model.to_tokens(text)[0]
    if tokens[1:].tolist() != half + half:  # the detector re-tokenizes: refuse if it would see other tokens
        raise ValueError("the repeated sequence did not survive tokenization; try another seed")
    return text, tokens


@torch.no_grad()
def detector_scores(model, text: str) -> dict[str, torch.Tensor]:
    """(n_layers, n_heads) TransformerLens head-detector score per kind of head."""
    return {kind: detect_head(model, text, kind) for kind in DETECTORS}


def _ablate_hook(z: torch.Tensor, hook, heads: list[int], values: torch.Tensor | None) -> torch.Tensor:
    """z: (batch, pos, head, d_head). Replace the listed heads by zero or by their mean."""
    for h in heads:
        z[:, :, h] = 0.0 if values is None else values[h]
    return z


@torch.no_grad()
def head_means(model, tokens: torch.Tensor) -> torch.Tensor:
    """(n_layers, n_heads, d_head) mean of each head's z over a batch of ordinary text."""
    names = [f"blocks.{l}.attn.hook_z" for l in range(model.cfg.n_layers)]
    _, cache = model.run_with_cache(tokens, names_filter=lambda n: n in names)
    return torch.stack([cache[n].mean(dim=(0, 1)) for n in names])


@torch.no_grad()
def ablated_loss(model, tokens: torch.Tensor, heads: list[tuple[int, int]], means: torch.Tensor | None = None) -> torch.Tensor:
    """(batch, seq-1) per-token loss with ``heads`` zero-ablated (or mean-ablated if ``means``)."""
    by_layer: dict[int, list[int]] = {}
    for l, h in heads:
        by_layer.setdefault(l, []).append(h)
    fwd = [(f"blocks.{l}.attn.hook_z", partial(_ablate_hook, heads=hs, values=None if means is None else means[l]))
           for l, hs in by_layer.items()]
    with model.hooks(fwd_hooks=fwd):
        return per_token_loss(model, tokens)


@dataclass(frozen=True)
class InductionGuess:
    """At ``pos`` the current token occurred before at ``prev``; an induction head predicts ``guess``."""

    pos: int
    prev: int
    guess: int
    prob: float  # model probability of the guess as the next token
    top1: int  # the model's actual top prediction
    attention: float  # the head's attention from pos to prev + 1


@torch.no_grad()
def induction_guesses(model, tokens: torch.Tensor, layer: int, head: int) -> tuple[list[InductionGuess], torch.Tensor]:
    """Every position whose token occurred earlier, with what induction would predict there.

    Returns the guesses and (seq,) the probability the model gives the true next token.
    """
    name = f"blocks.{layer}.attn.hook_pattern"
    logits, cache = model.run_with_cache(tokens[None], names_filter=lambda n: n == name)
    probs = torch.softmax(logits[0].float(), dim=-1)  # (seq, V)
    pattern = cache[name][0, head]  # (query, key)
    last_seen: dict[int, int] = {}
    guesses = []
    toks = tokens.tolist()
    for pos, t in enumerate(toks):
        prev = last_seen.get(t)
        if prev is not None and prev + 1 < pos:
            g = toks[prev + 1]
            guesses.append(InductionGuess(pos, prev, g, float(probs[pos, g]), int(probs[pos].argmax()),
                                          float(pattern[pos, prev + 1])))
        if pos > 0:  # BOS is not a token to copy from
            last_seen[t] = pos
    true_next = torch.cat([probs[torch.arange(len(toks) - 1), tokens[1:]], torch.tensor([float("nan")])])
    return guesses, true_next
