"""Recipe: two small pre-LN transformers that differ only in their optimiser (Adam vs SGD).

``python -m app.training outliers-adam|outliers-sgd [--steps N] [--out DIR] [--device cuda] ...``

The question comes from Elhage, Lasenby & Olah (2023), "Privileged Bases in the Transformer
Residual Stream", https://transformer-circuits.pub/2023/privileged-basis/index.html: outlier
dimensions in the residual stream (Dettmers et al. 2022, https://arxiv.org/abs/2208.07339,
section 4) should not exist if every basis were equivalent, and Adam -- which scales each
parameter coordinate by its own running gradient size -- is the suspected symmetry breaker.
So both models share corpus, tokenizer, architecture, seed, batch order, schedule and step
count; only ``optimizer`` (and its learning rate, each chosen by a short sweep) differs.
The measurement (``app.analysis.basis``) runs on held-out windows and is written to
``metrics.json`` and ``card.md``; ``training.json`` holds its curve over training.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from app import zoo
from app.analysis import basis
from app.analysis.icl import per_position_loss
from app.tasks import code_corpus
from app.training.recipes import parse_sets
from app.training.text_lm import _lr_at, prepare_corpus, save_model, training_record  # same schedule and data as the other text models

N_EVAL_WINDOWS = 64
CURVE_KEYS = ("step", "train_loss", "loss", "max_kurtosis_standard_basis", "max_kurtosis_random_basis",
              "kurtosis_by_point", "max_dim_kurtosis_standard_basis", "max_dim_kurtosis_random_basis", "outlier_dims")


@dataclass(frozen=True)
class OutlierRecipe:
    """A small pre-LN transformer with GELU MLPs on the standard-library corpus."""

    name: str
    optimizer: str  # "adam" or "sgd" (with momentum)
    lr: float
    momentum: float = 0.9  # SGD only
    n_layers: int = 4
    d_model: int = 128
    d_mlp: int = 512
    n_heads: int = 4
    d_head: int = 32
    n_ctx: int = 128
    d_vocab: int = 2048
    batch_size: int = 64
    steps: int = 5000
    warmup_steps: int = 200
    grad_clip: float = 1.0  # global-norm clipping (rotation-invariant) for both
    ln_gain: str = "trained"  # "frozen" keeps every LayerNorm gain at 1 (an ablation: no per-coordinate weights)
    eval_every: int = 250
    seed: int = 0

    def bridge_config(self) -> dict:
        """The ``TransformerBridgeConfig`` fields saved to ``config.json``."""
        return dict(
            model_name=self.name, n_layers=self.n_layers, d_model=self.d_model, d_mlp=self.d_mlp,
            n_heads=self.n_heads, d_head=self.d_head, n_ctx=self.n_ctx, d_vocab=self.d_vocab, attn_only=False,
            normalization_type="LN", positional_embedding_type="standard", act_fn="gelu", seed=self.seed,
        )


RECIPES = {
    "outliers-adam": OutlierRecipe("outliers-adam", "adam", lr=3e-3),
    "outliers-sgd": OutlierRecipe("outliers-sgd", "sgd", lr=1.0),
}


def make_optimizer(recipe: OutlierRecipe, params) -> torch.optim.Optimizer:
    """Adam (per-coordinate step sizes) or SGD with momentum (the same step size for every coordinate)."""
    if recipe.optimizer == "adam":
        return torch.optim.Adam(params, lr=recipe.lr)
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(params, lr=recipe.lr, momentum=recipe.momentum)
    raise ValueError(f"unknown optimizer {recipe.optimizer!r}; valid: adam, sgd")


def _is_ln_gain(param_name: str) -> bool:
    """LayerNorm gains: the only parameters that act on residual coordinates one by one."""
    return param_name.endswith(".weight") and any(part.startswith("ln") for part in param_name.split("."))


def measure(model, eval_tokens: torch.Tensor) -> dict:
    """Held-out loss and the basis statistics of ``app.analysis.basis.summary``."""
    device = next(model.parameters()).device
    tokens = eval_tokens.to(device)
    with torch.no_grad():
        loss = float(per_position_loss(model, tokens).mean())
    return {"loss": round(loss, 4), **basis.summary(basis.residual_stream(model, tokens))}


def train(recipe: OutlierRecipe, out_dir: Path, device: str | None = None, max_chars: int | None = None,
          corpus_root: Path | None = None) -> dict:
    """Train ``recipe`` and write the model folder; returns the metrics written."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(recipe.seed)
    rng = np.random.default_rng(recipe.seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()

    tok, train_stream, eval_tokens = prepare_corpus(recipe, out_dir, N_EVAL_WINDOWS, max_chars, corpus_root)

    model = zoo.build(recipe.bridge_config(), zoo.hf_tokenizer(tok), device=device)
    params = [p for n, p in model.named_parameters() if not (recipe.ln_gain == "frozen" and _is_ln_gain(n))]
    opt = make_optimizer(recipe, params)
    curve: list[dict] = []
    running: list[float] = []
    for step in range(recipe.steps + 1):  # at the top of each iteration the weights have had `step` updates
        last = step == recipe.steps
        if step % recipe.eval_every == 0 or last:
            model.eval()
            point = {"step": step, "train_loss": round(sum(running) / len(running), 4) if running else None,
                     **measure(model, eval_tokens)}
            curve.append({k: point[k] for k in CURVE_KEYS})
            print(f"{recipe.name} step {step}: val {point['loss']:.3f} kurtosis std "
                  f"{point['max_kurtosis_standard_basis']:.1f} rnd {point['max_kurtosis_random_basis']:.1f}", flush=True)
            running = []
            model.train()
            if not np.isfinite(point["loss"]):
                raise FloatingPointError(f"{recipe.name}: loss diverged at step {step} (lr {recipe.lr})")
        if last:
            break
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, recipe)
        batch = torch.from_numpy(code_corpus.sample_windows(train_stream, recipe.batch_size, recipe.n_ctx, rng)).to(device)
        loss = model(batch, return_type="loss")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip)
        opt.step()
        running.append(loss.item())
    seconds = time.time() - started

    model = save_model(model, recipe, out_dir)
    metrics = measure(model, eval_tokens)
    metrics["training"] = training_record(recipe, device, seconds, train_stream)
    (out_dir / "training.json").write_text(json.dumps(curve) + "\n")
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    (out_dir / "card.md").write_text(render_card(recipe.bridge_config(), metrics, read_sweep(out_dir)))
    return metrics


