"""Attribution patching (AtP): a gradient estimate of activation patching, next to the real sweep.

Technique: Neel Nanda (2023), "Attribution Patching: Activation Patching At Industrial Scale",
https://www.neelnanda.io/mechanistic-interpretability/attribution-patching (the derivation and the
IOI demonstration); Syed, Rager & Conmy (2023), "Attribution Patching Outperforms Automated Circuit
Discovery", https://arxiv.org/abs/2310.10348 (section 3: AtP on edges; where it breaks down).

Activation patching runs the model once per component: replace one activation ``a`` of a *base*
run by its value ``a'`` from a *source* run and read the change of a metric. AtP replaces every one
of those forwards by a first-order Taylor term around the base run,
``m(a') - m(a) ~= (a' - a) . dm/da``, so one source forward, one base forward and one backward of
the metric give an estimate for every component at every position.

Direction (both are supported, the same convention for estimate and real patching):
``"noise"``: base = clean prompt, source = corrupted prompt, gradient on the clean run, estimate
``(a_corrupt - a_clean) . dm/da|clean`` (how much the metric falls when the component sees the
corrupted input). ``"denoise"``: base = corrupted, source = clean, gradient on the corrupted run; this
is the convention of TransformerLens' ``attribution_patch`` and of ``transformer_lens.patching``, and the
default here. On our IOI model the two directions differ a lot (see ``app/training/atp_measure.py``).

Sites (``SITES``): ``head`` = one head's ``attn.hook_z`` at one position, (layer, pos, head).
The estimate is taken in z-space; it equals the estimate in the head's output space (z @ W_O),
because that map is linear: ``dz . dm/dz = dz . (W_O dm/dr) = (dz W_O) . dm/dr``.
``mlp`` = a layer's MLP output (``hook_mlp_out``, the whole neuron block) at one position, (layer, pos).
``resid`` = the residual stream entering a layer (``hook_resid_pre``; layer 0 is the embedding),
(layer, pos): patching it swaps *everything* upstream, the case where the linear term is known to fail.

What comes from TransformerLens: the caches and gradients
(``tools.analysis.attribution_patching.cache_activation_and_gradient``) and the real sweep
(``patching.generic_activation_patch`` with its patch setters). Not used: ``attribution_patch``
itself. It needs ``hook_mlp_out`` (so it refuses attention-only models), it has no residual-stream
nodes, and it scores one node at a time with a Python loop over a per-example forward/backward,
which would make the timing comparison measure that loop instead of the method.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np
import pandas as pd
import torch
from transformer_lens import patching
from transformer_lens.tools.analysis.attribution_patching import cache_activation_and_gradient

Site = Literal["head", "mlp", "resid"]
Direction = Literal["noise", "denoise"]
SITES: tuple[Site, ...] = ("head", "mlp", "resid")
HOOKS = {"head": "blocks.{}.attn.hook_z", "mlp": "blocks.{}.hook_mlp_out", "resid": "blocks.{}.hook_resid_pre"}
_ACT = {"head": "z", "mlp": "mlp_out", "resid": "resid_pre"}  # transformer_lens.utils.get_act_name names
ANCHOR = "blocks.0.hook_resid_pre"
_SETTER = {"head": patching.layer_pos_head_vector_patch_setter, "mlp": patching.layer_pos_patch_setter,
           "resid": patching.layer_pos_patch_setter}


@dataclass(frozen=True)
class Pairs:
    """A batch of clean/corrupted prompts of equal length, and the two answer tokens of each.

    ``answers[b] = (good, bad)``; the metric on either run is the mean over the batch of
    ``logit[good] - logit[bad]`` at the last position (IOI: good = IO, bad = S). ``labels`` names the
    positions (one label per position, unique, from the first clean prompt).
    """

    clean: torch.Tensor  # (B, T)
    corrupt: torch.Tensor  # (B, T)
    answers: torch.Tensor  # (B, 2)
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Estimate:
    """AtP for every site in one pass: ``values[site]`` is (L, T, H) for heads, (L, T) otherwise."""

    values: dict[str, torch.Tensor]
    clean_metric: float
    corrupt_metric: float
    seconds: float
    forwards: int = 2
    backwards: int = 1


def sites_of(model) -> tuple[Site, ...]:
    """The sites this model has: attention-only models have no MLP output to patch."""
    return tuple(s for s in SITES if s != "mlp" or not model.cfg.attn_only)


def logit_diff(logits: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
    """(B,) logit of the clean answer minus the corrupted answer, at the last position."""
    last = logits[:, -1]  # (B, V)
    return last.gather(1, answers).diff(dim=1)[:, 0].neg()  # (B,) good - bad


def _metric(answers: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda logits: logit_diff(logits, answers).mean()


def _grad_on(tensor: torch.Tensor, hook) -> torch.Tensor:
    # Shared zoo models have requires_grad=False on every parameter (so nothing can train them);
    # making the embedding output a leaf that requires grad puts every later activation on the graph.
    return tensor.detach().requires_grad_(True)


def _base_source(pairs: Pairs, direction: Direction) -> tuple[torch.Tensor, torch.Tensor]:
    if direction not in ("noise", "denoise"):
        raise ValueError(f"direction must be 'noise' or 'denoise', not {direction!r}")
    return (pairs.clean, pairs.corrupt) if direction == "noise" else (pairs.corrupt, pairs.clean)


def _check_sites(model, sites) -> None:
    bad = [s for s in sites if s not in sites_of(model)]
    if bad:
        raise ValueError(f"{model.cfg.model_name or 'this model'} has no {bad} sites; it has {list(sites_of(model))}")


def attribution(model, pairs: Pairs, sites=None, direction: Direction = "denoise") -> Estimate:
    """AtP estimate of patching each site (source into base) on the logit-difference metric.

    Two forwards (source: activations only; base: activations + one backward of the metric) and a
    contraction ``((a_source - a_base) * grad_base).sum(batch, features)``. Hooks live only inside
    ``model.hooks``/TransformerLens' own context managers; nothing stays on the model.
    """
    sites = sites_of(model) if sites is None else tuple(sites)
    _check_sites(model, sites)
    base, source = _base_source(pairs, direction)
    L = model.cfg.n_layers
    names = [HOOKS[s].format(l) for s in sites for l in range(L)]
    # TransformerLens' helper drives the backward with torch.autograd.grad(metric, cached tensors); hook_z is a
    # reshaped view the forward never consumes, so with only hook_z points the backward is pruned and no
    # gradient arrives (all None, measured). An on-path point upstream of everything keeps the backward whole.
    names = list(dict.fromkeys([ANCHOR, *names]))
    metric = _metric(pairs.answers)
    start = time.perf_counter()
    with torch.enable_grad(), model.hooks(fwd_hooks=[("hook_embed", _grad_on), ("hook_pos_embed", _grad_on)]):
        src = cache_activation_and_gradient(model, source, metric, names_filter=names, compute_gradient=False)
        bse = cache_activation_and_gradient(model, base, metric, names_filter=names)
    values = {}
    for s in sites:
        per_layer = []
        for l in range(L):
            n = HOOKS[s].format(l)
            grad = bse.gradients[n]
            if grad is None:  # the metric does not depend on this activation at all
                grad = torch.zeros_like(bse.activations[n])
            contrib = (src.activations[n] - bse.activations[n]) * grad  # (B, T, H, d_head) or (B, T, d_model)
            per_layer.append(contrib.sum(dim=(0, -1)))  # (T, H) or (T,)
        values[s] = torch.stack(per_layer)  # (L, T, H) or (L, T)
    seconds = time.perf_counter() - start
    clean_m, corrupt_m = (bse.metric, src.metric) if direction == "noise" else (src.metric, bse.metric)
    return Estimate(values, float(clean_m), float(corrupt_m), seconds)


def _source_cache(model, tokens: torch.Tensor, names: list[str]) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens, names_filter=lambda n: n in names)
    return {n: cache[n] for n in names}


def patch_sweep(model, pairs: Pairs, site: Site, direction: Direction = "denoise",
                progress: Callable[[float], None] | None = None,
                positions: list[int] | None = None) -> tuple[torch.Tensor, float]:
    """Real activation patching of every (layer, pos[, head]) of ``site``: (effect tensor, seconds).

    The effect is ``metric(base with one activation from source) - metric(base)``, one forward per
    cell (``transformer_lens.patching.generic_activation_patch``), run one layer at a time so
    ``progress(fraction)`` can move a bar. Same shape as the AtP estimate of the site, or only the
    given ``positions`` (in that order) along the position axis.
    """
    _check_sites(model, [site])
    base, source = _base_source(pairs, direction)
    L, H = model.cfg.n_layers, model.cfg.n_heads
    positions = list(range(base.shape[1])) if positions is None else [p % base.shape[1] for p in positions]
    T = len(positions)
    metric = _metric(pairs.answers)
    start = time.perf_counter()
    cache = _source_cache(model, source, [HOOKS[site].format(l) for l in range(L)])
    with torch.no_grad():
        base_metric = metric(model(base))
        rows = []
        for l in range(L):
            idx = ({"layer": l, "pos": p, "head_index": h} for p in positions for h in range(H)) if site == "head" \
                else ({"layer": l, "pos": p} for p in positions)
            out = patching.generic_activation_patch(model, base, cache, metric, _SETTER[site], _ACT[site],
                                                    index_df=pd.DataFrame(list(idx)))  # (T*H,) or (T,)
            rows.append((out - base_metric).reshape(T, H) if site == "head" else out - base_metric)
            if progress:
                progress((l + 1) / L)
    return torch.stack(rows), time.perf_counter() - start  # (L, T, H) or (L, T)


def path(model, pairs: Pairs, site: Site, layer: int, pos: int, head: int | None = None,
         direction: Direction = "denoise", steps: int = 11) -> tuple[list[float], list[float]]:
    """The metric along the straight line from one cell's base activation to its source value.

    Returns (alphas, metric - metric(base)) for ``a_base + alpha (a_source - a_base)``, alpha in [0, 1].
    AtP is the slope of this curve at alpha = 0 (its tangent reaches the estimate at alpha = 1);
    real patching is its value at alpha = 1. A straight curve means AtP is exact for this cell.
    """
    _check_sites(model, [site])
    base, source = _base_source(pairs, direction)
    name = HOOKS[site].format(layer)
    src = _source_cache(model, source, [name])[name]
    metric = _metric(pairs.answers)
    alphas = torch.linspace(0, 1, steps).tolist()
    out = []
    with torch.no_grad():
        for alpha in alphas:
            def mix(act, hook, alpha=alpha):  # act: (B, T, H, d_head) or (B, T, d_model)
                act = act.clone()
                cell = (slice(None), pos) if head is None else (slice(None), pos, head)
                act[cell] = act[cell] + alpha * (src[cell] - act[cell])
                return act

            with model.hooks(fwd_hooks=[(name, mix)]):
                out.append(float(metric(model(base))))
    return alphas, [v - out[0] for v in out]


def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson r between two same-shaped tensors (nan if either is constant)."""
    x, y = a.flatten().double(), b.flatten().double()
    x, y = x - x.mean(), y - y.mean()
    denom = (x.norm() * y.norm()).item()
    return float((x @ y).item() / denom) if denom > 0 else float("nan")


