"""The Fourier view of a modular-addition transformer, and the grokking progress measures.

Nanda, Chan, Lieberum, Smith & Steinhardt (2023), "Progress measures for grokking via
mechanistic interpretability", https://arxiv.org/abs/2301.05217: section 4 (the embedding is
sparse in the Fourier basis, neurons cluster by frequency, logits are sums of cos(w(a+b-c)))
and section 5.1 (restricted and excluded loss).

Everything here works on a state dict in the layout of the TransformerLens bridge that
``app.zoo`` boots (``embed.weight``, ``blocks.0.attn.q.weight`` ...), so the same code measures
a training snapshot, a shipped fp16 checkpoint and the final weights. Frequencies are
``k = 1 .. p // 2`` with ``w_k = 2 pi k / p``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from app.tasks import modadd

NEURON_FREQ_THRESHOLD = 0.85  # a neuron belongs to a frequency that explains this much of its variance
MIN_CLUSTER = 4  # a key frequency has at least this many neurons


def basis(p: int = modadd.P, device=None) -> torch.Tensor:
    """Orthonormal Fourier basis of functions on ``0..p-1``: (p, p), rows const, cos 1, sin 1, cos 2 ..."""
    key = (p, str(torch.device(device or "cpu")))
    if key not in _BASES:
        _BASES[key] = _basis(p).to(device)
    return _BASES[key]


_BASES: dict[tuple[int, str], torch.Tensor] = {}


def _basis(p: int) -> torch.Tensor:
    x = torch.arange(p, dtype=torch.float64)  # (p,)
    rows = [torch.ones(p, dtype=torch.float64)]
    for k in range(1, p // 2 + 1):
        rows += [torch.cos(2 * math.pi * k * x / p), torch.sin(2 * math.pi * k * x / p)]
    b = torch.stack(rows)  # (p, p)
    return (b / b.norm(dim=1, keepdim=True)).float()


def forward(params: dict, tokens: torch.Tensor, n_heads: int) -> dict:
    """One-layer transformer forward at the last (``=``) position only, bridge semantics.

    Returns ``pattern`` (B, H, 3) attention from ``=``, ``mlp_post`` (B, d_mlp) neuron
    activations, ``resid_mid`` (B, d) and ``logits`` (B, d_vocab) at ``=``.
    """
    W = params
    x = W["embed.weight"][tokens] + W["pos_embed.weight"][: tokens.shape[1]]  # (B, T, d)
    B, T, d = x.shape
    d_head = d // n_heads
    q = (x[:, -1] @ W["blocks.0.attn.q.weight"].T + W["blocks.0.attn.q.bias"]).view(B, n_heads, d_head)  # (B, H, dh)
    k = (x @ W["blocks.0.attn.k.weight"].T + W["blocks.0.attn.k.bias"]).view(B, T, n_heads, d_head)  # (B, T, H, dh)
    v = (x @ W["blocks.0.attn.v.weight"].T + W["blocks.0.attn.v.bias"]).view(B, T, n_heads, d_head)  # (B, T, H, dh)
    scores = torch.einsum("bhe,bthe->bht", q, k) / math.sqrt(d_head)  # (B, H, T): last query sees every key
    pattern = scores.softmax(dim=-1)  # (B, H, T)
    z = torch.einsum("bht,bthe->bhe", pattern, v).reshape(B, d)  # (B, H*dh)
    resid_mid = x[:, -1] + z @ W["blocks.0.attn.o.weight"].T + W["blocks.0.attn.o.bias"]  # (B, d)
    post = F.relu(resid_mid @ W["blocks.0.mlp.in.weight"].T + W["blocks.0.mlp.in.bias"])  # (B, d_mlp)
    resid = resid_mid + post @ W["blocks.0.mlp.out.weight"].T + W["blocks.0.mlp.out.bias"]  # (B, d)
    logits = resid @ W["unembed.weight"].T + W["unembed.bias"]  # (B, V)
    return {"pattern": pattern, "mlp_post": post, "resid_mid": resid_mid, "logits": logits}


def grid_forward(params: dict, n_heads: int, p: int = modadd.P) -> dict:
    """Every input at once, using the task's structure: (a, b) only enter through their own rows.

    The ``=`` query is the same for every input and each key/value depends on one token, so
    attention over the (p, p) grid costs O(p) matrix products; only the MLP and unembedding
    run per input. Returns ``pattern`` (p, p, H, 3), ``resid_mid`` (p, p, d) and a function
    pair of functions ``neurons(resid)`` and ``logits(resid, post)``, so callers pay only for what they use.
    """
    W = {k: v.float() for k, v in params.items()}
    E, pos = W["embed.weight"], W["pos_embed.weight"]
    d = E.shape[1]
    dh = d // n_heads
    x0, x1, x2 = E[:p] + pos[0], E[:p] + pos[1], E[p] + pos[2]  # (p, d), (p, d), (d,)

    def proj(x, n):  # (..., d) -> (..., H, dh)
        return (x @ W[f"blocks.0.attn.{n}.weight"].T + W[f"blocks.0.attn.{n}.bias"]).unflatten(-1, (n_heads, dh))

    q = proj(x2, "q")  # (H, dh)
    s0, s1 = (proj(x0, "k") * q).sum(-1), (proj(x1, "k") * q).sum(-1)  # (p, H) each
    s2 = (proj(x2, "k") * q).sum(-1)  # (H,)
    scores = torch.stack(torch.broadcast_tensors(s0[:, None], s1[None, :], s2[None, None]), -1) / math.sqrt(dh)
    pattern = scores.softmax(-1)  # (p, p, H, 3)
    w_o = W["blocks.0.attn.o.weight"].T.unflatten(0, (n_heads, dh))  # (H, dh, d)
    vo0 = torch.einsum("ahe,hed->ahd", proj(x0, "v"), w_o)  # (p, H, d)
    vo1 = torch.einsum("bhe,hed->bhd", proj(x1, "v"), w_o)  # (p, H, d)
    vo2 = torch.einsum("he,hed->hd", proj(x2, "v"), w_o)  # (H, d)
    attn = (torch.einsum("abh,ahd->abd", pattern[..., 0], vo0) + torch.einsum("abh,bhd->abd", pattern[..., 1], vo1)
            + pattern[..., 2] @ vo2 + W["blocks.0.attn.o.bias"])  # (p, p, d)
    resid_mid = x2 + attn  # (p, p, d)

    def neurons(resid: torch.Tensor) -> torch.Tensor:  # (..., d) -> (..., n) ReLU outputs
        return F.relu(resid @ W["blocks.0.mlp.in.weight"].T + W["blocks.0.mlp.in.bias"])

    def logits(resid: torch.Tensor, post: torch.Tensor) -> torch.Tensor:  # -> (..., p) number logits
        w_u = W["unembed.weight"][:p].T  # (d, p)
        return (resid @ w_u + post @ (W["blocks.0.mlp.out.weight"].T @ w_u)
                + (W["blocks.0.mlp.out.bias"] @ w_u + W["unembed.bias"][:p]))

    return {"pattern": pattern, "resid_mid": resid_mid, "neurons": neurons, "logits": logits}


def loss_acc(logits: torch.Tensor, labels: torch.Tensor, p: int = modadd.P) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy over the ``p`` number logits and accuracy; logits (N, V), labels (N,)."""
    logits = logits[:, :p].double()
    return F.cross_entropy(logits, labels), (logits.argmax(-1) == labels).double().mean()


