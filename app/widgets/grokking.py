"""Parameter models of the grokking widgets (Nanda et al. 2023, https://arxiv.org/abs/2301.05217)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from app import zoo
from app.widgets.induction import CheckpointParams

_INPUTS = """from app.tasks import modadd  # or: a = arange(113).repeat_interleave(113); b = arange(113).repeat(113)
tokens = modadd.all_pairs(113)  # (113*113, 3): rows [a, b, 113], row index a*113 + b
logits, cache = model.run_with_cache(tokens)
"""


def _basis() -> str:
    return ("import math\n"
            "x = torch.arange(113.0)\n"
            "rows = [torch.ones(113)] + [f(2 * math.pi * k * x / 113) for k in range(1, 57) for f in (torch.cos, torch.sin)]\n"
            "basis = torch.stack(rows); basis = basis / basis.norm(dim=1, keepdim=True)  # (113, 113) Fourier basis\n")


_LOAD = """import json, torch
from safetensors.torch import load_file
from transformer_lens.config import TransformerBridgeConfig
from transformer_lens.model_bridge import TransformerBridge

folder = "models/{model}"  # no tokenizer: token ids 0..p-1 are the numbers, p is "="
model = TransformerBridge.boot_native(TransformerBridgeConfig(**json.load(open(f"{{folder}}/config.json"))))
weights = "{weights}"  # fp16 checkpoints are cast back to float
model.load_state_dict({{k: v.float() for k, v in load_file(f"{{folder}}/{{weights}}").items()}})
model.eval()
"""


class GrokParams(CheckpointParams):
    """A grokking model with a training record, at one of its checkpoints."""

    model: str = Field(default="modadd-113", description="Zoo model name (a modular-addition model).")

    def code(self) -> str:
        weights = "model.safetensors" if self.step is None else f"checkpoints/step_{self.step:05d}.safetensors"
        return _LOAD.format(model=self.model, weights=weights) + self._code()

    @property
    def p(self) -> int:
        return zoo.config(self.model)["d_vocab"] - 1


class GrokCurvesParams(GrokParams):
    panel: Literal["loss", "accuracy", "progress"] = Field(
        default="loss", description="Train/test loss, train/test accuracy, or the progress measures next to them.")
    log_x: bool = Field(default=False, description="Log-scale step axis.")

    def _code(self) -> str:
        return (f"curve = json.load(open('models/{self.model}/training.json'))  # one dict per recorded step\n"
                "steps = [pt['step'] for pt in curve]\n"
                "for key in ['train_loss', 'test_loss', 'restricted_loss', 'excluded_loss']:\n"
                "    print(key, [pt[key] for pt in curve][-1])\n")


class FourierEmbeddingParams(GrokParams):
    def _code(self) -> str:
        return (_basis() + "W_E = model.state_dict()['embed.weight'][:113]  # (113, d_model), numbers only\n"
                "coef = basis @ W_E  # (113, d_model): const, cos 1, sin 1, cos 2, ...\n"
                "norm = (coef[1::2].pow(2).sum(1) + coef[2::2].pow(2).sum(1)).sqrt()  # (56,) per frequency\n"
                "print(norm.argsort(descending=True)[:8] + 1)  # the largest frequencies\n")


class PeriodicParams(GrokParams):
    kind: Literal["neuron", "attention"] = Field(default="neuron", description="A neuron's activation or a head's attention.")
    neuron: int = Field(default=-1, ge=-1, le=4095, description="Neuron index; -1 = the neuron most aligned with the top key frequency.")
    head: int = Field(default=0, ge=0, description="Head whose attention from '=' to a is drawn.")

    @model_validator(mode="after")
    def _in_model(self):
        cfg = zoo.config(self.model)
        if self.neuron >= cfg.get("d_mlp", 0) and self.neuron >= 0:
            raise ValueError(f"neuron {self.neuron} is out of range: {self.model} has neurons 0..{cfg.get('d_mlp', 0) - 1}")
        if self.head >= cfg["n_heads"]:
            raise ValueError(f"head {self.head} is out of range: {self.model} has heads 0..{cfg['n_heads'] - 1}")
        return self

    def _code(self) -> str:
        if self.kind == "attention":
            pick = (f"grid = cache['blocks.0.attn.hook_pattern'][:, {self.head}, -1, 0].view(113, 113)"
                    "  # attention from '=' to a, [a, b]\n")
        else:
            n = "N" if self.neuron < 0 else str(self.neuron)
            pick = (f"grid = cache['blocks.0.mlp.hook_post'][:, -1, {n}].view(113, 113)  # neuron {n} at '=', [a, b]\n")
        return _INPUTS + pick + _basis() + "coef2d = basis @ grid @ basis.T  # 2D Fourier: a few large terms\n"


class LogitFourierParams(GrokParams):
    a: int = Field(default=7, ge=0, le=1000, description="First number of the input shown.")
    b: int = Field(default=20, ge=0, le=1000, description="Second number of the input shown.")

    @model_validator(mode="after")
    def _numbers(self):
        if not (self.a < self.p and self.b < self.p):
            raise ValueError(f"a and b must be 0..{self.p - 1}")
        return self

    def _code(self) -> str:
        keys = zoo.metrics(self.model).get("key_frequencies", [])
        return (_INPUTS + "L = logits[:, -1, :113]; L = L - L.mean(1, keepdim=True)  # (113*113, 113) centred over c\n"
                "s = tokens[:, :2].sum(1).double()[:, None]; c = torch.arange(113.0)[None]\n"
                "fit = torch.zeros_like(L, dtype=torch.float64)\n"
                f"for k in {keys}:  # the key frequencies (metrics.json)\n"
                "    term = torch.cos(2 * torch.pi * k * (s - c) / 113)\n"
                "    fit += term * (term * L).sum() / term.pow(2).sum()\n"
                "print('variance explained', 1 - (L - fit).pow(2).sum() / L.pow(2).sum())\n")


class GrokCheckpointParams(GrokParams):
    def _code(self) -> str:
        return FourierEmbeddingParams(model=self.model, checkpoint=self.checkpoint)._code()
