"""The base of every widget parameter model (pydantic, no Streamlit).

The same model validates a walkthrough's YAML args, reads and writes the URL query
parameters (so a copied URL reproduces the view), and produces the "show code"
snippet of TransformerLens that reproduces the figure outside the app.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app import zoo

MAX_TEXT_CHARS = 2000  # user text is cut here before tokenizing; the model's context caps tokens

_LOAD = """import json, torch
from safetensors.torch import load_file
from tokenizers import Tokenizer
from transformers import PreTrainedTokenizerFast
from transformer_lens.config import TransformerBridgeConfig
from transformer_lens.model_bridge import TransformerBridge

folder = "models/{model}"
tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_file(f"{{folder}}/tokenizer.json"),
    add_bos_token=True, bos_token="<|bos|>", pad_token="<|pad|>", unk_token="<|unk|>")
tok.init_kwargs["name_or_path"] = ""  # TransformerLens expects this key on an in-memory tokenizer
cfg = TransformerBridgeConfig(**json.load(open(f"{{folder}}/config.json")))
model = TransformerBridge.boot_native(cfg, tokenizer=tok)
model.load_state_dict(load_file(f"{{folder}}/model.safetensors"))
model.eval()
"""


def known_model(name: str) -> str:
    """``name`` if it is in the zoo, else a ValueError listing the valid names."""
    try:
        zoo.model_dir(name)
    except zoo.UnknownModelError as err:
        raise ValueError(str(err)) from None
    return name


class WidgetParams(BaseModel):
    """Base: a model from the zoo; subclasses add their own fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    model: str = Field(description="Zoo model name.")
    layer_fields: ClassVar[tuple[str, ...]] = ()

    @field_validator("model")
    @classmethod
    def _known_model(cls, v: str) -> str:
        return known_model(v)

    @model_validator(mode="after")
    def _in_range(self):
        cfg = zoo.config(self.model)
        if "layer" in self.layer_fields and not 0 <= self.layer < cfg["n_layers"]:
            raise ValueError(f"layer {self.layer} is out of range: {self.model} has layers 0..{cfg['n_layers'] - 1}")
        if "head" in self.layer_fields and not 0 <= self.head < cfg["n_heads"]:
            raise ValueError(f"head {self.head} is out of range: {self.model} has heads 0..{cfg['n_heads'] - 1}")
        return self

    def code(self) -> str:
        """TransformerLens code that reproduces the widget's figure."""
        return _LOAD.format(model=self.model) + self._code()

    def _code(self) -> str:  # pragma: no cover - every widget overrides
        raise NotImplementedError
