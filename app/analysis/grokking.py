"""What the grokking walkthrough shows of one checkpoint, read through TransformerLens hooks.

Nanda, Chan, Lieberum, Smith & Steinhardt (2023), "Progress measures for grokking via
mechanistic interpretability", https://arxiv.org/abs/2301.05217: figure 1 and section 4.1
(periodic attention and neurons over (a, b), neuron clusters, embedding norms per frequency),
section 4.2 (logits as cos(w(a+b-c))). The Fourier maths lives in ``app.analysis.fourier``;
this module runs the bridge on every input once and summarises what the views draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from app.analysis import fourier
from app.tasks import modadd

HOOKS = ("blocks.0.attn.hook_pattern", "blocks.0.mlp.hook_post")


@dataclass(frozen=True)
class Snapshot:
    """One model's activations at ``=`` over every input (row ``a * p + b``)."""

    attn_to_a: torch.Tensor  # (H, p, p): attention from "=" to the a token, [head, a, b]
    neurons: torch.Tensor  # (p, p, d_mlp): neuron activations, [a, b, neuron]
    logits: torch.Tensor  # (p*p, p): the number logits
    params: dict  # the state dict (bridge layout)


@torch.no_grad()
def snapshot(model, p: int = modadd.P) -> Snapshot:
    """Run every ``a b =`` input through the bridge with a cache of attention and neurons."""
    tokens = modadd.all_pairs(p)  # (p*p, 3)
    logits, cache = model.run_with_cache(tokens, names_filter=lambda n: n in HOOKS)
    pattern = cache["blocks.0.attn.hook_pattern"][:, :, -1, 0]  # (p*p, H): "=" attending to a
    post = cache["blocks.0.mlp.hook_post"][:, -1]  # (p*p, d_mlp)
    return Snapshot(attn_to_a=pattern.T.reshape(-1, p, p).contiguous(), neurons=post.view(p, p, -1),
                    logits=logits[:, -1, :p].contiguous(), params={k: v.detach() for k, v in model.state_dict().items()})


def accuracy(snap: Snapshot, p: int = modadd.P) -> float:
    """Accuracy over every pair (train and test)."""
    return float((snap.logits.argmax(-1) == modadd.labels(modadd.all_pairs(p), p)).float().mean())


def embedding_norms(snap: Snapshot, p: int = modadd.P) -> list[float]:
    """Norm of the number embeddings per frequency k = 1 .. p // 2 (square root of cos^2 + sin^2)."""
    return fourier.embed_freq_norms(snap.params, p).sqrt().tolist()


def neuron_summary(snap: Snapshot, p: int = modadd.P) -> dict:
    """Each neuron's dominant frequency (0 = none) and share of variance; counts per frequency."""
    freq, share = fourier.neuron_clusters(snap.neurons, p)
    counts = torch.bincount(freq, minlength=p // 2 + 1)
    return {"freq": freq.tolist(), "share": share.tolist(), "counts": counts[1:].tolist(), "unclustered": int(counts[0])}


def logit_fit(snap: Snapshot, freqs: list[int], p: int = modadd.P) -> dict:
    """Per-frequency and combined share of logit variance in the cos(w_k(a+b-c)) terms."""
    return {"per_freq": fourier.logit_freq_fit(snap.logits, p).tolist(),
            "combined": fourier.logit_var_explained(snap.logits, freqs, p)}


def logits_vs_fit(snap: Snapshot, a: int, b: int, freqs: list[int], p: int = modadd.P) -> dict:
    """One input's centred logits over c next to the fitted sum of key-frequency cosines."""
    row = snap.logits[a * p + b].double()
    alpha, _ = fourier.cos_fit(snap.logits, p)  # (p // 2,)
    c = torch.arange(p, dtype=torch.float64)
    fit = sum(alpha[k - 1] * torch.cos(2 * torch.pi * k * (a + b - c) / p) for k in freqs) if freqs else 0 * c
    return {"actual": (row - row.mean()).tolist(), "fit": fit.tolist()}
