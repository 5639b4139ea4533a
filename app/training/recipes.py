"""Typed recipe defaults and the named recipes that override them.

``python -m app.training NAME`` rebuilds ``models/NAME`` from the recipe of that name.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class TextLMRecipe:
    """A small attention-only language model trained on the standard-library corpus."""

    name: str
    n_layers: int = 1
    d_model: int = 128
    n_heads: int = 8
    d_head: int = 16
    n_ctx: int = 256
    d_vocab: int = 2048
    attn_only: bool = True
    d_mlp: int | None = None  # MLP width; None for attention-only models (their config.json has no d_mlp)
    normalization_type: str | None = None  # no LayerNorm: the path expansion is exact
    positional_embedding_type: str = "standard"
    initializer_range: float = -1.0  # -1: TransformerLens' default, 0.8 / sqrt(d_model)
    repeat_fraction: float = 0.0  # share of training windows that are a random-token span repeated ...
    repeat_vocab_size: int = 400  # ... drawn from this many of the corpus's most frequent tokens
    batch_size: int = 8
    steps: int = 3000
    lr: float = 1e-2  # measured: 1e-3 left val loss at 4.73 after 2,500 steps; 1e-2 reached 3.92 by step 1,000
    weight_decay: float = 0.05
    warmup_steps: int = 100
    eval_every: int = 50  # curve points (>= 40 over a run)
    checkpoint_every: int = 100  # staged fp16 checkpoints ...
    keep_checkpoints: int = 0  # ... of which this many are kept, spanning the phase change
    seed: int = 0

    def bridge_config(self) -> dict:
        """The ``TransformerBridgeConfig`` fields saved to ``config.json``."""
        return dict(
            model_name=self.name,
            n_layers=self.n_layers,
            d_model=self.d_model,
            n_heads=self.n_heads,
            d_head=self.d_head,
            n_ctx=self.n_ctx,
            d_vocab=self.d_vocab,
            attn_only=self.attn_only,
            normalization_type=self.normalization_type,
            positional_embedding_type=self.positional_embedding_type,
            initializer_range=self.initializer_range,
            act_fn="relu",
            seed=self.seed,
            **({"d_mlp": self.d_mlp} if self.d_mlp is not None else {}),
        )


RECIPES: dict[str, TextLMRecipe] = {
    # Both trained on the lent H100 (~2.5 min each); on 2 CPU cores ~2 h (about 1 step/s at batch 64).
    # A quarter of the windows are synthetic repeats: on natural code alone (same batch and steps)
    # the two-layer model formed no induction head (best induction score 0.013 after 98M tokens).
    "attn-only-1l": TextLMRecipe("attn-only-1l", n_layers=1, batch_size=64, steps=6000, eval_every=100, repeat_fraction=0.25),
    "attn-only-2l": TextLMRecipe("attn-only-2l", n_layers=2, batch_size=64, steps=6000, eval_every=100, repeat_fraction=0.25,
                                 keep_checkpoints=9),
    # One layer WITH a 512-neuron MLP for the sparse-autoencoder walkthrough (issue 9). Trained by
    # app.training.sae (PlainGPT, ~25 min on one busy CPU thread), not by text_lm.train. No LayerNorm, so a
    # feature's direct effect on the logits (W_dec @ W_out @ W_U) is exact, as the framework paper's path expansion.
    "code-1l-mlp": TextLMRecipe("code-1l-mlp", n_layers=1, attn_only=False, d_mlp=512, batch_size=32, steps=700,
                                lr=5e-3, eval_every=25),
}


def get(name: str, **overrides) -> TextLMRecipe:
    """The named recipe with ``overrides`` applied; unknown names or keys are errors."""
    if name not in RECIPES:
        raise KeyError(f"unknown recipe {name!r}; valid recipes: {', '.join(sorted(RECIPES))}")
    valid = {f.name for f in fields(TextLMRecipe)}
    unknown = set(overrides) - valid
    if unknown:
        raise TypeError(f"unknown recipe keys {sorted(unknown)}; valid keys: {', '.join(sorted(valid))}")
    return replace(RECIPES[name], **overrides)


def parse_sets(recipe_cls, items: list[str]) -> dict:
    """``--set key=value`` texts -> overrides typed by the recipe dataclass's fields (any recipe module).

    Raises ValueError naming the valid keys for an unknown key, or the expected type for a bad value.
    """
    kinds = {"int": int, "float": float, "bool": lambda v: v.lower() in ("1", "true", "yes"), "str": str}
    types = {f.name: str(f.type).split(" ")[0].replace("'", "") for f in fields(recipe_cls) if f.name != "name"}
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in types:
            raise ValueError(f"unknown recipe key {key!r}; valid keys: {', '.join(types)}")
        try:
            out[key] = kinds.get(types[key], str)(value)
        except ValueError:
            raise ValueError(f"recipe key {key!r} takes a {types[key]}, not {value!r}") from None
    return out
