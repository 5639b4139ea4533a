"""The shipped reversal-small weights: the card's numbers re-measured, and the reversal curse itself."""

import json

import pytest
from tokenizers import Tokenizer

from app import exercises, zoo
from app.analysis import reversal as rv
from app.training.reversal import render_card, summary

NAME = "reversal-small"
# With 150 candidates chance is 1/150: P(at least 6 of 150 right by luck) is about 6e-4.
AT_CHANCE_MAX_CORRECT = 5


@pytest.fixture(scope="module")
def measured():
    world = rv.load_world(NAME)
    tok = Tokenizer.from_file(str(zoo.model_dir(NAME) / "tokenizer.json"))
    with zoo.use(NAME) as model:  # the TransformerBridge the app runs, not the training module
        return rv.measure(lambda t: model(t), tok, world)


def test_folder_is_small_and_complete():
    folder = zoo.model_dir(NAME)
    assert (folder / "model.safetensors").stat().st_size < 3_000_000
    for name in ("config.json", "tokenizer.json", "card.md", "metrics.json", "world.json", "training.json"):
        assert (folder / name).is_file(), name
    cfg = zoo.config(NAME)
    assert cfg["attn_only"] is False and cfg["act_fn"] == "gelu" and cfg["normalization_type"] == "LN"


def test_shipped_weights_reproduce_the_card(measured):
    m = zoo.metrics(NAME)
    got = summary(measured)
    for key, value in got.items():
        tol = 6e-6 if key.endswith("accuracy") else 2e-3  # stored to 5 decimals; one query of 150 is 0.0067
        assert value == pytest.approx(m[key], abs=tol), key
    assert m["seeds"]["0"] == {k: m[k] for k in m["seeds"]["0"]}
    assert render_card(zoo.config(NAME), m) == zoo.card(NAME)


def test_the_reversal_curse(measured):
    n = measured["A/backward"].n
    assert measured["A/forward"].accuracy >= 0.95  # the taught direction
    assert measured["B/forward"].accuracy >= 0.95
    assert measured["B/backward"].accuracy >= 0.95  # the control: both directions taught
    assert measured["A/backward"].correct <= AT_CHANCE_MAX_CORRECT, f"set A backward is above chance (1/{n})"
    # no lean towards the truth either: the gap is tiny next to the taught directions' gaps
    gap = measured["A/backward"]
    assert abs(gap.gap) < 0.1 * measured["B/backward"].gap
    assert abs(gap.gap) < 3 * gap.gap_sd / n ** 0.5 + 0.05  # within ~3 standard errors of zero (+ slack)


def test_every_seed_shows_it():
    m = zoo.metrics(NAME)
    assert len(m["seeds"]) >= 3
    for seed, s in m["seeds"].items():
        assert s["forward_accuracy"] >= 0.9 and s["control_backward_accuracy"] >= 0.9, seed
        assert s["backward_accuracy"] * m["n_per_group"] <= AT_CHANCE_MAX_CORRECT + 1e-6, seed
    o = m["over_seeds"]["backward_accuracy"]
    assert o["mean"] - o["ci95"] <= m["chance"] <= o["mean"] + o["ci95"] + 1e-9 or o["ci95"] == 0


def test_training_curves_cover_every_seed():
    curves = json.loads((zoo.model_dir(NAME) / "training.json").read_text())
    assert set(curves) == set(zoo.metrics(NAME)["seeds"])
    assert all(c[-1]["step"] == zoo.metrics(NAME)["training"]["recipe"]["steps"] for c in curves.values())


def test_exercise_checks(measured):
    k = measured["A/backward"].correct
    assert exercises.run_check("reversal_backward_correct", str(k), {"model": NAME}).correct
    assert not exercises.run_check("reversal_backward_correct", str(k + 40), {"model": NAME}).correct
    assert "whole number" in exercises.run_check("reversal_backward_correct", "many", {"model": NAME}).feedback
    assert exercises.run_check("reversal_guess_set", "B", {"model": NAME}).correct
    assert not exercises.run_check("reversal_guess_set", "set A", {"model": NAME}).correct
    world = rv.load_world(NAME)
    pet = world.group("A")[0]
    owner = exercises.run_check("reversal_backward_owner", pet.person, {"model": NAME, "pet": pet.pet})
    assert not owner.correct and "true owner" in owner.feedback  # the curse: the true owner is not the model's answer
    assert "full name" in exercises.run_check("reversal_backward_owner", "<b>x</b>", {"model": NAME, "pet": pet.pet}).feedback


def test_the_walkthroughs_ranking_numbers():
    """content/reversal-curse.yaml quotes these numbers of the shipped weights."""
    world = rv.load_world(NAME)
    tok = Tokenizer.from_file(str(zoo.model_dir(NAME) / "tokenizer.json"))
    with zoo.use(NAME) as model:
        a = rv.ranking_stats(lambda t: model(t), tok, world, "A")
        b = rv.ranking_stats(lambda t: model(t), tok, world, "B")
        nipel = rv.find_fact(world, "Nipel")
        everyone = rv.candidates_logprobs(lambda t: model(t), tok, [nipel], list(world.facts), "backward")[0]
    assert round(a.mean_query_corr, 2) == 0.72 and a.distinct_top == 10
    assert a.median_rank == 78 and a.top10 == 11
    assert (a.luckiest, round(a.luckiest_margin, 1), a.luckiest_rank) == ("Nipel", 5.4, 6)
    assert b.median_rank == 1 and b.mean_query_corr < 0.2  # the control: each query picks its own owner
    assert 1 + int((everyone > everyone[list(world.facts).index(nipel)]).sum()) == 35
    assert world.facts[int(everyone.argmax())].group == "B"


def test_concurrent_queries_match_serial():
    """Sessions share one model: threads going through the zoo's lock get the serial numbers."""
    from concurrent.futures import ThreadPoolExecutor

    world = rv.load_world(NAME)
    tok = Tokenizer.from_file(str(zoo.model_dir(NAME) / "tokenizer.json"))
    facts = world.group("A")[:4] + world.group("B")[:4]

    def run(fact):
        with zoo.use(NAME) as model:
            return rv.score_query(lambda t: model(t), tok, world, fact, "backward").logprobs

    serial = [run(f) for f in facts]
    with ThreadPoolExecutor(8) as pool:
        threaded = list(pool.map(run, facts))
    assert threaded == serial


def test_show_code_snippets_reproduce_the_numbers(capsys):
    from app.widgets.reversal import ReversalAccuracyParams, ReversalQueryParams

    exec(compile(ReversalQueryParams(name="Nipel").code(), "query-snippet", "exec"), {})
    assert capsys.readouterr().out.split()[0] == "Nipel"  # forward: Voran Zotijer owns Nipel
    exec(compile(ReversalAccuracyParams().code(), "accuracy-snippet", "exec"), {})
    out = capsys.readouterr().out
    m = zoo.metrics(NAME)
    assert f"A/forward accuracy {m['forward_accuracy']:.3f}" in out
    assert f"B/backward accuracy {m['control_backward_accuracy']:.3f}" in out
