"""Measure a saved Othello-GPT folder: legal-move accuracy, probes per layer, probe-edit match rate.

Used by the recipe right after training (``fit=True`` also fits and saves the probes) and by
``tests/test_othello_model.py``, which re-measures the shipped weights and compares with
``metrics.json``. Every game set is regenerated from a fixed seed, so nothing but weights ships.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from app import zoo
from app.analysis import othello as ao
from app.tasks import othello as oth

EVAL_GAMES = 1_000  # legal-move accuracy
PROBE_EVAL_GAMES = 300  # probe accuracy (held out from probe training)
EDIT_POSITIONS = 200  # per half: layer/scale chosen on the first half, reported on the second
EDIT_SCALES = (1.0, 2.0)
EVAL_SEED, PROBE_SEED, EDIT_SEED = 1_000_003, 1_000_002, 1_000_004


def load_folder(folder: Path, device: str = "cpu"):
    """An eval-mode bridge from a model folder (inside or outside ``models/``)."""
    cfg = json.loads((folder / "config.json").read_text())
    model = zoo.build(cfg, device=device)
    model.load_state_dict({k: v.float() for k, v in load_file(folder / "model.safetensors").items()}, strict=True)
    return model.eval()


def load_probes(folder: Path) -> dict[str, ao.Probes]:
    t = load_file(folder / "probes.safetensors")
    return {b: ao.Probes(b, t[f"{b}.weight"].float(), t[f"{b}.bias"].float()) for b in ao.BASES}


def save_probes(folder: Path, probes: dict[str, ao.Probes]) -> None:
    tensors = {}
    for b, p in probes.items():
        tensors[f"{b}.weight"] = p.weight.to(torch.float16).contiguous()
        tensors[f"{b}.bias"] = p.bias.to(torch.float16).contiguous()
    save_file(tensors, folder / "probes.safetensors")


def probe_data(model, n_games: int, seed: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Residuals and both labellings for every played position of ``n_games`` fresh games."""
    games = oth.random_games(n_games, seed)
    boards, player_next, _ = oth.board_states(games)
    valid = ao.flat_positions(games)  # (N, 59)
    resid = ao.residuals(model, ao.model_inputs(games))[:, torch.from_numpy(valid)]  # (L+1, M, d): played positions
    labels = {b: torch.from_numpy(ao.board_labels(boards[:, :59], player_next[:, :59], b)[valid]).long()  # (M, 64)
              for b in ao.BASES}
    return resid, labels


def edit_cases(n: int, seed: int) -> list[dict]:
    """Seeded (game prefix, square) cases where swapping one stone changes the legal moves."""
    rng = np.random.default_rng(seed)
    games = oth.random_games(4 * n, seed)
    boards, player_next, legal = oth.board_states(games)
    cases = []
    for g in range(len(games)):
        length = int((games[g] >= 0).sum())
        t = int(rng.integers(4, min(length, 59) - 1)) if length > 6 else None
        if t is None or player_next[g, t] == 0:
            continue
        board, player = boards[g, t], int(player_next[g, t])
        occupied = [int(s) for s in np.flatnonzero(board)]
        rng.shuffle(occupied)
        for sq in occupied:
            edited = ao.flipped_board(board, sq)
            new_legal = oth.legal_mask(edited, player)
            if new_legal.any() and not np.array_equal(new_legal, legal[g, t]):
                cases.append({"game": games[g], "t": t, "square": sq, "legal": legal[g, t], "edited_legal": new_legal})
                break
        if len(cases) == n:
            break
    return cases


def edit_match(model, probes: ao.Probes, cases: list[dict], layer: int, scale: float) -> dict:
    """Share of cases whose top-k after the edit is exactly the edited board's legal set (k = its size)."""
    tokens_all = ao.model_inputs(np.stack([c["game"] for c in cases]))
    new = old = 0
    for i, c in enumerate(cases):
        tokens = tokens_all[i:i + 1, :c["t"] + 1].to(next(model.parameters()).device)
        sq_logits = ao.square_logits(ao.flip_edit(model, tokens, probes, layer, c["square"], scale).float().cpu())
        new += ao.topk_matches(sq_logits, c["edited_legal"])
        old += ao.topk_matches(sq_logits, c["legal"])
    return {"match": new / len(cases), "still_old": old / len(cases)}


