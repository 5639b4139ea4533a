"""Parameter models of the "Induction Heads" widgets."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from app import zoo
from app.exercises import parse_head
from app.widgets.base import MAX_TEXT_CHARS, WidgetParams, known_model

_CKPT_LOAD = """
# a training checkpoint instead of the final weights:
# model.load_state_dict({{k: v.float() for k, v in load_file(f"{{folder}}/checkpoints/step_{step:05d}.safetensors").items()}})
"""


class CheckpointParams(WidgetParams):
    """A model plus one of its shipped training checkpoints ('final' = the finished weights)."""

    checkpoint: str = Field(default="final", description="'final' or the training step of a shipped checkpoint.")

    @model_validator(mode="after")
    def _known_checkpoint(self):
        if self.checkpoint != "final":
            steps = zoo.checkpoints(self.model)
            if not self.checkpoint.isdigit() or int(self.checkpoint) not in steps:
                raise ValueError(f"checkpoint {self.checkpoint!r} does not exist: {self.model} ships 'final' and steps {steps}")
        return self

    @property
    def step(self) -> int | None:
        return None if self.checkpoint == "final" else int(self.checkpoint)

    def code(self) -> str:
        extra = "" if self.step is None else _CKPT_LOAD.format(step=self.step)
        return super().code().replace("model.eval()\n", "model.eval()\n" + extra, 1)


class RepeatedTokensParams(CheckpointParams):
    model: str = Field(default="attn-only-2l", description="Zoo model name.")
    half_len: int = Field(default=30, ge=5, le=120, description="Random tokens in each copy.")
    seed: int = Field(default=0, ge=0, le=1_000_000, description="Seed of the random tokens.")
    layer: int = Field(default=1, description="Layer whose attention is drawn.")
    layer_fields: ClassVar[tuple[str, ...]] = ("layer",)

    def _code(self) -> str:
        return ("from transformer_lens.head_detector import detect_head\n"
                "import numpy as np\n"
                "# whole-word tokens that survive decode/encode, so the detector sees what we generated\n"
                "words = [i for i in range(model.cfg.d_vocab) if (s := model.to_string(torch.tensor([i])))[:1] == ' '\n"
                "         and s[1:].isalpha() and s[1:].isascii() and len(s) > 2\n"
                "         and model.to_tokens(s, prepend_bos=False)[0].tolist() == [i]]\n"
                f"half = np.random.default_rng({self.seed}).choice(words, size={self.half_len}, replace=False).tolist()\n"
                "text = model.to_string(torch.tensor(half + half))\n"
                "for kind in ['previous_token_head', 'induction_head']:\n"
                "    print(kind, detect_head(model, text, kind))  # (layer, head)\n"
                "logits, cache = model.run_with_cache(text)\n"
                f"pattern = cache['blocks.{self.layer}.attn.hook_pattern'][0]  # (head, query, key)\n")


def parse_heads(spec: str) -> list[tuple[int, int]]:
    heads = []
    for part in filter(None, (p.strip() for p in spec.replace(";", ",").split(","))):
        parsed = parse_head(part)
        if parsed is None:
            raise ValueError(f"{part!r} is not a head: write heads as L1H3, separated by commas")
        heads.append(parsed)
    return heads


class HeadList(BaseModel):
    """Mixin for parameter models with ``model`` and ``heads`` (e.g. 'L1H3, L0H2') fields: parses and range-checks
    the heads against the model's config; ``head_list`` is the sorted, de-duplicated (layer, head) list."""

    @field_validator("heads", check_fields=False)
    @classmethod
    def _heads_parse(cls, v: str) -> str:
        parse_heads(v)
        return v

    @model_validator(mode="after")
    def _heads_exist(self):
        cfg = zoo.config(self.model)
        for l, h in self.head_list:
            if not (0 <= l < cfg["n_layers"] and 0 <= h < cfg["n_heads"]):
                raise ValueError(f"L{l}H{h} does not exist in {self.model} (layers 0..{cfg['n_layers'] - 1}, heads 0..{cfg['n_heads'] - 1})")
        return self

    @property
    def head_list(self) -> list[tuple[int, int]]:
        return sorted(set(parse_heads(self.heads)))


