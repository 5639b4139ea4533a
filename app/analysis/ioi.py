"""Indirect object identification: logit difference, direct logit attribution, patching, head classes.

Technique: Wang, Variengien, Conmy, Shlegeris & Steinhardt (2022), "Interpretability in the Wild: a
Circuit for Indirect Object Identification in GPT-2 small", https://arxiv.org/abs/2211.00593.
The metric is the logit difference IO - S at the last token (section 2); heads are found by their
direct effect on it (section 3.1, figure 3), by activation patching from the ABC distribution
(section 3, figure 2), by their attention (END -> IO for name movers, S2 -> S1 for duplicate-token
heads, section 3.2-3.3) and by knocking them out (section 4, faithfulness). Previous-token and
induction scores use repeated random word sequences, after Olsson et al. (2022) (``app.analysis.heads``).

Every batch here is one template in one order with no gaps, so all prompts share one layout and
position ``i`` means the same role (IO, S1, S2, END) in every row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from transformer_lens.utilities import get_act_name

from app.analysis import heads as head_scores_mod
from app.analysis.batched_patching import patch_cells
from app.tasks import ioi

# Head classes Wang et al. report for GPT-2 small (section 3, figure 2; the same lists as the circuit
# dictionary the authors' code and the ACDC replication use); "layer.head".
PAPER_HEADS = {
    "name mover": ["9.9", "10.0", "9.6"],
    "backup name mover": ["10.10", "10.6", "10.2", "10.1", "11.2", "9.7", "9.0", "11.9"],
    "negative name mover": ["10.7", "11.10"],
    "S-inhibition": ["7.3", "7.9", "8.6", "8.10"],
    "induction": ["5.5", "5.8", "5.9", "6.9"],
    "duplicate token": ["0.1", "0.10", "3.0"],
    "previous token": ["2.2", "4.11"],
}


@dataclass(frozen=True)
class Batch:
    """Prompts sharing one layout: tokens (N, T), answer ids (N,), and the role positions."""

    prompts: list
    tokens: torch.Tensor  # (N, T)
    io: torch.Tensor  # (N,) vocab ids
    s: torch.Tensor  # (N,)
    pos: dict  # role -> position, e.g. {"IO": 3, "S1": 5, "S2": 11, "END": 16}
    labels: list  # (T,) position labels for charts


def make_batch(tok, prompts: list) -> Batch:
    """Tokenize prompts of one layout (same template, order, gap and prefix); raises ValueError otherwise."""
    toks, lengths = ioi.batch_tokens(tok, [p.text for p in prompts])
    if len(set(lengths.tolist())) != 1:
        raise ValueError("prompts of one batch must share their template, order, gap and prefix")
    pos = ioi.name_positions(tok, prompts[0])
    words = [tok.id_to_token(int(i)) for i in toks[0]]
    role = {v: k for k, v in pos.items()}
    labels = [f"{i} {role.get(i, w)}" for i, w in enumerate(words)]
    return Batch(prompts, torch.from_numpy(toks), torch.tensor(ioi.name_ids(tok, [p.io for p in prompts])),
                 torch.tensor(ioi.name_ids(tok, [p.s for p in prompts])), pos, labels)


def standard_batch(tok, template: int, order: str, n: int = 16, split: str = "test", seed: int = 0) -> Batch:
    """``n`` prompts of one template and order, names from ``split``'s pairs."""
    ps = ioi.prompts(n * 4, split=split, seed=seed, templates=[template])
    ps = [p for p in ps if p.order == order][:n]
    return make_batch(tok, ps)


def corrupted(tok, batch: Batch, kind: str = "abc", seed: int = 0) -> torch.Tensor:
    """Tokens (N, T) of each prompt's corrupted twin (same layout)."""
    toks, _ = ioi.batch_tokens(tok, [ioi.corrupt(p, kind, seed).text for p in batch.prompts])
    return torch.from_numpy(toks)


def logit_diff(logits: torch.Tensor, io: torch.Tensor, s: torch.Tensor, pos: int = -1) -> torch.Tensor:
    """logits (N, T, V) -> (N,) IO - S logit at ``pos``."""
    last = logits[:, pos]  # (N, V)
    return last.gather(1, io[:, None])[:, 0] - last.gather(1, s[:, None])[:, 0]


@torch.no_grad()
def evaluate(model, tok, prompts: list) -> dict:
    """Mean logit difference, accuracy (IO logit > S logit) and top-1 rate of the IO over the vocabulary."""
    toks, lengths = ioi.batch_tokens(tok, [p.text for p in prompts])
    logits = model(torch.from_numpy(toks))  # (N, T, V)
    last = logits[torch.arange(len(prompts)), torch.from_numpy(lengths - 1)]  # (N, V)
    io = torch.tensor(ioi.name_ids(tok, [p.io for p in prompts]))
    s = torch.tensor(ioi.name_ids(tok, [p.s for p in prompts]))
    diff = last.gather(1, io[:, None])[:, 0] - last.gather(1, s[:, None])[:, 0]
    return {"logit_diff": diff.mean().item(), "accuracy": (diff > 0).float().mean().item(),
            "top1": (last.argmax(-1) == io).float().mean().item(), "n": len(prompts)}


