"""Recipe: Othello-GPT, a GPT trained to predict legal moves of random Othello games, plus its probes.

After Li et al. 2023 (https://arxiv.org/abs/2210.13382, synthetic dataset, section 2): the
model sees the first 59 moves of uniformly random legal games (one token per square, no
board) and predicts the next move. Then, as in Nanda 2023, linear probes read the board
from every layer's residual stream in two labellings, and probe-direction edits are scored
against the edited board's legal moves (``app.analysis.othello``).

``python -m app.training othello-gpt [--steps N] [--set key=value] [--out DIR] [--device cuda]``
writes ``config.json``, ``model.safetensors`` (fp16), ``probes.safetensors``,
``training.json``, ``metrics.json`` and ``card.md``. Seeded; CPU by default, CUDA when present,
same code path (bf16 autocast on CUDA only). Trains the hook-free ``PlainGPT`` twin and
measures the saved weights through the real TransformerLens bridge.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from tqdm import tqdm

from app import zoo
from app.tasks import othello as oth
from app.training.othello_measure import measure, write_card
from app.training.plain_gpt import PlainGPT
from app.training.recipes import parse_sets
from app.training.text_lm import _lr_at  # the text recipes' warm-up + cosine schedule


@dataclass(frozen=True)
class OthelloRecipe:
    name: str = "othello-gpt"
    n_layers: int = 6
    d_model: int = 256
    n_heads: int = 8
    d_mlp: int = 1024
    steps: int = 20_000
    batch_size: int = 256
    lr: float = 1e-3
    warmup_steps: int = 500
    weight_decay: float = 0.01
    train_games: int = 2_000_000  # a fixed pool, drawn from with replacement
    eval_every: int = 250
    curve_games: int = 500  # fresh games for the legal-move curve in training.json
    probe_games: int = 3_000
    probe_steps: int = 2_000
    seed: int = 0
    max_seconds: float = 0.0  # > 0: stop early after this many seconds of training (reported)
    resume_every: int = 500  # with --resume: save the resumable state this often

    def bridge_config(self) -> dict:
        return {"model_name": self.name, "n_layers": self.n_layers, "d_model": self.d_model, "n_heads": self.n_heads,
                "d_head": self.d_model // self.n_heads, "d_mlp": self.d_mlp, "n_ctx": 59, "d_vocab": oth.VOCAB_SIZE,
                "attn_only": False, "normalization_type": "LN", "positional_embedding_type": "standard",
                "act_fn": "gelu", "seed": self.seed}


# Seeds of the game sets, apart from the training pool's (seed + 0).
CURVE_SEED, PROBE_SEED, EVAL_SEED = 1_000_001, 1_000_002, 1_000_003


def _games(n: int, seed: int, chunk: int = 100_000) -> np.ndarray:
    """``oth.random_games`` in chunks with a progress bar: (n, 60) int8 squares, -1 after the end."""
    parts = [oth.random_games(min(chunk, n - i), seed * 1000 + i // chunk)
             for i in tqdm(range(0, n, chunk), desc="games", leave=False)]
    return np.concatenate(parts)


@torch.no_grad()
def _curve_point(model: PlainGPT, tokens: torch.Tensor, games: np.ndarray, legal: np.ndarray, device: str) -> dict:
    from app.analysis.othello import legal_top1

    model.eval()
    logits = model(tokens.to(device)).float().cpu()  # (N, 59, 61)
    targets = tokens[:, 1:]  # next move's token at positions 0..57
    loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, 61), targets.reshape(-1), ignore_index=oth.PAD)
    model.train()
    return {"val_loss": float(loss), "legal_top1": legal_top1(logits, games, legal)}


RESUME = "resume"  # model + optimiser + sampler state, fp32; never shipped (.gitignore)


def _save_resume(folder: Path, model: PlainGPT, opt: torch.optim.Optimizer, gen: torch.Generator, step: int,
                 curve: list, seconds: float) -> None:
    """Everything needed to continue exactly where training stopped, as safetensors + JSON (no pickles)."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    for i, state in opt.state_dict()["state"].items():
        for k, v in state.items():
            tensors[f"opt.{i}.{k}"] = torch.as_tensor(v).float().cpu().reshape(v.shape if torch.is_tensor(v) else ())
    tensors["sampler"] = gen.get_state()
    save_file(tensors, folder / "state.safetensors.tmp")
    (folder / "state.safetensors.tmp").replace(folder / "state.safetensors")
    (folder / "progress.json").write_text(json.dumps({"step": step, "seconds": seconds, "curve": curve}) + "\n")


def _load_resume(folder: Path, model: PlainGPT, opt: torch.optim.Optimizer, gen: torch.Generator,
                 device: str) -> tuple[int, list, float]:
    from safetensors.torch import load_file

    t = load_file(folder / "state.safetensors")
    model.load_state_dict({k[6:]: v for k, v in t.items() if k.startswith("model.")}, strict=True)
    sd = opt.state_dict()
    for key, v in t.items():
        if key.startswith("opt."):
            _, i, name = key.split(".", 2)
            sd["state"].setdefault(int(i), {})[name] = v if name == "step" else v.to(device)
    opt.load_state_dict(sd)
    gen.set_state(t["sampler"])
    progress = json.loads((folder / "progress.json").read_text())
    return progress["step"], progress["curve"], progress["seconds"]


