"""Parameter models of the reversal-curse widgets (Berglund et al. 2023, https://arxiv.org/abs/2309.12288)."""

from __future__ import annotations

import unicodedata
from typing import Literal

from pydantic import Field, field_validator, model_validator

from app.widgets.base import WidgetParams

MAX_NAME_CHARS = 60


def clean_name(text: str) -> str:
    """NFKC, control characters dropped, whitespace collapsed; names match case-insensitively later."""
    text = unicodedata.normalize("NFKC", text or "")
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in " \t\n")
    return " ".join(text.split())


class ReversalQueryParams(WidgetParams):
    """One fact queried forward (person -> pet) and backward (pet -> person)."""

    model: str = Field(default="reversal-small", description="Zoo model name (a reversal-curse model).")
    name: str = Field(default="", max_length=MAX_NAME_CHARS,
                      description="A person's full name or a pet's name from the model's world (empty: the view asks for one).")
    top_k: int = Field(default=15, ge=5, le=150, description="How many candidates each chart shows (highest log p first).")

    @field_validator("name")
    @classmethod
    def _clean(cls, v: str) -> str:
        return clean_name(v)

    @model_validator(mode="after")
    def _in_world(self):
        from app.analysis.reversal import find_fact, load_world

        if self.name and find_fact(load_world(self.model), self.name) is None:
            raise ValueError(f"{self.name!r} is not a person or pet of {self.model}'s world: pick one from the list, "
                             "or type a full name such as the ones it shows")
        return self

    def _code(self) -> str:
        from app.analysis.reversal import find_fact, load_world

        world = load_world(self.model)
        fact = find_fact(world, self.name) if self.name else world.group("A")[0]
        return ("from app.tasks import reversal as task\n"
                f"world = task.make_world(seed={world.seed})  # the world the model was trained on\n"
                f"group = world.group({fact.group!r})  # candidates: every person and pet of the fact's set\n"
                "def answer_logp(query, answer):  # summed log p of the answer's tokens after the query\n"
                "    tokens = model.to_tokens(query + ' ' + answer)  # BOS + words\n"
                "    n = len(answer.split())\n"
                "    logp = model(tokens)[0, -n - 1:-1].log_softmax(-1)  # (n, d_vocab)\n"
                "    return logp.gather(-1, tokens[0, -n:, None]).sum().item()\n"
                f"forward = {{f.pet: answer_logp({fact.person + ' owns'!r}, f.pet) for f in group}}\n"
                f"backward = {{f.person: answer_logp({fact.pet + ' is owned by'!r}, f.person) for f in group}}\n"
                f"print(max(forward, key=forward.get), max(backward, key=backward.get))  # true: {fact.pet}, {fact.person}\n")


class ReversalAccuracyParams(WidgetParams):
    """Per-set forward/backward accuracy (or likelihood gap) with confidence intervals, or the training curves."""

    model: str = Field(default="reversal-small", description="Zoo model name (a reversal-curse model).")
    view: Literal["accuracy", "gap", "curve"] = Field(
        default="accuracy", description="accuracy or likelihood gap per set and direction, or the training curves.")

    def _code(self) -> str:
        return ("from app.analysis import reversal as rv\n"
                "from app.tasks import reversal as task\n"
                "world = task.make_world(seed=0)\n"
                "fwd = lambda tokens: model(tokens)  # (batch, pos) -> (batch, pos, d_vocab)\n"
                "tok = Tokenizer.from_file(f'{folder}/tokenizer.json')  # the raw word-level tokenizer (no BOS added)\n"
                "for key, s in rv.measure(fwd, tok, world).items():  # every query against every candidate of its set\n"
                "    print(key, f'accuracy {s.accuracy:.3f} (chance {s.chance:.4f}), gap {s.gap:+.2f} nats')\n")
