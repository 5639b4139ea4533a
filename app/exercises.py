"""Auto-checks for exercises: each computes the answer on the live model and says what to fix.

A check is ``fn(answer: str, **args) -> CheckResult``; walkthrough YAML names it in
``exercise.check.fn`` with its ``args``. No Streamlit here.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from app import zoo
from app.analysis import circuits
from app.training.measure import head_label


@dataclass(frozen=True)
class CheckResult:
    correct: bool
    feedback: str


_HEAD = re.compile(r"^\s*(?:l(?:ayer)?\s*)?(\d+)\s*(?:[.,:/\s]|h(?:ead)?)\s*(?:h(?:ead)?\s*)?(\d+)\s*$", re.I)


def parse_head(answer: str) -> tuple[int, int] | None:
    """'L0H3', 'l0h3', '0.3', '0,3', 'layer 0 head 3' -> (0, 3); anything else -> None."""
    m = _HEAD.match(answer or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def _check_head(answer: str, scores: torch.Tensor, what: str, where: str) -> CheckResult:
    """Compare a head answer with the argmax of ``scores`` (n_layers, n_heads)."""
    parsed = parse_head(answer)
    if parsed is None:
        return CheckResult(False, "Write a head as L<layer>H<head>, for example L0H3.")
    layer, head = parsed
    n_layers, n_heads = scores.shape
    if not (0 <= layer < n_layers and 0 <= head < n_heads):
        return CheckResult(False, f"L{layer}H{head} does not exist: layers 0..{n_layers - 1}, heads 0..{n_heads - 1}.")
    best = divmod(int(scores.argmax()), n_heads)
    got, top = float(scores[layer, head]), float(scores.max())
    if (layer, head) == best:
        return CheckResult(True, f"Correct: {head_label(*best)} has the highest {what} ({top:.3f}).")
    return CheckResult(False, f"{head_label(layer, head)} has {what} {got:.3f}, but another head reaches {top:.3f}. {where}")


def top_copying_head(answer: str, model: str) -> CheckResult:
    """Which head has the highest OV copying score?"""
    with zoo.use(model) as m:
        scores = circuits.copying_scores(m)
    return _check_head(answer, scores, "copying score", "Look for the brightest cell of the copying-score heatmap.")


def strongest_k_composition(answer: str, model: str = "attn-only-2l") -> CheckResult:
    """Which layer-1 head K-composes most strongly with any layer-0 head?"""
    with zoo.use(model) as m:
        k = circuits.composition_scores(m, "K")  # (H0, H1)
    per_l1 = torch.zeros(2, k.shape[1])
    per_l1[1] = k.max(dim=0).values  # the answer is a layer-1 head
    per_l1[0] = -1.0
    parsed = parse_head(answer)
    if parsed and parsed[0] == 0:
        return CheckResult(False, "K-composition reads a layer-0 head's output in a layer-1 head's keys: the answer is a layer-1 head (L1H?).")
    return _check_head(answer, per_l1, "K-composition", "Find the brightest column of the K-composition heatmap.")


def direct_path_top(answer: str, model: str, token: str) -> CheckResult:
    """What does the direct path predict most strongly after ``token``?"""
    with zoo.use(model) as m:
        tok_id = int(m.to_tokens(token, prepend_bos=False)[0, 0])
        logits = m.W_E[tok_id] @ m.W_U
        best = int(logits.argmax())
        best_str = m.to_string(torch.tensor([best]))
    if not answer:
        return CheckResult(False, "Type the token, including a leading space if it has one.")
    if answer == best_str or answer.strip() == best_str.strip():
        return CheckResult(True, f"Correct: {best_str!r} (logit {float(logits[best]):.2f}).")
    return CheckResult(False, f"Not the top one. Set the direct-path widget's token to {token!r} and read the first bar.")


def top_detector_head(answer: str, model: str, kind: str) -> CheckResult:
    """Which head does TransformerLens' detector name on the repeated-tokens view's default sequence?"""
    from app.analysis import induction

    if kind not in ("previous_token", "induction"):
        raise ValueError("kind must be previous_token or induction")
    with zoo.use(model) as m:
        vocab = induction.detector_vocab(m, zoo.repeat_vocab(model))
        text, _ = induction.repeated_text(m, vocab, half_len=30, seed=0)  # the widget's defaults
        scores = induction.detector_scores(m, text)[f"{kind}_head"]
    return _check_head(answer, scores, f"{kind.replace('_', '-')} score",
                       "Read the detector table under the repeated-tokens view (length 30, seed 0).")


def most_damaging_ablation(answer: str, model: str) -> CheckResult:
    """Which single head, zero-ablated, removes most of the second-copy advantage?"""
    from app.analysis import heads, induction

    with zoo.use(model) as m:
        half = 40
        toks = heads.repeated_tokens(m.cfg.d_vocab, half, 8, seed=0, vocab=zoo.repeat_vocab(model))
        n_layers, n_heads = m.cfg.n_layers, m.cfg.n_heads
        first, second = heads.half_losses(heads.per_token_loss(m, toks), half)
        adv = first - second
        drop = torch.zeros(n_layers, n_heads)
        for l in range(n_layers):
            for h in range(n_heads):
                a_first, a_second = heads.half_losses(induction.ablated_loss(m, toks, [(l, h)]), half)
                drop[l, h] = adv - (a_first - a_second)
    return _check_head(answer, drop, "drop in second-copy advantage (nats)",
                       f"Ablate heads one at a time in the ablation view; the intact advantage is {adv:.2f} nats.")


def phase_change_step(answer: str, model: str) -> CheckResult:
    """Roughly when does the induction head form? Within the window where its score rises."""
    curve = zoo.curve(model)
    best = [max(p["induction_score"].values()) for p in curve]
    lo, hi = best[0], max(best)
    steps = [p["step"] for p in curve]
    start = next(st for st, b in zip(steps, best) if b >= lo + 0.2 * (hi - lo))
    end = next(st for st, b in zip(steps, best) if b >= lo + 0.8 * (hi - lo))
    try:
        guess = float(answer.replace(",", "").replace("step", "").strip())
    except ValueError:
        return CheckResult(False, "Answer with a training step, a number such as 600.")
    if start - 100 <= guess <= end + 100:
        return CheckResult(True, f"Yes: the best induction score climbs from 20% to 80% of its range between steps {start} and {end}.")
    side = "before" if guess < start else "after"
    return CheckResult(False, f"Step {guess:.0f} is {side} the jump. Move the checkpoint slider and watch the bottom panel.")


def _int_answer(answer: str) -> int | None:
    try:
        return int(answer.replace(",", "").replace("step", "").strip())
    except ValueError:
        return None


def largest_embed_frequency(answer: str, model: str = "modadd-113") -> CheckResult:
    """Which frequency carries the largest share of the number embeddings (grokking)? k and p-k are the same."""
    from app.analysis import fourier

    p = zoo.config(model)["d_vocab"] - 1
    with zoo.use(model) as m:
        norms = fourier.embed_freq_norms({k: v.detach() for k, v in m.state_dict().items()}, p).sqrt()
    best = int(norms.argmax()) + 1
    k = _int_answer(answer)
    if k is None or not 1 <= k < p:
        return CheckResult(False, f"Answer with a frequency k between 1 and {p // 2}.")
    k = min(k, p - k)  # cos(2 pi k x / p) and cos(2 pi (p - k) x / p) are the same function
    if k == best:
        return CheckResult(True, f"Correct: frequency {best} has embedding norm {float(norms[best - 1]):.2f}, the largest.")
    return CheckResult(False, f"Frequency {k} has norm {float(norms[k - 1]):.2f}; another reaches "
                              f"{float(norms.max()):.2f}. Read the tallest bar of the embedding view at the final weights.")


def key_frequency_count(answer: str, model: str = "modadd-113") -> CheckResult:
    """How many key frequencies does the model use (neuron clusters of the final weights)?"""
    from app.analysis import fourier
    from app.tasks import modadd

    p = zoo.config(model)["d_vocab"] - 1
    with zoo.use(model) as m, torch.no_grad():
        _, cache = m.run_with_cache(modadd.all_pairs(p), names_filter=lambda n: n == "blocks.0.mlp.hook_post")
    keys = fourier.key_frequencies(cache["blocks.0.mlp.hook_post"][:, -1].view(p, p, -1), p)
    n = _int_answer(answer)
    if n is None:
        return CheckResult(False, "Answer with a whole number.")
    if n == len(keys):
        return CheckResult(True, f"Correct: {len(keys)} key frequencies ({', '.join(map(str, keys))}).")
    return CheckResult(False, f"Not {n}. Count the red bars in the neurons-per-frequency chart at the final weights.")


def grok_step(answer: str, model: str = "modadd-113") -> CheckResult:
    """Roughly when does test accuracy jump? Anywhere between 10% and 90% of the jump counts."""
    curve = zoo.curve(model)
    start = next((pt["step"] for pt in curve if pt["test_accuracy"] >= 0.1), None)
    end = next((pt["step"] for pt in curve if pt["test_accuracy"] >= 0.9), None)
    if start is None or end is None:
        return CheckResult(False, "This model's test accuracy never jumps within its training record.")
    guess = _int_answer(answer)
    if guess is None:
        return CheckResult(False, "Answer with a training step, a number such as 5000.")
    slack = 2 * (curve[1]["step"] - curve[0]["step"])
    if start - slack <= guess <= end + slack:
        return CheckResult(True, f"Yes: test accuracy climbs from 10% to 90% between steps {start:,} and {end:,}.")
    side = "before" if guess < start else "after"
    return CheckResult(False, f"Step {guess:,} is {side} the jump. Switch the curves to accuracy and look again.")


def _layer_answer(answer: str, n_max: int) -> int | None:
    text = answer.lower().replace("layer", "").replace("after block", "").strip()
    if text in ("emb", "embed", "embeddings"):
        return 0
    value = _int_answer(text.lstrip("l"))
    return value if value is not None and 0 <= value <= n_max else None


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


def outlier_dimension(answer: str, model: str) -> CheckResult:
    """Which residual dimension is the model's outlier dimension (largest mean |x| at the last point)?"""
    from safetensors.torch import load_file

    from app.analysis import basis

    tokens = load_file(zoo.model_dir(model) / "eval_tokens.safetensors")["tokens"].long()
    with zoo.use(model) as m:
        acts = basis.residual_stream(m, tokens)[-1:]  # (1, tokens, d_model): after the last block
    stats = basis.basis_stats(acts)
    ratio = stats.mean_abs_ratio()[0]  # (d_model,)
    best, d = int(ratio.argmax()), acts.shape[-1]
    k = _int_answer(answer)
    if k is None or not 0 <= k < d:
        return CheckResult(False, f"Answer with a dimension number between 0 and {d - 1}.")
    if k == best:
        return CheckResult(True, f"Correct: dimension {best}'s mean |x| is {float(ratio[best]):.1f} times the median "
                                 "dimension's, the largest.")
    return CheckResult(False, f"Dimension {k}'s mean |x| is {float(ratio[k]):.1f} times the median dimension's; another "
                              f"reaches {float(ratio.max()):.1f}. Draw mean |x| at the last point and find the tallest bar.")


