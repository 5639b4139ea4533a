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
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from app import zoo
from app.tasks import facts

NAME_POS = [1, 2, 3, 4]  # Ka lin Do vrek, in a name-first template
LAST_NAME_POS = 4
ROWS_PER_RUN = 256  # prompts per resumed run: this size ran fastest per row on one thread (tiny model)


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


def residuals(model, tok, world, template: str, pos: int | None = LAST_NAME_POS) -> tuple[list[str], torch.Tensor]:
    """(site names, (n_sites, N, d_model)): the residual stream at ``pos`` for every athlete.

    ``pos=None`` keeps every position: (n_sites, N, T, d_model), one forward for all of a view's positions.
    """
    names = sites(model.cfg.n_layers)
    hooks = {_site_hook(s) for s in names}
    with torch.no_grad():
        _, cache = model.run_with_cache(_tokens(tok, [facts.prompt(a, template) for a in world.athletes]),
                                        names_filter=lambda n: n in hooks)
    every = torch.stack([cache[_site_hook(s)] for s in names])  # (S, N, T, d)
    return names, every if pos is None else every[:, :, pos]


def _fit_probes(x: torch.Tensor, y: torch.Tensor, k: int, l2: float, tol: float = 1e-9,
                max_steps: int = 50) -> tuple[torch.Tensor, torch.Tensor]:
    """S multinomial logistic regressions at once, x (S, n, d) -> y (n,) or (S, n) in k classes; w (S, d, k), b (S, k).

    Minimises mean cross-entropy + ``l2`` * |w|^2 (bias unpenalised) by Newton's method with a
    backtracking line search, to a gradient below ``tol`` in float64: the exact optimum, whatever
    the solver. The softmax ignores a shift shared by all classes and the penalty prefers the
    smallest w, so the optimum's columns sum to zero; we solve in a (k-1)-column basis of that
    subspace, which also removes the bias' flat direction. Hessians are built and factored in
    float32 (the step only needs to point downhill), gradients and the line search stay float64,
    the first step uses the Hessian at zero (features (x) identity: one d x d solve), and once
    the gradient is small the last factorisation is reused.
    """
    S, n, d = x.shape
    D, m = d + 1, k - 1
    xt = torch.cat([x.double(), x.new_ones(S, n, 1, dtype=torch.float64)], -1)  # (S, n, D): bias column
    Y = torch.nn.functional.one_hot(y, k).double()  # (n, k) or (S, n, k)
    E = torch.linalg.qr(torch.eye(k, dtype=torch.float64) - 1.0 / k)[0][:, :m]  # (k, m): orthonormal, sums to 0
    pen = torch.ones(D, 1, dtype=torch.float64)
    pen[-1] = 0  # (D, 1): the bias row is not penalised
    ridge = (2 * l2 * pen + 1e-6 * (1 - pen)).float()  # (D, 1): the penalty's curvature (+ a nudge for the bias)
    theta = torch.zeros(S, D, m, dtype=torch.float64)  # weights and bias in the sum-zero basis

    def loss(th):  # (S,)
        z = xt @ th @ E.T  # (S, n, k)
        return (z.logsumexp(-1) - (z * Y).sum(-1)).mean(-1) + l2 * ((th * pen) ** 2).sum((1, 2))

    f, chol = loss(theta), None
    for _ in range(max_steps):
        p = (xt @ theta @ E.T).softmax(-1)  # (S, n, k)
        g = xt.mT @ (p - Y) @ E / n + 2 * l2 * theta * pen  # (S, D, m)
        g_s = g.abs().amax((1, 2))  # (S,)
        gmax = float(g_s.max())
        if gmax < tol:
            break
        xf = xt.float()
        if chol is None and not theta.any():  # at zero p is uniform and E^T (diag p - p p^T) E = I / k
            h0 = xf.mT @ xf / (n * k) + torch.diag(ridge[:, 0])  # (S, D, D)
            step = torch.cholesky_solve(g.float(), torch.linalg.cholesky(h0)).double()  # (S, D, m)
        else:
            if chol is None or gmax > 1e-4:
                q = p @ E  # (S, n, m)
                B = (torch.einsum("sna,ai,aj->snij", p, E, E) - q[..., :, None] * q[..., None, :]).float()  # (S, n, m, m)
                xB = (xf[..., :, None] * B.reshape(S, n, 1, m * m)).reshape(S, n, D * m * m)  # (S, n, D*m*m)
                H = (xB.mT @ xf / n).reshape(S, D, m, m, D).transpose(3, 4)  # (S, D, m, D, m)
                H = H.reshape(S, D * m, D * m) + torch.diag(ridge.expand(D, m).reshape(-1))
                chol = torch.linalg.cholesky(H)
            step = torch.cholesky_solve(g.reshape(S, -1, 1).float(), chol).double().reshape(S, D, m)
        step[g_s < tol] = 0  # problems already at their optimum stay there
        slope = (g * step).sum((1, 2))  # (S,): > 0, the step goes downhill
        # a full step whose predicted decrease is below the loss' float64 resolution is taken as is
        settled = slope < 1e-13
        t = torch.ones(S, dtype=torch.float64)
        for _ in range(60):
            new = theta - t[:, None, None] * step
            f_new = loss(new)
            ok = (f_new <= f - 1e-4 * t * slope) | settled
            if bool(ok.all()):
                break
            t = torch.where(ok, t, t / 2)
        theta, f = new, f_new
    w = theta @ E.T  # (S, D, k)
    return w[:, :-1], w[:, -1]