def failures(estimate: torch.Tensor, actual: torch.Tensor, tol: float = 0.2) -> torch.Tensor:
    """Bool mask of cells where the linear estimate misses: error above ``tol`` x the largest real effect."""
    scale = actual.abs().max().clamp_min(1e-6)
    return (estimate - actual).abs() > tol * scale


def repeat_pairs(d_vocab: int, half_len: int, batch: int, seed: int, vocab=None) -> Pairs:
    """Induction-style pairs for any model: a random span, then the span again up to its last token.

    Clean: ``[BOS, a1..an, a1..a(n-1)]``, an induction head predicts ``an``. Corrupted: the same with
    the first copy's ``an`` replaced by a different token ``b`` (so it predicts ``b``); the two prompts
    differ at one position. Example (n=3): clean ``[0, 812, 77, 1503, 812, 77]`` -> 1503;
    corrupted ``[0, 812, 77, 940, 812, 77]`` -> 940.
    """
    g = torch.Generator().manual_seed(seed)
    ids = torch.as_tensor(list(vocab) if vocab is not None else range(3, d_vocab), dtype=torch.long)
    spans = torch.stack([ids[torch.randperm(len(ids), generator=g)[: half_len + 1]] for _ in range(batch)])  # (B, n+1)
    span, other = spans[:, :half_len], spans[:, half_len]
    bos = torch.zeros(batch, 1, dtype=torch.long)
    clean = torch.cat([bos, span, span[:, :-1]], 1)  # (B, 2n)
    corrupt = clean.clone()
    corrupt[:, half_len] = other
    words = ["BOS"] + [f"a{i}" for i in range(1, half_len + 1)] + [f"a{i}" for i in range(1, half_len)]
    labels = tuple(f"{i} {w}" for i, w in enumerate(words))
    return Pairs(clean, corrupt, torch.stack([span[:, -1], other], 1), labels)


