"""The Othello-GPT recipe: a few-step smoke run end to end, and exact resumption across runs."""

import json

import pytest
from safetensors.torch import load_file

from app.training import othello

TINY = {"n_layers": 1, "d_model": 32, "n_heads": 2, "d_mlp": 64, "batch_size": 16, "train_games": 300,
        "eval_every": 5, "curve_games": 20, "probe_games": 30, "probe_steps": 5, "resume_every": 3}


@pytest.fixture(autouse=True)
def _small_measure(monkeypatch):
    from app.training import othello_measure as om

    monkeypatch.setattr(om, "EVAL_GAMES", 20)
    monkeypatch.setattr(om, "PROBE_EVAL_GAMES", 10)
    monkeypatch.setattr(om, "EDIT_POSITIONS", 4)


def test_recipe_writes_a_loadable_folder(tmp_path):
    m = othello.train(othello.OthelloRecipe(steps=6, **TINY), tmp_path, device="cpu")
    for name in ("config.json", "model.safetensors", "probes.safetensors", "training.json", "metrics.json", "card.md"):
        assert (tmp_path / name).is_file(), name
    assert 0 <= m["legal_move_top1"] <= 1
    assert len(m["probe_acc_mine_theirs"]) == len(m["probe_acc_black_white"]) == TINY["n_layers"] + 1
    assert json.loads((tmp_path / "training.json").read_text())[-1]["step"] == 6
    assert f"{m['legal_move_top1']:.2%}" in (tmp_path / "card.md").read_text()


def test_resume_continues_exactly(tmp_path):
    """Stopping after a time limit and resuming gives the weights of one uninterrupted run."""
    straight = tmp_path / "straight"
    othello.train(othello.OthelloRecipe(steps=10, **TINY), straight, device="cpu")
    split = tmp_path / "split"
    othello.train(othello.OthelloRecipe(steps=10, max_seconds=1e-9, **TINY), split, device="cpu", resume=True)
    stopped = json.loads((split / "resume" / "progress.json").read_text())["step"]
    assert stopped < 10
    othello.train(othello.OthelloRecipe(steps=10, **TINY), split, device="cpu", resume=True)
    a, b = load_file(straight / "model.safetensors"), load_file(split / "model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        assert (a[k] == b[k]).all(), k