def _number_answer(answer: str) -> float | None:
    """'0.9', '0,9', 'S = 0.9', '1/2' -> float; anything else -> None."""
    text = (answer or "").strip().lower().replace(",", ".").removeprefix("s").strip().removeprefix("=").strip()
    try:
        if "/" in text:
            num, den = text.split("/", 1)
            return float(num) / float(den)
        return float(text)
    except (ValueError, ZeroDivisionError):
        return None


def all_features_sparsity(answer: str, n_features: int = 5, decay: float = 0.9) -> CheckResult:
    """From which sparsity S on does the live n→2 row (seed 0) represent every feature? Trains the row."""
    from app.analysis import superposition as sp

    guess = _number_answer(answer)
    if guess is None or not 0 <= guess < 1:
        return CheckResult(False, "Answer with a sparsity S between 0 and 1, for example 0.5.")
    row = sp.default_row(n_features, decay)
    counts, grid = sp.represented(row.W).tolist(), list(sp.SPARSITIES)
    first = sp.first_all_represented(row)
    if first is None:
        return CheckResult(False, f"This row never represents all {n_features} features: no sparsity is right.")
    i = grid.index(first)
    lo = grid[i - 1] if i else -1.0
    if lo < guess <= first + 1e-9:
        before = f"at S = {lo} it keeps {counts[i - 1]}; " if i else ""
        return CheckResult(True, f"Yes: {before}from S = {first} on, all {n_features} features have ‖W_i‖ > 0.5.")
    near = min(range(len(grid)), key=lambda j: abs(grid[j] - guess))
    if guess > first:
        return CheckResult(False, f"All {n_features} are already represented at S = {first}: look at lower sparsities.")
    return CheckResult(False, f"At S = {grid[near]} the model represents {counts[near]} of {n_features} features: "
                              "move the sparsity slider up and watch the bar chart.")


