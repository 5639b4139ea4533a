"""Checks for the Othello-GPT walkthrough (Li et al. 2023; Nanda 2023)."""

from __future__ import annotations

import numpy as np
import torch

from app import zoo
from app.exercises.common import CheckResult, _layer_answer


def othello_top_move(answer: str, model: str, moves: str) -> CheckResult:
    """Which square does the Othello model rank first after ``moves``?"""
    from app.analysis.othello import square_logits
    from app.tasks import othello as oth

    game = oth.parse_moves(moves)
    legal = np.flatnonzero(oth.replay(game).legal[-1])
    with zoo.use(model) as m, torch.no_grad():
        probs = square_logits(m(torch.from_numpy(oth.encode(game))[None])[0, -1].float()).softmax(-1)
    best = int(probs.argmax())
    try:
        guess = oth.parse_square(answer)
    except ValueError:
        return CheckResult(False, "Answer with a square such as c4 (column letter, then row number).")
    verdict = "a legal move" if best in legal else "an illegal move (a model mistake!)"
    if guess == best:
        return CheckResult(True, f"Correct: the model puts {float(probs[best]):.0%} on {oth.square_name(best)}, {verdict}.")
    return CheckResult(False, f"The model gives {oth.square_name(guess)} {float(probs[guess]):.1%}; another square gets more. "
                              "Load the position on the board and read the brightest square.")


def probe_first_layer_above(answer: str, model: str, basis: str, threshold: float) -> CheckResult:
    """The first layer whose probe (in ``basis``) reaches ``threshold`` accuracy (measured in metrics.json)."""
    acc = zoo.metrics(model)[f"probe_acc_{basis}"]
    first = next((i for i, a in enumerate(acc) if a >= threshold), None)
    layer = _layer_answer(answer, len(acc) - 1)
    if layer is None:
        return CheckResult(False, f"Answer with a layer number 0..{len(acc) - 1} (0 = the embeddings).")
    if first is None:
        return CheckResult(False, f"No layer reaches {threshold:.0%} with this labelling; the best is {max(acc):.1%}.")
    if layer == first:
        return CheckResult(True, f"Correct: layer {first} is the first at or above {threshold:.0%} ({acc[first]:.1%}).")
    hint = "earlier: look at the layers before it" if layer > first else "later: that layer is still below the line"
    return CheckResult(False, f"Layer {layer} scores {acc[layer]:.1%}. The answer is {hint}.")


def best_edit_layer(answer: str, model: str) -> CheckResult:
    """Which layer's probe edits most often give the edited board's legal moves (measured in metrics.json)?"""
    grid = zoo.metrics(model)["training"]["edit_grid"]
    by_layer: dict[int, float] = {}
    for label, rate in grid.items():
        layer = int(label[1:].split("x")[0])
        by_layer[layer] = max(by_layer.get(layer, 0.0), rate)
    best = max(by_layer, key=by_layer.get)
    layer = _layer_answer(answer, max(by_layer))
    if layer is None or layer not in by_layer:
        return CheckResult(False, f"Answer with a layer number {min(by_layer)}..{max(by_layer)}.")
    if layer == best:
        return CheckResult(True, f"Correct: edits from layer {best} match the edited board {by_layer[best]:.0%} of the time.")
    return CheckResult(False, f"Edits from layer {layer} match {by_layer[layer]:.0%} of the time; another layer does better. "
                              "Try several layers in the edit view on a few positions.")


CHECKS = {fn.__name__: fn for fn in (othello_top_move, probe_first_layer_above, best_edit_layer)}