@torch.no_grad()
def top_tokens(model, tok, ids: list[int], k: int = 8) -> list[tuple[str, float, float]]:
    """(token, logit, probability) of the ``k`` most likely next tokens after ``ids`` (BOS included)."""
    logits = model(torch.tensor([ids]))[0, -1]  # (V,)
    probs = logits.softmax(-1)
    top = logits.topk(k)
    return [(tok.id_to_token(int(i)), float(v), float(probs[i])) for v, i in zip(top.values, top.indices)]


@dataclass(frozen=True)
class DLA:
    """Direct logit attribution of IO - S at END: per head (L, H), per layer x source position (L, T), per MLP (L,)."""

    heads: torch.Tensor  # (L, H)
    layer_src: torch.Tensor  # (L, T)
    embed: float  # token + position embeddings at END
    bias: float  # attention output biases, the final LayerNorm's bias and the unembedding bias
    total: float  # the model's mean logit difference: heads.sum() + mlp.sum() + embed + bias add up to it
    mlp: torch.Tensor | None = None  # (L,) each MLP's output at END; None for attention-only models


@torch.no_grad()
def dla(model, batch: Batch) -> DLA:
    """Each head's output at END, through the final LayerNorm (frozen at its clean scale), onto W_U[IO] - W_U[S]."""
    L = model.cfg.n_layers
    names = [f"blocks.{l}.attn.hook_{k}" for l in range(L) for k in ("z", "pattern", "v")]
    names += ["ln_final.hook_in", "hook_embed", "hook_pos_embed"]
    has_mlp = not getattr(model.cfg, "attn_only", False)
    names += [f"blocks.{l}.hook_mlp_out" for l in range(L)] if has_mlp else []
    logits, cache = model.run_with_cache(batch.tokens, names_filter=lambda n: n in names)
    resid = cache["ln_final.hook_in"][:, -1]  # (N, d)
    scale = (resid - resid.mean(-1, keepdim=True)).pow(2).mean(-1, keepdim=True).add(model.cfg.eps).sqrt()  # (N, 1)
    w_ln = model.ln_final.weight if hasattr(model.ln_final, "weight") else torch.ones(model.cfg.d_model)
    direction = (model.W_U[:, batch.io] - model.W_U[:, batch.s]).T * w_ln  # (N, d)

    def project(x: torch.Tensor) -> torch.Tensor:  # (N, ..., d) -> (N, ...)
        x = x - x.mean(-1, keepdim=True)
        shape = (x.shape[0],) + (1,) * (x.dim() - 2) + (x.shape[-1],)
        return (x / scale.view(shape[0], *([1] * (x.dim() - 1))) * direction.view(shape)).sum(-1)

    heads, layer_src = [], []
    for l in range(L):
        z = cache[f"blocks.{l}.attn.hook_z"][:, -1]  # (N, H, dh)
        out = torch.einsum("nhe,hed->nhd", z, model.W_O[l])  # (N, H, d)
        heads.append(project(out).mean(0))  # (H,)
        pattern = cache[f"blocks.{l}.attn.hook_pattern"][:, :, -1]  # (N, H, T): END's attention
        v = cache[f"blocks.{l}.attn.hook_v"]  # (N, T, H, dh)
        per_src = torch.einsum("nhk,nkhe,hed->nkd", pattern, v, model.W_O[l])  # (N, T, d), summed over heads
        layer_src.append(project(per_src).mean(0))  # (T,)
    mlp = torch.stack([project(cache[f"blocks.{l}.hook_mlp_out"][:, -1]).mean() for l in range(L)]) if has_mlp else None
    emb = project(cache["hook_embed"][:, -1] + cache["hook_pos_embed"][:, -1]).mean().item()
    n = batch.tokens.shape[0]
    b_o = project(model.b_O.sum(0).expand(n, -1)).mean().item()  # every layer's output bias
    w_u = model.W_U[:, batch.io] - model.W_U[:, batch.s]  # (d, N)
    b_ln = model.ln_final.bias if getattr(model.ln_final, "bias", None) is not None else torch.zeros(model.cfg.d_model)
    b_u = model.b_U[batch.io] - model.b_U[batch.s]  # (N,)
    bias = b_o + (b_ln @ w_u + b_u).mean().item()
    return DLA(torch.stack(heads), torch.stack(layer_src), emb, bias, logit_diff(logits, batch.io, batch.s).mean().item(),
               mlp)


