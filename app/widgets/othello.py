"""Parameter models of the Othello-GPT widgets (Li et al. 2023; Nanda 2023).

A position is a move list in the URL (``othello_board.moves=f5 d6 c3``); it is replayed
move by move, so a tampered list is refused with the first illegal move named.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from app import zoo
from app.tasks import othello as oth
from app.widgets.base import WidgetParams

MAX_MOVES_CHARS = 400  # 60 moves of "c4 " is 180 characters

_LOAD_OTHELLO = """import json, torch
from safetensors.torch import load_file
from transformer_lens.config import TransformerBridgeConfig
from transformer_lens.model_bridge import TransformerBridge
from app.tasks import othello as oth  # the rules engine and the 61-token vocabulary

folder = "models/{model}"
cfg = TransformerBridgeConfig(**json.load(open(f"{{folder}}/config.json")))
model = TransformerBridge.boot_native(cfg)  # no tokenizer: tokens are squares
model.load_state_dict({{k: v.float() for k, v in load_file(f"{{folder}}/model.safetensors").items()}})
model.eval()
probes = load_file(f"{{folder}}/probes.safetensors")  # '<basis>.weight' (layer+1, 64, 3, d_model), '<basis>.bias'
moves = oth.parse_moves({moves!r})
tokens = torch.tensor(oth.encode(moves))[None]  # (1, n_moves)
"""


def replay_moves(text: str) -> list[int]:
    """Square ids of a move list such as 'f5 d6 c3'; ValueError naming the first bad or illegal move."""
    moves = oth.parse_moves(text)
    if len(moves) > 60:
        raise ValueError(f"{len(moves)} moves given; an Othello game has at most 60")
    oth.replay(moves)  # IllegalMoveError (a ValueError) names the first illegal move and the legal ones
    return moves


class OthelloParams(WidgetParams):
    """The Othello model plus a position given as its move list."""

    model: str = Field(default="othello-gpt", description="Zoo model name (an Othello-GPT).")
    moves: str = Field(default="", max_length=MAX_MOVES_CHARS,
                       description="Moves played so far, e.g. 'f5 d6 c3' (black moves first; passes are implicit).")

    @field_validator("moves")
    @classmethod
    def _legal(cls, v: str) -> str:
        return oth.format_moves(replay_moves(v))

    @model_validator(mode="after")
    def _othello_model(self):
        if zoo.config(self.model).get("d_vocab") != oth.VOCAB_SIZE:
            raise ValueError(f"{self.model} is not an Othello model (its vocabulary is not the {oth.VOCAB_SIZE} move tokens)")
        return self

    @property
    def move_list(self) -> list[int]:
        return oth.parse_moves(self.moves)

    def code(self) -> str:
        return _LOAD_OTHELLO.format(model=self.model, moves=self.moves) + self._code()

    def _code(self) -> str:
        return "logits = model(tokens)[0, -1]  # (61,) next-move logits; token 0 is padding\n"


def _probe_layer_ok(model: str, layer: int) -> None:
    n = zoo.config(model)["n_layers"]
    if not 0 <= layer <= n:
        raise ValueError(f"probe layer {layer} is out of range: {model} has probe layers 0..{n} (0 = embeddings)")


class BoardParams(OthelloParams):
    layer: int = Field(default=4, description="Residual-stream layer the probe reads (0 = embeddings, k = after block k).")
    basis: Literal["mine_theirs", "black_white"] = Field(default="mine_theirs", description="Which probe labelling to show.")

    @model_validator(mode="after")
    def _layer(self):
        _probe_layer_ok(self.model, self.layer)
        return self

    def _code(self) -> str:
        n = zoo.config(self.model)["n_layers"]
        hook = f"blocks.{self.layer}.hook_resid_pre" if self.layer < n else f"blocks.{n - 1}.hook_resid_post"
        return ("logits, cache = model.run_with_cache(tokens)\n"
                "next_move = logits[0, -1].softmax(-1)  # (61,) token 0 = padding\n"
                f"resid = cache['{hook}'][0, -1]  # (d_model,) after {self.layer} blocks\n"
                f"w, b = probes['{self.basis}.weight'][{self.layer}].float(), probes['{self.basis}.bias'][{self.layer}].float()\n"
                f"board = (torch.einsum('d,scd->sc', resid, w) + b).softmax(-1)  # (64 squares, {self.basis} classes)\n")


class ProbeLayersParams(OthelloParams):
    def _code(self) -> str:
        return ("import json\n"
                "m = json.load(open(f'{folder}/metrics.json'))\n"
                "print(m['probe_acc_mine_theirs'], m['probe_acc_black_white'])  # one accuracy per layer\n")


class EditParams(OthelloParams):
    moves: str = Field(default="f5 d6 c3 d3 c4", max_length=MAX_MOVES_CHARS, description="The position to edit.")
    square: str = Field(default="d4", description="The stone to swap between mine and theirs, e.g. 'd4'.")
    layer: int = Field(default=3, description="First layer to edit (edits repeat at every later layer's input).")
    scale: float = Field(default=2.0, ge=0.5, le=8.0, description="How far past the probe's boundary to push.")

    @field_validator("square")
    @classmethod
    def _square(cls, v: str) -> str:
        return oth.square_name(oth.parse_square(v))

    @model_validator(mode="after")
    def _stone(self):
        n = zoo.config(self.model)["n_layers"]
        if not 0 <= self.layer < n:
            raise ValueError(f"edit layer {self.layer} is out of range: {self.model} has layers 0..{n - 1}")
        if not self.move_list:
            raise ValueError("play at least one move first: the model predicts from the first move on")
        board = oth.replay(self.move_list).boards[-1]
        if board[oth.parse_square(self.square)] == 0:
            raise ValueError(f"{self.square} is empty in this position: pick a square with a stone")
        return self

    def _code(self) -> str:
        return ("from app.analysis import othello as ao\n"
                "p = ao.Probes('mine_theirs', probes['mine_theirs.weight'].float(), probes['mine_theirs.bias'].float())\n"
                f"edited = ao.flip_edit(model, tokens, p, layer={self.layer}, square=oth.parse_square({self.square!r}), "
                f"scale={self.scale})\n"
                "print(ao.square_logits(edited).softmax(-1))  # next-move probabilities per square, after the edit\n")


class OthelloAttentionParams(OthelloParams):
    moves: str = Field(default="f5 d6 c3 d3 c4 f4 c5 b3 c2 e6 c6 b4", max_length=MAX_MOVES_CHARS,
                       description="The game whose attention is drawn.")
    layer: int = Field(default=0, description="Layer whose attention is drawn.")
    layer_fields: ClassVar[tuple[str, ...]] = ("layer",)

    def _code(self) -> str:
        return ("_, cache = model.run_with_cache(tokens)\n"
                f"pattern = cache['blocks.{self.layer}.attn.hook_pattern'][0]  # (head, query move, key move)\n")


class OthelloTrainingParams(OthelloParams):
    def _code(self) -> str:
        return ("import json\n"
                "curve = json.load(open(f'{folder}/training.json'))  # step, train_loss, val_loss, legal_top1\n")
