"""Record a text model's training: curves at every eval step and fp16 checkpoints.

Every ``eval_every`` steps: train / held-out loss, loss by token position, the
in-context-learning score and every head's previous-token and induction scores. Every
``checkpoint_every`` steps a fp16 checkpoint is staged; at the end ``select`` keeps a
few that span the induction phase change (found from the curve, not assumed).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file

from app.analysis import heads, icl
from app.training.measure import REPEAT_BATCH, REPEAT_HALF_LEN, half_rise_step, per_head


class Recorder:
    def __init__(self, model, eval_tokens: torch.Tensor, out_dir: Path, checkpoint_every: int, keep: int, repeat_vocab=None):
        self.eval_tokens = eval_tokens
        self.repeat_tokens = heads.repeated_tokens(model.cfg.d_vocab, REPEAT_HALF_LEN, REPEAT_BATCH, seed=0, vocab=repeat_vocab)
        self.stage = out_dir / "checkpoints.staging"
        self.final_dir = out_dir / "checkpoints"
        self.checkpoint_every = checkpoint_every
        self.keep = keep
        self.points: list[dict] = []
        if keep:
            shutil.rmtree(self.stage, ignore_errors=True)
            self.stage.mkdir(parents=True)

    @torch.no_grad()
    def record(self, model, step: int, train_loss: float | None, lr: float) -> dict:
        model.eval()
        device = next(model.parameters()).device
        pos_loss = icl.per_position_loss(model, self.eval_tokens.to(device)).cpu()
        scores = heads.head_scores(model, self.repeat_tokens.to(device), REPEAT_HALF_LEN)
        model.train()
        point = {
            "step": step,
            "lr": lr,
            "train_loss": None if train_loss is None else round(train_loss, 4),
            "val_loss": round(float(pos_loss.mean()), 4),
            "icl_score": round(icl.icl_score(pos_loss), 4),
            "loss_by_position": icl.binned(pos_loss),
            "prev_token_score": per_head(scores.previous_token),
            "induction_score": per_head(scores.induction),
        }
        self.points.append(point)
        return point

    def maybe_checkpoint(self, model, step: int, last: bool) -> None:
        if self.keep and (step % self.checkpoint_every == 0 or last):
            state = {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in model.state_dict().items()}
            save_file(state, self.stage / f"step_{step:05d}.safetensors")

    def select(self) -> list[int]:
        """Keep ``keep`` staged checkpoints spanning the phase change; return their steps."""
        if not self.keep:
            return []
        staged = sorted(int(p.stem.split("_")[1]) for p in self.stage.glob("step_*.safetensors"))
        half = half_rise_step(self.points)
        last = staged[-1]
        # Dense around the half-way step of the induction score, sparse before and after.
        targets = [0, half * 0.35, half * 0.6, half * 0.8, half, half * 1.2, half * 1.5, (half + last) / 2, last]
        chosen = sorted({min(staged, key=lambda s: abs(s - t)) for t in targets})
        for extra in staged:  # top up if targets collided
            if len(chosen) >= self.keep:
                break
            if extra not in chosen:
                chosen = sorted(chosen + [extra])
        chosen = chosen[: self.keep - 1] + [last] if len(chosen) > self.keep else chosen
        shutil.rmtree(self.final_dir, ignore_errors=True)
        self.final_dir.mkdir()
        for s in chosen:
            shutil.move(self.stage / f"step_{s:05d}.safetensors", self.final_dir / f"step_{s:05d}.safetensors")
        shutil.rmtree(self.stage)
        return chosen