def probe_accuracies(x: torch.Tensor, y: torch.Tensor, fold: torch.Tensor, l2: float = 1e-2) -> list[float]:
    """Held-out accuracy of a multinomial logistic-regression probe for each of S feature sets, x (S, N, d) -> y (N,).

    ``fold`` (N,) assigns each athlete to a fold; each fold is predicted by a probe fitted
    (L2 penalty, ``_fit_probes``) on the others, so every athlete is a held-out one. We fold by the
    matching's parity (``Athlete.slot % 2``): each name keeps one athlete of every sport on
    both sides, so a probe cannot score by remembering which sports a token's other
    athletes had (a random split would make that score *below* chance).
    """
    x = x.float()
    S, (n, k) = x.shape[0], (len(y), int(y.max()) + 1)
    folds = [fold == f for f in fold.unique()]
    train_x, test_x, train_y = [], [], []
    for test in folds:
        mu, sd = x[:, ~test].mean(1, keepdim=True), x[:, ~test].std(1, keepdim=True) + 1e-6  # (S, 1, d)
        train_x.append((x[:, ~test] - mu) / sd)  # (S, n_train, d)
        test_x.append((x[:, test] - mu) / sd)  # (S, n_test, d)
        train_y.append(y[~test].expand(S, -1))  # (S, n_train)
    if len({ty.shape[1] for ty in train_y}) == 1:  # folds of one size: all S * n_folds fits in one batch
        w, b = _fit_probes(torch.cat(train_x), torch.cat(train_y), k, l2)  # (F*S, d, k), (F*S, k)
        fits = list(zip(w.split(S), b.split(S)))
    else:
        fits = [_fit_probes(tx, ty, k, l2) for tx, ty in zip(train_x, train_y)]
    correct = torch.zeros(S, dtype=torch.long)
    for test, xs, (w, b) in zip(folds, test_x, fits):
        correct += ((xs.double() @ w + b[:, None]).argmax(-1) == y[test]).sum(-1)
    return (correct / n).tolist()


def probe_accuracy(x: torch.Tensor, y: torch.Tensor, fold: torch.Tensor, l2: float = 1e-2) -> float:
    """Held-out probe accuracy for one feature set x (N, d) -> y (N,); see ``probe_accuracies``."""
    return probe_accuracies(x[None], y, fold, l2)[0]


