"""A plain-torch transformer with the same weights and maths as our TransformerLens bridges.

Recipes train this module because it is several times faster per step than the bridge
(no hook points on the path; measured in ``tests/test_plain_gpt.py``'s companion bench),
then save its ``state_dict()``: the keys are exactly those of
``app.zoo.build(cfg_fields).state_dict()``, so the app loads the result as a real
``TransformerBridge`` with hooks. ``tests/test_plain_gpt.py`` asserts equal logits for
attn-only / MLP, LN / no-LN, relu / gelu configs.

Architecture (pre-LN GPT-2 style, as TransformerBridgeConfig describes it):
``resid = embed[tok] + pos_embed[pos]``; per block ``resid += attn(ln1(resid))`` and, unless
attn-only, ``resid += mlp(ln2(resid))``; ``logits = unembed(ln_final(resid))``.
Linear weights are stored as ``(out, in)`` like ``nn.Linear``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

_ACTS = {"relu": F.relu, "gelu": F.gelu, "gelu_new": lambda x: F.gelu(x, approximate="tanh")}


def _norm(kind: str | None, d: int) -> nn.Module:
    if kind is None:
        return nn.Identity()
    if kind == "LN":
        return nn.LayerNorm(d, eps=1e-5)
    raise ValueError(f"normalization_type {kind!r} is not supported by PlainGPT: use 'LN' or null")


class _Attention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, d_head: int):
        super().__init__()
        self.n_heads, self.d_head = n_heads, d_head
        inner = n_heads * d_head
        self.q, self.k, self.v = nn.Linear(d_model, inner), nn.Linear(d_model, inner), nn.Linear(d_model, inner)
        self.o = nn.Linear(inner, d_model)

    def forward(self, x: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        B = x.shape[0]
        heads = lambda t: t.view(B, t.shape[1], self.n_heads, self.d_head).transpose(1, 2)
        k, v = heads(self.k(x)), heads(self.v(x))
        if last_only:  # the last query attends to every position: no mask needed
            q = heads(self.q(x[:, -1:]))  # (B, nh, 1, dh)
            z = F.scaled_dot_product_attention(q, k, v)
        else:
            q = heads(self.q(x))  # (B, nh, T, dh)
            z = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=1 / math.sqrt(self.d_head))
        return self.o(z.transpose(1, 2).reshape(B, z.shape[2], -1))  # (B, T or 1, d_model)


class _MLP(nn.Module):
    def __init__(self, d_model: int, d_mlp: int, act: str):
        super().__init__()
        if act not in _ACTS:
            raise ValueError(f"act_fn {act!r} is not supported by PlainGPT; use one of {sorted(_ACTS)}")
        self.act = _ACTS[act]
        setattr(self, "in", nn.Linear(d_model, d_mlp))  # the bridge's key is mlp.in.*
        self.out = nn.Linear(d_mlp, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.act(getattr(self, "in")(x)))


class _Block(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        norm, d = cfg.get("normalization_type"), cfg["d_model"]
        self.ln1 = _norm(norm, d)
        self.attn = _Attention(d, cfg["n_heads"], cfg["d_head"])
        self.attn_only = bool(cfg.get("attn_only", False))
        if not self.attn_only:
            self.ln2 = _norm(norm, d)
            self.mlp = _MLP(d, cfg["d_mlp"], cfg.get("act_fn", "relu"))

    def forward(self, x: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        x = (x[:, -1:] if last_only else x) + self.attn(self.ln1(x), last_only)
        if not self.attn_only:
            x = x + self.mlp(self.ln2(x))
        return x


class PlainGPT(nn.Module):
    """``cfg`` holds the ``TransformerBridgeConfig`` fields a model's ``config.json`` stores."""

    def __init__(self, cfg: dict):
        super().__init__()
        if cfg.get("positional_embedding_type", "standard") != "standard":
            raise ValueError("PlainGPT supports positional_embedding_type 'standard' only")
        self.cfg = dict(cfg)
        d = cfg["d_model"]
        self.embed = nn.Embedding(cfg["d_vocab"], d)
        self.pos_embed = nn.Embedding(cfg["n_ctx"], d)
        self.blocks = nn.ModuleList(_Block(cfg) for _ in range(cfg["n_layers"]))
        self.ln_final = _norm(cfg.get("normalization_type"), d)
        self.unembed = nn.Linear(d, cfg.get("d_vocab_out", cfg["d_vocab"]))
        self.reset_parameters(int(cfg.get("seed", 0)))

    def reset_parameters(self, seed: int) -> None:
        """GPT-2 style init: N(0, 0.02) weights, zero biases, unit LayerNorm; seeded."""
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name.endswith("bias"):
                    p.zero_()
                elif ".ln" in name or name.startswith("ln_final"):
                    p.fill_(1.0)
                else:
                    p.copy_(torch.randn(p.shape, generator=gen) * 0.02)

    def forward(self, tokens: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """tokens (B, T) -> logits (B, T, V); with ``last_only`` the last position's logits (B, V).

        ``last_only`` skips every query, MLP and unembedding except the last position's in
        the last layer (earlier layers still run at every position): the same loss at the
        final position for a fraction of the cost.
        """
        T = tokens.shape[1]
        x = self.embed(tokens) + self.pos_embed.weight[:T]  # (B, T, d)
        for i, block in enumerate(self.blocks):
            x = block(x, last_only and i == len(self.blocks) - 1)
        logits = self.unembed(self.ln_final(x))
        return logits[:, -1] if last_only else logits