@torch.no_grad()
def attention_to_roles(model, batch: Batch) -> dict[str, torch.Tensor]:
    """Mean attention (L, H) from END to IO, S1 and S2, and from S2 to S1."""
    L = model.cfg.n_layers
    names = [f"blocks.{l}.attn.hook_pattern" for l in range(L)]
    _, cache = model.run_with_cache(batch.tokens, names_filter=lambda n: n in names)
    pat = torch.stack([cache[n] for n in names], 1)  # (N, L, H, T, T)
    p = batch.pos
    return {"END->IO": pat[:, :, :, p["END"], p["IO"]].mean(0), "END->S1": pat[:, :, :, p["END"], p["S1"]].mean(0),
            "END->S2": pat[:, :, :, p["END"], p["S2"]].mean(0), "S2->S1": pat[:, :, :, p["S2"], p["S1"]].mean(0)}


def _normalised_metric(model, batch: Batch, corrupt_tokens: torch.Tensor):
    """Metric for noising: 0 = clean logit difference, -1 = the corrupted run's logit difference."""
    with torch.no_grad():
        clean = logit_diff(model(batch.tokens), batch.io, batch.s).mean()
        bad = logit_diff(model(corrupt_tokens), batch.io, batch.s).mean()
    denom = (clean - bad) if abs(float(clean - bad)) > 1e-6 else torch.tensor(1.0)

    def metric(logits: torch.Tensor) -> torch.Tensor:
        return (logit_diff(logits, batch.io, batch.s).mean() - clean) / denom

    return metric, float(clean), float(bad)


@dataclass(frozen=True)
class Patching:
    """Noising: each cell copies the corrupted run's activation into the clean run (0 = no effect, -1 = all lost)."""

    values: torch.Tensor  # (L, T) for the residual stream, (L, H) for head outputs
    clean: float  # clean mean logit difference
    corrupted: float  # corrupted-prompt mean logit difference (same IO/S ids)


def patch(model, batch: Batch, corrupt_tokens: torch.Tensor, site: str = "resid_pre", progress=None) -> Patching:
    """Activation patching corrupt -> clean: the corrupted run's activation copied into the clean run, per cell.

    ``site``: ``resid_pre`` (layer x position) or ``z`` (per head output, every position at once).
    Same numbers as ``transformer_lens.patching.generic_activation_patch`` with the roles swapped (corrupted
    cache into the clean tokens: the noising direction), computed by ``batched_patching.patch_cells`` with all
    of a layer's cells in one forward (about twice as fast here; tests/test_batched_patching.py compares
    the two). One call per layer, so ``progress(fraction)`` can report between layers.
    """
    if site not in ("resid_pre", "z"):
        raise ValueError(f"site must be 'resid_pre' or 'z', got {site!r}")
    L, T, H = model.cfg.n_layers, batch.tokens.shape[1], model.cfg.n_heads
    metric, clean, bad = _normalised_metric(model, batch, corrupt_tokens)
    with torch.no_grad():
        names = {get_act_name(site, l) for l in range(L)}
        _, cache = model.run_with_cache(corrupt_tokens, names_filter=lambda n: n in names)
    # one cell per position (residual stream) or per head (its output at every position)
    cells = [(p,) for p in range(T)] if site == "resid_pre" else [(slice(None), h) for h in range(H)]
    rows = []
    for l in range(L):
        name = get_act_name(site, l)
        rows.append(patch_cells(model, batch.tokens, name, cache[name], cells, metric))
        if progress is not None:
            progress((l + 1) / L)
    return Patching(torch.stack(rows), clean, bad)


@torch.no_grad()
def ablate_heads(model, batch: Batch, heads: list[tuple[int, int]], reference: torch.Tensor | None = None) -> float:
    """Mean logit difference when the listed heads' outputs at END are replaced by their mean over ``reference``.

    ``reference``: tokens (M, T) of the same layout, e.g. the ABC twins (the paper mean-ablates over the
    ABC distribution, section 4); default: the batch itself. Returns the ablated mean logit difference.
    """
    logits = model.run_with_hooks(batch.tokens, fwd_hooks=_mean_ablation_hooks(model, batch, heads, reference))
    return logit_diff(logits, batch.io, batch.s).mean().item()


def _mean_ablation_hooks(model, batch: Batch, heads: list[tuple[int, int]], reference: torch.Tensor | None):
    """Forward hooks replacing each listed head's output at END by its mean over ``reference`` (default: the batch)."""
    ref = batch.tokens if reference is None else reference
    names = sorted({f"blocks.{l}.attn.hook_z" for l, _ in heads})
    _, cache = model.run_with_cache(ref, names_filter=lambda n: n in names)

    def hook_fn(z, hook, layer: int):  # z (N, T, H, dh)
        for l, h in heads:
            if l == layer:
                z[:, -1, h] = cache[f"blocks.{layer}.attn.hook_z"][:, -1, h].mean(0)
        return z

    return [(f"blocks.{l}.attn.hook_z", lambda z, hook, l=l: hook_fn(z, hook, l)) for l in sorted({l for l, _ in heads})]