def probe_by_site(model, tok, world, attribute: str = "sport", pos: int = LAST_NAME_POS,
                  res: torch.Tensor | None = None) -> dict[str, float]:
    """Held-out probe accuracy for ``attribute`` at position ``pos`` at every residual site.

    ``res``: this template's residuals at every position, (n_sites, N, T, d) from ``residuals(..., pos=None)``,
    if the caller kept them (the probe view caches them per model); otherwise one forward computes them.
    """
    if res is None:
        names, res = residuals(model, tok, world, facts.TEMPLATES[attribute][0], pos)
    else:
        names, res = sites(model.cfg.n_layers), res[:, :, pos]
    y = torch.tensor([a.attr(attribute) for a in world.athletes])
    fold = torch.tensor([a.slot % 2 for a in world.athletes])
    return dict(zip(names, probe_accuracies(res, y, fold)))


def probe_by_layer(by_site: dict[str, float], n_layers: int) -> list[float]:
    """The embedding and after each whole layer (its MLP): n_layers + 1 values."""
    return [by_site["embed"]] + [by_site[f"L{i} mlp"] for i in range(n_layers)]


def _final_logits_from(model, resid: torch.Tensor, layer: int) -> torch.Tensor:
    """(B, V) final-position logits from the residual stream entering block ``layer``, resid (B, T, d).

    Runs blocks ``layer`` .. n_layers-1, the final LayerNorm and the unembedding (the bridge's own
    modules, no hooks). A patch or ablation at layer l changes nothing before it, so its run can
    start from the unpatched run's cached stream: the same numbers as a whole hooked forward, with
    the blocks below l skipped (tests/test_facts_fast.py compares the two).
    """
    for block in model.blocks[layer:]:
        out = block(resid)
        resid = out[0] if isinstance(out, tuple) else out  # (B, T, d)
    return model.unembed(model.ln_final(resid[:, -1:]))[:, 0]  # (B, V)


@dataclass(frozen=True)
class Runs:
    """Unpatched runs of athletes' name-first prompts: what an MLP patch or ablation resumes from.

    ``last``: (N, V) final-position logits; ``mid`` / ``mlp``: per layer, (N, T, d) hook_resid_mid and
    hook_mlp_out (resid_post = resid_mid + mlp_out). Row i is ``athletes[i]``.
    """

    athletes: tuple
    last: torch.Tensor
    mid: tuple[torch.Tensor, ...]
    mlp: tuple[torch.Tensor, ...]

    def rows(self, athletes) -> "Runs":
        index = {a: i for i, a in enumerate(self.athletes)}
        take = torch.tensor([index[a] for a in athletes])
        return Runs(tuple(athletes), self.last[take], tuple(t[take] for t in self.mid), tuple(t[take] for t in self.mlp))


def athlete_runs(model, tok, athletes, attribute: str = "sport") -> Runs:
    """One forward over ``athletes`` in the attribute's first (name-first) template, keeping what ``Runs`` holds.

    The fact-recall page caches this per model for all athletes (the set is fixed), so the ablation
    and patching views start from it instead of running the same prompts again.
    """
    tokens = _tokens(tok, [facts.prompt(a, facts.TEMPLATES[attribute][0]) for a in athletes])  # (N, T)
    with torch.no_grad():
        logits, cache = model.run_with_cache(tokens, names_filter=lambda n: n.endswith(("hook_mlp_out", "hook_resid_mid")))
    L = model.cfg.n_layers
    return Runs(tuple(athletes), logits[:, -1], tuple(cache[f"blocks.{i}.hook_resid_mid"] for i in range(L)),
                tuple(cache[f"blocks.{i}.hook_mlp_out"] for i in range(L)))


def runs_accuracy(runs: Runs, tok, attribute: str = "sport") -> float:
    """``accuracy`` for the runs' athletes in the first template, read off the cached logits."""
    ids = torch.tensor(facts.attribute_ids(tok, attribute))
    want = ids[torch.tensor([a.attr(attribute) for a in runs.athletes])]
    return float((runs.last.argmax(-1) == want).float().mean())