def read_sweep(folder: Path) -> list[dict] | None:
    """The learning-rate sweep record (``lr_sweep.json``) beside a model, if any."""
    path = folder / "lr_sweep.json"
    return json.loads(path.read_text()) if path.is_file() else None


def sweep_entry(run_folder: Path) -> dict:
    """One sweep row from a finished run's folder: its recipe changes and final measurements."""
    m = json.loads((run_folder / "metrics.json").read_text())
    r = m["training"]["recipe"]
    keep = ("loss", "max_kurtosis_standard_basis", "max_kurtosis_random_basis", "outlier_dims")
    return {"optimizer": r["optimizer"], "lr": r["lr"], "ln_gain": r.get("ln_gain", "trained"), "seed": r["seed"],
            "steps": r["steps"], "batch_size": r["batch_size"], "device": m["training"]["device"],
            **{k: m[k] for k in keep}}


def load_folder(folder: Path):
    """An eval-mode bridge from a model folder (any path, not only the registered zoo)."""
    from tokenizers import Tokenizer

    cfg = json.loads((folder / "config.json").read_text())
    model = zoo.build(cfg, zoo.hf_tokenizer(Tokenizer.from_file(str(folder / "tokenizer.json"))))
    model.load_state_dict({k: v.float() for k, v in load_file(folder / "model.safetensors").items()}, strict=True)
    return model.eval()


