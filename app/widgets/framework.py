"""Parameter models of the "Mathematical Framework" widgets."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from app import zoo
from app.widgets.base import MAX_TEXT_CHARS, WidgetParams


class DirectPathParams(WidgetParams):
    token: str = Field(default=" self", max_length=100, description="Text whose first token is the current token.")
    k: int = Field(default=10, ge=1, le=30, description="How many next tokens to show.")

    def _code(self) -> str:
        return (f"tok_id = model.to_tokens({self.token!r}, prepend_bos=False)[0, 0]\n"
                "direct = model.W_E[tok_id] @ model.W_U  # (d_vocab,) bigram logits\n"
                f"top = direct.topk({self.k})\n"
                "print(model.to_str_tokens(top.indices), top.values)\n")


class AttentionParams(WidgetParams):
    text: str = Field(default="def area(width, height):\n    return width * height\n", max_length=MAX_TEXT_CHARS,
                      description="Prompt to run.")
    layer: int = Field(default=0, description="Layer whose heads are shown.")
    layer_fields: ClassVar[tuple[str, ...]] = ("layer",)

    def _code(self) -> str:
        return (f"logits, cache = model.run_with_cache({self.text!r})\n"
                f"pattern = cache['blocks.{self.layer}.attn.hook_pattern'][0]  # (head, query, key)\n"
                "import circuitsvis as cv\n"
                f"cv.attention.attention_patterns(tokens=model.to_str_tokens({self.text!r}), attention=pattern)\n")


class CircuitParams(WidgetParams):
    layer: int = Field(default=0, description="Layer of the head.")
    head: int = Field(default=0, description="Head index.")
    circuit: Literal["OV", "QK"] = Field(default="OV", description="Which circuit to show.")
    tokens: str = Field(default=" self None True False if return def for in",
                        max_length=400, description="Text whose tokens label the rows and columns of the map.")
    layer_fields: ClassVar[tuple[str, ...]] = ("layer", "head")

    def _code(self) -> str:
        l, h = self.layer, self.head
        mid = (f"model.W_E @ model.W_V[{l}, {h}], model.W_O[{l}, {h}] @ model.W_U" if self.circuit == "OV"
               else f"model.W_E @ model.W_Q[{l}, {h}], model.W_K[{l}, {h}].T @ model.W_E.T")
        return ("from transformer_lens import FactoredMatrix\n"
                f"circuit = FactoredMatrix({mid})  # (d_vocab, d_vocab), never materialised\n"
                f"ids = model.to_tokens({self.tokens!r}, prepend_bos=False)[0].unique()\n"
                "block = circuit.A[ids] @ circuit.B[:, ids]  # rows x columns of the map\n"
                "full = circuit.AB  # top pairs over the whole vocabulary\n"
                "print(full.flatten().topk(10))\n")


class CopyingParams(WidgetParams):
    layer: int = Field(default=0, description="Layer of the head whose eigenvalues are plotted.")
    head: int = Field(default=0, description="Head whose eigenvalues are plotted.")
    layer_fields: ClassVar[tuple[str, ...]] = ("layer", "head")

    def _code(self) -> str:
        return ("from transformer_lens import FactoredMatrix\n"
                f"ov = FactoredMatrix(model.W_E @ model.W_V[{self.layer}, {self.head}], model.W_O[{self.layer}, {self.head}] @ model.W_U)\n"
                "eig = ov.eigenvalues  # d_head complex eigenvalues\n"
                "copying_score = (eig.sum().real / eig.abs().sum()).item()\n")


class SkipTrigramParams(WidgetParams):
    text: str = Field(default="import os\nimport sys\n\ndef main(args):\n    if args.verbose:\n        print(args.",
                      max_length=MAX_TEXT_CHARS, description="Prompt; the current token is the last one unless position is set.")
    position: int = Field(default=-1, ge=-1, description="Destination position (-1 = last token).")
    k: int = Field(default=3, ge=1, le=10, description="Source tokens and predictions per head.")

    def _code(self) -> str:
        return (f"logits, cache = model.run_with_cache({self.text!r})\n"
                "pattern = cache['blocks.0.attn.hook_pattern'][0, :, "
                f"{self.position}]  # (head, key): attention from the current token\n"
                "tokens = model.to_tokens(" + repr(self.text) + ")[0]\n"
                "for h in range(model.cfg.n_heads):\n"
                f"    src = pattern[h].topk({self.k}).indices  # attended source tokens A\n"
                "    ov = model.W_E[tokens[src]] @ model.W_V[0, h] @ model.W_O[0, h] @ model.W_U\n"
                f"    print(h, model.to_str_tokens(tokens[src]), [model.to_str_tokens(r.topk({self.k}).indices) for r in ov])\n")


class CompositionParams(WidgetParams):
    model: str = Field(default="attn-only-2l", description="A model with at least two layers.")

    @model_validator(mode="after")
    def _two_layers(self):
        if zoo.config(self.model)["n_layers"] < 2:
            raise ValueError(f"composition needs two layers; {self.model} has one: use attn-only-2l")
        return self

    def _code(self) -> str:
        return ("for mode in 'QKV':\n"
                "    scores = model.all_composition_scores(mode)\n"
                "    scores = getattr(scores, 'scores', scores)  # (layer, head, layer, head)\n"
                "    print(mode, scores[0, :, 1, :])  # layer-0 heads x layer-1 heads\n")