def pentagon_angle(answer: str, sparsity: float = 0.97) -> CheckResult:
    """The angle between neighbouring feature directions of the live 5→2 model at ``sparsity``."""
    import math

    from app.analysis import superposition as sp

    guess = _number_answer(answer.replace("°", "").replace("deg", ""))
    if guess is None:
        return CheckResult(False, "Answer with an angle in degrees, such as 90.")
    row = sp.default_row(5, 0.9)
    W = row.W[list(sp.SPARSITIES).index(sparsity)]  # (2, 5)
    angles = sorted(math.degrees(math.atan2(float(W[1, i]), float(W[0, i]))) % 360 for i in range(5))
    gaps = [(angles[(i + 1) % 5] - angles[i]) % 360 for i in range(5)]
    mean = sum(gaps) / 5
    if abs(guess - mean) <= 6:
        return CheckResult(True, f"Yes: the gaps are {', '.join(f'{g:.0f}°' for g in gaps)} (mean {mean:.1f}°), "
                                 "close to 360°/5 = 72°: a regular pentagon.")
    return CheckResult(False, f"Not quite: measure the angle between two neighbouring arrows at S = {sparsity} "
                              "(five arrows share the full circle).")


def extra_feature_superposed_below(answer: str, relative_importance: float) -> CheckResult:
    """Below which density does the extra feature (at this importance) go into superposition? From the shipped diagram."""
    from app.analysis import superposition as sp

    guess = _number_answer(answer)
    if guess is None or not 0 < guess <= 1:
        return CheckResult(False, "Answer with a feature density between 0 and 1, for example 0.2.")
    pd = sp.shipped("phase_diagram.json")
    rel, dens = pd["relative_importance"], pd["density"]
    col = min(range(len(rel)), key=lambda j: abs(rel[j] - relative_importance))
    column = [row[col] for row in pd["phase"]]  # phase per density, low density first
    k, _ = sp.phase_boundary(column)  # superposition for densities[:k] (ignoring the odd stuck cell)
    if k == 0 or k == len(column):
        return CheckResult(False, "In the shipped diagram this column has no single boundary; try another importance.")
    lo, hi = dens[max(k - 2, 0)], dens[min(k + 1, len(dens) - 1)]  # one cell of slack on each side
    if lo <= guess <= hi:
        return CheckResult(True, f"Yes: at importance {rel[col]:.2f} the extra feature is in superposition up to density "
                                 f"{dens[k - 1]:.3f} and {pd['labels'][str(column[k])]} from {dens[k]:.3f}.")
    side = "lower" if guess > hi else "higher"
    return CheckResult(False, f"Look up the column at importance {rel[col]:.2f}: the boundary is at a {side} density.")