class AblationParams(CheckpointParams, HeadList):
    model: str = Field(default="attn-only-2l", description="Zoo model name.")
    heads: str = Field(default="", max_length=200, description="Heads to ablate, e.g. 'L1H3, L0H2'.")
    mode: Literal["zero", "mean"] = Field(default="zero", description="Replace the head's output by zero or by its mean.")
    half_len: int = Field(default=40, ge=5, le=120, description="Random tokens in each copy.")
    seed: int = Field(default=0, ge=0, le=1_000_000, description="Seed of the random tokens.")

    def _code(self) -> str:
        heads = self.head_list
        value = "0.0" if self.mode == "zero" else "means[l][h]  # mean z over ordinary text, computed beforehand"
        return ("from functools import partial\n"
                f"tokens = torch.cat([torch.zeros(1, 1, dtype=torch.long), torch.randint(3, model.cfg.d_vocab, (1, {self.half_len}))], 1)\n"
                f"tokens = torch.cat([tokens, tokens[:, 1:]], 1)  # BOS + random + the same again\n"
                "def ablate(z, hook, l, hs):  # z: (batch, pos, head, d_head)\n"
                "    for h in hs:\n"
                f"        z[:, :, h] = {value}\n"
                "    return z\n"
                f"heads = {heads}\n"
                "hooks = [(f'blocks.{l}.attn.hook_z', partial(ablate, l=l, hs=[h for ll, h in heads if ll == l]))\n"
                "         for l in sorted({l for l, _ in heads})]\n"
                "with model.hooks(fwd_hooks=hooks):\n"
                "    logits = model(tokens)\n"
                "loss = -logits[0, :-1].log_softmax(-1).gather(-1, tokens[0, 1:, None])[:, 0]  # per-token loss\n")


class PhaseChangeParams(CheckpointParams):
    model: str = Field(default="attn-only-2l", description="The model whose training record is shown.")
    control: str = Field(default="attn-only-1l", description="A model drawn beside it as the control.")
    half_len: int = Field(default=30, ge=5, le=120, description="Random tokens in each copy for the live views.")

    @field_validator("control")
    @classmethod
    def _known_control(cls, v: str) -> str:
        return known_model(v)

    @model_validator(mode="after")
    def _has_curve(self):
        if not zoo.curve(self.model):
            raise ValueError(f"{self.model} has no training record (training.json)")
        return self

    def _code(self) -> str:
        return (f"curve = json.load(open('models/{self.model}/training.json'))  # one dict per eval step\n"
                "steps = [p['step'] for p in curve]\n"
                "icl = [p['icl_score'] for p in curve]\n"
                "induction = [max(p['induction_score'].values()) for p in curve]\n")


class InductionTextParams(WidgetParams):
    model: str = Field(default="attn-only-2l", description="Zoo model name.")
    text: str = Field(default=("The heron and the kestrel met at the old mill. Later that night, the heron and the "
                               "kestrel flew back to the old mill."), max_length=MAX_TEXT_CHARS,
                      description="Text with a repeated span.")
    head: str = Field(default="auto", max_length=20, description="Head whose attention is shown (L1H3), or 'auto' for the strongest induction head.")

    @model_validator(mode="after")
    def _head_ok(self):
        if self.head != "auto":
            parsed = parse_head(self.head)
            cfg = zoo.config(self.model)
            if parsed is None or not (0 <= parsed[0] < cfg["n_layers"] and 0 <= parsed[1] < cfg["n_heads"]):
                raise ValueError(f"head {self.head!r} is not a head of {self.model}: use 'auto' or e.g. L1H3")
        return self

    def layer_head(self) -> tuple[int, int]:
        if self.head == "auto":
            scores = zoo.metrics(self.model)["induction_score"]
            return parse_head(max(scores, key=scores.get))
        return parse_head(self.head)

    def _code(self) -> str:
        l, h = self.layer_head()
        return (f"tokens = model.to_tokens({self.text!r})[0]\n"
                "logits, cache = model.run_with_cache(tokens[None])\n"
                f"pattern = cache['blocks.{l}.attn.hook_pattern'][0, {h}]  # (query, key)\n"
                "probs = logits[0].softmax(-1)\n"
                "for pos in range(2, len(tokens)):\n"
                "    earlier = [j for j in range(1, pos - 1) if tokens[j] == tokens[pos]]\n"
                "    if earlier:\n"
                "        guess = tokens[earlier[-1] + 1]  # what induction predicts\n"
                "        print(pos, model.to_string(tokens[pos]), '->', model.to_string(guess), probs[pos, guess].item())\n")
