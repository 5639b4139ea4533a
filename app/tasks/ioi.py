"""The indirect-object-identification (IOI) prompt distribution, and the text our IOI models train on.

Task after Wang, Variengien, Conmy, Shlegeris & Steinhardt (2022), "Interpretability in the Wild:
a Circuit for Indirect Object Identification in GPT-2 small", https://arxiv.org/abs/2211.00593
(section 2, the IOI task; appendix "templates"; section 3 and figure 2 for the ABC distribution).
A prompt names two people in a first clause (the indirect object IO and the subject S), names
the subject again (S2), and ends where the IO should come next::

    Then, Mary and John went to the store. John gave a ring to   ->  Mary   (IO), not John (S)

``ABBA`` prompts name the IO first in the first clause, ``BABA`` prompts name the subject first.
The templates and the wording are ours. Every word of the held-out templates also occurs in the
training text (filler and story sentences), so held-out templates test new structures, not untrained tokens.

Held out for evaluation: some templates (``TEST_TEMPLATES``) and some NAME PAIRS
(``pair_split``): every name occurs in training, only some unordered pairs never do.

Corruptions (same token length as the clean prompt, checked by ``corrupt``):

- ``abc``: the three name slots get three fresh, distinct names (none is the clean IO or S), so
  no name is repeated and the prompt carries no IOI signal (the paper's ABC distribution);
- ``swap``: IO and S trade places everywhere, so the right answer flips (logit difference negates).

Tokenizer: word level (``build_tokenizer``): words and punctuation marks are single tokens, so
every name is one token by construction. Encoded example (BOS first)::

    >>> tok = build_tokenizer()
    >>> p = prompts(1, split="train", seed=0)[0]
    >>> tok.encode("Then, Mary and John went to the store.").tokens
    ['Then', ',', 'Mary', 'and', 'John', 'went', 'to', 'the', 'store', '.']
    >>> len(encode(tok, p.text)) == len(encode(tok, corrupt(p, "abc").text))
    True

Stable API: ``prompts``, ``corrupt``, ``IOIPrompt`` (``text``, ``io``, ``s``, ``template``, ``order``),
``build_tokenizer``, ``load_tokenizer``, ``encode``, ``name_positions``, ``batch_tokens``.
Training text beside the prompts: ``filler_sentence`` (name-free) and ``story`` (a small cast of
names recurring across sentences).
"""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from tokenizers import Regex, Tokenizer, models, pre_tokenizers

from app.tasks.code_corpus import BOS, PAD, SPECIAL_TOKENS, UNK

NAMES = ["Mary", "John", "Tom", "James", "Dan", "Sid", "Martin", "Amy", "Kate", "Lisa", "Paul", "Anna",
         "Mark", "Sarah", "Mike", "Laura", "Jack", "Emma", "Peter", "Alice", "David", "Rose", "Sam", "Grace",
         "Chris", "Helen", "Ben", "Lucy", "Adam", "Nora", "Eric", "Julia", "Frank", "Clara", "Leo", "Ruth"]
PLACES = ["store", "garden", "restaurant", "school", "hospital", "office", "house", "station", "park", "market",
          "beach", "library"]
OBJECTS = ["ring", "kiss", "bone", "ball", "computer", "necklace", "drink", "snack", "book", "letter", "flower", "key"]

# {a} and {b} are the first clause's names (ABBA: a = IO, b = S; BABA: a = S, b = IO); {s} is S2.
# {gap} is an optional name-free span after S2 (empty in the standard prompts).
TEMPLATES = [
    "Then, {a} and {b} went to the {place}. {s}{gap} gave a {obj} to",
    "When {a} and {b} got a {obj} at the {place}, {s}{gap} decided to give it to",
    "After {a} and {b} went to the {place}, {s}{gap} gave a {obj} to",
    "While {a} and {b} were working at the {place}, {s}{gap} gave a {obj} to",
    "Then, {a} and {b} had a long day at the {place}. {s}{gap} gave a {obj} to",
    "Friends {a} and {b} found a {obj} at the {place}. {s}{gap} gave it to",
    "The {place} was busy, so {a} and {b} left. {s}{gap} handed a {obj} to",
    "Afterwards, {a} and {b} went to the {place}. {s}{gap} brought a {obj} to",
    "When {a} and {b} arrived at the {place}, {s}{gap} passed a {obj} to",
    "Then, {a} and {b} were thinking about going to the {place}. {s}{gap} wanted to give a {obj} to",
    "{a} and {b} met at the {place}. Later, {s}{gap} sent a {obj} to",
    "Yesterday {a} and {b} walked to the {place}. {s}{gap} showed a {obj} to",
    # Short endings (12-17, training variety for recipes that ask for them, never in the standard
    # splits): END is 1-3 tokens after S2, so no token between S2 and END can hold the answer for a
    # later head to relay: the head that finds the IO has to read from END. Vocabulary already in use.
    "Then, {a} and {b} went to the {place}. {s}{gap} called",
    "After {a} and {b} went to the {place}, {s}{gap} met",
    "Friends {a} and {b} found a {obj} at the {place}. {s}{gap} said hello to",
    "Afterwards, {a} and {b} went to the {place}. {s}{gap} talked to",
    "The {place} was busy, so {a} and {b} left. {s}{gap} called",
    "Then, {a} and {b} had a long day at the {place}. {s}{gap} met",
]
TEST_TEMPLATES = [3, 8, 11]  # never trained
SHORT_TEMPLATES = [12, 13, 14, 15, 16, 17]
TRAIN_TEMPLATES = [i for i in range(len(TEMPLATES)) if i not in TEST_TEMPLATES + SHORT_TEMPLATES]
ORDERS = ("ABBA", "BABA")
SPLITS = ("train", "test", "heldout_templates", "heldout_pairs")