def dims_plateau(answer: str, lo: float, hi: float) -> CheckResult:
    """Which fraction does m/‖W‖_F² stick at for 1/(1-S) in [lo, hi]? From the shipped sweep."""
    import statistics

    from app.analysis import superposition as sp

    guess = _number_answer(answer)
    if guess is None:
        return CheckResult(False, "Answer with a fraction such as 1/3 or a decimal such as 0.33.")
    runs = sp.shipped("dims_per_feature.json")
    vals = [d for x, d in zip(runs["inv_density"], runs["dims_per_feature"]) if lo <= x <= hi]
    if not vals:
        raise ValueError(f"no shipped model has 1/(1-S) between {lo} and {hi}")
    median = statistics.median(vals)
    if abs(guess - median) <= 0.03:
        return CheckResult(True, f"Yes: the {len(vals)} models there have m/‖W‖_F² from {min(vals):.3f} to {max(vals):.3f}.")
    return CheckResult(False, f"Read the top panel for 1/(1−S) between {lo} and {hi}: your value is off by "
                              f"{abs(guess - median):.2f}.")


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


def _facts_setup(model: str):
    from app.analysis import facts as fa
    from app.tasks import facts

    return fa, facts, fa.load_world(model), facts.load_tokenizer(zoo.model_dir(model))


def facts_probe_layer(answer: str, model: str, threshold: float) -> CheckResult:
    """After which layer's MLP does the held-out sport probe at the last name token first reach ``threshold``?"""
    by_layer = zoo.metrics(model)["probe_acc_by_layer"]  # [embed, after L0, after L1, ...]
    want = next((i - 1 for i, acc in enumerate(by_layer) if i > 0 and acc >= threshold), None)
    if want is None:
        raise ValueError(f"no layer of {model} reaches {threshold:.0%}")
    got = _layer_answer(answer, len(by_layer) - 2)
    if got is None:
        return CheckResult(False, f"Answer with a layer number, 0 to {len(by_layer) - 2}.")
    if got == want:
        return CheckResult(True, f"Correct: after layer {want}'s MLP the probe reaches {by_layer[want + 1]:.0%} "
                                 f"(embedding: {by_layer[0]:.0%}).")
    return CheckResult(False, f"After layer {got}'s MLP the probe is at {by_layer[got + 1]:.0%}. Read the probe chart "
                              f"at the last name token: find the first 'mlp' point at or above {threshold:.0%}.")


