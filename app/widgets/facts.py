"""Parameter models of the fact-recall widgets (Nanda, Rajamanoharan, Kramár & Shah 2023, "Fact Finding",
https://www.alignmentforum.org/posts/iGuwZTHWb6DFY3sKB).

``fact_lookup``: one first + last name (any combination) and what the model says about it, with
every athlete of that last name; ``fact_probes``: held-out linear-probe accuracy by residual
site; ``fact_layers``: MLP mean-ablation or activation patching by layer.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from app.widgets.base import WidgetParams

Attribute = Literal["sport", "city"]
POSITIONS = {"last name": 4, "first name": 2, "final": 5}  # token index in "<bos> Ka lin Do bork plays"

_WORLD = """from app import zoo
from app.analysis import facts as fa
from app.tasks import facts
world = fa.load_world("{model}")  # the seeded athletes the model was trained on
tok = facts.load_tokenizer(zoo.model_dir("{model}"))  # word-level over name pieces
"""


def _check_name(model: str, first: str, last: str) -> None:
    from app.analysis.facts import load_world

    world = load_world(model)
    if first and first not in world.first_names:
        raise ValueError(f"{first!r} is not a first name of {model}'s world; pick one from the list")
    if last and last not in world.last_names:
        raise ValueError(f"{last!r} is not a last name of {model}'s world; pick one from the list")


class FactLookupParams(WidgetParams):
    """A first and a last name from the world (any pairing) and one attribute."""

    model: str = Field(default="facts-small", description="Zoo model name (a fact-recall model).")
    first: str = Field(default="", max_length=40, description="A first name of the world; empty = the first athlete's.")
    last: str = Field(default="", max_length=40, description="A last name of the world; empty = the first athlete's.")
    attribute: Attribute = Field(default="sport", description="Which attribute to ask for.")

    @model_validator(mode="after")
    def _in_world(self):
        _check_name(self.model, self.first, self.last)
        return self

    def _code(self) -> str:
        return (_WORLD.format(model=self.model)
                + f"a = world.athletes[0]; first, last = {self.first!r} or a.first_name, {self.last!r} or a.last_name\n"
                f"for template in facts.TEMPLATES[{self.attribute!r}]:\n"
                "    text = template.format(name=f'{first} {last}')\n"
                f"    probs = fa.attribute_probs(model, tok, [text], {self.attribute!r})[0]  # (n_values,)\n"
                f"    print(text, dict(zip(facts.ATTRIBUTES[{self.attribute!r}], probs.tolist())))\n"
                "group = [b for b in world.athletes if b.last_name == last]  # everyone with this last name\n"
                f"print([(b.name, facts.ATTRIBUTES[{self.attribute!r}][b.attr({self.attribute!r})]) for b in group])\n")


class FactProbeParams(WidgetParams):
    """Held-out linear-probe accuracy for an attribute at one token, at every residual site."""

    model: str = Field(default="facts-small", description="Zoo model name (a fact-recall model).")
    attribute: Attribute = Field(default="sport", description="The attribute the probe decodes.")
    position: Literal["last name", "first name", "final"] = Field(
        default="last name", description="Which token of '<name> plays' / '<name> lives in' the probe reads.")

    def _code(self) -> str:
        pos = POSITIONS[self.position]
        if self.position == "final":
            pos = "-1"
        return (_WORLD.format(model=self.model)
                + f"sites, res = fa.residuals(model, tok, world, facts.TEMPLATES[{self.attribute!r}][0], pos={pos})"
                "  # (n_sites, n_athletes, d_model)\n"
                f"y = torch.tensor([a.attr({self.attribute!r}) for a in world.athletes])\n"
                "fold = torch.tensor([a.slot % 2 for a in world.athletes])  # 2 folds, each name balanced in both\n"
                "for s, r in zip(sites, res):\n"
                "    print(s, fa.probe_accuracy(r, y, fold))  # held-out accuracy\n")


class FactLayersParams(WidgetParams):
    """Where the lookup happens: MLP ablation by layer and position, or activation patching."""

    model: str = Field(default="facts-small", description="Zoo model name (a fact-recall model).")
    view: Literal["ablation", "patching"] = Field(default="ablation", description="MLP mean-ablation or activation patching.")
    first: str = Field(default="", max_length=40,
                       description="Patching: the clean athlete's first name; empty = average over every athlete.")
    last: str = Field(default="", max_length=40, description="Patching: the clean athlete's last name.")

    @model_validator(mode="after")
    def _pair(self):
        _check_name(self.model, self.first, self.last)
        if bool(self.first) != bool(self.last):
            raise ValueError("give both a first and a last name (or neither, for the average over every athlete)")
        if self.first:
            from app.analysis.facts import load_world

            if load_world(self.model).find(self.first, self.last) is None:
                raise ValueError(f"{self.first} {self.last} is not an athlete of the world; patching needs a real one")
        return self

    def _code(self) -> str:
        if self.view == "ablation":
            return (_WORLD.format(model=self.model)
                    + "acc = fa.mlp_ablation(model, tok, world, 'sport')  # mean-ablate one MLP at a time\n"
                    "print(acc['name tokens'], acc['final token'])  # sport accuracy per layer\n")
        pick = (f"pairs = [p for p in fa.swap_pairs(world) if p[0].name == {self.first + ' ' + self.last!r}]\n"
                if self.first else "pairs = fa.swap_pairs(world)  # (athlete, same last name, other sport)\n")
        return (_WORLD.format(model=self.model) + pick
                + "restored = fa.patch_mlp_by_layer(model, tok, pairs)  # (n_layers, n_positions); equals "
                "transformer_lens.patching.get_act_patch_mlp_out\n")
