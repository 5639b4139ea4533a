"""Parameter models of the "privileged basis / outlier features" widgets (no Streamlit).

The measurements are in ``app.analysis.basis`` (Dettmers et al. 2022; Elhage, Lasenby & Olah 2023).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from app import zoo
from app.widgets.base import MAX_TEXT_CHARS, WidgetParams, known_model

OUTLIER_MODELS = ("outliers-adam", "outliers-sgd")
STATS = ("mean_abs", "max_abs", "kurtosis", "ln_gain")
STAT_LABELS = {
    "mean_abs": "mean |x| over tokens",
    "max_abs": "max |x| over tokens",
    "kurtosis": "kurtosis over tokens",
    "ln_gain": "LayerNorm gain that reads this point",
}


class _BasisParams(WidgetParams):
    model: str = Field(default="outliers-adam", description="Zoo model name.")
    point: int = Field(default=-1, description="Residual-stream point: 0..n_layers-1 = before that block, "
                                               "n_layers = after the last block, -1 = the last one.")
    rotation_seed: int = Field(default=0, ge=0, le=1_000_000, description="Seed of the random orthogonal basis.")

    @model_validator(mode="after")
    def _point_in_range(self):
        n = zoo.config(self.model)["n_layers"]
        if not -1 <= self.point <= n:
            raise ValueError(f"point {self.point} is out of range: {self.model} has residual points 0..{n} (or -1 = last)")
        return self

    @property
    def point_index(self) -> int:
        return zoo.config(self.model)["n_layers"] if self.point == -1 else self.point

    @property
    def hook_name(self) -> str:
        n = zoo.config(self.model)["n_layers"]
        p = self.point_index
        return f"blocks.{p}.hook_resid_pre" if p < n else f"blocks.{n - 1}.hook_resid_post"


class BasisDimsParams(_BasisParams):
    stat: Literal["mean_abs", "max_abs", "kurtosis", "ln_gain"] = Field(
        default="mean_abs", description="Per-dimension statistic drawn for every residual dimension.")

    def _code(self) -> str:
        return ("from safetensors.torch import load_file\n"
                "tokens = load_file(f'{folder}/eval_tokens.safetensors')['tokens'].long()  # held-out windows\n"
                f"_, cache = model.run_with_cache(tokens, names_filter='{self.hook_name}')\n"
                f"x = cache['{self.hook_name}'][:, 1:].reshape(-1, model.cfg.d_model)  # (tokens, d_model), BOS dropped\n"
                f"g = torch.Generator().manual_seed({self.rotation_seed})\n"
                "q, r = torch.linalg.qr(torch.randn(model.cfg.d_model, model.cfg.d_model, generator=g, dtype=torch.float64))\n"
                "Q = (q * torch.sign(torch.diagonal(r))).float()  # random orthogonal basis\n"
                "def kurtosis(v, dim):  # Pearson: 3 for a Gaussian\n"
                "    c = v - v.mean(dim, keepdim=True)\n"
                "    return (c**4).mean(dim) / (c**2).mean(dim) ** 2\n"
                "for name, v in [('standard', x), ('random', x @ Q)]:\n"
                "    print(name, 'mean|x| per dim', v.abs().mean(0).topk(3),\n"
                "          'kurtosis per dim (over tokens)', kurtosis(v, 0).max().item(),\n"
                "          'kurtosis per token (over dims)', kurtosis(v, 1).mean().item())\n")


class BasisTextParams(_BasisParams):
    text: str = Field(default=("def add(self, item):\n    \"\"\"Add an item to the set.\"\"\"\n"
                               "    if item not in self.items:\n        self.items.append(item)\n    return self\n"),
                      max_length=MAX_TEXT_CHARS, description="Text whose residual stream is drawn.")
    basis: Literal["standard", "random"] = Field(default="standard", description="Basis the residual is read in.")

    def _code(self) -> str:
        rot = ("" if self.basis == "standard" else
               f"g = torch.Generator().manual_seed({self.rotation_seed})\n"
               "q, r = torch.linalg.qr(torch.randn(model.cfg.d_model, model.cfg.d_model, generator=g, dtype=torch.float64))\n"
               "x = x @ (q * torch.sign(torch.diagonal(r))).float()  # the same vectors in a random orthogonal basis\n")
        return (f"tokens = model.to_tokens({self.text!r})\n"
                f"_, cache = model.run_with_cache(tokens, names_filter='{self.hook_name}')\n"
                f"x = cache['{self.hook_name}'][0]  # (position, d_model)\n" + rot +
                "print(x.abs().mean(0).topk(3))  # the dimensions that stand out, if any\n")


class BasisCompareParams(WidgetParams):
    model: str = Field(default="outliers-adam", description="First model.")
    other: str = Field(default="outliers-sgd", description="Second model.")
    view: Literal["by_point", "over_training"] = Field(default="by_point",
                                                       description="Across residual points, or over training steps.")

    @field_validator("other")
    @classmethod
    def _known_other(cls, v: str) -> str:
        return known_model(v)

    def _code(self) -> str:
        if self.view == "over_training":
            return (f"for name in ['{self.model}', '{self.other}']:\n"
                    "    curve = json.load(open(f'models/{name}/training.json'))\n"
                    "    for p in curve:  # one dict per evaluation step\n"
                    "        print(name, p['step'], {k: v for k, v in p.items() if k.startswith('max_')})\n")
        return ("from app.analysis import basis\n"
                "from safetensors.torch import load_file\n"
                "tokens = load_file(f'{folder}/eval_tokens.safetensors')['tokens'].long()\n"
                "acts = basis.residual_stream(model, tokens)  # (point, token, d_model)\n"
                "print(basis.token_kurtosis(acts))  # per point, standard basis\n"
                "print(basis.token_kurtosis(acts, basis.random_rotation(model.cfg.d_model, 0)))  # seed 0, as the cards\n"
                f"# repeat with folder = 'models/{self.other}'\n")
