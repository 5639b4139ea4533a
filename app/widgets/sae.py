"""Parameter models of the "Towards Monosemanticity" widgets (Bricken et al. 2023): an SAE on one MLP layer."""

from __future__ import annotations

import json

from pydantic import Field, field_validator, model_validator

from app import zoo
from app.widgets.base import MAX_TEXT_CHARS, WidgetParams

DEFAULT_MODEL = "code-1l-mlp"

_SAE_LOAD = """from app.analysis import sae as S  # our ~200-line module (SAELens pins transformer-lens<4)
sae, sae_cfg = S.load_saelens(Path(folder) / "sae")  # cfg.json + sae_weights.safetensors, SAELens layout
"""


def sae_dir(model: str):
    """The folder of ``model``'s SAE; a ValueError if the model ships none."""
    folder = zoo.model_dir(model) / "sae"
    if not (folder / "cfg.json").is_file():
        raise ValueError(f"{model} has no sparse autoencoder (models/{model}/sae/)")
    return folder


def d_sae(model: str) -> int:
    return int(json.loads((sae_dir(model) / "cfg.json").read_text())["d_sae"])


class SAEParams(WidgetParams):
    """A zoo model that ships an SAE in ``models/<name>/sae/``."""

    model: str = Field(default=DEFAULT_MODEL, description="Zoo model with an SAE.")

    @field_validator("model")
    @classmethod
    def _has_sae(cls, v: str) -> str:
        sae_dir(v)
        return v

    def code(self) -> str:
        return "from pathlib import Path\n" + super().code() + _SAE_LOAD + self._code()


class SAETrainingParams(SAEParams):
    def _code(self) -> str:
        return ("import json\n"
                "curve = json.load(open(Path(folder) / 'sae' / 'training.json'))['curve']\n"
                "print([(p['step'], p['l0'], p['fvu'], p['loss_recovered']) for p in curve])\n")


class SAEFeatureParams(SAEParams):
    feature: int = Field(default=0, ge=0, description="Feature index (0 .. d_sae-1).")
    search: str = Field(default="", max_length=40, description="Find features whose top tokens contain this text.")
    k: int = Field(default=8, ge=1, le=20, description="Top-activating contexts to show.")

    @model_validator(mode="after")
    def _feature_in_range(self):
        n = d_sae(self.model)
        if not 0 <= self.feature < n:
            raise ValueError(f"feature {self.feature} is out of range: the SAE has features 0..{n - 1}")
        return self

    def _code(self) -> str:
        return ("from safetensors.torch import load_file\n"
                "data = load_file(Path(folder) / 'sae' / 'features.safetensors')  # precomputed top activations\n"
                f"flat = data['feature_top_index'][{self.feature}, :{self.k}].long()\n"
                "windows = data['tokens'].long()\n"
                "print(S.contexts(model, sae, windows, flat, "
                f"{self.feature}))  # snippets + per-token activations\n"
                "W_out, W_U = model.blocks[0].mlp.out.weight.T, model.unembed.weight.T  # (d_mlp, d_model), (d_model, vocab)\n"
                f"effects = S.logit_effects(sae, W_out, W_U, {self.feature})  # (vocab,)\n"
                "print([model.to_string(torch.tensor([i])) for i in effects.topk(10).indices])\n")


class SAETextParams(SAEParams):
    text: str = Field(default="for key, value in sorted(items.items()):\n    print(key, value)\n",
                      max_length=MAX_TEXT_CHARS, description="Text or code to run through the model and the SAE.")
    feature: int = Field(default=-1, ge=-1, description="Feature to colour the tokens by (-1: the most active).")

    @model_validator(mode="after")
    def _feature_in_range(self):
        n = d_sae(self.model)
        if self.feature >= n:
            raise ValueError(f"feature {self.feature} is out of range: the SAE has features 0..{n - 1} (or -1)")
        return self

    def _code(self) -> str:
        return (f"text = {self.text!r}\n"
                "_, cache = model.run_with_cache(text, names_filter=S.HOOK)\n"
                "post = cache[S.HOOK][0]  # (tokens, d_mlp) neuron activations\n"
                "f = sae.encode(post)  # (tokens, d_sae) feature activations, mostly 0\n"
                "for tok, row, neurons in zip(model.to_str_tokens(text), f, post):\n"
                "    print(repr(tok), row.topk(3).indices.tolist(), neurons.topk(3).indices.tolist())\n")


class SAEDensityParams(SAEParams):
    share: float = Field(default=0.9, ge=0.5, le=0.99, description="Share of a decoder row's squared norm to cover.")
    threshold: int = Field(default=10, ge=1, le=256, description="More neurons than this = dense in the neuron basis.")

    def _code(self) -> str:
        return (f"counts = S.neurons_for_share(sae.W_dec, {self.share})  # (d_sae,) neurons holding {self.share:.0%}\n"
                f"print((counts > {self.threshold}).float().mean())  # share dense (dead features included here)\n")


class SAEMonoParams(SAEParams):
    def _code(self) -> str:
        return ("from safetensors.torch import load_file\n"
                "data = load_file(Path(folder) / 'sae' / 'features.safetensors')\n"
                "flat = data['tokens'].long().flatten()\n"
                "feat = S.top_token_share(flat[data['feature_top_index'].long()])  # (d_sae,)\n"
                "neur = S.top_token_share(flat[data['neuron_top_index'].long()])  # (d_mlp,)\n"
                "print(feat.median(), neur.median())\n")
