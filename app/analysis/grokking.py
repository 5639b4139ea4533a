"""What the grokking walkthrough shows of one checkpoint.

Nanda, Chan, Lieberum, Smith & Steinhardt (2023), "Progress measures for grokking via
mechanistic interpretability", https://arxiv.org/abs/2301.05217: figure 1 and section 4.1
(periodic attention and neurons over (a, b), neuron clusters, embedding norms per frequency),
section 4.2 (logits as cos(w(a+b-c))). The Fourier maths lives in ``app.analysis.fourier``;
this module evaluates the bridge's weights on every input and summarises what the views draw.
"""

from __future__ import annotations

from functools import cached_property

import torch

from app.analysis import fourier
from app.tasks import modadd


class Snapshot:
    """One model's activations at ``=`` over every input (row ``a * p + b``), computed on first use.

    Built from the bridge's own weights through ``fourier.grid_forward`` (tests check it against a
    hooked ``run_with_cache`` of the bridge): attention is cheap and computed at once; the neurons
    (p, p, d_mlp) and the logits (p*p, p) only when a view asks for them.
    """

    def __init__(self, params: dict, n_heads: int, p: int = modadd.P):
        self.params, self.p = params, p
        g = fourier.grid_forward(params, n_heads, p)
        self.attn_to_a = g["pattern"][..., 0].permute(2, 0, 1).contiguous()  # (H, p, p): "=" attending to a
        self._resid, self._neurons, self._logits = g["resid_mid"], g["neurons"], g["logits"]
        self._w_in, self._b_in = params["blocks.0.mlp.in.weight"].float(), params["blocks.0.mlp.in.bias"].float()

    def neuron(self, n: int) -> torch.Tensor:
        """One neuron over the grid, without running the others: (p, p)."""
        return torch.relu(self._resid @ self._w_in[n] + self._b_in[n])

    @cached_property
    def neurons(self) -> torch.Tensor:
        """(p, p, d_mlp): neuron activations, [a, b, neuron]."""
        return self._neurons(self._resid)

    @cached_property
    def logits(self) -> torch.Tensor:
        """(p*p, p): the number logits."""
        return self._logits(self._resid, self.neurons).reshape(self.p * self.p, self.p)


@torch.no_grad()
def snapshot(model, p: int = modadd.P) -> Snapshot:
    """The views' numbers for a bridge (final weights or a checkpoint)."""
    params = {k: v.detach().float() for k, v in model.state_dict().items()}
    return Snapshot(params, model.cfg.n_heads, p)


@torch.no_grad()
def hooked_snapshot(model, p: int = modadd.P) -> dict:
    """The same activations read from a TransformerLens run with a cache (slower; the reference for tests)."""
    hooks = ("blocks.0.attn.hook_pattern", "blocks.0.mlp.hook_post")
    logits, cache = model.run_with_cache(modadd.all_pairs(p), names_filter=lambda n: n in hooks)
    pattern = cache["blocks.0.attn.hook_pattern"][:, :, -1, 0]  # (p*p, H): "=" attending to a
    return {"attn_to_a": pattern.T.reshape(-1, p, p), "neurons": cache["blocks.0.mlp.hook_post"][:, -1].view(p, p, -1),
            "logits": logits[:, -1, :p]}


@torch.no_grad()
def one_input(model, a: int, b: int, p: int = modadd.P) -> dict:
    """A hooked run on the single input ``a b =``: its attention pattern (H, 3, 3) and the top answers."""
    tokens = torch.tensor([[a, b, p]])
    logits, cache = model.run_with_cache(tokens, names_filter=lambda n: n == "blocks.0.attn.hook_pattern")
    probs = logits[0, -1, :p].softmax(-1)  # (p,)
    top = probs.topk(3)
    return {"pattern": cache["blocks.0.attn.hook_pattern"][0], "top": list(zip(top.indices.tolist(), top.values.tolist()))}


def accuracy(snap: Snapshot, p: int = modadd.P) -> float:
    """Accuracy over every pair (train and test)."""
    return float((snap.logits.argmax(-1) == modadd.labels(modadd.all_pairs(p), p)).float().mean())


def embedding_norms(snap: Snapshot, p: int = modadd.P) -> list[float]:
    """Norm of the number embeddings per frequency k = 1 .. p // 2 (square root of cos^2 + sin^2)."""
    return fourier.embed_freq_norms(snap.params, p).sqrt().tolist()


def neuron_summary(snap: Snapshot, p: int = modadd.P) -> dict:
    """Each neuron's dominant frequency (0 = none) and share of variance; counts per frequency; the mean
    share of neuron variance on each frequency."""
    frac = fourier.neuron_freq_fractions(snap.neurons, p)  # (n, p // 2)
    freq, share = fourier.clusters_from_fractions(frac, snap.neurons)
    counts = torch.bincount(freq, minlength=p // 2 + 1)
    return {"freq": freq.tolist(), "share": share.tolist(), "counts": counts[1:].tolist(), "unclustered": int(counts[0]),
            "mean_share": frac.mean(0).tolist()}


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
