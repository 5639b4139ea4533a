"""A seeded synthetic world of athletes for the fact-recall walkthrough.

Setting after Nanda, Rajamanoharan, Kramár & Shah (2023), "Fact Finding: Attempting to
Reverse-Engineer Factual Recall on the Neuron Level" (Alignment Forum, post 1,
https://www.alignmentforum.org/posts/iGuwZTHWb6DFY3sKB), who study how Pythia recalls the sport
of a famous athlete from a multi-token name. Our world is made up so the truth is known.

Every athlete has a first and a last name, each two tokens (a capitalised syllable shared by
several names, and a lower-case tail that is the name's own): ``Kalin Dobork`` encodes as
``Ka lin Do bork``. There are 32 first and 32 last names; each first name belongs to 8 athletes
and so does each last name (256 athletes).
Sports are assigned so that every first name and every last name has exactly two athletes of
each of the four sports: no single token of a name says anything about the sport, only the
combination does (the AND over name tokens that the Fact Finding sequence studies). The
city (six values) is drawn uniformly, independently of the sport.

Example of an encoded prompt (``load_tokenizer`` / ``build_tokenizer``)::

    >>> a = make_world(0).athletes[0]
    >>> prompt(a, TEMPLATES["sport"][0])
    'Tilen Gukond plays'
    >>> build_tokenizer().encode("Tilen Gukond plays").tokens
    ['Ti', 'len', 'Gu', 'kond', 'plays']
    >>> encode(build_tokenizer(), "Tilen Gukond plays")  # BOS first
    [0, 7, 13, 48, 71, 89]

The model reads ``<|bos|>`` + the prompt and must put the attribute (``golf``) next.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Regex, Tokenizer, models, pre_tokenizers

from app.tasks.code_corpus import BOS, PAD, SPECIAL_TOKENS, UNK

FIRST_HEADS = ["Ka", "Mi", "Jo", "Ra", "Ti", "Lu", "Se", "No"]
LAST_HEADS = ["Do", "Ve", "Ba", "Ha", "Pe", "Gu", "Wo", "Zi"]
# Tails: one per name (a name's last token says which name it is; its head is shared with others).
FIRST_TAILS = [c + v + e for c in "lmnrvs" for v in "aei" for e in ("n", "ro")][:32]
LAST_TAILS = [c + v + e for c in "bdgkst" for v in "ou" for e in ("rk", "ll", "nd")][:32]
SPORTS = ["tennis", "golf", "hockey", "rugby"]
CITIES = ["oslo", "lima", "kyoto", "cairo", "quito", "perth"]
ATTRIBUTES = {"sport": SPORTS, "city": CITIES}
N_NAMES = 32  # first names, and last names, in the world
PER_NAME = 8  # athletes per first name (and per last name): 2 of each sport

# Prompts end right before the attribute; ``{name}`` is the full name. The first template of
# each attribute is the one the analyses use (the name comes first, so the last name token's
# context is the name alone).
TEMPLATES = {
    "sport": ["{name} plays", "the sport of {name} is"],
    "city": ["{name} lives in", "the home town of {name} is"],
}
# Caption lines: the attribute follows the bare name, as in "Jolin Gunaro tennis". They give the
# name's own last token a reason to know the attributes (trained for both attributes, so the
# best it can do there is split its bet between the athlete's sport and city).
TAG = "{name}"
HELD_OUT = {"sport": "we saw {name} play", "city": "we saw {name} play in"}  # never trained: a transfer check

WORDS = sorted({w for tpls in [*TEMPLATES.values(), list(HELD_OUT.values())] for t in tpls
                for w in t.replace("{name}", "").split()})
_SPLIT = r"[A-Z][aeiouy]|[a-z]+|[^\sA-Za-z]+"  # a capitalised syllable, a lower-case run, or other marks


@dataclass(frozen=True)
class Athlete:
    slot: int  # which of the 8 matchings made this pair; sport = slot // 2, probe folds = slot % 2
    first: int  # index into first_names
    last: int  # index into last_names
    first_name: str
    last_name: str
    sport: int
    city: int

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def attr(self, attribute: str) -> int:
        return getattr(self, attribute)


@dataclass(frozen=True)
class World:
    seed: int
    first_names: list[str]
    last_names: list[str]
    athletes: list[Athlete]

    def find(self, first_name: str, last_name: str) -> Athlete | None:
        return next((a for a in self.athletes if a.first_name == first_name and a.last_name == last_name), None)

    def same_last(self, athlete: Athlete) -> list[Athlete]:
        """The athletes sharing ``athlete``'s last name (it included)."""
        return [a for a in self.athletes if a.last == athlete.last]