def facts_distinct_sports(answer: str, model: str, last: str) -> CheckResult:
    """How many different sports does the model give the athletes called ``last``?"""
    fa, facts, world, tok = _facts_setup(model)
    group = [a for a in world.athletes if a.last_name == last]
    if not group:
        raise ValueError(f"{last!r} is not a last name of {model}'s world")
    with zoo.use(model) as m:
        table = fa.same_last_table(m, tok, world, group[0], "sport")
    want = len({row["predicted"] for row in table})
    k = _int_answer(answer)
    if k is None or not 1 <= k <= len(facts.SPORTS):
        return CheckResult(False, f"Answer with a whole number of sports, 1 to {len(facts.SPORTS)}.")
    if k == want:
        return CheckResult(True, f"Correct: the model gives the {len(table)} athletes called {last} {want} different "
                                 "sports, so the last name alone cannot be what it looks up.")
    return CheckResult(False, f"Not {k}. Pick {last} as the last name in the lookup view and count the distinct "
                              "values in the table's 'model' column.")


def facts_worst_mlp(answer: str, model: str) -> CheckResult:
    """Which layer's MLP, mean-ablated at the name tokens, lowers sport accuracy the most?"""
    fa, _, world, tok = _facts_setup(model)
    with zoo.use(model) as m:
        acc = fa.mlp_ablation(m, tok, world, "sport")["name tokens"]
    want = int(np.argmin(acc))
    got = _layer_answer(answer, len(acc) - 1)
    if got is None:
        return CheckResult(False, f"Answer with a layer number, 0 to {len(acc) - 1}.")
    if got == want:
        return CheckResult(True, f"Correct: without layer {want}'s MLP at the name tokens, sport accuracy falls to "
                                 f"{acc[want]:.0%}.")
    return CheckResult(False, f"Ablating layer {got}'s MLP at the name tokens leaves {acc[got]:.0%}; another layer "
                              "hurts more. Compare the blue bars in the ablation view.")


CHECKS: dict[str, Callable[..., CheckResult]] = {
    "othello_top_move": othello_top_move,
    "probe_first_layer_above": probe_first_layer_above,
    "best_edit_layer": best_edit_layer,
    "top_copying_head": top_copying_head,
    "strongest_k_composition": strongest_k_composition,
    "direct_path_top": direct_path_top,
    "top_detector_head": top_detector_head,
    "most_damaging_ablation": most_damaging_ablation,
    "phase_change_step": phase_change_step,
    "largest_embed_frequency": largest_embed_frequency,
    "key_frequency_count": key_frequency_count,
    "grok_step": grok_step,
    "outlier_dimension": outlier_dimension,
    "all_features_sparsity": all_features_sparsity,
    "pentagon_angle": pentagon_angle,
    "extra_feature_superposed_below": extra_feature_superposed_below,
    "dims_plateau": dims_plateau,
    "reversal_backward_owner": reversal_backward_owner,
    "reversal_backward_correct": reversal_backward_correct,
    "reversal_guess_set": reversal_guess_set,
    "facts_probe_layer": facts_probe_layer,
    "facts_distinct_sports": facts_distinct_sports,
    "facts_worst_mlp": facts_worst_mlp,
}


def validate_args(fn: str, args: dict) -> str | None:
    """A message if ``args`` do not fit the check's signature (or name unknown models), else None."""
    sig = inspect.signature(CHECKS[fn])
    params = [p for p in sig.parameters if p != "answer"]
    unknown = set(args) - set(params)
    if unknown:
        return f"unknown args {sorted(unknown)} for check {fn!r}; it takes {params}"
    missing = [p for p in params if sig.parameters[p].default is inspect.Parameter.empty and p not in args]
    if missing:
        return f"check {fn!r} needs args {missing}"
    if "model" in args and args["model"] not in zoo.names():
        return f"unknown model {args['model']!r}; valid models: {', '.join(zoo.names())}"
    return None


def run_check(fn: str, answer: str, args: dict) -> CheckResult:
    """Run a registered check; an answer the check cannot parse gets feedback, never an exception."""
    try:
        return CHECKS[fn](answer[:200], **args)
    except (ValueError, KeyError, IndexError) as err:
        return CheckResult(False, f"Could not check that answer: {err}")