def mlp_ablation(model, tok, world, attribute: str = "sport", progress=None, runs: Runs | None = None) -> dict[str, list[float]]:
    """Attribute accuracy when one layer's MLP output is mean-ablated at the name tokens or at the final token.

    The mean is over athletes at the same position (name-first template), so only the
    athlete-specific part of the MLP's output is removed. Both ablations of a layer run as one
    batch, resumed after that layer (``_final_logits_from``) from ``runs`` (all athletes; computed
    here if not given).
    """
    runs = runs.rows(world.athletes) if runs is not None else athlete_runs(model, tok, world.athletes, attribute)
    ids = torch.tensor(facts.attribute_ids(tok, attribute))
    want = ids[torch.tensor([a.attr(attribute) for a in world.athletes])]
    (N, T, _), L = runs.mlp[0].shape, model.cfg.n_layers
    labels = {"name tokens": NAME_POS, "final token": [T - 1]}
    out = {label: [] for label in labels}
    for layer in range(L):
        mlp, mid = runs.mlp[layer], runs.mid[layer]  # (N, T, d)
        mean = mlp.mean(0)  # (T, d)
        ablated = mlp.repeat(len(labels), 1, 1)  # (2N, T, d): one copy per ablation
        for k, positions in enumerate(labels.values()):
            ablated[k * N:(k + 1) * N, positions] = mean[positions]
        with torch.no_grad():
            logits = _final_logits_from(model, mid.repeat(len(labels), 1, 1) + ablated, layer + 1)  # (2N, V)
        for k, label in enumerate(labels):
            out[label].append(float((logits[k * N:(k + 1) * N].argmax(-1) == want).float().mean()))
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


def patch_mlp_by_layer(model, tok, pairs, attribute: str = "sport", runs: Runs | None = None) -> torch.Tensor:
    """(n_layers, T): share of the logit difference restored by patching one MLP output at one position.

    Clean run: athlete A's name-first prompt; corrupted run: partner B (same last name, other
    first name, other value). Each cell copies A's MLP output at one (layer, position) into B's
    run; 1 means B's run now prefers A's value as much as A's own run does, 0 means no change.
    Averaged over the pairs. The numbers of ``transformer_lens.patching.get_act_patch_mlp_out``
    (tests/test_facts_fast.py checks), computed faster: a layer's cells run in batches resumed
    after that layer (``_final_logits_from``) from the unpatched ``runs`` (computed here if not
    given), and a position where A's and B's MLP outputs are equal (BOS) is B's own run.
    """
    ids = facts.attribute_ids(tok, attribute)
    if runs is None:
        clean, corrupt = (athlete_runs(model, tok, side, attribute) for side in zip(*pairs))
    else:
        clean, corrupt = (runs.rows(side) for side in zip(*pairs))
    good = torch.tensor([ids[a.attr(attribute)] for a, _ in pairs])
    bad = torch.tensor([ids[b.attr(attribute)] for _, b in pairs])
    (P, T, _), L = corrupt.mlp[0].shape, model.cfg.n_layers

    def diff(last):  # (P, V) final-position logits -> (P,)
        return last[torch.arange(P), good] - last[torch.arange(P), bad]

    base_clean, base_bad = diff(clean.last), diff(corrupt.last)

    def metric(last):
        return ((diff(last) - base_bad) / (base_clean - base_bad)).mean()

    grid = metric(corrupt.last).expand(L, T).clone()  # (L, T): an unchanged run restores nothing
    for layer in range(L):
        src, dst = clean.mlp[layer], corrupt.mlp[layer]  # (P, T, d)
        moved = [pos for pos in range(T) if not torch.equal(src[:, pos], dst[:, pos])]
        per_run = max(1, ROWS_PER_RUN // P)  # cells per batched run
        for start in range(0, len(moved), per_run):
            cells = moved[start:start + per_run]
            patched = dst.repeat(len(cells), 1, 1)  # (K*P, T, d): copy k gets A's output at cells[k]
            for k, pos in enumerate(cells):
                patched[k * P:(k + 1) * P, pos] = src[:, pos]
            resid = corrupt.mid[layer].repeat(len(cells), 1, 1) + patched  # (K*P, T, d)
            with torch.no_grad():
                last = _final_logits_from(model, resid, layer + 1)  # (K*P, V)
            for k, pos in enumerate(cells):
                grid[layer, pos] = metric(last[k * P:(k + 1) * P])
    return grid


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