@dataclass(frozen=True)
class Knockout:
    """The clean run with some heads mean-ablated at END: its logit difference and every head's attention from END."""

    logit_diff: float  # mean over the batch
    attention: dict  # "END->IO", "END->S1", "END->S2", "END->S" (S1 + S2) -> (L, H), mean over the batch


@torch.no_grad()
def knockout(model, batch: Batch, heads: list[tuple[int, int]], reference: torch.Tensor | None = None) -> Knockout:
    """Mean-ablate ``heads`` at END (their mean over ``reference``, e.g. the ABC twins) and read every head's attention.

    The paper's test of an S-inhibition head (section 3.2): knock it out and the name movers attend to S more.
    ``heads=[]`` gives the clean run.
    """
    p, got = batch.pos, {}

    def grab(pattern, hook):  # (N, H, T, T) -> the END row
        got[hook.layer()] = pattern[:, :, p["END"]]
        return pattern

    hooks = _mean_ablation_hooks(model, batch, heads, reference) if heads else []
    hooks += [(f"blocks.{l}.attn.hook_pattern", grab) for l in range(model.cfg.n_layers)]
    logits = model.run_with_hooks(batch.tokens, fwd_hooks=hooks)
    pat = torch.stack([got[l] for l in range(model.cfg.n_layers)], 1)  # (N, L, H, T)
    attention = {f"END->{r}": pat[..., p[r]].mean(0) for r in ("IO", "S1", "S2")}
    attention["END->S"] = attention["END->S1"] + attention["END->S2"]
    return Knockout(logit_diff(logits, batch.io, batch.s).mean().item(), attention)


def mover_attention_after_ablation(model, batch: Batch, heads: list[tuple[int, int]], movers: list[tuple[int, int]],
                                   reference: torch.Tensor | None = None) -> dict[str, float]:
    """The movers' mean attention from END to the IO and to S (S1 + S2), with ``heads`` mean-ablated at END."""
    a = knockout(model, batch, heads, reference).attention
    return {k: float(torch.stack([a[k][l, h] for l, h in movers]).mean()) for k in ("END->IO", "END->S")}


@torch.no_grad()
def detector_scores(model, tok, half_len: int = 12, n: int = 16, seed: int = 0) -> dict[str, torch.Tensor]:
    """Previous-token, induction and duplicate-token scores (L, H) on random word sequences repeated twice."""
    vocab = list(range(len(ioi.SPECIAL_TOKENS), tok.get_vocab_size()))  # every word of the model's tokenizer
    toks = head_scores_mod.repeated_tokens(0, half_len, n, seed, bos=tok.token_to_id(ioi.BOS), vocab=vocab)
    sc = head_scores_mod.head_scores(model, toks, half_len)
    names = [f"blocks.{l}.attn.hook_pattern" for l in range(model.cfg.n_layers)]
    _, cache = model.run_with_cache(toks, names_filter=lambda x: x in names)
    q = torch.arange(1 + half_len, 1 + 2 * half_len)
    dup = torch.stack([cache[x][:, :, q, q - half_len].mean((0, 2)) for x in names])  # (L, H)
    return {"previous token": sc.previous_token, "induction": sc.induction, "duplicate token": dup}


def head_label(layer: int, head: int) -> str:
    return f"{layer}.{head}"


def top_heads(scores: torch.Tensor, threshold: float, k: int = 4, sign: float = 1.0) -> list[str]:
    """Up to ``k`` heads (``"L.H"``) whose ``sign * score`` passes ``threshold``, strongest first."""
    flat = (sign * scores).flatten()
    order = flat.argsort(descending=True)[:k]
    H = scores.shape[1]
    return [head_label(int(i) // H, int(i) % H) for i in order if float(flat[i]) > threshold]


def mean_over_layouts(fn, model, tok, layouts, **kw):
    """``fn(model, batch)`` averaged over several (template, order) layouts; tensors or floats."""
    vals = [fn(model, standard_batch(tok, t, o, **kw)) for t, o in layouts]
    if isinstance(vals[0], dict):
        return {k: torch.stack([v[k] for v in vals]).mean(0) for k in vals[0]}
    return sum(vals) / len(vals) if not isinstance(vals[0], torch.Tensor) else torch.stack(vals).mean(0)


def np_round(x, nd: int = 4):
    return np.round(np.asarray(x, dtype=float), nd).tolist()
