"""Properties of the shipped Othello-GPT, re-measured on its weights and compared with its card.

Everything is regenerated from fixed seeds (app.training.othello_measure), so these numbers are
exactly what the recipe measured, up to CPU-vs-GPU float differences.
"""

import json

import numpy as np
import pytest
import torch

from app import zoo
from app.analysis import othello as ao
from app.tasks import othello as oth
from app.training import othello_measure as om
from app.training.othello_card import render_card

NAME = "othello-gpt"
FOLDER = zoo.MODELS_DIR / NAME


@pytest.fixture(scope="module")
def metrics():
    return json.loads((FOLDER / "metrics.json").read_text())


@pytest.fixture(scope="module")
def model():
    return zoo.load(NAME)


def test_card_is_rendered_from_metrics(metrics):
    cfg = json.loads((FOLDER / "config.json").read_text())
    assert (FOLDER / "card.md").read_text() == render_card(cfg, metrics)


def test_legal_move_rate(model, metrics):
    games = oth.random_games(om.EVAL_GAMES, om.EVAL_SEED)
    _, _, legal = oth.board_states(games)
    with zoo.use(NAME) as m, torch.no_grad():
        logits = torch.cat([m(ao.model_inputs(games[i:i + 250])) for i in range(0, len(games), 250)])
    rate = ao.legal_top1(logits, games, legal)
    assert rate == pytest.approx(metrics["legal_move_top1"], abs=0.002)
    assert rate >= 0.97  # issue 7's target


def test_probe_accuracy_per_layer(model, metrics):
    """Mine/theirs probes read the board linearly; black/white probes cannot (Nanda 2023)."""
    probes = om.load_probes(FOLDER)
    with zoo.use(NAME) as m:
        resid, labels = om.probe_data(m, om.PROBE_EVAL_GAMES, om.EVAL_SEED)
    for basis in ao.BASES:
        acc = ao.probe_accuracy(probes[basis], resid, labels[basis])
        assert acc == pytest.approx(metrics[f"probe_acc_{basis}"], abs=0.003), basis
    mt, bw = metrics["probe_acc_mine_theirs"], metrics["probe_acc_black_white"]
    assert len(mt) == len(bw) == zoo.config(NAME)["n_layers"] + 1
    assert max(mt) >= 0.9
    assert max(mt) - max(bw) >= 0.1
    assert mt[0] < mt[2] < max(mt)  # the board is computed by the layers, not read off the embeddings


def test_probe_edits_move_predictions_toward_the_edited_board(metrics):
    cases = om.edit_cases(2 * om.EDIT_POSITIONS, om.EDIT_SEED)[om.EDIT_POSITIONS:]
    probes = om.load_probes(FOLDER)["mine_theirs"]
    with zoo.use(NAME) as m:
        r = om.edit_match(m, probes, cases, metrics["intervention_layer"], metrics["intervention_scale"])
    assert r["match"] == pytest.approx(metrics["intervention_match_rate"], abs=0.02)
    assert r["still_old"] == pytest.approx(metrics["intervention_still_old_rate"], abs=0.02)
    # Without an edit the top-k can never equal the edited set (the cases are chosen so the sets differ),
    # so any match is the edit's doing; the card reports the rate honestly (it is modest).
    assert r["match"] >= 0.2


def test_edit_changes_the_probe_reading_and_leaves_no_hook(model, metrics):
    game = oth.parse_moves("f5 d6 c3 d3 c4")
    tokens = torch.from_numpy(oth.encode(game))[None]
    probes = om.load_probes(FOLDER)["mine_theirs"]
    square = oth.parse_square("d4")
    layer = metrics["intervention_layer"]
    with zoo.use(NAME) as m, torch.no_grad():
        plain = m(tokens)[0, -1]
        edited = ao.flip_edit(m, tokens, probes, layer, square, metrics["intervention_scale"])
        again = m(tokens)[0, -1]
    assert not torch.allclose(plain, edited)
    torch.testing.assert_close(plain, again)  # the hook is gone after the edit
    assert np.isfinite(edited.numpy()).all()
