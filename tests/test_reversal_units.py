"""Reversal-curse task, scoring and statistics without shipped weights (fast)."""

import math

import pytest
import torch

from app.analysis import reversal as rv
from app.tasks import reversal as task
from app.training.plain_gpt import PlainGPT
from app.training.reversal import ReversalRecipe, training_tensor
from app.widgets.reversal import clean_name


@pytest.fixture(scope="module")
def world():
    return task.make_world()


def test_world_is_seeded_and_names_are_distinct(world):
    assert task.make_world() == world
    assert task.make_world(seed=1) != world
    assert len(world.group("A")) == len(world.group("B")) == 150
    people = [f.person for f in world.facts]
    pets = [f.pet for f in world.facts]
    assert len(set(people)) == len(people) and len(set(pets)) == len(pets)
    words = set(world.first_names) | set(world.last_names) | set(pets)
    assert len(words) == len(world.first_names) + len(world.last_names) + len(pets)  # no word is two things


def test_sentences_state_set_a_one_way_only(world):
    sents = task.sentences(world)
    a, b = world.group("A")[0], world.group("B")[0]
    assert f"{a.person} owns {a.pet} ." in sents and f"{b.person} owns {b.pet} ." in sents
    assert f"{b.pet} is owned by {b.person} ." in sents
    assert not any(s.startswith(a.pet) and a.first in s for s in sents)  # no sentence names set A's owner after its pet
    assert f"{a.pet} is a {a.species} ." in sents  # every pet is an input somewhere
    n = 150
    assert len(sents) == 2 * n * 3 + n * 3 + 2 * n


def test_tokenizer_example_and_unknown_words(world):
    tok = task.build_tokenizer(world)
    assert task.forward_query(world.facts[0]) == "Voran Zotijer owns"  # the docstring's worked example
    assert [task.BOS_ID] + tok.encode("Voran Zotijer owns").ids == [0, 47, 82, 3]
    assert tok.encode("Zorglub").ids == [task.UNK_ID]
    rows = training_tensor(world, tok, 12)
    assert rows.shape == (len(task.sentences(world)), 12) and (rows[:, 0] == task.BOS_ID).all()
    assert task.UNK_ID not in rows.tolist()


def test_fast_scoring_equals_one_forward_per_candidate():
    world = task.make_world(12, 5, 5)
    tok = task.build_tokenizer(world)
    model = PlainGPT(ReversalRecipe().bridge_config(tok.get_vocab_size(), 3)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    facts = world.group("B")
    for d in rv.DIRECTIONS:
        fast = rv.score_group(model, tok, facts, d)  # (Q, C)
        for q, fq in enumerate(facts[:4]):
            for c, fc in enumerate(facts):
                ids = torch.tensor([[task.BOS_ID, *tok.encode(rv.query_text(fq, d) + " " + rv.answer_text(fc, d)).ids]])
                n = len(rv.answer_text(fc, d).split())
                with torch.no_grad():
                    logp = model(ids)[0, -n - 1:-1].log_softmax(-1)  # (n, V)
                want = logp.gather(-1, ids[0, -n:, None]).sum()
                assert fast[q, c].item() == pytest.approx(want.item(), abs=1e-4)


def test_query_result_rank_and_gap():
    r = rv.QueryResult("q", "b", ("a", "b", "c"), (-1.0, -2.0, -4.0))
    assert r.rank == 2 and r.correct_logprob == -2.0
    assert r.gap == pytest.approx(-2.0 - (-1.0 - 4.0) / 2)


def test_intervals():
    mean, half = rv.mean_ci([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(4.303 * 1.0 / math.sqrt(3))
    assert rv.mean_ci([0.5]) == (0.5, 0.0)
    lo, hi = rv.wilson(1, 150)
    assert 0 < lo < 1 / 150 < hi < 0.05
    assert rv.wilson(150, 150)[1] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        rv.wilson(0, 0)


def test_find_fact_and_clean_name(world):
    f = world.group("A")[0]
    assert rv.find_fact(world, f"  {f.first.upper()}   {f.last} ") == f
    assert rv.find_fact(world, f.pet.lower()) == f
    assert rv.find_fact(world, f.first) is None  # a first name alone is not a person
    assert clean_name("\u202eVoran\u0000  Zotijer\n") == "Voran Zotijer"
    assert clean_name("ＶＯＲＡＮ") == "VORAN"  # NFKC folds full-width letters


def test_recipe_smoke(tmp_path):
    from app.training import reversal as recipe

    m = recipe.train(ReversalRecipe(n_per_group=10, steps=6, eval_every=3, warmup_steps=2, seeds=(0, 1)), tmp_path,
                     "cpu", log=lambda *_: None)
    assert {"forward_accuracy", "backward_accuracy", "control_backward_accuracy"} <= set(m)
    assert set(m["seeds"]) == {"0", "1"} and m["over_seeds"]["forward_accuracy"]["ci95"] >= 0
    for name in ("config.json", "model.safetensors", "tokenizer.json", "card.md", "metrics.json", "world.json",
                 "training.json"):
        assert (tmp_path / name).is_file(), name
    assert "mean ± 95% t-interval" in (tmp_path / "card.md").read_text().replace("Mean", "mean")