def unedited_match(model, cases: list[dict]) -> float:
    """Without an edit, how often the top-k equals the true legal set on the same positions."""
    tokens_all = ao.model_inputs(np.stack([c["game"] for c in cases]))
    hits = 0
    with torch.no_grad():
        for i, c in enumerate(cases):
            logits = model(tokens_all[i:i + 1, :c["t"] + 1].to(next(model.parameters()).device))[0, -1].float().cpu()
            hits += ao.topk_matches(ao.square_logits(logits), c["legal"])
    return hits / len(cases)


def measure(folder: Path, training: dict, fit: bool = False, probe_games: int = 3_000, probe_steps: int = 2_000,
            device: str = "cpu", seed: int = 0, choose_edit: bool | None = None) -> dict:
    """Measure; write metrics.json and card.md.

    ``fit`` first fits and saves the probes. ``choose_edit`` (default: same as ``fit``) picks the
    edit layer and scale on a selection set; otherwise they are read from metrics.json.
    """
    choose_edit = fit if choose_edit is None else choose_edit
    model = load_folder(folder, device)
    n_layers = model.cfg.n_layers
    games = oth.random_games(EVAL_GAMES, EVAL_SEED)
    _, _, legal = oth.board_states(games)
    with torch.no_grad():
        logits = torch.cat([model(ao.model_inputs(games[i:i + 250]).to(device)).float().cpu()
                            for i in range(0, len(games), 250)])
    m: dict = {"legal_move_top1": ao.legal_top1(logits, games, legal), "eval_games": EVAL_GAMES}

    if fit:
        resid, labels = probe_data(model, probe_games, PROBE_SEED)
        probes = {b: ao.fit_probes(resid, labels[b], b, steps=probe_steps, device=device, seed=seed) for b in ao.BASES}
        del resid
        save_probes(folder, probes)
    probes = load_probes(folder)
    resid, labels = probe_data(model, PROBE_EVAL_GAMES, EVAL_SEED)
    for b in ao.BASES:
        m[f"probe_acc_{b}"] = ao.probe_accuracy(probes[b], resid, labels[b])
    # A trivial baseline: predict each square's most common class at that move number... simpler: all "empty".
    m["probe_acc_all_empty"] = float((labels["black_white"] == 0).float().mean())
    del resid

    cases = edit_cases(2 * EDIT_POSITIONS, EDIT_SEED)
    choose, report = cases[:EDIT_POSITIONS], cases[EDIT_POSITIONS:]
    mt = probes["mine_theirs"]
    if choose_edit:
        grid = {f"L{layer}x{scale:g}": edit_match(model, mt, choose, layer, scale)["match"]
                for layer in range(n_layers) for scale in EDIT_SCALES}
        best = max(grid, key=grid.get)
        layer, scale = int(best[1:].split("x")[0]), float(best.split("x")[1])
        training = {**training, "edit_grid": grid}
    else:
        old = json.loads((folder / "metrics.json").read_text())
        layer, scale = old["intervention_layer"], old["intervention_scale"]
    result = edit_match(model, mt, report, layer, scale)
    m.update({"intervention_match_rate": result["match"], "intervention_still_old_rate": result["still_old"],
              "intervention_unedited_match_rate": unedited_match(model, report), "intervention_layer": layer,
              "intervention_scale": scale, "intervention_cases": len(report), "training": training})
    (folder / "metrics.json").write_text(json.dumps(m, indent=1) + "\n")
    write_card(folder, m)
    return m


def write_card(folder: Path, m: dict) -> None:
    from app.training.othello_card import render_card

    cfg = json.loads((folder / "config.json").read_text())
    (folder / "card.md").write_text(render_card(cfg, m))