def embed_freq_norms(params: dict, p: int = modadd.P) -> torch.Tensor:
    """Squared norm of the number embeddings per frequency: (p // 2,), index k-1 for frequency k."""
    fb = basis(p, params["embed.weight"].device)
    coef = fb @ params["embed.weight"][:p].float()  # (p, d): rows const, cos1, sin1, ...
    sq = coef.pow(2).sum(-1)  # (p,)
    return sq[1::2] + sq[2::2]  # (p // 2,)


def embed_norm_share(params: dict, freqs: list[int], p: int = modadd.P) -> float:
    """Share of the number embeddings' squared norm in the given frequencies (cos and sin)."""
    norms = embed_freq_norms(params, p)
    total = params["embed.weight"][:p].float().pow(2).sum()
    return float(norms[[k - 1 for k in freqs]].sum() / total) if freqs else 0.0


def _freq_index(k: int) -> list[int]:
    return [2 * k - 1, 2 * k]


def neuron_grid(params: dict, n_heads: int, p: int = modadd.P, chunk: int = 4096) -> torch.Tensor:
    """Neuron activations at ``=`` over every input, as a grid: (p, p, d_mlp), [a, b, neuron]."""
    tokens = modadd.all_pairs(p).to(params["embed.weight"].device)
    posts = [forward(params, tokens[i : i + chunk], n_heads)["mlp_post"] for i in range(0, len(tokens), chunk)]
    return torch.cat(posts).view(p, p, -1)


def fourier_2d(grid: torch.Tensor, p: int = modadd.P) -> torch.Tensor:
    """2D Fourier coefficients over (a, b) of a (p, p, n) grid: (p, p, n)."""
    fb = basis(p, grid.device)
    return torch.einsum("ia,abn,jb->ijn", fb, grid.float(), fb)


