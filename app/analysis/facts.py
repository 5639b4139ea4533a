"""Where does a small transformer look up a fact? Probes, MLP ablation and patching by layer.

Techniques after Nanda, Rajamanoharan, Kramár & Shah (2023), "Fact Finding" (Alignment Forum,
https://www.alignmentforum.org/posts/iGuwZTHWb6DFY3sKB), post 1 (the early MLPs at the last
name token turn a multi-token name into attribute directions; linear probes and causal
interventions by layer) and Geva, Bastings, Filippova & Globerson (2023), "Dissecting Recall of
Factual Associations in Auto-Regressive Language Models", https://arxiv.org/abs/2304.14767
(subject enrichment at the last subject token, then extraction by attention at the final
position). Activation patching as in Meng et al. (2022), ROME, https://arxiv.org/abs/2202.05262.

Every function takes the model (a ``TransformerBridge``), its tokenizer and the world
(``app.tasks.facts``). Positions: index 0 is BOS; in a name-first template ("{name} plays")
the name is positions 1-4 and the last name token is position 4.
"""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np
import torch
from transformer_lens import patching

from app import zoo
from app.tasks import facts

NAME_POS = [1, 2, 3, 4]  # Ka lin Do vrek, in a name-first template
LAST_NAME_POS = 4


@lru_cache(maxsize=8)
def load_world(model_name: str) -> facts.World:
    """The world a shipped model was trained on (its recipe's world seed, in training.json)."""
    training = json.loads((zoo.model_dir(model_name) / "training.json").read_text())
    return facts.make_world(int(training["recipe"]["world_seed"]))


def _tokens(tok, texts: list[str]) -> torch.Tensor:
    return torch.tensor([facts.encode(tok, t) for t in texts])  # (N, T)


def attribute_probs(model, tok, texts: list[str], attribute: str) -> torch.Tensor:
    """(N, n_values): softmax over the attribute's values of the last position's logits."""
    ids = facts.attribute_ids(tok, attribute)
    lengths = {len(facts.encode(tok, t)) for t in texts}
    with torch.no_grad():
        if len(lengths) == 1:
            logits = model(_tokens(tok, texts))[:, -1]  # (N, V)
        else:  # prompts of different lengths: one pass each (no padding in this vocabulary's prompts)
            logits = torch.cat([model(_tokens(tok, [t]))[:, -1] for t in texts])  # (N, V)
    return logits[:, ids].softmax(-1)


def accuracy(model, tok, world, attribute: str, template: str, athletes=None, within_values: bool = False) -> float:
    """Share of athletes whose top-1 next token is their attribute value.

    Top-1 over the whole vocabulary, or with ``within_values`` over the attribute's values only
    (for caption lines, where the sport and the city are both right next tokens).
    """
    athletes = world.athletes if athletes is None else athletes
    ids = torch.tensor(facts.attribute_ids(tok, attribute))
    with torch.no_grad():
        logits = model(_tokens(tok, [facts.prompt(a, template) for a in athletes]))[:, -1]  # (N, V)
    want = torch.tensor([a.attr(attribute) for a in athletes])
    if within_values:
        return float((logits[:, ids].argmax(-1) == want).float().mean())
    return float((logits.argmax(-1) == ids[want]).float().mean())


def sites(n_layers: int) -> list[str]:
    """Residual-stream sites in order: the embedding, then after each attention and each MLP."""
    return ["embed"] + [f"L{i} {part}" for i in range(n_layers) for part in ("attn", "mlp")]


def _site_hook(site: str) -> str:
    if site == "embed":
        return "blocks.0.hook_resid_pre"
    layer, part = site[1:].split()
    return f"blocks.{layer}.hook_resid_mid" if part == "attn" else f"blocks.{layer}.hook_resid_post"


def residuals(model, tok, world, template: str, pos: int = LAST_NAME_POS) -> tuple[list[str], torch.Tensor]:
    """(site names, (n_sites, N, d_model)): the residual stream at ``pos`` for every athlete."""
    names = sites(model.cfg.n_layers)
    hooks = {_site_hook(s) for s in names}
    with torch.no_grad():
        _, cache = model.run_with_cache(_tokens(tok, [facts.prompt(a, template) for a in world.athletes]),
                                        names_filter=lambda n: n in hooks)
    return names, torch.stack([cache[_site_hook(s)][:, pos] for s in names])  # (S, N, d)


