"""Othello-GPT analysis: legal-move accuracy, linear board probes, and probe-direction edits.

Li et al. 2023 (https://arxiv.org/abs/2210.13382) trained a GPT on random legal Othello games
and found the board state recoverable from its residual stream, with non-linear probes
(section 3) and edits that change its predictions (section 4). Nanda 2023
(https://www.neelnanda.io/mechanistic-interpretability/othello) showed the state is *linear*
once squares are labelled relative to the player to move ("mine / theirs / empty") rather
than by colour. This module measures all three on our model:

- ``legal_top1``: how often the model's top prediction is a legal move.
- ``fit_probes`` / ``probe_accuracy``: one multinomial linear probe per (layer, square),
  trained on the residual stream in either labelling.
- ``flip_edit``: change one square's state in the model's residual stream along the probe's
  direction and compare the new predictions with the legal moves of the edited board.

Layer ``l`` means the residual stream after ``l`` blocks (0 = token + position embeddings),
so an ``n_layers`` model has ``n_layers + 1`` probe layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from app.tasks import othello as oth

BASES = ("mine_theirs", "black_white")
CLASSES = {"mine_theirs": ("empty", "mine", "theirs"), "black_white": ("empty", "black", "white")}


def hook_name(layer: int, n_layers: int) -> str:
    """TransformerLens hook of the residual stream after ``layer`` blocks."""
    if not 0 <= layer <= n_layers:
        raise ValueError(f"layer {layer} is out of range: this model has probe layers 0..{n_layers}")
    return f"blocks.{layer}.hook_resid_pre" if layer < n_layers else f"blocks.{n_layers - 1}.hook_resid_post"


def model_inputs(games: np.ndarray) -> torch.Tensor:
    """games (N, 60) square ids padded with -1 -> model tokens (N, 59): every move but the last."""
    table = np.concatenate([[oth.PAD], oth.SQUARE_TO_TOKEN])  # (65,): index square + 1, so -1 -> PAD
    return torch.from_numpy(table[games[:, :59].astype(np.int64) + 1]).long()


def residuals(model, tokens: torch.Tensor, batch: int = 512) -> torch.Tensor:
    """Residual stream at every probe layer: (n_layers + 1, N, T, d_model), on the CPU."""
    n_layers = model.cfg.n_layers
    names = [hook_name(layer, n_layers) for layer in range(n_layers + 1)]
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(tokens), batch):
        with torch.no_grad():
            _, cache = model.run_with_cache(tokens[start:start + batch].to(device), names_filter=lambda n: n in names)
        out.append(torch.stack([cache[n] for n in names]).float().cpu())  # (L+1, b, T, d)
    return torch.cat(out, dim=1)


def board_labels(boards: np.ndarray, player_next: np.ndarray, basis: str) -> np.ndarray:
    """Class per square after each move: boards (N, T, 64) in {1 black, -1 white, 0}, player_next (N, T).

    black_white: 0 empty, 1 black, 2 white. mine_theirs: 0 empty, 1 the next player's, 2 the other's.
    """
    if basis == "black_white":
        colour = boards.astype(np.int64)
    elif basis == "mine_theirs":
        colour = boards.astype(np.int64) * player_next[..., None].astype(np.int64)  # +1 = next player's stone
    else:
        raise ValueError(f"unknown basis {basis!r}; use one of {BASES}")
    return np.where(colour == 0, 0, np.where(colour > 0, 1, 2))


@dataclass
class Probes:
    """Linear probes for one basis: logits[l, n, s, c] = resid[l, n] · weight[l, s, c] + bias[l, s, c]."""

    basis: str
    weight: torch.Tensor  # (L+1, 64, 3, d_model)
    bias: torch.Tensor  # (L+1, 64, 3)

    def logits(self, resid: torch.Tensor, layer: int | None = None) -> torch.Tensor:
        """resid (L+1, N, d) -> (L+1, N, 64, 3); or resid (N, d) at one ``layer`` -> (N, 64, 3)."""
        if layer is not None:
            return torch.einsum("nd,scd->nsc", resid, self.weight[layer]) + self.bias[layer]
        return torch.einsum("lnd,lscd->lnsc", resid, self.weight) + self.bias[:, None]


def fit_probes(resid: torch.Tensor, labels: torch.Tensor, basis: str, steps: int = 2000, batch: int = 4096,
               lr: float = 1e-2, weight_decay: float = 1e-4, seed: int = 0, device: str = "cpu") -> Probes:
    """Fit every layer's probes at once by minibatch AdamW on cross-entropy.

    resid (L+1, N, d); labels (N, 64) class ids. Returns probes on the CPU.
    """
    gen = torch.Generator().manual_seed(seed)
    n_layers1, n, d = resid.shape
    weight = torch.zeros(n_layers1, 64, 3, d, device=device, requires_grad=True)
    bias = torch.zeros(n_layers1, 64, 3, device=device, requires_grad=True)
    opt = torch.optim.AdamW([weight, bias], lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    resid, labels = resid.to(device), labels.to(device)
    for _ in range(steps):
        idx = torch.randint(0, n, (min(batch, n),), generator=gen).to(device)
        logits = torch.einsum("lnd,lscd->lnsc", resid[:, idx], weight) + bias[:, None]  # (L+1, b, 64, 3)
        target = labels[idx].unsqueeze(0).expand(n_layers1, -1, -1)  # (L+1, b, 64)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 3), target.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return Probes(basis, weight.detach().cpu(), bias.detach().cpu())


def probe_accuracy(probes: Probes, resid: torch.Tensor, labels: torch.Tensor) -> list[float]:
    """Fraction of (position, square) states each layer's probe gets right: resid (L+1, N, d), labels (N, 64)."""
    pred = probes.logits(resid).argmax(-1)  # (L+1, N, 64)
    return [float(x) for x in (pred == labels.unsqueeze(0)).float().mean(dim=(1, 2))]


