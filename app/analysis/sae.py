"""A sparse autoencoder (SAE) on MLP neurons, its metrics, and SAELens' file layout.

Technique: dictionary learning with a one-hidden-layer autoencoder, from Bricken et al. 2023,
"Towards Monosemanticity: Decomposing Language Models With Dictionary Learning"
(https://transformer-circuits.pub/2023/monosemantic-features/index.html): section "Problem setup"
(the encoder / decoder equations), appendix "Autoencoder training" (L1 penalty, unit-norm decoder,
resampling dead features) and "Feature density" (dead and dense features). The neuron-basis density count
follows the open replication by Neel Nanda, 2023, "Open Source Replication & Commentary on Anthropic's
Dictionary Learning Paper" (https://www.lesswrong.com/posts/fKuugaxt2XLTkASkk), which found most features
spread over many neurons.

Maths (x: one token's MLP post-activation, d_in = d_mlp neurons):
    f = ReLU((x - b_dec) @ W_enc + b_enc)      # (d_sae,) feature activations, mostly zero
    x_hat = f @ W_dec + b_dec                   # (d_in,) reconstruction
Shapes follow SAELens: W_enc (d_in, d_sae), W_dec (d_sae, d_in), b_enc (d_sae,), b_dec (d_in,).
No Streamlit here; the model is a TransformerLens bridge (hook ``blocks.0.mlp.hook_post``) or anything
that gives post-activations.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

HOOK = "blocks.0.mlp.hook_post"
DENSE_FRACTION = 0.9  # a feature's decoder row: how many neurons hold this share of its squared norm
DENSE_NEURONS = 10  # ... more than this many -> "dense in the neuron basis" (our threshold, stated on the page)
DENSE_FIRING = 0.1  # a feature firing on more than 10% of tokens is "dense" in activation (Bricken's density plots)


class SAE(nn.Module):
    """Encoder / decoder with SAELens' parameter names and shapes."""

    def __init__(self, d_in: int, d_sae: int, seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        w_dec = torch.randn(d_sae, d_in, generator=gen)
        w_dec = w_dec / w_dec.norm(dim=1, keepdim=True)  # unit-norm dictionary rows
        self.W_dec = nn.Parameter(w_dec)  # (d_sae, d_in)
        self.W_enc = nn.Parameter(w_dec.T.clone())  # (d_in, d_sae): tied at init, as Bricken's appendix suggests
        self.b_enc = nn.Parameter(torch.zeros(d_sae))
        self.b_dec = nn.Parameter(torch.zeros(d_in))

    @property
    def d_in(self) -> int:
        return self.W_dec.shape[1]

    @property
    def d_sae(self) -> int:
        return self.W_dec.shape[0]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x (..., d_in) -> feature activations (..., d_sae), >= 0."""
        return F.relu((x - self.b_dec) @ self.W_enc + self.b_enc)

    def decode(self, f: torch.Tensor) -> torch.Tensor:
        """f (..., d_sae) -> reconstruction (..., d_in)."""
        return f @ self.W_dec + self.b_dec

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.encode(x)
        return self.decode(f), f

    @torch.no_grad()
    def normalize_decoder(self) -> None:
        """Rescale each dictionary row to unit norm (keeps the L1 penalty from shrinking f by growing W_dec)."""
        self.W_dec.div_(self.W_dec.norm(dim=1, keepdim=True).clamp_min(1e-8))

    @torch.no_grad()
    def remove_parallel_grad(self) -> None:
        """Drop the part of W_dec's gradient along each row (so the unit-norm constraint costs Adam nothing)."""
        if self.W_dec.grad is not None:
            w = self.W_dec / self.W_dec.norm(dim=1, keepdim=True).clamp_min(1e-8)
            self.W_dec.grad -= (self.W_dec.grad * w).sum(1, keepdim=True) * w


# ---- metrics -----------------------------------------------------------------------------------------

def l0(f: torch.Tensor) -> float:
    """Mean number of active features per token; f (n, d_sae)."""
    return float((f > 0).float().sum(-1).mean())


def fvu(x: torch.Tensor, x_hat: torch.Tensor) -> float:
    """Fraction of variance unexplained: sum of squared errors over the total variance of x around its mean."""
    return float(((x - x_hat) ** 2).sum() / ((x - x.mean(0)) ** 2).sum())


def firing_rates(f: torch.Tensor) -> torch.Tensor:
    """Share of tokens on which each feature is active; f (n, d_sae) -> (d_sae,)."""
    return (f > 0).float().mean(0)


def neurons_for_share(w_dec: torch.Tensor, share: float = DENSE_FRACTION) -> torch.Tensor:
    """For each dictionary row (d_sae, d_in): the fewest neurons whose squared weights hold ``share`` of
    the row's squared norm. 1 = the feature is a single neuron; d_in/2 or so = spread over the layer."""
    sq = w_dec.float().pow(2)
    sq = sq.sort(dim=1, descending=True).values / sq.sum(1, keepdim=True).clamp_min(1e-12)  # (d_sae, d_in)
    return (sq.cumsum(1) < share - 1e-6).sum(1) + 1  # (d_sae,)


def dense_in_neuron_basis(counts: torch.Tensor, alive: torch.Tensor | None = None) -> float:
    """Share of (alive) features that need more than ``DENSE_NEURONS`` neurons for 90% of their norm."""
    counts = counts if alive is None else counts[alive]
    return float((counts > DENSE_NEURONS).float().mean()) if len(counts) else 0.0


def top_token_share(token_ids: torch.Tensor, acts: torch.Tensor | None = None) -> torch.Tensor:
    """A monosemanticity proxy: for each unit's top-activating tokens (units, k) the share that are its single
    most common token id, counting only entries with ``acts`` > 0 when given (NaN for a unit with none).
    1.0: the unit's strongest activations are all on one token."""
    out = torch.full((token_ids.shape[0],), float("nan"))
    for i, row in enumerate(token_ids):
        row = row if acts is None else row[acts[i] > 0]
        if len(row):
            out[i] = torch.bincount(row.long()).max() / len(row)
    return out


@torch.no_grad()
def spliced_losses(model, tokens: torch.Tensor, sae: SAE, batch: int = 8, hook: str = HOOK) -> dict[str, float]:
    """Next-token loss of ``model`` (TL bridge) on ``tokens`` (n, ctx): clean, with the MLP's post-activations
    replaced by the SAE's reconstruction, and with them zeroed; plus ``loss_recovered`` =
    (zero - spliced) / (zero - clean), the share of the MLP's loss contribution the SAE keeps."""
    sums = {"clean": 0.0, "spliced": 0.0, "zero": 0.0}
    hooks = {"spliced": lambda act, hook: sae(act)[0], "zero": lambda act, hook: torch.zeros_like(act)}
    for i in range(0, len(tokens), batch):
        x = tokens[i : i + batch]
        n = x.shape[0]
        sums["clean"] += float(model(x, return_type="loss")) * n
        for name, fn in hooks.items():
            sums[name] += float(model.run_with_hooks(x, return_type="loss", fwd_hooks=[(hook, fn)])) * n
    out = {k: v / len(tokens) for k, v in sums.items()}
    out["loss_recovered"] = (out["zero"] - out["spliced"]) / (out["zero"] - out["clean"])
    return out


@torch.no_grad()
def post_activations(model, tokens: torch.Tensor, batch: int = 8, hook: str = HOOK) -> torch.Tensor:
    """MLP post-activations (n, ctx, d_mlp) for tokens (n, ctx), read by a TL cache filtered to one hook."""
    parts = []
    for i in range(0, len(tokens), batch):
        _, cache = model.run_with_cache(tokens[i : i + batch], names_filter=hook)
        parts.append(cache[hook])
    return torch.cat(parts)


def logit_effects(sae: SAE, w_out: torch.Tensor, w_u: torch.Tensor, feature: int) -> torch.Tensor:
    """A feature's direct effect on every logit: W_dec[feature] @ W_out @ W_U -> (d_vocab,).
    ``w_out`` (d_mlp, d_model) and ``w_u`` (d_model, d_vocab) in TL's orientation. With no LayerNorm
    this path is exact (up to other components reading the same residual direction)."""
    return sae.W_dec[feature] @ w_out @ w_u  # (d_vocab,)


# ---- SAELens file layout -----------------------------------------------------------------------------

def saelens_cfg(d_in: int, d_sae: int, model_name: str, context_size: int, hook: str = HOOK) -> dict:
    """cfg.json in SAELens' (pre-6.0, flat) field names for a standard ReLU SAE."""
    return {
        "architecture": "standard",
        "d_in": d_in,
        "d_sae": d_sae,
        "activation_fn_str": "relu",
        "apply_b_dec_to_input": True,
        "finetuning_scaling_factor": False,
        "context_size": context_size,
        "model_name": model_name,
        "hook_name": hook,
        "hook_layer": int(hook.split(".")[1]),
        "hook_head_index": None,
        "prepend_bos": True,
        "dataset_path": "python-stdlib-source (app/tasks/code_corpus.py)",
        "dataset_trust_remote_code": False,
        "normalize_activations": "none",
        "dtype": "float32",
        "device": "cpu",
        "sae_lens_training_version": None,
        "activation_fn_kwargs": {},
        "neuronpedia_id": None,
        "model_from_pretrained_kwargs": {},
        "seqpos_slice": [None],
    }


def save_saelens(sae: SAE, folder: Path, cfg: dict) -> None:
    """Write ``cfg.json`` and ``sae_weights.safetensors`` (float32, SAELens' names and shapes)."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: getattr(sae, k).detach().float().cpu().contiguous() for k in ("W_enc", "W_dec", "b_enc", "b_dec")}
    save_file(tensors, folder / "sae_weights.safetensors")
    (folder / "cfg.json").write_text(json.dumps(cfg, indent=1) + "\n")


def load_saelens(folder: Path) -> tuple[SAE, dict]:
    """Read an SAE saved in SAELens' layout; checks the shapes against cfg.json."""
    cfg = json.loads((folder / "cfg.json").read_text())
    state = load_file(folder / "sae_weights.safetensors")
    sae = SAE(cfg["d_in"], cfg["d_sae"])
    expected = {"W_enc": (cfg["d_in"], cfg["d_sae"]), "W_dec": (cfg["d_sae"], cfg["d_in"]),
                "b_enc": (cfg["d_sae"],), "b_dec": (cfg["d_in"],)}
    for k, shape in expected.items():
        if tuple(state[k].shape) != shape:
            raise ValueError(f"{folder}: {k} has shape {tuple(state[k].shape)}, cfg.json implies {shape}")
    sae.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    return sae.eval().requires_grad_(False), cfg


class UnitStats:
    """Streaming summary of units (neurons or features) over many tokens: each unit's ``k`` top activations
    with their flat token index, a histogram of its nonzero activations (linear bins from 0 to ``top``) and
    its firing count. Feed ``update(acts (n, units), first_index)`` chunk by chunk."""

    def __init__(self, units: int, k: int, bins: int, top: torch.Tensor):
        self.k, self.bins, self.top = k, bins, top.float().clamp_min(1e-6)  # top (units,): histogram range
        self.values = torch.full((units, k), -1.0)
        self.index = torch.zeros((units, k), dtype=torch.long)
        self.hist = torch.zeros((units, bins), dtype=torch.long)
        self.fired = torch.zeros(units, dtype=torch.long)
        self.tokens = 0

    def update(self, acts: torch.Tensor, first_index: int) -> None:
        acts = acts.float()  # (n, units)
        n, units = acts.shape
        self.tokens += n
        self.fired += (acts > 0).sum(0)
        kk = min(self.k, n)
        v, i = acts.topk(kk, dim=0)  # (kk, units)
        both_v = torch.cat([self.values, v.T], 1)  # (units, k + kk)
        both_i = torch.cat([self.index, i.T + first_index], 1)
        best = both_v.topk(self.k, dim=1)
        self.values, self.index = best.values, both_i.gather(1, best.indices)
        b = (acts / self.top * self.bins).long().clamp(0, self.bins - 1)  # (n, units) bin of each activation
        b = b + torch.arange(units) * self.bins
        self.hist += torch.bincount(b[acts > 0], minlength=units * self.bins).view(units, self.bins)

    def firing_rate(self) -> torch.Tensor:
        return self.fired.float() / max(1, self.tokens)  # (units,)


def _csr(rows: torch.Tensor, cols: torch.Tensor, vals: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """A CSR matrix from (row, col, value) triples sorted by row."""
    crow = torch.zeros(shape[0] + 1, dtype=torch.long, device=vals.device)
    crow[1:] = torch.bincount(rows, minlength=shape[0]).cumsum(0)
    return torch.sparse_csr_tensor(crow, cols, vals, shape)


def set_grads(sae: SAE, x: torch.Tensor, l1: float, sparse_below: float = 0.05) -> tuple[float, float, torch.Tensor]:
    """Hand-written gradients of loss = mean_b |x_hat - x|^2 + l1 * mean_b sum_i f_i into each parameter's ``.grad``.

    Only the encoder's forward matmul is dense: with few features active (density < ``sparse_below``) every
    other product runs on the active entries alone (CSR matmuls and a sampled matmul), ~3x faster per step
    on one CPU thread than autograd. ``tests/test_sae_units.py`` checks these against autograd.
    Returns (mse, l1 term, f (B, d_sae))."""
    B, d_sae = x.shape[0], sae.d_sae
    W_enc, W_dec = sae.W_enc.detach(), sae.W_dec.detach()
    with torch.no_grad():
        xc = x - sae.b_dec  # (B, d_in)
        f = F.relu(xc @ W_enc + sae.b_enc)  # (B, d_sae)
        active = f > 0
        sparse = float(active.float().mean()) < sparse_below
        if sparse:
            r, c = active.nonzero(as_tuple=True)  # row-major, so sorted by row
            f_csr = _csr(r, c, f[r, c], (B, d_sae))
            x_hat = f_csr @ W_dec + sae.b_dec
        else:
            x_hat = f @ W_dec + sae.b_dec
        err = x_hat - x
        g_xhat = 2 * err / B  # (B, d_in)
        if sparse:
            pattern = _csr(r, c, torch.ones_like(r, dtype=x.dtype), (B, d_sae))
            g_f = torch.sparse.sampled_addmm(pattern, g_xhat, W_dec.T, beta=0.0).values() + l1 / B  # (nnz,)
            order = torch.argsort(c, stable=True)  # the transpose (d_sae, B) as CSR
            ct, rt = c[order], r[order]
            g_w_dec = _csr(ct, rt, f[r, c][order], (d_sae, B)) @ g_xhat  # (d_sae, d_in)
            g_w_enc = (_csr(ct, rt, g_f[order], (d_sae, B)) @ xc).T  # (d_in, d_sae)
            g_b_enc = torch.zeros(d_sae, dtype=x.dtype, device=x.device).index_add_(0, c, g_f)
        else:
            g_pre = (g_xhat @ W_dec.T + l1 / B) * active  # (B, d_sae)
            g_w_dec, g_w_enc, g_b_enc = f.T @ g_xhat, xc.T @ g_pre, g_pre.sum(0)
        g_b_dec = g_xhat.sum(0) - W_enc @ g_b_enc  # b_dec adds to x_hat and is subtracted from x before encoding
    for p, g in ((sae.W_enc, g_w_enc), (sae.W_dec, g_w_dec), (sae.b_enc, g_b_enc), (sae.b_dec, g_b_dec)):
        p.grad = g.contiguous()
    return float((err ** 2).sum(1).mean()), float(l1 * f.sum(1).mean()), f


@torch.no_grad()
def contexts(model, sae: SAE, windows: torch.Tensor, flat_index: torch.Tensor, unit: int, kind: str = "feature",
             before: int = 12, after: int = 3, hook: str = HOOK) -> list[dict]:
    """For each flat token index into ``windows`` (n, ctx), the snippet of tokens around it and the unit's
    activation on each snippet token, recomputed on the full window (attention sees the whole prefix).
    ``kind`` 'feature' reads SAE feature ``unit``; 'neuron' reads MLP neuron ``unit``."""
    ctx = windows.shape[1]
    rows, cols = (flat_index // ctx).tolist(), (flat_index % ctx).tolist()
    uniq = sorted(set(rows))
    post = post_activations(model, windows[uniq], hook=hook)  # (u, ctx, d_mlp)
    acts = sae.encode(post)[..., unit] if kind == "feature" else post[..., unit]  # (u, ctx)
    out = []
    for r, c in zip(rows, cols):
        a, b = max(0, c - before), min(ctx, c + after + 1)
        out.append({"tokens": windows[r, a:b].tolist(), "acts": acts[uniq.index(r), a:b].tolist(), "at": c - a,
                    "window": r, "position": c})
    return out
