"""Checks for the reversal-curse walkthrough (Berglund et al. 2023)."""

from __future__ import annotations

from app import zoo
from app.exercises.common import CheckResult, _int_answer


def _reversal_setup(model: str):
    from tokenizers import Tokenizer

    from app.analysis import reversal as rv

    world = rv.load_world(model)
    return rv, world, Tokenizer.from_file(str(zoo.model_dir(model) / "tokenizer.json"))


def reversal_backward_owner(answer: str, model: str, pet: str) -> CheckResult:
    """Whom does the model name as ``pet``'s owner (best-scoring full name over every person)?"""
    rv, world, tok = _reversal_setup(model)
    fact = rv.find_fact(world, pet)
    if fact is None:
        raise ValueError(f"{pet!r} is not a pet of {model}'s world")
    people = list(world.facts)
    with zoo.use(model) as m:
        lp = rv.candidates_logprobs(lambda t: m(t), tok, [fact], people, "backward")[0]  # (all people,)
    top = people[int(lp.argmax())]
    given = rv.find_fact(world, answer)
    if given is None or given.person.casefold() != " ".join(answer.split()).casefold():
        return CheckResult(False, "Answer with a person's full name (first and last), as the query view lists them.")
    if given == top:
        return CheckResult(True, f"Correct: the model's best-scoring owner of {pet} is {top.person} "
                                 f"(set {top.group}); the true owner is {fact.person}.")
    rank = 1 + int((lp > lp[people.index(given)]).sum())
    extra = " That is the true owner, but the question asks whom the model names." if given == fact else ""
    return CheckResult(False, f"{given.person} is ranked {rank} of {len(people)} by the model.{extra} "
                              f"Type {pet} into the query view and read the caption under the backward chart.")


def reversal_backward_correct(answer: str, model: str) -> CheckResult:
    """How many set-A backward queries does the model answer correctly (out of the set's size)?"""
    rv, world, tok = _reversal_setup(model)
    with zoo.use(model) as m:
        s = rv.group_score(lambda t: m(t), tok, world, "A", "backward")
    k = _int_answer(answer)
    if k is None or not 0 <= k <= s.n:
        return CheckResult(False, f"Answer with a whole number of queries between 0 and {s.n}.")
    if k == s.correct:
        return CheckResult(True, f"Correct: {s.correct} of {s.n} ({s.accuracy:.1%}); guessing at random gets "
                                 f"{s.n * s.chance:.0f} right on average.")
    return CheckResult(False, f"Not {k}. Accuracy = correct / {s.n}: read set A's backward bar in the accuracy view "
                              "and multiply by the number of queries.")


def reversal_guess_set(answer: str, model: str) -> CheckResult:
    """Asked who owns a set-A pet, which set do most of the model's (wrong) best guesses come from?"""
    rv, world, tok = _reversal_setup(model)
    a = world.group("A")
    with zoo.use(model) as m:
        lp = rv.candidates_logprobs(lambda t: m(t), tok, a, list(world.facts), "backward")  # (|A|, all people)
    groups = [world.facts[int(i)].group for i in lp.argmax(-1)]
    share_b = groups.count("B") / len(groups)
    want = "B" if share_b > 0.5 else "A"
    got = (answer or "").strip().upper().removeprefix("SET").strip()
    if got not in ("A", "B"):
        return CheckResult(False, "Answer A or B.")
    if got == want:
        return CheckResult(True, f"Yes: {share_b:.0%} of the best guesses for set-A pets are set-B people, the only "
                                 "names the model ever saw after 'is owned by'.")
    return CheckResult(False, f"Only {1 - share_b if want == 'B' else share_b:.0%} of the guesses come from set {got}. "
                              "Query a few set-A pets and look at the caption under the backward chart.")


CHECKS = {fn.__name__: fn for fn in (reversal_backward_owner, reversal_backward_correct, reversal_guess_set)}