def remeasure(folder: Path) -> dict:
    """Recompute metrics.json and card.md from the saved weights, keeping the training block."""
    model = load_folder(folder)
    old = json.loads((folder / "metrics.json").read_text())
    metrics = measure(model, load_file(folder / "eval_tokens.safetensors")["tokens"].long())
    metrics["training"] = old["training"]
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    (folder / "card.md").write_text(render_card(json.loads((folder / "config.json").read_text()), metrics, read_sweep(folder)))
    return metrics


def _sweep_rows(sweep: list[dict]) -> list[str]:
    rows = ["| optimiser | peak lr | LayerNorm gains | seed | steps x batch | on | held-out loss "
            "| activation kurtosis, standard / random | outlier dims |", "|---|---|---|---|---|---|---|---|---|"]
    for r in sweep:
        rows.append(f"| {r['optimizer']} | {r['lr']:g} | {r['ln_gain']} | {r['seed']} | {r['steps']} x "
                    f"{r['batch_size']} | {'CPU' if r['device'] == 'cpu' else 'GPU'} | {r['loss']:.3f} | "
                    f"{r['max_kurtosis_standard_basis']:.1f} / {r['max_kurtosis_random_basis']:.1f} | "
                    f"{', '.join(map(str, r['outlier_dims'])) or 'none'} |")
    return rows


def render_card(cfg: dict, m: dict, sweep: list[dict] | None = None) -> str:
    """The Markdown card. Every number comes from ``metrics.json`` (re-measured by tests) or ``lr_sweep.json``."""
    t, r = m["training"], m["training"]["recipe"]
    opt = ("Adam (torch defaults: betas 0.9/0.999, eps 1e-8)" if r["optimizer"] == "adam"
           else f"SGD with momentum {r['momentum']}")
    labels = basis.point_labels(cfg["n_layers"])
    table = [f"| {p} | {a:.1f} | {b:.1f} | {d} | {c:.1f} | {e:.1f} |" for p, a, b, d, c, e in zip(
        labels, m["kurtosis_by_point"]["standard"], m["kurtosis_by_point"]["random"], m["top_dim_by_point"],
        m["top_mean_abs_ratio_by_point"]["standard"], m["top_mean_abs_ratio_by_point"]["random"])]
    lines = [
        f"# {cfg['model_name']}",
        "",
        f"A pre-LayerNorm transformer with {cfg['n_layers']} layers, {cfg['n_heads']} heads of d_head {cfg['d_head']}, "
        f"d_model {cfg['d_model']}, GELU MLPs of width {cfg['d_mlp']}, context {cfg['n_ctx']}, vocabulary "
        f"{cfg['d_vocab']} (byte-level BPE) and learned positional embeddings. It is one of a pair (`outliers-adam`, "
        "`outliers-sgd`) that differ only in the optimiser and its learning rate: same corpus, tokenizer, seed, "
        "batches, schedule and step count.",
        "",
        "## Data",
        "The Python standard library's own source files (test suites excluded); about 5% of files, chosen by a hash "
        f"of their path, are held out. {t['train_tokens_in_corpus']:,} training tokens.",
        "",
        "## Training",
        f"`python -m app.training {cfg['model_name']}`: {t['steps']} steps of {opt}, batches of {t['batch_size']} "
        f"windows ({t['tokens_seen']:,} tokens), peak learning rate {r['lr']:g} (warm-up {r['warmup_steps']} steps, "
        f"cosine decay to 10%), gradient norm clipped at {r['grad_clip']:g}, no weight decay, LayerNorm gains "
        f"{r.get('ln_gain', 'trained')}, seed {cfg['seed']}, in {t['seconds']:.0f} s on {t['device']} ({t['cpu']}, "
        f"{t['torch_threads']} torch threads, Python {t['python']}).",
        "",
        "## Measured properties (asserted by tests/test_basis_models.py)",
        f"On the {m['n_tokens']:,} held-out tokens of `eval_tokens.safetensors` (the BOS position left out), at "
        "every residual-stream point. *Activation kurtosis*: for each token, the kurtosis of its residual vector "
        "across the d_model coordinates (Pearson's; about 3 when no coordinate stands out), averaged over tokens. "
        f"The random basis is a seeded random rotation (seed {m['rotation_seed']}).",
        "",
        f"- Held-out loss: {m['loss']:.3f} nats/token.",
        f"- Activation kurtosis, largest over the points: standard basis {m['max_kurtosis_standard_basis']:.1f}, "
        f"random basis {m['max_kurtosis_random_basis']:.1f}.",
        f"- Outlier dimensions (|x_d| at least {basis.OUTLIER_SCALE:g} times the token's RMS on at least "
        f"{basis.OUTLIER_TOKEN_SHARE:.0%} of tokens, at some point): "
        f"{', '.join(map(str, m['outlier_dims'])) or 'none'}; in the random basis: "
        f"{', '.join(map(str, m['outlier_dims_random_basis'])) or 'none'}.",
        f"- Per-dimension kurtosis over tokens, largest: standard {m['max_dim_kurtosis_standard_basis']:.1f}, random "
        f"{m['max_dim_kurtosis_random_basis']:.1f} (an outlier dimension that is large on most tokens is an offset, "
        "not a heavy tail, so this number barely moves).",
        "",
        "| point | activation kurtosis (standard) | (random) | largest dim | its mean abs / median dim's | "
        "same ratio, random basis |",
        "|---|---|---|---|---|---|",
        *table,
        "",
        f"`training.json` holds the held-out loss and kurtosis numbers every {r['eval_every']} steps.",
    ]
    if sweep:
        lines += ["", "## Learning-rate sweep and ablations (record; these runs' weights are not shipped)",
                  "Each run is this recipe with the changes shown, measured the same way at its last step "
                  "(`lr_sweep.json`). Each optimiser's shipped learning rate is its lowest-loss full-size GPU run; "
                  "CPU rows are smaller runs, comparable only with each other.", "",
                  *_sweep_rows(sweep)]
    return "\n".join(lines + [""])


