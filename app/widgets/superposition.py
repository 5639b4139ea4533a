"""Parameter models of the "Toy Models of Superposition" widgets (Elhage et al. 2022).

These widgets have no transformer: ``model`` names a shipped toy-model folder (``models/tms``,
holding the recipe's precomputed phase diagram and dimensionality sweep), and the small
ReLU models are trained live from the other fields. "Show code" gives plain PyTorch.
"""

from __future__ import annotations

import math

from pydantic import Field, field_validator, model_validator

from app import zoo
from app.widgets.base import WidgetParams

SPARSITIES = (0.0, 0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99)  # = analysis.superposition.SPARSITIES
IMPORTANCES = (0.1, 0.12, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0,
               6.0, 8.0, 10.0)
DENSITIES = (0.01, 0.015, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def nearest(value: float, options) -> float:
    """The option closest to ``value`` on a log scale (options are positive) or a linear one (0 allowed)."""
    if min(options) > 0 and value > 0:
        return min(options, key=lambda o: abs(math.log(o) - math.log(value)))
    return min(options, key=lambda o: abs(o - value))


_TRAIN = """import math
import torch

# One toy model of superposition (Elhage et al. 2022): n features -> m dims -> ReLU(W^T W x + b).
# The page trains {restarts} restarts at once (one tensor) and keeps the lowest loss; this is one restart.
torch.manual_seed({seed})
n, m = {n}, {m}
W = torch.nn.Parameter(torch.randn(m, n) * (2 / (m + n)) ** 0.5)
b = torch.nn.Parameter(torch.zeros(n))
imp = {imp}  # importance of each feature
density = {density}  # probability that a feature is on (1 - S)
opt = torch.optim.Adam([W, b], lr=1e-2)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / 1000)))  # cosine to 0
for step in range(1000):
    x = torch.rand(512, n) * (torch.rand(512, n) < density)  # (batch, n) sparse features in [0, 1]
    out = torch.relu(x @ W.T @ W + b)  # (batch, n)
    loss = (imp * (x - out) ** 2).sum(-1).mean()
    opt.zero_grad(); loss.backward(); opt.step(); sched.step()
W = W.detach()
"""


class ToyParams(WidgetParams):
    """Base of the toy-model widgets: ``model`` is a toy-model folder, not a transformer."""

    model: str = Field(default="tms", description="Toy-model folder in models/ (precomputed results and card).")

    @field_validator("model")
    @classmethod
    def _known_model(cls, v: str) -> str:  # replaces the base's check: toy models are not in zoo.names()
        try:
            zoo.toy_dir(v)
        except zoo.UnknownModelError as err:
            raise ValueError(str(err)) from None
        return v

    @model_validator(mode="after")
    def _in_range(self):  # replaces the base's layer/head check: a toy model has neither
        return self

    def code(self) -> str:
        return self._code()


class ToyModelParams(ToyParams):
    n_features: int = Field(default=5, ge=2, le=10, description="Number of features n (squeezed into 2 dimensions).")
    decay: float = Field(default=0.9, ge=0.5, le=1.0, description="Importance decay r: feature i has importance r**i.")
    sparsity: float = Field(default=0.9, ge=0.0, lt=1.0, description=f"Sparsity S shown, one of {list(SPARSITIES)}.")
    seed: int = Field(default=0, ge=0, le=10_000, description="Seed of the initial weights and the data.")

    @field_validator("sparsity")
    @classmethod
    def _on_grid(cls, v: float) -> float:
        for s in SPARSITIES:
            if abs(s - v) < 1e-9:
                return s
        raise ValueError(f"sparsity {v} is not one of the trained values {list(SPARSITIES)}")

    def _code(self) -> str:
        return _TRAIN.format(seed=self.seed, n=self.n_features, m=2, restarts=4,
                             imp=f"{self.decay} ** torch.arange(n)", density=round(1 - self.sparsity, 6)) + (
            "print('norms', W.norm(dim=0))  # ‖W_i‖: ~1 if feature i is represented, ~0 if not\n"
            "print('W^T W', W.T @ W)       # off-diagonal: how features interfere\n"
            "print('bias', b.detach())\n")


class PhaseDiagramParams(ToyParams):
    relative_importance: float = Field(default=2.0, ge=0.1, le=10.0, description="Importance of the extra feature (the other has 1).")
    density: float = Field(default=0.1, ge=0.01, le=1.0, description="Feature density 1 - S of both features.")
    seed: int = Field(default=0, ge=0, le=10_000, description="Seed of the live 2→1 model.")

    def _code(self) -> str:
        return _TRAIN.format(seed=self.seed, n=2, m=1, restarts=8, imp=f"torch.tensor([1.0, {self.relative_importance}])",
                             density=self.density) + (
            "norm = W.norm(dim=0)  # (2,)\n"
            "print('not learned' if norm[1] < 0.5 else 'dedicated dimension' if norm[0] < 0.5 else 'superposition')\n")


class DimensionalityParams(ToyParams):
    inv_density: float = Field(default=3.0, ge=1.0, le=1000.0,
                               description="1/(1-S) of the highlighted model (the nearest shipped one is shown).")

    def _code(self) -> str:
        return ("import json\n"
                "from safetensors.torch import load_file\n"
                f"runs = json.load(open('models/{self.model}/dims_per_feature.json'))\n"
                "x = runs['inv_density']  # 1/(1-S), one per trained model\n"
                "y = runs['dims_per_feature']  # m / ‖W‖_F²\n"
                f"i = min(range(len(x)), key=lambda k: abs(x[k] - {self.inv_density}))\n"
                f"W = load_file('models/{self.model}/dims_weights.safetensors')['W'][i]  # (m, n)\n"
                "unit = W / W.norm(dim=0).clamp(min=1e-8)\n"
                "D = W.norm(dim=0) ** 2 / ((unit.T @ W) ** 2).sum(-1)  # fractional dimensionality of each feature\n"
                "print(x[i], y[i], D)\n")
