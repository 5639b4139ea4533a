"""Parameter models of the IOI widgets (Wang et al. 2022, "Interpretability in the Wild",
https://arxiv.org/abs/2211.00593).

``ioi_prompt``: build a prompt (template, names, order) or type free text -> logit difference and
top tokens; ``ioi_dla``: direct logit attribution per head and per layer x source position;
``ioi_patching``: activation patching from the ABC (or swapped) prompt into the clean one;
``ioi_heads``: the head classes found on our model vs the paper's on GPT-2 small;
``ioi_compare``: two models side by side (one solves IOI by a shortcut);
``ioi_knockout``: mean-ablate chosen heads at END and watch every head's attention from END move
(the paper's test of S-inhibition heads, section 3.2).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from app.tasks import ioi
from app.widgets.base import MAX_TEXT_CHARS, WidgetParams, known_model
from app.widgets.induction import HeadList

IOI_MODELS = ("ioi-small", "ioi-shortcut")
HUB_MODEL = "gpt2"  # the optional hub model (app.hub; GPT-2 small); DLA and patching accept it too

_SETUP = """from app.analysis import ioi as A
from app.tasks import ioi
tok = ioi.load_tokenizer(__import__("pathlib").Path(folder))  # word level: every name is one token
"""


def ioi_model(name: str) -> str:
    known_model(name)
    if name not in IOI_MODELS:
        raise ValueError(f"{name!r} was not trained on the IOI task; use one of {', '.join(IOI_MODELS)}")
    return name


class IOIParams(WidgetParams):
    """An IOI model plus one prompt layout (template and order)."""

    model: str = Field(default="ioi-small", description="An IOI model of the zoo.")
    template: int = Field(default=ioi.TEST_TEMPLATES[0], ge=0, lt=len(ioi.TEMPLATES),
                          description="Template index (app/tasks/ioi.py TEMPLATES); held out: 3, 8, 11.")
    order: Literal["ABBA", "BABA"] = Field(default="ABBA", description="ABBA: IO named first; BABA: S named first.")

    @field_validator("model")
    @classmethod
    def _ioi(cls, v: str) -> str:
        return ioi_model(v)

    def _batch_code(self) -> str:
        return (_SETUP + f"batch = A.standard_batch(tok, template={self.template}, order={self.order!r})"
                "  # 16 prompts, one layout\n")


class IOIPromptParams(IOIParams):
    io: str = Field(default="Mary", description="The indirect object (the right answer).")
    s: str = Field(default="John", description="The subject (named twice).")
    place: str = Field(default="store", description="Place word.")
    obj: str = Field(default="ring", description="Object word.")
    text: str = Field(default="", max_length=MAX_TEXT_CHARS,
                      description="Free text instead of the built prompt (empty = use the builder).")

    @model_validator(mode="after")
    def _valid_prompt(self):
        ioi.make_prompt(self.template, self.io, self.s, self.order, self.place, self.obj)
        return self

    def prompt(self) -> ioi.IOIPrompt:
        return ioi.make_prompt(self.template, self.io, self.s, self.order, self.place, self.obj)

    def _code(self) -> str:
        text = self.text or self.prompt().text
        return (_SETUP + f"ids = torch.tensor([ioi.encode(tok, {text!r})])\n"
                "logits = model(ids)[0, -1]  # (d_vocab,)\n"
                f"print('logit diff', (logits[tok.token_to_id({self.io!r})] - logits[tok.token_to_id({self.s!r})]).item())\n"
                "top = logits.topk(8)\n"
                "print([(tok.id_to_token(int(i)), round(float(v), 2)) for v, i in zip(top.values, top.indices)])\n")


class _HubOK(IOIParams):
    """Accepts the hub model too (``HUB_MODEL``); whether it can be loaded is checked when it runs."""

    @field_validator("model")
    @classmethod
    def _known_model(cls, v: str) -> str:  # the base class's zoo check, with the hub model let through
        return v if v == HUB_MODEL else known_model(v)

    @field_validator("model")
    @classmethod
    def _ioi(cls, v: str) -> str:
        return v if v == HUB_MODEL else ioi_model(v)

    @model_validator(mode="after")
    def _in_range(self):  # no zoo config for the hub model (and no layer fields to check here)
        return self if self.model == HUB_MODEL else super()._in_range()

    def code(self) -> str:
        return self._code() if self.model == HUB_MODEL else super().code()

    def _batch_code(self) -> str:
        if self.model != HUB_MODEL:
            return super()._batch_code()
        return ("from app import hub\nfrom app.analysis import ioi as A\n"
                "model = hub.load()  # GPT-2 small via TransformerBridge.boot_transformers (INTERP_READER_HUB=1)\n"
                f"batch = hub.standard_batch(model, template={self.template}, order={self.order!r})"
                "  # tokenized by GPT-2's BPE, one layout\n")


class IOIDLAParams(_HubOK):
    def _code(self) -> str:
        return (self._batch_code() + "d = A.dla(model, batch)  # through ln_final, onto W_U[IO] - W_U[S]\n"
                "print(d.heads)  # (n_layers, n_heads): each head's direct push towards IO over S at END\n"
                "print(d.layer_src)  # (n_layers, seq): the same per layer, split by the source token attended\n"
                "print(d.mlp)  # (n_layers,) each MLP's direct push (None for attention-only models)\n")


class IOIPatchParams(_HubOK):
    corruption: Literal["abc", "swap"] = Field(default="abc", description="ABC: three fresh names; swap: IO <-> S.")
    site: Literal["resid_pre", "z"] = Field(default="resid_pre",
                                            description="resid_pre: residual stream by layer x position; z: head outputs.")

    def _code(self) -> str:
        bad = (f"hub.corrupted(model, batch, {self.corruption!r})" if self.model == HUB_MODEL
               else f"A.corrupted(tok, batch, {self.corruption!r})")
        return (self._batch_code() + f"bad = {bad}  # same layout, corrupted names\n"
                f"p = A.patch(model, batch, bad, site={self.site!r})  # noising; same values as transformer_lens.patching\n"
                "print(p.values)  # 0 = no effect, -1 = the logit difference falls to the corrupted run's\n")


class IOIHeadsParams(WidgetParams):
    model: str = Field(default="ioi-small", description="An IOI model of the zoo.")

    @field_validator("model")
    @classmethod
    def _ioi(cls, v: str) -> str:
        return ioi_model(v)

    def _code(self) -> str:
        return (f"import json\nm = json.load(open('models/{self.model}/metrics.json'))\n"
                "print(m['head_classes'])  # found by app.training.ioi.measure on the shipped weights\n"
                "print(m['ablation_logit_diff'])  # logit difference with those heads mean-ablated at END\n")


class IOICompareParams(WidgetParams):
    model: str = Field(default="ioi-shortcut", description="The first model (left).")
    other: str = Field(default="ioi-small", description="The second model (right).")
    n: int = Field(default=64, ge=8, le=256, description="Prompts per condition.")

    @field_validator("model", "other")
    @classmethod
    def _ioi(cls, v: str) -> str:
        return ioi_model(v)

    def _code(self) -> str:
        return (_SETUP + "for prefix_and_gaps in (False, True):\n"
                f"    ps = ioi.prompts({self.n}, 'test', seed=2, gaps=prefix_and_gaps, prefix=prefix_and_gaps)\n"
                "    print(prefix_and_gaps, A.evaluate(model, tok, ps))  # logit diff, accuracy, top-1\n")


class IOIKnockoutParams(IOIParams, HeadList):
    heads: str = Field(default="L0H3", max_length=200, description="Heads to mean-ablate at END, e.g. 'L0H3, L1H1'.")

    def _code(self) -> str:
        return (self._batch_code() + "bad = A.corrupted(tok, batch, 'abc')  # the ABC twins: the mean to ablate with\n"
                "intact = A.knockout(model, batch, [])\n"
                f"out = A.knockout(model, batch, {self.head_list}, bad)  # outputs at END -> their ABC mean\n"
                "print(intact.logit_diff, '->', out.logit_diff)\n"
                "print(out.attention['END->S'] - intact.attention['END->S'])  # (L, H) change in attention to S1 + S2\n")