def main(argv: list[str]) -> None:
    """``argv[0]`` is the model name (``outliers-adam`` or ``outliers-sgd``), then options."""
    parser = argparse.ArgumentParser(prog="python -m app.training outliers-adam|outliers-sgd")
    parser.add_argument("name", choices=sorted(RECIPES))
    parser.add_argument("--steps", type=int, help="override the step count (smoke tests)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe field, e.g. --set lr=0.1 (repeatable)")
    parser.add_argument("--out", type=Path, help="output folder (default models/NAME)")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when present)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--max-chars", type=int, help="cap the corpus size (smoke tests)")
    parser.add_argument("--corpus-root", type=Path, help="read the corpus from this copy of a standard library")
    parser.add_argument("--remeasure", action="store_true", help="no training: re-measure the saved weights")
    args = parser.parse_args(argv)
    try:
        overrides = ({"steps": args.steps} if args.steps else {}) | parse_sets(OutlierRecipe, args.set)
    except ValueError as err:
        parser.error(str(err))
    recipe = replace(RECIPES[args.name], **overrides)
    torch.set_num_threads(args.threads)
    out = args.out or zoo.MODELS_DIR / args.name
    if args.remeasure:
        metrics = remeasure(out)
        print(f"re-measured {out}: val loss {metrics['loss']:.3f}")
        return
    metrics = train(recipe, out, device=args.device, max_chars=args.max_chars, corpus_root=args.corpus_root)
    print(f"wrote {out}: val loss {metrics['loss']:.3f}, max kurtosis standard {metrics['max_kurtosis_standard_basis']}"
          f" / random {metrics['max_kurtosis_random_basis']} in {metrics['training']['seconds']:.0f}s")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