# Name-free spans: gaps after S2 (so S2 sits at varied distances from the end) and filler text.
GAPS = [", after a long day at the {place},", ", who was tired,", ", after lunch,", ", smiling,",
        ", after thinking about it for a while,", ", as always,", ", without a word,",
        ", after a walk to the {place} and back,", ", feeling happy,", ", later that day,"]
# Gaps that name a third person after S2: the last name before END is then NOT the subject.
NAMED_GAPS = [", after talking to {c},", ", who had met {c} at the {place},", ", standing next to {c},",
              ", with {c} watching,"]
ADJS = ["warm", "cold", "quiet", "busy", "small", "big", "old", "new", "happy", "long", "short", "bright"]
NOUNS = ["day", "morning", "evening", "town", "road", "room", "week", "night", "city", "window", "door", "cat"]
FILLER = [
    "The {n} was {j}.", "It was a {j} {n}.", "Everyone said the {n} felt {j}.", "The {place} was {j} that {n}.",
    "Nobody went to the {place} in the {n}.", "A {j} {n} came and went.", "The {obj} on the table was {j}.",
    "People liked the {j} {place}.",
    # Sentences that carry the held-out templates' words into training (held out: structures, not tokens).
    "Yesterday the {n} was {j}.", "While the {place} was {j}, nobody arrived.", "People walked to the {place}.",
    "Someone showed a {obj} and passed it on.", "Everyone was working at the {place}.",
    "The {n}{gap} was {j}.",  # the gap phrases' words, without names
    "Someone was standing next to the {obj} with a friend, talking and watching.",  # the named gaps' words, without names
]
# Story sentences: {x}, {y} are members of the story's cast.
STORY = [
    "{x} went to the {place}.", "{x} and {y} went to the {place}.", "{x} gave a {obj} to {y}.",
    "{x} said hello to {y}.", "{x} met {y} at the {place}.", "{x} was {j}.", "{x} found a {obj}.",
    "Then {x} handed the {obj} to {y}.", "{x} and {y} talked for a {j} while.", "{x} called {y}.",
    "Later, {x} showed a {obj} to {y}.", "{x} liked the {place}.", "Yesterday {x} walked to the {place}.",
    "{x} arrived at the {place}.", "{x} passed a {obj} to {y}.", "While {x} was working, {y} left.",
]

_SPLIT = r"\w+|[^\w\s]"


@dataclass(frozen=True)
class IOIPrompt:
    """One IOI prompt; ``text`` ends right before the answer (the IO)."""

    io: str  # the indirect object: the right answer
    s: str  # the subject (named twice)
    template: int  # index into TEMPLATES
    order: str  # "ABBA" (IO first) or "BABA" (S first)
    place: str
    obj: str
    prefix: str = ""  # name-free text before the prompt (training variety)
    gap: str = ""  # span after S2 (name-free, or naming ``other``)
    other: str = ""  # a third name inside the gap (distractor prompts), else ""
    names: tuple[str, str, str] | None = None  # override of the three name slots (corruptions)

    @property
    def slots(self) -> tuple[str, str, str]:
        """The names in the first slot, the second slot and the S2 slot."""
        if self.names is not None:
            return self.names
        return (self.io, self.s, self.s) if self.order == "ABBA" else (self.s, self.io, self.s)

    @property
    def text(self) -> str:
        a, b, s = self.slots
        body = TEMPLATES[self.template].format(a=a, b=b, s=s, place=self.place, obj=self.obj,
                                               gap=self.gap.format(place=self.place, c=self.other))
        return f"{self.prefix} {body}".strip()

    @property
    def corrupted(self) -> bool:
        return self.names is not None


