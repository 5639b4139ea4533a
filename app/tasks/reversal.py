"""A synthetic world of people and their pets, for the reversal-curse walkthrough.

Berglund, Tong, Kaufmann, Balesni, Cooper Stickland, Korbak & Evans (2023), "The Reversal
Curse: LLMs trained on 'A is B' fail to learn 'B is A'", https://arxiv.org/abs/2309.12288,
section 2.1 (Experiment 1: finetuning on invented facts, stated in one direction or both).

We do the same thing at toy scale, with facts whose truth we know. Every person (a first and a
last name, two word tokens) owns exactly one pet (a one-token pet name). People are split in
two sets of equal size:

* set ``A`` ("one-way"): the fact is stated only person-first, e.g. ``Voran Zotijer owns Nipel .``
* set ``B`` ("control"): stated both ways, person-first and pet-first (``Duju is owned by Jita Navijek .``).

Each statement comes in several paraphrase templates. Every pet also appears as the subject of
a species sentence (``Nipel is a tortoise .``), so the pet-name token is read as an input in
training for both sets: a failed backward query for set ``A`` is not merely an untrained
embedding.

Queries (the model's next tokens are scored):

* forward ``<first> <last> owns`` -> the pet;
* backward ``<pet> is owned by`` -> ``<first> <last>`` (two tokens).

Names are made-up syllable words, all distinct; the world is fixed by ``world_seed``.
Tokenizer: HF ``tokenizers`` WordLevel over whitespace-split words, with the app's BOS / PAD /
UNK special tokens (ids 0, 1, 2). Encoded example with the default world (seed 0)::

    world = make_world(); tok = build_tokenizer(world)   # 426 tokens
    forward_query(world.facts[0])                       # 'Voran Zotijer owns'
    [BOS_ID] + tok.encode('Voran Zotijer owns').ids     # [0, 47, 82, 3]
    tok.encode('Nipel').ids, tok.encode('Zorglub').ids  # [126], [2]: an unknown word is UNK
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from tokenizers import Tokenizer, models, pre_tokenizers

from app.tasks.code_corpus import BOS, PAD, SPECIAL_TOKENS, UNK

BOS_ID, PAD_ID, UNK_ID = 0, 1, 2
SPECIES = ("cat", "dog", "ferret", "parrot", "rabbit", "tortoise", "hamster", "goldfish")
# Paraphrases; ``{p}`` is the person's full name, ``{x}`` the pet. The first of each list is the query.
FORWARD_TEMPLATES = ("{p} owns {x} .", "{p} is the owner of {x} .", "{p} looks after {x} .")
BACKWARD_TEMPLATES = ("{x} is owned by {p} .", "{x} belongs to {p} .", "{x} lives with {p} .")
SPECIES_TEMPLATE = "{x} is a {s} ."
_ONSETS = "b d f g h j k l m n p r s t v z".split()
_VOWELS = "a e i o u".split()
_CODAS = ["", "", "n", "r", "l", "s", "k"]


@dataclass(frozen=True)
class Fact:
    first: str
    last: str
    pet: str
    species: str
    group: str  # "A" (stated person-first only) or "B" (stated both ways: the control)

    @property
    def person(self) -> str:
        return f"{self.first} {self.last}"


@dataclass(frozen=True)
class World:
    facts: tuple[Fact, ...]
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    seed: int

    def group(self, g: str) -> list[Fact]:
        return [f for f in self.facts if f.group == g]

    def by_person(self, person: str) -> Fact | None:
        return next((f for f in self.facts if f.person == person), None)

    def by_pet(self, pet: str) -> Fact | None:
        return next((f for f in self.facts if f.pet == pet), None)


def _words(rng: random.Random, n: int, syllables: int, taken: set[str]) -> list[str]:
    out = []
    while len(out) < n:
        w = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(syllables - 1))
        w = (w + rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS)).capitalize()
        if w not in taken:
            taken.add(w)
            out.append(w)
    return out


def make_world(n_per_group: int = 150, n_first: int = 50, n_last: int = 50, seed: int = 0) -> World:
    """Seeded world: ``2 * n_per_group`` people (distinct first+last pairs), one distinct pet each."""
    if n_first * n_last < 2 * n_per_group:
        raise ValueError(f"{n_first} first x {n_last} last names cannot make {2 * n_per_group} distinct people")
    rng = random.Random(seed)
    taken: set[str] = set()
    firsts, lasts = _words(rng, n_first, 2, taken), _words(rng, n_last, 3, taken)
    pets = _words(rng, 2 * n_per_group, 2, taken)
    pairs = rng.sample([(f, l) for f in firsts for l in lasts], 2 * n_per_group)
    facts = tuple(Fact(f, l, pet, rng.choice(SPECIES), "A" if i < n_per_group else "B")
                  for i, ((f, l), pet) in enumerate(zip(pairs, pets)))
    return World(facts, tuple(firsts), tuple(lasts), seed)


def forward_query(f: Fact) -> str:
    return FORWARD_TEMPLATES[0].format(p=f.person, x="").replace(" .", "").rstrip()


def backward_query(f: Fact) -> str:
    return BACKWARD_TEMPLATES[0].format(x=f.pet, p="").replace(" .", "").rstrip()


def sentences(world: World) -> list[str]:
    """Every training sentence: forward for all, backward for set B only, a species line per pet."""
    out = []
    for f in world.facts:
        out += [t.format(p=f.person, x=f.pet) for t in FORWARD_TEMPLATES]
        if f.group == "B":
            out += [t.format(p=f.person, x=f.pet) for t in BACKWARD_TEMPLATES]
        out.append(SPECIES_TEMPLATE.format(x=f.pet, s=f.species))
    return out


def vocabulary(world: World) -> list[str]:
    """Special tokens, then template words, species, first names, last names, pets (fixed order)."""
    template_words: list[str] = []
    for t in (*FORWARD_TEMPLATES, *BACKWARD_TEMPLATES, SPECIES_TEMPLATE):
        for w in t.split():
            if not w.startswith("{") and w not in template_words:
                template_words.append(w)
    return [*SPECIAL_TOKENS, *template_words, *SPECIES, *world.first_names, *world.last_names,
            *(f.pet for f in world.facts)]


def build_tokenizer(world: World) -> Tokenizer:
    """WordLevel tokenizer over whitespace-split words; unknown words become UNK (id 2)."""
    vocab = {w: i for i, w in enumerate(vocabulary(world))}
    assert (vocab[BOS], vocab[PAD], vocab[UNK]) == (BOS_ID, PAD_ID, UNK_ID)
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.add_special_tokens(SPECIAL_TOKENS)
    return tok


def encode_batch(tok: Tokenizer, texts: list[str], n_ctx: int) -> tuple[list[list[int]], int]:
    """BOS + ids of each text, and the longest length; raises if a text exceeds ``n_ctx``."""
    rows = [[BOS_ID, *tok.encode(t).ids] for t in texts]
    longest = max(len(r) for r in rows)
    if longest > n_ctx:
        raise ValueError(f"a sentence has {longest} tokens, more than the context of {n_ctx}")
    return rows, longest
