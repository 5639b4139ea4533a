"""Parameter model of the attribution-patching widget (Nanda 2023,
https://www.neelnanda.io/mechanistic-interpretability/attribution-patching).

``atp_compare``: the gradient estimate (AtP) next to real activation patching for one site
(head outputs by position, MLP outputs or the residual stream by layer and position), on IOI
prompts against their ABC-corrupted twins or on repeated random tokens, with a scatter, the
correlation r, the live timing of both, and the cells where the estimate misses.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator

from app import zoo
from app.widgets.base import WidgetParams


@lru_cache(maxsize=32)
def speaks_ioi(model: str) -> bool:
    """True if the model reads words (a word-level ``tokenizer.json``) and every IOI name is one of them."""
    from app.tasks import ioi

    path = zoo.model_dir(model) / "tokenizer.json"
    if not path.is_file():
        return False
    spec = json.loads(path.read_text())["model"]
    vocab = spec.get("vocab", {})
    return spec.get("type") == "WordLevel" and isinstance(vocab, dict) and all(n in vocab for n in ioi.NAMES)


def pairs_for(model_name: str, task: str, n_prompts: int, seed: int, template: int, order: str, half_len: int,
              prefix: int = 0):
    """The prompt pairs of a widget's parameters (IOI through the model's own tokenizer); ValueError when the
    prompts (with ``prefix`` filler sentences) are longer than the model's context."""
    from app.analysis import atp

    if task == "ioi":
        from app.tasks import ioi

        pairs = atp.ioi_pairs(ioi.load_tokenizer(zoo.model_dir(model_name)), n_prompts, seed, template, order,
                              prefix=prefix)
        n_ctx = zoo.config(model_name)["n_ctx"]
        if pairs.clean.shape[1] > n_ctx:
            raise ValueError(f"with {prefix} filler sentence(s) these prompts are {pairs.clean.shape[1]} tokens long, "
                             f"and {model_name} reads {n_ctx}: use less filler or another seed")
        return pairs
    cfg = zoo.config(model_name)
    return atp.repeat_pairs(cfg["d_vocab"], half_len, n_prompts, seed, vocab=zoo.repeat_vocab(model_name))


def n_templates() -> int:
    from app.tasks import ioi

    return len(ioi.TEMPLATES)


class AtPParams(WidgetParams):
    """One site, one prompt set, one patching direction."""

    model: str = Field(default="ioi-small", description="Zoo model name.")
    task: Literal["ioi", "repeat"] = Field(default="ioi", description="IOI prompts vs ABC-corrupted twins, or "
                                           "repeated random tokens vs a copy with one token changed.")
    site: Literal["head", "mlp", "resid"] = Field(default="head", description="Head outputs (layer, position, head), "
                                                  "MLP outputs or the residual stream (layer, position).")
    direction: Literal["denoise", "noise"] = Field(default="denoise", description="denoise: clean activation into "
                                                   "the corrupted run; noise: corrupted activation into the clean run.")
    n_prompts: int = Field(default=8, ge=1, le=16, description="Prompt pairs in the batch (the metric is their mean).")
    seed: int = Field(default=0, ge=0, le=1_000_000, description="Seed of the prompts.")
    template: int = Field(default=0, ge=0, description="IOI: the template (every prompt in the batch uses it).")
    order: Literal["ABBA", "BABA"] = Field(default="ABBA", description="IOI: IO named first (ABBA) or S first (BABA).")
    half_len: int = Field(default=10, ge=3, le=60, description="Repeat task: random tokens in the span.")
    prefix: int = Field(default=0, ge=0, le=3, description="IOI: name-free filler sentences before every prompt "
                        "(more positions: more cells for the real sweep, the same two passes for AtP).")

    @model_validator(mode="after")
    def _fits(self):
        cfg = zoo.config(self.model)
        if self.site == "mlp" and cfg.get("attn_only"):
            raise ValueError(f"{self.model} is attention-only: it has no MLP outputs to patch (pick head or resid)")
        if self.task == "ioi":
            if not speaks_ioi(self.model):
                raise ValueError(f"{self.model} does not know the IOI names: use an IOI model or the repeat task")
            if self.template >= n_templates():
                raise ValueError(f"template {self.template} does not exist: use 0..{n_templates() - 1}")
        elif 2 * self.half_len > cfg["n_ctx"]:
            raise ValueError(f"{self.model} reads {cfg['n_ctx']} tokens: keep the span at {cfg['n_ctx'] // 2} or less")
        return self

    def _code(self) -> str:
        if self.task == "ioi":
            pairs = ("from app.tasks import ioi\n"
                     "tok = ioi.load_tokenizer(zoo.model_dir(folder.split('/')[-1]))\n"
                     f"pairs = atp.ioi_pairs(tok, {self.n_prompts}, seed={self.seed}, template={self.template}, "
                     f"order={self.order!r}, prefix={self.prefix})  # clean vs ABC\n")
        else:
            pairs = (f"pairs = atp.repeat_pairs(model.cfg.d_vocab, {self.half_len}, {self.n_prompts}, seed={self.seed}, "
                     f"vocab=zoo.repeat_vocab(folder.split('/')[-1]))\n")
        return ("from app import zoo\nfrom app.analysis import atp  # cache_activation_and_gradient + patching, see below\n"
                + pairs
                + f"est = atp.attribution(model, pairs, direction={self.direction!r})  # 2 forwards + 1 backward\n"
                f"real, seconds = atp.patch_sweep(model, pairs, {self.site!r}, direction={self.direction!r})  "
                "# one forward per cell\n"
                f"print('r =', atp.correlation(est.values[{self.site!r}], real), 'speedup', seconds / est.seconds)\n"
                "# the AtP core, for one hook name n (base = clean for 'noise'):\n"
                "# (a_source[n] - a_base[n]) * grad_base[n], summed over batch and features, where\n"
                "# transformer_lens.tools.analysis.attribution_patching.cache_activation_and_gradient gives both\n")