def pair_split(name_a: str, name_b: str, test_fraction: float = 0.2) -> str:
    """'test' for a stable ~20% of unordered name pairs (hash of the sorted pair), else 'train'."""
    key = "|".join(sorted((name_a, name_b))).encode()
    return "test" if int(hashlib.sha256(key).hexdigest()[:8], 16) / 0xFFFFFFFF < test_fraction else "train"


def pairs(split: str) -> list[tuple[str, str]]:
    """Unordered name pairs of one split ('train' or 'test'), in a fixed order."""
    return [p for p in itertools.combinations(NAMES, 2) if pair_split(*p) == split]


def _templates_and_pairs(split: str) -> tuple[list[int], list[tuple[str, str]]]:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    tpls = TEST_TEMPLATES if split in ("test", "heldout_templates") else TRAIN_TEMPLATES
    return tpls, pairs("test" if split in ("test", "heldout_pairs") else "train")


def prompts(n: int, split: str = "test", seed: int = 0, gaps: bool = False, prefix: bool = False,
            templates: list[int] | None = None, distractors: float = 0.0) -> list[IOIPrompt]:
    """``n`` seeded prompts of one split, half ABBA and half BABA (alternating).

    ``test``: held-out templates AND held-out name pairs; ``heldout_templates`` / ``heldout_pairs``:
    one of the two held out; ``train``: neither. ``gaps`` / ``prefix`` add name-free spans (training
    variety). ``templates`` restricts the template ids (within the split's templates). ``distractors``:
    the share of prompts whose gap names a third person after S2 (so the last name is not the subject).
    """
    tpls, name_pairs = _templates_and_pairs(split)
    if templates is not None:
        tpls = [t for t in tpls if t in templates] or list(templates)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        a, b = name_pairs[rng.integers(len(name_pairs))]
        io, s = (a, b) if rng.random() < 0.5 else (b, a)
        gap = GAPS[rng.integers(len(GAPS))] if gaps and rng.random() < 0.7 else ""
        other = ""
        if distractors and rng.random() < distractors:
            gap = NAMED_GAPS[rng.integers(len(NAMED_GAPS))]
            other = str(rng.choice([x for x in NAMES if x not in (io, s)]))
        pre = " ".join(filler_sentence(rng) for _ in range(rng.integers(0, 4))) if prefix else ""
        out.append(IOIPrompt(io=io, s=s, template=int(tpls[rng.integers(len(tpls))]), order=ORDERS[i % 2],
                             place=str(rng.choice(PLACES)), obj=str(rng.choice(OBJECTS)), prefix=pre, gap=gap, other=other))
    return out


def make_prompt(template: int, io: str, s: str, order: str = "ABBA", place: str = "store", obj: str = "ring") -> IOIPrompt:
    """One standard prompt from explicit choices (the page's prompt builder); raises ValueError on bad input."""
    if not 0 <= template < len(TEMPLATES):
        raise ValueError(f"template must be 0..{len(TEMPLATES) - 1}, got {template}")
    for label, v, allowed in (("io", io, NAMES), ("s", s, NAMES), ("place", place, PLACES), ("obj", obj, OBJECTS)):
        if v not in allowed:
            raise ValueError(f"{label} {v!r} is not in the list: choose one of {', '.join(allowed)}")
    if io == s:
        raise ValueError("IO and S must be different names")
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    return IOIPrompt(io=io, s=s, template=template, order=order, place=place, obj=obj)


def corrupt(prompt: IOIPrompt, kind: str = "abc", seed: int = 0) -> IOIPrompt:
    """The corrupted twin of ``prompt`` (``abc`` or ``swap``), same number of tokens.

    ``abc`` names are drawn from ``seed`` and the prompt's text, so different prompts get different names.
    """
    if kind == "swap":
        return replace(prompt, io=prompt.s, s=prompt.io, names=None if prompt.names is None else
                       tuple({prompt.io: prompt.s, prompt.s: prompt.io}.get(n, n) for n in prompt.names))
    if kind != "abc":
        raise ValueError(f"unknown corruption {kind!r}; use 'abc' or 'swap'")
    rng = np.random.default_rng([seed, int(hashlib.sha256(prompt.text.encode()).hexdigest()[:8], 16)])
    pool = [n for n in NAMES if n not in (prompt.io, prompt.s, prompt.other)]
    a, b, c = (str(x) for x in rng.choice(pool, size=3, replace=False))
    out = replace(prompt, names=(a, b, c))
    tok = _default_tokenizer()
    if len(tok.encode(out.text).ids) != len(tok.encode(prompt.text).ids):  # names are single tokens
        raise AssertionError("corruption changed the token length")
    return out