def _names(heads: list[str], tails: list[str], rng: np.random.Generator) -> list[str]:
    """One name per tail, each with a random head."""
    return [str(heads[h]) + t for h, t in zip(rng.integers(0, len(heads), size=len(tails)), tails)]


def make_world(seed: int = 0) -> World:
    """256 athletes: first name i meets last names pi(i + d_k) for 8 offsets d_k; sport = k // 2.

    Each offset k gives a perfect matching of first to last names, so every first and every
    last name has one athlete per offset, i.e. two per sport. The names are shuffled so the
    offset structure is invisible in the tokens.
    """
    rng = np.random.default_rng(seed)
    firsts = [n for n in np.array(_names(FIRST_HEADS, FIRST_TAILS, rng))[rng.permutation(N_NAMES)]]
    lasts = [n for n in np.array(_names(LAST_HEADS, LAST_TAILS, rng))[rng.permutation(N_NAMES)]]
    offsets = rng.choice(np.arange(N_NAMES), size=PER_NAME, replace=False)
    sport_of_offset = rng.permutation(np.repeat(np.arange(len(SPORTS)), PER_NAME // len(SPORTS)))
    cities = rng.integers(0, len(CITIES), size=N_NAMES * PER_NAME)
    athletes = []
    for i in range(N_NAMES):
        for k, d in enumerate(offsets):
            j = int((i + d) % N_NAMES)
            athletes.append(Athlete(k, i, j, str(firsts[i]), str(lasts[j]), int(sport_of_offset[k]),
                                    int(cities[len(athletes)])))
    return World(seed, [str(f) for f in firsts], [str(s) for s in lasts], athletes)


def prompt(athlete_or_name, template: str) -> str:
    name = athlete_or_name.name if isinstance(athlete_or_name, Athlete) else athlete_or_name
    return template.format(name=name)


def vocab() -> list[str]:
    """Special tokens first (BOS id 0), then name pieces, template words and attribute values."""
    pieces = FIRST_HEADS + FIRST_TAILS + LAST_HEADS + LAST_TAILS
    return SPECIAL_TOKENS + pieces + WORDS + SPORTS + CITIES


def build_tokenizer() -> Tokenizer:
    """Word-level over our pieces: split on spaces, then into capitalised syllables and lower-case runs."""
    vocab_ids = {t: i for i, t in enumerate(vocab())}
    tok = Tokenizer(models.WordLevel(vocab_ids, unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(),
        pre_tokenizers.Split(Regex(_SPLIT), behavior="isolated"),
    ])
    return tok


def load_tokenizer(folder: Path) -> Tokenizer:
    return Tokenizer.from_file(str(folder / "tokenizer.json"))


def encode(tok: Tokenizer, text: str) -> list[int]:
    """BOS + the token ids of ``text``."""
    return [tok.token_to_id(BOS), *tok.encode(text).ids]


def attribute_ids(tok: Tokenizer, attribute: str) -> list[int]:
    """Token ids of the attribute's values, in ``ATTRIBUTES[attribute]`` order."""
    return [tok.token_to_id(v) for v in ATTRIBUTES[attribute]]


def batches(world: World, tok: Tokenizer, attribute: str, template: str, athletes: list[Athlete] | None = None):
    """(tokens (N, T), labels (N,)) for one template: every athlete's prompt, same length."""
    athletes = world.athletes if athletes is None else athletes
    toks = np.array([encode(tok, prompt(a, template)) for a in athletes], dtype=np.int64)  # (N, T)
    labels = np.array([a.attr(attribute) for a in athletes], dtype=np.int64)  # (N,)
    return toks, labels


def save_world(world: World, path: Path) -> None:
    rows = [{"first": a.first_name, "last": a.last_name, "sport": SPORTS[a.sport], "city": CITIES[a.city]}
            for a in world.athletes]
    path.write_text(json.dumps({"seed": world.seed, "athletes": rows}, indent=0) + "\n")


__all__ = ["BOS", "PAD", "UNK", "World", "Athlete", "make_world", "build_tokenizer", "TEMPLATES", "ATTRIBUTES"]