def flat_positions(games: np.ndarray) -> np.ndarray:
    """Bool (N, 59): input positions whose move exists (the game has not ended before it)."""
    return games[:, :59] >= 0


def legal_top1(logits: torch.Tensor, games: np.ndarray, legal_next: np.ndarray) -> float:
    """Share of positions whose top prediction is legal.

    logits (N, 59, 61); legal_next (N, 60, 64) legal squares after each move. Positions count
    only where the game goes on (a next move exists), as in Li et al.
    """
    top_square = oth.TOKEN_TO_SQUARE[logits.argmax(-1).numpy()]  # (N, 59), -1 for PAD
    goes_on = games[:, 1:60] >= 0  # (N, 59)
    rows, cols = np.nonzero(goes_on)
    sq = top_square[rows, cols]
    ok = (sq >= 0) & legal_next[rows, cols, np.maximum(sq, 0)]
    return float(ok.mean())


def square_logits(logits: torch.Tensor) -> torch.Tensor:
    """Token logits (..., 61) -> logits per board square (..., 64), -inf on the four centre squares."""
    out = torch.full((*logits.shape[:-1], 64), float("-inf"), dtype=logits.dtype)
    out[..., torch.tensor(oth.TOKEN_TO_SQUARE[1:])] = logits[..., 1:]
    return out


def topk_matches(sq_logits: torch.Tensor, legal: np.ndarray) -> bool:
    """Do the model's top-k squares equal the legal set, k = the number of legal moves?"""
    k = int(legal.sum())
    if k == 0:
        return False
    top = set(torch.topk(sq_logits, k).indices.tolist())
    return top == set(np.flatnonzero(legal).tolist())


def flip_direction(probes: Probes, layer: int, square: int, current: int, target: int) -> tuple[torch.Tensor, float]:
    """The mine/theirs probe's direction from ``current`` to ``target`` class at one square, and its bias gap."""
    w, b = probes.weight[layer, square], probes.bias[layer, square]  # (3, d), (3,)
    return w[target] - w[current], float(b[target] - b[current])


def flip_edit(model, tokens: torch.Tensor, probes: Probes, layer: int, square: int, scale: float = 1.0,
              through_later_layers: bool = True) -> torch.Tensor:
    """Logits at the last position after moving ``square`` from mine to theirs (or back) in the model's mind.

    tokens (1, T). At ``layer`` (and, with ``through_later_layers``, at every later layer's
    input too) the last position's residual is moved along the probe direction
    u = w[target] - w[current] until the probe's margin for the target class is ``scale``
    times the size the current class's margin had: r' = r + ((scale·|m| - m') / |u|²) u, where
    m' = u·r + bias gap. Returns (61,) logits. Runs hooks inside ``model.hooks``: the caller
    holds the zoo lock.
    """
    n_layers = model.cfg.n_layers
    layers = range(layer, n_layers if through_later_layers and layer < n_layers else layer + 1)
    state: dict = {}

    def edit(resid: torch.Tensor, hook) -> torch.Tensor:
        lay = int(hook.name.split(".")[1]) if hook.name.endswith("resid_pre") else n_layers
        r = resid[0, -1]  # (d,)
        cls = probes.logits(r[None].float().cpu(), lay)[0, square]  # (3,) probes live on the CPU
        if "current" not in state:  # decide the direction once, from the first edited layer's reading
            current = int(cls[1:].argmax()) + 1
            state["current"], state["target"] = current, 3 - current
        u, gap = flip_direction(probes, lay, square, state["current"], state["target"])
        u = u.to(device=resid.device, dtype=resid.dtype)
        margin = float(u @ r) + gap  # target minus current logit; negative before the edit
        wanted = scale * max(abs(margin), 1.0)
        resid[0, -1] = r + (wanted - margin) / float(u @ u) * u
        return resid

    hooks = [(hook_name(lay, n_layers), edit) for lay in layers]
    with torch.no_grad(), model.hooks(fwd_hooks=hooks):
        return model(tokens)[0, -1]


def flipped_board(board: np.ndarray, square: int) -> np.ndarray:
    """The board with one stone's colour swapped."""
    if board[square] == 0:
        raise ValueError(f"square {oth.square_name(square)} is empty: only stones can be flipped")
    edited = board.copy()
    edited[square] = -edited[square]
    return edited
