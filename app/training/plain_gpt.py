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

Scoring many continuations of the same prefixes (the reversal-curse view) reuses this module:
``PlainGPT.from_state`` wraps a loaded bridge's weights, ``prefix_cache`` runs each prefix once
and keeps every layer's keys and values, ``continue_from`` runs new tokens on top of that cache
(every continuation against every cached prefix). TransformerLens 4.3 cannot do this for our
models: ``boot_native`` bridges run ``NativeModel``, whose attention ignores ``past_key_values``
(measured on reversal-small: ``return_type="logits_and_cache"`` returns ``None`` for the cache, and
a token passed with a cache gets exactly the logits it gets alone at position 0), so the bridge
can only re-run the whole prefix under every continuation (~6x the positions, about 1 s instead
of 0.17 s for a 150 x 150 backward group). ``forward`` itself is unchanged: recipes train it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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

    def extend(self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None) -> tuple[torch.Tensor, tuple]:
        """x (A, U, T, d) at the T positions after ``past``'s Tp; past = (k, v), each (P, H, Tp, dh), or None.

        A is 1 or P: new tokens shared by every cached prefix broadcast against all of them.
        Returns the output (max(A, P), U, T, d) and the new positions' (k, v), each (A, U, H, T, dh).
        """
        T, scale = x.shape[-2], math.sqrt(self.d_head)
        heads = lambda t: t.unflatten(-1, (self.n_heads, self.d_head)).transpose(-3, -2)  # (A, U, H, T, dh)
        q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)  # (T, T): True = masked
        scores = (q @ k.transpose(-1, -2) / scale).masked_fill(causal, float("-inf"))  # (A, U, H, T, T)
        if past is None:
            z = scores.softmax(-1) @ v  # (A, U, H, T, dh)
        else:
            pk, pv = past  # (P, H, Tp, dh); einsum, not a broadcast matmul: 10x faster here
            sp = torch.einsum("puhtd,phsd->puhts", q.expand(len(pk), -1, -1, -1, -1), pk) / scale  # (P, U, H, T, Tp)
            pattern = torch.cat([sp, scores.expand(*sp.shape[:-1], T)], -1).softmax(-1)  # (P, U, H, T, Tp + T)
            Tp = sp.shape[-1]
            z = torch.einsum("puhts,phsd->puhtd", pattern[..., :Tp], pv) + pattern[..., Tp:] @ v  # (P, U, H, T, dh)
        return self.o(z.transpose(-3, -2).flatten(-2)), (k, v)  # (., U, T, d)


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

    def extend(self, x: torch.Tensor, past: tuple | None) -> tuple[torch.Tensor, tuple]:
        """``forward``'s maths on new positions after a cached prefix (see ``_Attention.extend``)."""
        out, kv = self.attn.extend(self.ln1(x), past)
        x = x + out  # (max(A, P), U, T, d)
        if not self.attn_only:
            x = x + self.mlp(self.ln2(x))
        return x, kv


@dataclass(frozen=True)
class PrefixCache:
    """What ``PlainGPT.prefix_cache`` keeps of Q prefixes of length Tp."""

    kv: list[tuple[torch.Tensor, torch.Tensor]]  # per layer (k, v), each (Q, H, Tp, dh)
    logits: torch.Tensor  # (Q, V): the next-token logits after each whole prefix

    def __len__(self) -> int:
        return self.logits.shape[0]

    @property
    def length(self) -> int:
        return self.kv[0][0].shape[-2] if self.kv else 0

    def rows(self, start: int, stop: int) -> PrefixCache:
        """Prefixes start..stop-1 only (views, no copy)."""
        return PrefixCache([(k[start:stop], v[start:stop]) for k, v in self.kv], self.logits[start:stop])


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

    # ---- a loaded bridge's weights, and scoring continuations on cached prefixes -------------------

    @staticmethod
    def supports(cfg: dict) -> bool:
        """Whether a bridge with these ``TransformerBridgeConfig`` fields computes exactly PlainGPT's maths."""
        return (cfg.get("positional_embedding_type", "standard") == "standard"
                and cfg.get("normalization_type", "LN") in ("LN", None) and cfg.get("act_fn", "relu") in _ACTS
                and not cfg.get("gated_mlp") and not cfg.get("final_rms")
                and (cfg.get("n_key_value_heads") or cfg["n_heads"]) == cfg["n_heads"]
                and cfg.get("attention_dir", "causal") == "causal" and float(cfg.get("eps", 1e-5)) == 1e-5
                and (cfg.get("attn_scale", -1.0) <= 0 or not cfg.get("use_attn_scale", True))
                and cfg.get("output_logits_soft_cap", -1.0) <= 0 and cfg.get("attn_scores_soft_cap", -1.0) <= 0)

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor], cfg: dict) -> PlainGPT:
        """A bridge's ``state_dict()`` as an eval-mode PlainGPT sharing its tensors (no copy).

        Fields the config leaves out take ``TransformerBridgeConfig``'s defaults (LN, relu,
        d_mlp = 4 d_model, d_vocab_out = d_vocab), which is what the bridge ran with.
        """
        if not cls.supports(cfg):
            raise ValueError("PlainGPT.from_state supports standard positions, LN or no norm, causal "
                             f"multi-head attention, {sorted(_ACTS)}; got {cfg}")
        full = {"normalization_type": "LN", "act_fn": "relu", **cfg, "d_mlp": cfg.get("d_mlp") or 4 * cfg["d_model"]}
        if full.get("d_vocab_out", -1) <= 0:
            full["d_vocab_out"] = full["d_vocab"]
        model = cls(full)
        model.load_state_dict(state, strict=True, assign=True)
        return model.eval().requires_grad_(False)

    def _embed_at(self, tokens: torch.Tensor, start: int) -> torch.Tensor:
        """tokens (..., T) -> (..., T, d) at positions start..start+T-1."""
        return self.embed(tokens) + self.pos_embed.weight[start:start + tokens.shape[-1]]

    @torch.no_grad()
    def prefix_cache(self, prefixes: torch.Tensor) -> PrefixCache:
        """prefixes (Q, Tp) -> every layer's keys and values, and the logits after each prefix."""
        x = self._embed_at(prefixes, 0)[:, None]  # (Q, 1, Tp, d)
        kv = []
        for block in self.blocks:
            x, (k, v) = block.extend(x, None)
            kv.append((k[:, 0], v[:, 0]))  # (Q, H, Tp, dh) each
        return PrefixCache(kv, self.unembed(self.ln_final(x[:, 0, -1])))  # logits (Q, V)

    @torch.no_grad()
    def continue_from(self, cache: PrefixCache, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (U, T) after every cached prefix -> logits (Q, U, T, V) at the new positions.

        Each of the U continuations runs once per prefix on top of its cached keys and values:
        the same numbers as ``forward`` on the concatenated (prefix, continuation) rows.
        """
        x = self._embed_at(tokens, cache.length)[None]  # (1, U, T, d)
        for block, past in zip(self.blocks, cache.kv):
            x, _ = block.extend(x, past)  # (Q, U, T, d)
        return self.unembed(self.ln_final(x))  # (Q, U, T, V)