def train(r: OthelloRecipe, out: Path, device: str | None = None, resume: bool = False) -> dict:
    from app.analysis.othello import model_inputs

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(r.seed)
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    pool = _games(r.train_games, r.seed)  # (P, 60)
    tokens_all = torch.cat([model_inputs(pool), torch.from_numpy(
        np.where(pool[:, 59:] >= 0, oth.SQUARE_TO_TOKEN[np.maximum(pool[:, 59:], 0)], oth.PAD))], 1)  # (P, 60)
    curve_games = oth.random_games(r.curve_games, CURVE_SEED)
    _, _, curve_legal = oth.board_states(curve_games)
    curve_tokens = model_inputs(curve_games)
    gen_seconds = time.time() - started

    cfg = r.bridge_config()
    model = PlainGPT(cfg).to(device)
    model.train()
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": r.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=r.lr, betas=(0.9, 0.98))
    gen = torch.Generator().manual_seed(r.seed)
    curve, running = [], []
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.startswith("cuda") else torch.autocast("cpu", enabled=False)
    train_started = time.time()
    steps_done = first = 0
    if resume and (out / RESUME).is_dir():
        first, curve, done_seconds = _load_resume(out / RESUME, model, opt, gen, device)
        train_started -= done_seconds
        print(f"resuming {r.name} at step {first} from {out / RESUME}")
    bar = tqdm(range(first, r.steps + 1), desc=r.name, initial=first, total=r.steps + 1)
    for step in bar:
        if resume and step > first and step % r.resume_every == 0:
            _save_resume(out / RESUME, model, opt, gen, step, curve, time.time() - train_started)
        last = step == r.steps or (r.max_seconds > 0 and time.time() - train_started > r.max_seconds)
        if step % r.eval_every == 0 or last:
            point = {"step": step, "train_loss": float(np.mean(running)) if running else None,
                     **_curve_point(model, curve_tokens, curve_games, curve_legal, device)}
            curve.append(point)
            running = []
            bar.set_postfix(loss=f"{point['val_loss']:.3f}", legal=f"{point['legal_top1']:.4f}")
        if last:
            steps_done = step
            if resume:
                _save_resume(out / RESUME, model, opt, gen, step, curve, time.time() - train_started)
            break
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, r)
        idx = torch.randint(0, len(tokens_all), (r.batch_size,), generator=gen)
        batch = tokens_all[idx].to(device, non_blocking=True)  # (B, 60)
        with autocast:
            logits = model(batch[:, :-1])  # (B, 59, 61)
            loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, 61), batch[:, 1:].reshape(-1),
                                                     ignore_index=oth.PAD)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0:  # a host sync only every 50 steps
            running.append(float(loss.detach()))
    train_seconds = time.time() - train_started

    (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    state = {k: v.detach().to(torch.float16).cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, out / "model.safetensors")
    (out / "training.json").write_text(json.dumps(curve, indent=1) + "\n")
    training = {"steps": steps_done, "planned_steps": r.steps, "batch_size": r.batch_size, "train_games": r.train_games,
                "seconds": round(train_seconds, 1), "game_generation_seconds": round(gen_seconds, 1), "device": device,
                "gpu": torch.cuda.get_device_name() if device.startswith("cuda") else None, "cpu": platform.processor()
                or platform.machine(), "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
                "recipe": asdict(r)}
    return measure(out, training, fit=True, probe_games=r.probe_games, probe_steps=r.probe_steps, device=device,
                   seed=r.seed)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m app.training othello-gpt", description=__doc__)
    parser.add_argument("name", choices=["othello-gpt"])
    parser.add_argument("--steps", type=int)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--device")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--resume", action="store_true",
                        help="save resumable state every resume_every steps and continue from out/resume/ if present "
                             "(CPU training can span sessions)")
    parser.add_argument("--remeasure", action="store_true", help="re-measure the saved weights and probes; rewrite card")
    args = parser.parse_args(argv)
    try:
        overrides = ({"steps": args.steps} if args.steps else {}) | parse_sets(OthelloRecipe, args.set)
    except ValueError as err:
        parser.error(str(err))
    torch.set_num_threads(args.threads)
    out = args.out or zoo.MODELS_DIR / "othello-gpt"
    if args.remeasure:
        metrics = json.loads((out / "metrics.json").read_text())
        write_card(out, measure(out, metrics["training"], fit=False))
        return
    m = train(OthelloRecipe(**overrides), out, device=args.device, resume=args.resume)
    print(f"wrote {out}: legal top-1 {m['legal_move_top1']:.4f}, mine/theirs probe {max(m['probe_acc_mine_theirs']):.3f}, "
          f"black/white probe {max(m['probe_acc_black_white']):.3f}, edit match {m['intervention_match_rate']:.3f}")