def _fit_probe(x: torch.Tensor, y: torch.Tensor, k: int, l2: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Multinomial logistic regression (x (n, d) -> k classes) by L-BFGS; returns w (d, k), b (k,)."""
    w = torch.zeros(x.shape[1], k, requires_grad=True)
    b = torch.zeros(k, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ w + b, y) + l2 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach(), b.detach()


def probe_accuracy(x: torch.Tensor, y: torch.Tensor, fold: torch.Tensor, l2: float = 1e-2) -> float:
    """Held-out accuracy of a multinomial logistic-regression probe, x (N, d) -> y (N,).

    ``fold`` (N,) assigns each athlete to a fold; each fold is predicted by a probe fitted
    (L-BFGS, L2 penalty) on the others, so every athlete is a held-out one. We fold by the
    matching's parity (``Athlete.slot % 2``): each name keeps one athlete of every sport on
    both sides, so a probe cannot score by remembering which sports a token's other
    athletes had (a random split would make that score *below* chance).
    """
    n, k = len(y), int(y.max()) + 1
    correct = 0
    for f in fold.unique():
        test = fold == f
        mu, sd = x[~test].mean(0), x[~test].std(0) + 1e-6
        xt, xs = (x[~test] - mu) / sd, (x[test] - mu) / sd  # (n_train, d), (n_test, d)
        w, b = _fit_probe(xt, y[~test], k, l2)
        correct += int(((xs @ w + b).argmax(-1) == y[test]).sum())
    return correct / n


def probe_by_site(model, tok, world, attribute: str = "sport", pos: int = LAST_NAME_POS) -> dict[str, float]:
    """Held-out probe accuracy for ``attribute`` at position ``pos`` at every residual site."""
    names, res = residuals(model, tok, world, facts.TEMPLATES[attribute][0], pos)
    y = torch.tensor([a.attr(attribute) for a in world.athletes])
    fold = torch.tensor([a.slot % 2 for a in world.athletes])
    return {s: probe_accuracy(res[i].float(), y, fold) for i, s in enumerate(names)}


def probe_by_layer(by_site: dict[str, float], n_layers: int) -> list[float]:
    """The embedding and after each whole layer (its MLP): n_layers + 1 values."""
    return [by_site["embed"]] + [by_site[f"L{i} mlp"] for i in range(n_layers)]


def mlp_ablation(model, tok, world, attribute: str = "sport", progress=None) -> dict[str, list[float]]:
    """Attribute accuracy when one layer's MLP output is mean-ablated at the name tokens or at the final token.

    The mean is over athletes at the same position (name-first template), so only the
    athlete-specific part of the MLP's output is removed.
    """
    tpl = facts.TEMPLATES[attribute][0]
    tokens = _tokens(tok, [facts.prompt(a, tpl) for a in world.athletes])  # (N, T)
    ids = torch.tensor(facts.attribute_ids(tok, attribute))
    want = ids[torch.tensor([a.attr(attribute) for a in world.athletes])]
    L, final = model.cfg.n_layers, tokens.shape[1] - 1
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens, names_filter=lambda n: n.endswith("hook_mlp_out"))
    out = {"name tokens": [], "final token": []}
    for layer in range(L):
        hook = f"blocks.{layer}.hook_mlp_out"
        mean = cache[hook].mean(0)  # (T, d)
        for label, positions in (("name tokens", NAME_POS), ("final token", [final])):
            def ablate(act, hook=None, positions=positions, mean=mean):
                act[:, positions] = mean[positions]
                return act

            with torch.no_grad():
                logits = model.run_with_hooks(tokens, fwd_hooks=[(hook, ablate)])[:, -1]  # (N, V)
            out[label].append(float((logits.argmax(-1) == want).float().mean()))
        if progress:
            progress((layer + 1) / L)
    return out


def swap_pairs(world, attribute: str = "sport") -> list[tuple]:
    """(athlete, partner) pairs: same last name, different first name and a different attribute value."""
    pairs = []
    for a in world.athletes:
        others = [b for b in world.same_last(a) if b.attr(attribute) != a.attr(attribute)]
        if others:
            pairs.append((a, others[(a.first * 7) % len(others)]))
    return pairs


def patch_mlp_by_layer(model, tok, pairs, attribute: str = "sport") -> torch.Tensor:
    """(n_layers, T): share of the logit difference restored by patching one MLP output at one position.

    Clean run: athlete A's name-first prompt; corrupted run: partner B (same last name, other
    first name, other value). Each cell copies A's MLP output at one (layer, position) into B's
    run; 1 means B's run now prefers A's value as much as A's own run does, 0 means no change.
    Uses ``transformer_lens.patching.get_act_patch_mlp_out``; averaged over the pairs.
    """
    tpl = facts.TEMPLATES[attribute][0]
    ids = facts.attribute_ids(tok, attribute)
    clean = _tokens(tok, [facts.prompt(a, tpl) for a, _ in pairs])  # (P, T)
    corrupt = _tokens(tok, [facts.prompt(b, tpl) for _, b in pairs])  # (P, T)
    good = torch.tensor([ids[a.attr(attribute)] for a, _ in pairs])
    bad = torch.tensor([ids[b.attr(attribute)] for _, b in pairs])
    rows = torch.arange(len(pairs))

    def diff(logits):  # (P, T, V) -> (P,)
        return logits[rows, -1, good] - logits[rows, -1, bad]

    with torch.no_grad():
        clean_logits, cache = model.run_with_cache(clean, names_filter=lambda n: n.endswith("hook_mlp_out"))
        base_clean, base_bad = diff(clean_logits), diff(model(corrupt))

        def metric(logits):
            return ((diff(logits) - base_bad) / (base_clean - base_bad)).mean()

        return patching.get_act_patch_mlp_out(model, corrupt, cache, metric)  # (L, T)


def same_last_table(model, tok, world, athlete, attribute: str = "sport") -> list[dict]:
    """Every athlete sharing ``athlete``'s last name: true value, model's top value and its probability."""
    group = world.same_last(athlete)
    probs = attribute_probs(model, tok, [facts.prompt(a, facts.TEMPLATES[attribute][0]) for a in group], attribute)
    values = facts.ATTRIBUTES[attribute]
    return [{"name": a.name, "true": values[a.attr(attribute)], "predicted": values[int(p.argmax())],
             "p_true": float(p[a.attr(attribute)])} for a, p in zip(group, probs)]


def single_token_ceiling(world, attribute: str = "sport") -> dict[str, float]:
    """Best accuracy of any rule that sees only the first name, or only the last name (majority vote)."""
    out = {}
    for part in ("first", "last"):
        groups: dict[int, list[int]] = {}
        for a in world.athletes:
            groups.setdefault(getattr(a, part), []).append(a.attr(attribute))
        out[part] = sum(np.bincount(v).max() for v in groups.values()) / len(world.athletes)
    return out