def ioi_pairs(tok, n: int, seed: int, template: int = 0, order: str = "ABBA", split: str = "test",
              kind: str = "abc", prefix: int = 0) -> Pairs:
    """IOI prompts of one template and one name order, each against its corrupted twin (``app.tasks.ioi``).

    Good answer IO, bad answer S, on both runs. ``kind="abc"``: the corrupted prompt names three other
    people (no IOI signal, Wang et al. 2022 section 3); ``"swap"``: IO and S trade places.
    Positions line up across the batch because one template with single-token names fixes every offset.
    ``prefix``: that many name-free filler sentences (``ioi.filler_sentence``, drawn from ``seed``) before
    every prompt of the batch, the same text for all of them and for their twins: longer prompts, more
    positions to patch, the same task (how the cost of the real sweep grows with the cells, ``bench/atp.py``).
    """
    from dataclasses import replace

    from app.tasks import ioi

    if order not in ioi.ORDERS:
        raise ValueError(f"order must be one of {ioi.ORDERS}, not {order!r}")
    if prefix < 0:
        raise ValueError(f"prefix must be 0 or more filler sentences, not {prefix}")
    rng = np.random.default_rng([seed, 7])
    filler = " ".join(ioi.filler_sentence(rng) for _ in range(prefix))
    clean = [replace(p, order=order, prefix=filler)
             for p in ioi.prompts(n, split=split, seed=seed, templates=[template])]
    corrupt = [ioi.corrupt(p, kind, seed) for p in clean]
    clean_t = torch.tensor(np.stack([ioi.encode(tok, p.text) for p in clean]))  # (B, T)
    corrupt_t = torch.tensor(np.stack([ioi.encode(tok, p.text) for p in corrupt]))  # (B, T)
    answers = torch.tensor([ioi.name_ids(tok, [p.io, p.s]) for p in clean])  # (B, 2)
    roles = {i: r for r, i in ioi.name_positions(tok, clean[0]).items()}
    words = ["BOS", *tok.encode(clean[0].text).tokens]
    return Pairs(clean_t, corrupt_t, answers, tuple(f"{i} {roles.get(i, w)}" for i, w in enumerate(words)))