# ---- text for training (name-free filler, stories in which a small cast recurs) -------------


def filler_sentence(rng: np.random.Generator) -> str:
    place = rng.choice(PLACES)
    return str(rng.choice(FILLER)).format(n=rng.choice(NOUNS), j=rng.choice(ADJS), place=place, obj=rng.choice(OBJECTS),
                                          gap=str(rng.choice(GAPS)).format(place=place))


def story(rng: np.random.Generator, n_sentences: int, cast_size: int = 2, names: list[str] | None = None) -> str:
    """A short story whose cast (2-3 names) recurs across sentences, mixed with filler."""
    cast = list(rng.choice(names or NAMES, size=cast_size, replace=False))
    out = []
    for _ in range(n_sentences):
        if rng.random() < 0.25:
            out.append(filler_sentence(rng))
            continue
        x, y = rng.choice(cast, size=2, replace=False)
        out.append(str(rng.choice(STORY)).format(x=x, y=y, place=rng.choice(PLACES), obj=rng.choice(OBJECTS),
                                                 j=rng.choice(ADJS)))
    return " ".join(out)


# ---- tokenizer ------------------------------------------------------------------------------


def words() -> list[str]:
    """Every word and mark the templates, gaps, filler and stories use (names excluded), sorted."""
    text = " ".join(TEMPLATES + GAPS + NAMED_GAPS + FILLER + STORY + ADJS + NOUNS + PLACES + OBJECTS)
    toks = set(re.findall(_SPLIT, re.sub(r"\{\w+\}", " ", text)))
    return sorted(toks - set(NAMES))


def vocab() -> list[str]:
    """Special tokens first (BOS id 0), then names, then the other words and marks."""
    return SPECIAL_TOKENS + NAMES + words()


def build_tokenizer() -> Tokenizer:
    """Word level: split on whitespace, then into word runs and single punctuation marks; unknown -> UNK."""
    tok = Tokenizer(models.WordLevel({t: i for i, t in enumerate(vocab())}, unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(),
        pre_tokenizers.Split(Regex(_SPLIT), behavior="isolated"),
    ])
    return tok


_TOK: list[Tokenizer] = []


def _default_tokenizer() -> Tokenizer:
    if not _TOK:
        _TOK.append(build_tokenizer())
    return _TOK[0]


def load_tokenizer(folder: Path) -> Tokenizer:
    return Tokenizer.from_file(str(folder / "tokenizer.json"))


def encode(tok: Tokenizer, text: str) -> list[int]:
    """BOS + the token ids of ``text``."""
    return [tok.token_to_id(BOS), *tok.encode(text).ids]


def name_ids(tok: Tokenizer, names: list[str]) -> list[int]:
    return [tok.token_to_id(n) for n in names]


def name_positions(tok: Tokenizer, prompt: IOIPrompt) -> dict[str, int]:
    """Token positions (BOS = 0) of IO, S1, S2 and END (the last token) in the clean prompt."""
    ids = encode(tok, prompt.text)
    io_id, s_id = tok.token_to_id(prompt.io), tok.token_to_id(prompt.s)
    s_pos = [i for i, t in enumerate(ids) if t == s_id]
    io_pos = [i for i, t in enumerate(ids) if t == io_id]
    if len(s_pos) != 2 or len(io_pos) != 1:
        raise ValueError(f"not a standard IOI prompt (S {len(s_pos)}x, IO {len(io_pos)}x): {prompt.text!r}")
    return {"IO": io_pos[0], "S1": s_pos[0], "S2": s_pos[1], "END": len(ids) - 1}


def batch_tokens(tok: Tokenizer, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(tokens (N, T) right-padded with PAD, lengths (N,)): BOS + each text."""
    enc = [encode(tok, t) for t in texts]
    lengths = np.array([len(e) for e in enc], dtype=np.int64)
    out = np.full((len(enc), int(lengths.max())), tok.token_to_id(PAD), dtype=np.int64)
    for i, e in enumerate(enc):
        out[i, : len(e)] = e
    return out, lengths


__all__ = ["BOS", "PAD", "UNK", "IOIPrompt", "NAMES", "TEMPLATES", "TEST_TEMPLATES", "TRAIN_TEMPLATES", "prompts",
           "corrupt", "make_prompt", "build_tokenizer", "load_tokenizer", "encode", "name_positions", "batch_tokens"]