def neuron_freq_fractions(grid: torch.Tensor, p: int = modadd.P) -> torch.Tensor:
    """Share of each neuron's variance (over all inputs) carried by each frequency's terms: (n, p // 2).

    Frequency k's terms are cos/sin(w_k a), cos/sin(w_k b) and their four products. Only those
    2D Fourier coefficients are computed: one transform over a, then a few per row over b.
    """
    fb = basis(p, grid.device)  # (p, p)
    g = grid.float()
    y = (fb @ g.reshape(p, -1)).view(p, p, -1)  # (p_i, p_b, n): transformed over a
    row0 = torch.einsum("jb,bn->jn", fb, y[0])  # (p, n): coefficients (0, j), constant in a
    col0 = torch.einsum("ibn,b->in", y, fb[0])  # (p, n): coefficients (i, 0), constant in b
    k = torch.arange(1, p // 2 + 1, device=grid.device)
    pair = torch.stack([2 * k - 1, 2 * k], 1)  # (p // 2, 2): the cos and sin rows of frequency k
    y_pairs = y[pair]  # (p // 2, 2, p_b, n)
    diag = torch.einsum("kibn,kjb->kijn", y_pairs, fb[pair])  # (p // 2, 2, 2, n): the four product terms
    power = row0[pair].pow(2).sum(1) + col0[pair].pow(2).sum(1) + diag.pow(2).sum((1, 2))  # (p // 2, n)
    total = (g - g.mean((0, 1))).pow(2).sum((0, 1)).clamp_min(1e-12)  # (n,): Parseval, the mean removed
    return (power / total).T  # (n, p // 2)


def neuron_clusters(grid: torch.Tensor, p: int = modadd.P) -> tuple[torch.Tensor, torch.Tensor]:
    """Each neuron's dominant frequency (1-based; 0 = none above the threshold or dead) and its share: (n,), (n,)."""
    return clusters_from_fractions(neuron_freq_fractions(grid, p), grid)


def clusters_from_fractions(frac: torch.Tensor, grid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``neuron_clusters`` from precomputed ``neuron_freq_fractions`` (n, p // 2) and the grid (p, p, n)."""
    share, idx = frac.max(dim=1)
    alive = grid.flatten(0, 1).std(0) > 1e-6  # (n,)
    freq = torch.where((share >= NEURON_FREQ_THRESHOLD) & alive, idx + 1, torch.zeros_like(idx))
    return freq, share


def key_frequencies(grid: torch.Tensor, p: int = modadd.P) -> list[int]:
    """Frequencies with at least ``MIN_CLUSTER`` neurons clustered on them, sorted."""
    freq, _ = neuron_clusters(grid, p)
    counts = torch.bincount(freq, minlength=p // 2 + 1)  # (p // 2 + 1,)
    return [k for k in range(1, p // 2 + 1) if counts[k] >= MIN_CLUSTER]


def _key_projector_2d(freqs: list[int], p: int, device) -> torch.Tensor:
    """0/1 mask over 2D Fourier coefficients (p, p): the constant and every term of the key frequencies."""
    keep = torch.zeros(p, p, device=device)
    keep[0, 0] = 1
    for k in freqs:
        i = _freq_index(k)
        keep[0, i] = 1
        keep[i, 0] = 1
        keep[i[0] : i[1] + 1, i[0] : i[1] + 1] = 1
    return keep


def all_logits(params: dict, n_heads: int, p: int = modadd.P) -> tuple[torch.Tensor, torch.Tensor]:
    """Number logits at ``=`` for every input and the neuron grid: (p*p, p), (p, p, d_mlp)."""
    out = forward(params, modadd.all_pairs(p).to(params["embed.weight"].device), n_heads)
    return out["logits"][:, :p], out["mlp_post"].view(p, p, -1)


def restricted_logits(params: dict, logits: torch.Tensor, grid: torch.Tensor, freqs: list[int],
                      p: int = modadd.P) -> torch.Tensor:
    """Logits with the neurons' non-key-frequency parts removed: (p*p, p).

    The neuron activations, as functions of (a, b), keep only the constant and the key
    frequencies' 2D Fourier terms; what they drop no longer reaches the logits through
    W_out and W_U. Attention and direct paths are untouched.
    """
    fb = basis(p, grid.device)
    coef = fourier_2d(grid, p)  # (p, p, n)
    dropped = coef * (1 - _key_projector_2d(freqs, p, grid.device))[:, :, None]
    removed = torch.einsum("ia,ijn,jb->abn", fb, dropped, fb).reshape(p * p, -1)  # (p*p, n)
    w_logit = params["blocks.0.mlp.out.weight"].T.float() @ params["unembed.weight"][:p].T.float()  # (n, p)
    return logits - removed @ w_logit


def excluded_logits(logits: torch.Tensor, freqs: list[int], p: int = modadd.P) -> torch.Tensor:
    """Logits with their cos(w_k(a+b)) and sin(w_k(a+b)) components removed, key k: (p*p, p)."""
    s = modadd.all_pairs(p)[:, :2].sum(1).to(logits.device).double()  # (p*p,) a+b
    out = logits.double()
    for k in freqs:
        for fn in (torch.cos, torch.sin):
            u = fn(2 * math.pi * k * s / p)
            u = u / u.norm()  # (p*p,)
            out = out - u[:, None] * (u @ out)[None, :]
    return out.to(logits.dtype)


def cos_fit(logits: torch.Tensor, p: int = modadd.P) -> tuple[torch.Tensor, float]:
    """Least-squares alpha_k of cos(w_k(a+b-c)) for every k, and the total variance; (p // 2,), float.

    Logits (p*p, p) are centred over c for each input (softmax ignores a shift). The cos terms are
    orthogonal over all (a, b, c), each with squared norm p^3 / 2, so every alpha_k is a projection:
    sum over inputs and c of L * cos(w_k (a+b-c)), which only depends on d = (a+b-c) mod p.
    """
    L = logits.double() - logits.double().mean(dim=1, keepdim=True)  # (p*p, p)
    s = modadd.all_pairs(p)[:, :2].sum(1).to(logits.device)  # (p*p,) a+b
    c = torch.arange(p, device=logits.device)
    d = (s[:, None] - c[None, :]) % p  # (p*p, p)
    per_d = torch.zeros(p, dtype=torch.float64, device=logits.device).index_add_(0, d.flatten(), L.flatten())  # (p,)
    k = torch.arange(1, p // 2 + 1, dtype=torch.float64, device=logits.device)
    cos = torch.cos(2 * math.pi * k[:, None] * torch.arange(p, device=logits.device)[None, :] / p)  # (p // 2, p)
    alpha = (cos @ per_d) / (p**3 / 2)  # (p // 2,)
    return alpha, float(L.pow(2).sum())


def logit_freq_fit(logits: torch.Tensor, p: int = modadd.P) -> torch.Tensor:
    """Per frequency k, the share of centred logit variance explained by its cos(w_k(a+b-c)) term: (p // 2,)."""
    alpha, total = cos_fit(logits, p)
    return alpha.pow(2) * (p**3 / 2) / total


def logit_var_explained(logits: torch.Tensor, freqs: list[int], p: int = modadd.P) -> float:
    """Share of the number logits' variance (over c, every input) fit by sum_k alpha_k cos(w_k(a+b-c)), k in freqs."""
    return float(logit_freq_fit(logits, p)[[k - 1 for k in freqs]].sum()) if freqs else 0.0


def logit_c_only_share(logits: torch.Tensor) -> float:
    """Share of the centred logit variance that depends on c alone (the same for every input): a prior over answers."""
    L = logits.double() - logits.double().mean(dim=1, keepdim=True)  # (p*p, p)
    return float(L.mean(0).pow(2).sum() * L.shape[0] / L.pow(2).sum())


def progress(params: dict, n_heads: int, freqs: list[int], train_idx: torch.Tensor, p: int = modadd.P) -> dict:
    """Every progress measure of one snapshot, against the given key frequencies."""
    labels = modadd.labels(modadd.all_pairs(p)).to(params["embed.weight"].device)  # (p*p,)
    test = torch.ones(p * p, dtype=torch.bool)
    test[train_idx] = False
    tr, te = train_idx.to(labels.device), test.nonzero()[:, 0].to(labels.device)
    logits, grid = all_logits(params, n_heads, p)
    train_loss, train_acc = loss_acc(logits[tr], labels[tr], p)
    test_loss, test_acc = loss_acc(logits[te], labels[te], p)
    restricted, _ = loss_acc(restricted_logits(params, logits, grid, freqs, p), labels, p)
    excluded, _ = loss_acc(excluded_logits(logits, freqs, p)[tr], labels[tr], p)
    weight_norm = sum(v.float().pow(2).sum() for v in params.values()).sqrt()
    return {
        "train_loss": float(train_loss), "test_loss": float(test_loss),
        "train_accuracy": float(train_acc), "test_accuracy": float(test_acc),
        "restricted_loss": float(restricted), "excluded_loss": float(excluded),
        "embed_norm_in_key_freqs": embed_norm_share(params, freqs, p),
        "weight_norm": float(weight_norm),
    }
