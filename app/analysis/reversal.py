"""Forward vs backward recall of learned facts: accuracy and likelihood gap (the reversal curse).

Berglund, Tong, Kaufmann, Balesni, Cooper Stickland, Korbak & Evans (2023), "The Reversal
Curse: LLMs trained on 'A is B' fail to learn 'B is A'", https://arxiv.org/abs/2309.12288.
Section 2.1 scores a finetuned model two ways: exact-match accuracy of the answer, and whether
the log-probability of the correct name is higher than that of a random name from the same
set (their log-probability comparison for Experiment 1). We do both on the toy world of
``app.tasks.reversal``:

* every query is scored against every candidate answer of its set (all pets of the set for a
  forward query, all people of the set for a backward one); a candidate's score is the summed
  log-probability of its tokens after the query (two tokens for a person, teacher-forced);
* accuracy = share of queries whose correct answer scores highest (chance = 1 / set size);
* likelihood gap = log p(correct) minus the mean log p of the other candidates (0 = no
  preference for the truth, what the paper reports for reversed facts).

``forward`` is any callable ``tokens (B, T) -> logits (B, T, V)``: the training module or the
app's TransformerLens bridge. For a :class:`~app.training.plain_gpt.PlainGPT` (the app wraps the
bridge's weights in one with ``PlainGPT.from_state``) ``answer_logprobs`` takes the fast path:
every query's prefix runs once with its keys and values kept (``prefix_cache``), and each
candidate's answer tokens run on top of that cache (``continue_from``; all candidates of all
queries in one batched step per answer position), instead of re-running the whole prefix once
per query and candidate. Same maths, ~6x fewer positions for a backward query (a 5-token prefix
under each two-token name). The bridge cannot cache a prefix itself (see ``plain_gpt``'s
docstring). No Streamlit here.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import torch
from tokenizers import Tokenizer

from app.tasks.reversal import BOS_ID, Fact, World, backward_query, forward_query, make_world
from app.training.plain_gpt import PlainGPT

Forward = Callable[[torch.Tensor], torch.Tensor]
DIRECTIONS = ("forward", "backward")


@lru_cache(maxsize=8)
def load_world(model_name: str) -> World:
    """The world a shipped model was trained on (``world.json`` holds its size and seed)."""
    from app import zoo

    path = zoo.model_dir(model_name) / "world.json"
    if not path.is_file():
        raise ValueError(f"{model_name} is not a reversal-curse model (no world.json); use reversal-small")
    spec = json.loads(path.read_text())
    return make_world(spec["n_per_group"], seed=spec["seed"])


def find_fact(world: World, name: str) -> Fact | None:
    """The fact whose person (full name) or pet matches ``name``, ignoring case and extra spaces."""
    key = " ".join(name.split()).casefold()
    return next((f for f in world.facts if key in (f.person.casefold(), f.pet.casefold())), None)


def query_text(fact: Fact, direction: str) -> str:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    return forward_query(fact) if direction == "forward" else backward_query(fact)


def answer_text(fact: Fact, direction: str) -> str:
    return fact.pet if direction == "forward" else fact.person


def _cached_answer_logprobs(model: PlainGPT, prefixes: torch.Tensor, answers: torch.Tensor,
                            chunk: int = 8192) -> torch.Tensor:
    """``answer_logprobs`` with one cached forward per prefix: (Q, Tp), (C, La) -> (Q, C).

    Answer position ``j`` runs every distinct answer head ``answers[:, :j]`` once per query on top
    of that query's cached prefix; queries go in chunks of about ``chunk`` (query, head) rows.
    """
    C, La = answers.shape
    cache = model.prefix_cache(prefixes)
    total = cache.logits.float().log_softmax(-1)[:, answers[:, 0]]  # (Q, C)
    for j in range(1, La):
        heads, inverse = torch.unique(answers[:, :j], dim=0, return_inverse=True)  # (U, j), (C,)
        step = max(1, chunk // heads.shape[0])
        for s in range(0, len(cache), step):
            logits = model.continue_from(cache.rows(s, s + step), heads)[:, :, -1]  # (q, U, V)
            total[s:s + step] += logits.float().log_softmax(-1)[:, inverse, answers[:, j]]  # (q, C)
    return total


@torch.no_grad()
def answer_logprobs(forward: Forward, prefixes: torch.Tensor, answers: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    """Summed log p of each answer after each prefix (teacher-forced).

    prefixes (Q, Tp) int64 (BOS + query), answers (C, La) int64 -> (Q, C) float: every query
    against every candidate. A :class:`PlainGPT` takes its cached-prefix path. Any other
    ``forward`` reads answer token ``j`` off one full forward per distinct answer prefix of
    length ``j`` (a pet: one forward per query; a person: one per query and distinct first
    name), not one per candidate.
    """
    if isinstance(forward, PlainGPT):
        return _cached_answer_logprobs(forward, prefixes, answers)
    Q, Tp = prefixes.shape
    C, La = answers.shape
    total = torch.zeros(Q, C)
    for j in range(La):
        if j == 0:
            heads, inverse = answers[:1, :0], torch.zeros(C, dtype=torch.long)  # (1, 0): the query alone
        else:
            heads, inverse = torch.unique(answers[:, :j], dim=0, return_inverse=True)  # (U, j), (C,)
        U = heads.shape[0]
        rows = torch.cat([prefixes[:, None].expand(Q, U, Tp), heads[None].expand(Q, U, j)], -1).reshape(Q * U, Tp + j)
        last = []
        for start in range(0, rows.shape[0], chunk):
            last.append(forward(rows[start:start + chunk])[:, -1].float().log_softmax(-1))  # (b, V)
        logp = torch.cat(last).view(Q, U, -1)  # (Q, U, V)
        total += logp[:, inverse].gather(-1, answers[None, :, j, None].expand(Q, C, 1))[..., 0]  # (Q, C)
    return total


@dataclass(frozen=True)
class QueryResult:
    """One query scored against every candidate of its set (``candidates`` lines up with ``logprobs``)."""

    query: str
    answer: str
    candidates: tuple[str, ...]
    logprobs: tuple[float, ...]

    @property
    def correct_logprob(self) -> float:
        return self.logprobs[self.candidates.index(self.answer)]

    @property
    def rank(self) -> int:
        """1 = the correct answer scores highest."""
        c = self.correct_logprob
        return 1 + sum(lp > c for lp in self.logprobs)

    @property
    def gap(self) -> float:
        others = [lp for cand, lp in zip(self.candidates, self.logprobs) if cand != self.answer]
        return self.correct_logprob - sum(others) / len(others)


def encode(tok: Tokenizer, texts: list[str], bos: bool) -> torch.Tensor:
    """Token ids of equal-length texts, optionally after BOS: (N, T) int64."""
    rows = [([BOS_ID] if bos else []) + tok.encode(t).ids for t in texts]
    if len({len(r) for r in rows}) != 1:
        raise ValueError("texts of one batch must have the same number of tokens")
    return torch.tensor(rows, dtype=torch.long)


def candidates_logprobs(forward: Forward, tok: Tokenizer, queries: list[Fact], candidates: list[Fact],
                        direction: str) -> torch.Tensor:
    """(Q, C) log p of each candidate fact's answer after each query fact's query."""
    prefixes = encode(tok, [query_text(f, direction) for f in queries], bos=True)  # (Q, Tp)
    answers = encode(tok, [answer_text(f, direction) for f in candidates], bos=False)  # (C, La)
    return answer_logprobs(forward, prefixes, answers)


def score_group(forward: Forward, tok: Tokenizer, facts: list[Fact], direction: str) -> torch.Tensor:
    """(Q, Q) log p of every candidate answer (the facts' own answers, in order) for every fact's query."""
    return candidates_logprobs(forward, tok, facts, facts, direction)


def score_query(forward: Forward, tok: Tokenizer, world: World, fact: Fact, direction: str) -> QueryResult:
    """The fact's query against every candidate answer of its set (for the live widget)."""
    group = world.group(fact.group)
    lp = candidates_logprobs(forward, tok, [fact], group, direction)[0]  # (C,)
    return QueryResult(query_text(fact, direction), answer_text(fact, direction),
                       tuple(answer_text(f, direction) for f in group), tuple(lp.tolist()))


@dataclass(frozen=True)
class GroupScore:
    group: str
    direction: str
    n: int  # queries (= candidates)
    accuracy: float
    gap: float  # mean over queries of log p(correct) - mean log p(other candidates)
    gap_sd: float

    @property
    def chance(self) -> float:
        return 1 / self.n

    @property
    def correct(self) -> int:
        return round(self.accuracy * self.n)


def group_score(forward: Forward, tok: Tokenizer, world: World, group: str, direction: str) -> GroupScore:
    facts = world.group(group)
    lp = score_group(forward, tok, facts, direction)  # (Q, Q): row = query, column = candidate
    n = lp.shape[0]
    correct = lp.diagonal()  # (Q,)
    acc = (lp.argmax(-1) == torch.arange(n)).float().mean().item()
    gaps = correct - (lp.sum(-1) - correct) / (n - 1)  # (Q,)
    return GroupScore(group, direction, n, acc, gaps.mean().item(), gaps.std().item())


def measure(forward: Forward, tok: Tokenizer, world: World) -> dict[str, GroupScore]:
    """Keys ``A/forward``, ``A/backward``, ``B/forward``, ``B/backward``."""
    return {f"{g}/{d}": group_score(forward, tok, world, g, d) for g in ("A", "B") for d in DIRECTIONS}


# t quantiles (0.975) for small samples: mean +- t * sd / sqrt(n) is the 95% CI over seeds.
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def mean_ci(values: list[float]) -> tuple[float, float]:
    """Mean and half-width of the 95% t interval over seeds (half-width 0 for one value)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, 0.0
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, _T975.get(n - 1, 1.96) * sd / math.sqrt(n)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson interval of a proportion k / n (one seed's accuracy over its queries)."""
    if n <= 0:
        raise ValueError("n must be positive")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class RankingStats:
    """How a set's backward queries rank its candidates (the walkthrough's prose quotes these)."""

    mean_query_corr: float  # mean Pearson correlation between two queries' candidate-score vectors
    distinct_top: int  # how many different candidates come out on top over all queries
    median_rank: float  # of the true answer, 1 = top
    top10: int  # true answers ranked in the top ten
    luckiest: str  # the query whose true answer's score rises most above its mean over the other queries
    luckiest_margin: float  # nats
    luckiest_rank: int


def ranking_stats(forward: Forward, tok: Tokenizer, world: World, group: str = "A",
                  direction: str = "backward") -> RankingStats:
    facts = world.group(group)
    lp = score_group(forward, tok, facts, direction)  # (Q, C)
    n = lp.shape[0]
    corr = torch.corrcoef(lp)  # (Q, Q)
    true = lp.diagonal()  # (Q,)
    ranks = 1 + (lp > true[:, None]).sum(1)  # (Q,)
    margin = true - (lp.sum(0) - true) / (n - 1)  # (C,): candidate c after its own query vs after the others
    best = int(margin.argmax())
    return RankingStats(((corr.sum() - n) / (n * (n - 1))).item(), len(set(lp.argmax(-1).tolist())),
                        ranks.float().median().item(), int((ranks <= 10).sum()), facts[best].pet if direction ==
                        "backward" else facts[best].person, margin[best].item(), int(ranks[best]))
