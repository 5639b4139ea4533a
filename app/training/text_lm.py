"""Recipe runner for the small text models: tokenizer, training loop, save.

Seeded; CPU by default, CUDA when present (same code path). Writes
``config.json``, ``model.safetensors``, ``tokenizer.json``, ``eval_tokens.safetensors``,
``metrics.json`` and ``card.md`` into the output folder.
"""

from __future__ import annotations

import json
import math
import platform
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from tqdm import tqdm

from app import zoo
from app.tasks import code_corpus
from app.training.card import render_card
from app.training.measure import measure
from app.training.recipes import TextLMRecipe
from app.training.recorder import Recorder

N_EVAL_WINDOWS = 32


def _lr_at(step: int, recipe) -> float:
    """Linear warm-up, then cosine decay to 10% of the peak (any recipe with lr, warmup_steps, steps)."""
    if step < recipe.warmup_steps:
        return recipe.lr * (step + 1) / recipe.warmup_steps
    frac = (step - recipe.warmup_steps) / max(1, recipe.steps - recipe.warmup_steps)
    return recipe.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))


def prepare_corpus(recipe, out_dir: Path, n_eval: int, max_chars: int | None = None, corpus_root: Path | None = None):
    """Tokenizer, training token stream and held-out windows for a text recipe; writes tokenizer.json and
    eval_tokens.safetensors. ``recipe`` needs ``d_vocab``, ``n_ctx`` and ``seed``. Returns
    (tokenizer, train_stream, eval_tokens (n_eval, n_ctx))."""
    train_texts = code_corpus.read_texts("train", max_chars=max_chars, root=corpus_root)
    val_texts = code_corpus.read_texts("val", max_chars=max_chars, root=corpus_root)
    tok = code_corpus.train_tokenizer(train_texts, recipe.d_vocab)
    tok.save(str(out_dir / "tokenizer.json"))
    train_stream = code_corpus.encode_stream(tok, train_texts)
    val_stream = code_corpus.encode_stream(tok, val_texts)
    eval_tokens = torch.from_numpy(
        code_corpus.sample_windows(val_stream, n_eval, recipe.n_ctx, np.random.default_rng(recipe.seed + 1))
    )  # (n_eval, n_ctx)
    save_file({"tokens": eval_tokens.to(torch.int32).contiguous()}, out_dir / "eval_tokens.safetensors")
    return tok, train_stream, eval_tokens


def save_model(model, recipe, out_dir: Path):
    """Write ``model.safetensors`` and ``config.json``; returns the model in eval mode on the CPU."""
    model = model.eval().to("cpu")
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, out_dir / "model.safetensors")
    (out_dir / "config.json").write_text(json.dumps(recipe.bridge_config(), indent=2) + "\n")
    return model


def save_word_model(out_dir: Path, cfg: dict, state: dict, tokenizer) -> None:
    """The model folder of a recipe with its own tokenizer: ``config.json``, ``model.safetensors``, ``tokenizer.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_text(json.dumps(cfg, indent=1) + "\n")
    save_file({k: v.contiguous() for k, v in state.items()}, out_dir / "model.safetensors")
    tokenizer.save(str(out_dir / "tokenizer.json"))


def training_record(recipe, device: str, seconds: float, train_stream) -> dict:
    """The ``training`` entry of a text model's metrics.json: time, hardware, data and the recipe."""
    return {
        "seconds": round(seconds, 1),
        "device": device if device == "cpu" else torch.cuda.get_device_name(),
        "cpu": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "steps": recipe.steps,
        "batch_size": recipe.batch_size,
        "tokens_seen": recipe.steps * recipe.batch_size * recipe.n_ctx,
        "train_tokens_in_corpus": int(len(train_stream)),
        "python": platform.python_version(),
        "recipe": asdict(recipe),
    }


def train(recipe: TextLMRecipe, out_dir: Path, device: str | None = None, max_chars: int | None = None,
          corpus_root: Path | None = None) -> dict:
    """Train ``recipe`` and write the model folder; returns the metrics written."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(recipe.seed)
    rng = np.random.default_rng(recipe.seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()

    tok, train_stream, eval_tokens = prepare_corpus(recipe, out_dir, N_EVAL_WINDOWS, max_chars, corpus_root)

    repeat_vocab = code_corpus.frequent_tokens(train_stream, recipe.repeat_vocab_size) if recipe.repeat_fraction else None
    if repeat_vocab is not None:
        (out_dir / "repeat_vocab.json").write_text(json.dumps(repeat_vocab.tolist()) + "\n")

    model = zoo.build(recipe.bridge_config(), zoo.hf_tokenizer(tok), device=device)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay, betas=(0.9, 0.98))
    recorder = Recorder(model, eval_tokens, out_dir, recipe.checkpoint_every, recipe.keep_checkpoints, repeat_vocab)
    bar = tqdm(range(recipe.steps + 1), desc=recipe.name)
    train_loss = None  # mean loss of the updates since the last record
    running: list[float] = []
    for step in bar:  # at the top of each iteration the weights have had `step` updates
        last = step == recipe.steps
        if step % recipe.eval_every == 0 or last:
            train_loss = sum(running) / len(running) if running else None
            point = recorder.record(model, step, train_loss, _lr_at(step, recipe))
            running = []
            bar.set_postfix(val=f"{point['val_loss']:.3f}", icl=f"{point['icl_score']:.2f}")
        recorder.maybe_checkpoint(model, step, last)
        if last:
            break
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, recipe)
        windows = code_corpus.sample_windows(train_stream, recipe.batch_size, recipe.n_ctx, rng,
                                             recipe.repeat_fraction, repeat_vocab)
        batch = torch.from_numpy(windows).to(device)
        loss = model(batch, return_type="loss")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running.append(loss.item())
    seconds = time.time() - started
    kept = recorder.select()

    model = save_model(model, recipe, out_dir)
    metrics = measure(model, eval_tokens, repeat_vocab, recorder.points)
    metrics["training"] = {**training_record(recipe, device, seconds, train_stream),
                           "curve_points": len(recorder.points), "checkpoints": kept}
    (out_dir / "training.json").write_text(json.dumps(recorder.points) + "\n")
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    (out_dir / "card.md").write_text(render_card(recipe.bridge_config(), metrics))
    return metrics


def remeasure(recipe: TextLMRecipe, out_dir: Path) -> dict:
    """Recompute metrics.json and card.md from the saved weights, keeping the training block."""
    from safetensors.torch import load_file
    from tokenizers import Tokenizer

    cfg = json.loads((out_dir / "config.json").read_text())
    model = zoo.build(cfg, zoo.hf_tokenizer(Tokenizer.from_file(str(out_dir / "tokenizer.json"))))
    model.load_state_dict(load_file(out_dir / "model.safetensors"), strict=True)
    model.eval()
    eval_tokens = load_file(out_dir / "eval_tokens.safetensors")["tokens"].long()
    old = json.loads((out_dir / "metrics.json").read_text())
    curve_path = out_dir / "training.json"
    curve = json.loads(curve_path.read_text()) if curve_path.is_file() else None
    metrics = measure(model, eval_tokens, zoo.repeat_vocab_at(out_dir), curve)
    metrics["training"] = old["training"]
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    (out_dir / "card.md").write_text(render_card(cfg, metrics))
    return metrics
