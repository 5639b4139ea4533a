"""Recipe: grok modular addition mod 113 (``python -m app.training modadd-113``).

Reproduces the setup of Nanda, Chan, Lieberum, Smith & Steinhardt (2023), "Progress measures
for grokking via mechanistic interpretability", https://arxiv.org/abs/2301.05217, section 3 and
appendix: a one-layer ReLU transformer without LayerNorm trained full batch on 30% of all
``a b =`` pairs with AdamW (lr 1e-3, weight decay 1, betas (0.9, 0.98)).

The model is the bridge-layout state dict trained through ``app.analysis.fourier.forward``, which
computes only the ``=`` position's query, MLP and unembedding (the loss is read there only).
Seeded; CUDA when present, else CPU, same code path. Every ``snapshot_every`` steps the weights
are copied (on the device, no sync); after training, every snapshot is measured against the
final model's key frequencies (``training.json``), a few become fp16 checkpoints, and
``metrics.json`` + ``card.md`` are written from the measured numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from app.analysis import fourier
from app.tasks import modadd

NAME = "modadd-113"


@dataclass(frozen=True)
class GrokRecipe:
    name: str = NAME
    p: int = modadd.P
    d_model: int = 128
    n_heads: int = 4
    d_mlp: int = 512
    frac_train: float = 0.3
    steps: int = 20_000  # cleanup ends by ~12.5k; 20k steps fit 2 CPU cores in ~31 min (bench/grokking_recipe.py)
    lr: float = 1e-3
    weight_decay: float = 1.0
    warmup_steps: int = 10
    snapshot_every: int = 100  # curve points: steps / snapshot_every + 1
    keep_checkpoints: int = 40  # fp16, ~0.45 MB each
    seed: int = 0

    def bridge_config(self) -> dict:
        """``TransformerBridgeConfig`` fields, saved as ``config.json``."""
        return dict(model_name=self.name, n_layers=1, d_model=self.d_model, n_heads=self.n_heads,
                    d_head=self.d_model // self.n_heads, d_mlp=self.d_mlp, act_fn="relu", normalization_type=None,
                    n_ctx=3, d_vocab=self.p + 1, attn_only=False, positional_embedding_type="standard",
                    initializer_range=-1.0, seed=self.seed)


def init_params(cfg: dict, device) -> dict[str, torch.Tensor]:
    """Bridge-layout weights, normal(0, 0.8 / sqrt(d_model)) like TransformerLens' default; zero biases."""
    d, V, m, std = cfg["d_model"], cfg["d_vocab"], cfg["d_mlp"], 0.8 / math.sqrt(cfg["d_model"])
    shapes = {"embed.weight": (V, d), "pos_embed.weight": (cfg["n_ctx"], d)}
    for n in "qkvo":
        shapes[f"blocks.0.attn.{n}.weight"] = (d, d)
        shapes[f"blocks.0.attn.{n}.bias"] = (d,)
    shapes |= {"blocks.0.mlp.in.weight": (m, d), "blocks.0.mlp.in.bias": (m,), "blocks.0.mlp.out.weight": (d, m),
               "blocks.0.mlp.out.bias": (d,), "unembed.weight": (V, d), "unembed.bias": (V,)}
    return {k: (torch.zeros(s) if k.endswith("bias") else torch.randn(s) * std).to(device).requires_grad_()
            for k, s in shapes.items()}


def train_loop(recipe: GrokRecipe, device: str, on_snapshot=None) -> tuple[dict, list[int], list[dict]]:
    """Train; return final weights (cpu), snapshot steps and snapshots (on ``device``).

    ``on_snapshot(step)``, if given, is called at each snapshot (the recipe bench times steps with it)."""
    torch.manual_seed(recipe.seed)
    cfg = recipe.bridge_config()
    params = init_params(cfg, device)
    train_idx, _ = modadd.split(recipe.p, recipe.frac_train, recipe.seed)
    tokens = modadd.all_pairs(recipe.p)[train_idx].to(device)  # (N, 3)
    labels = modadd.labels(tokens, recipe.p)  # (N,)
    adamw = dict(lr=recipe.lr, weight_decay=recipe.weight_decay, betas=(0.9, 0.98))
    try:  # one fused kernel per step on CUDA (the step is launch-bound)
        opt = torch.optim.AdamW(params.values(), **adamw, **({"fused": True} if device.startswith("cuda") else {"foreach": True}))
    except (RuntimeError, ValueError):
        opt = torch.optim.AdamW(params.values(), **adamw)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / recipe.warmup_steps))
    steps, snaps = [], []
    for step in range(recipe.steps + 1):
        if step % recipe.snapshot_every == 0 or step == recipe.steps:
            steps.append(step)
            snaps.append({k: v.detach().clone() for k, v in params.items()})
            if on_snapshot is not None:
                on_snapshot(step)
        if step == recipe.steps:
            break
        logits = fourier.forward(params, tokens, recipe.n_heads)["logits"][:, : recipe.p]  # (N, p)
        loss = F.cross_entropy(logits, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % max(1, recipe.steps // 10) == 0:
            print(f"step {step}: train loss {loss.item():.4g}", flush=True)
    final = {k: v.detach().cpu().contiguous() for k, v in params.items()}
    return final, steps, snaps


def _first(points: list[dict], cond) -> int | None:
    return next((pt["step"] for pt in points if cond(pt)), None)


def phases(points: list[dict]) -> dict:
    """Phase boundaries read off the curve (log test loss), or None where a phase never ended.

    memorisation ends when train accuracy first reaches 99%; cleanup starts when the test loss
    has fallen 10% of the way (in log) from its peak to its final value, and ends when it is
    within 10% of its final value.
    """
    mem_end = _first(points, lambda pt: pt["train_accuracy"] >= 0.99)
    if mem_end is None:
        return {"memorisation_end": None, "cleanup_start": None, "cleanup_end": None}
    after = [pt for pt in points if pt["step"] >= mem_end]
    peak = max(after, key=lambda pt: pt["test_loss"])
    hi, lo = math.log(peak["test_loss"]), math.log(max(after[-1]["test_loss"], 1e-9))
    later = [pt for pt in after if pt["step"] >= peak["step"]]
    if hi - lo < math.log(10):  # test loss never fell tenfold: no grokking to mark
        return {"memorisation_end": mem_end, "cleanup_start": None, "cleanup_end": None}
    start = _first(later, lambda pt: math.log(pt["test_loss"]) <= hi - 0.1 * (hi - lo))
    end = _first(later, lambda pt: math.log(pt["test_loss"]) <= lo + 0.1 * (hi - lo))
    return {"memorisation_end": mem_end, "cleanup_start": start, "cleanup_end": end}


def choose_checkpoints(steps: list[int], ph: dict, keep: int) -> list[int]:
    """``keep`` snapshot steps: half evenly over the run, half over memorisation end .. cleanup end."""
    if keep >= len(steps):
        return list(steps)
    lo = ph["memorisation_end"] or 0
    hi = ph["cleanup_end"] or steps[-1]
    targets = [steps[-1] * i / (keep // 2 - 1) for i in range(keep // 2)]
    targets += [lo + (hi - lo) * i / (keep - keep // 2 - 1) for i in range(keep - keep // 2)]
    chosen = {min(steps, key=lambda s: abs(s - t)) for t in targets}
    spare = [s for s in steps if s not in chosen]
    while len(chosen) < keep and spare:  # fill collisions with the snapshots farthest from any chosen one
        best = max(spare, key=lambda s: min(abs(s - c) for c in chosen))
        chosen.add(best)
        spare.remove(best)
    return sorted(chosen)


def measure(params: dict, recipe: GrokRecipe, points: list[dict]) -> dict:
    """Card numbers of the final weights (+ the grokking step and phases from the curve)."""
    params = {k: v.float() for k, v in params.items()}
    train_idx, _ = modadd.split(recipe.p, recipe.frac_train, recipe.seed)
    logits, grid = fourier.all_logits(params, recipe.n_heads, recipe.p)
    freqs = fourier.key_frequencies(grid, recipe.p)
    clusters, _ = fourier.neuron_clusters(grid, recipe.p)
    final = fourier.progress(params, recipe.n_heads, freqs, train_idx, recipe.p)
    embed = fourier.embed_freq_norms(params, recipe.p)
    r4 = lambda x: round(float(x), 4)  # noqa: E731
    return {
        "test_accuracy": r4(final["test_accuracy"]), "train_accuracy": r4(final["train_accuracy"]),
        "test_loss": float(f"{final['test_loss']:.4g}"), "train_loss": float(f"{final['train_loss']:.4g}"),
        "key_frequencies": freqs,
        "neurons_per_key_freq": {str(k): int((clusters == k).sum()) for k in freqs},
        "neurons_clustered": r4((clusters > 0).float().mean()),
        "embed_top_freqs": [int(k) + 1 for k in embed.argsort(descending=True)[:8]],
        "embed_norm_in_key_freqs": r4(final["embed_norm_in_key_freqs"]),
        "logit_var_explained": r4(fourier.logit_var_explained(logits, freqs, recipe.p)),
        "logit_var_c_only": r4(fourier.logit_c_only_share(logits)),
        "restricted_loss": float(f"{final['restricted_loss']:.4g}"),
        "excluded_loss": float(f"{final['excluded_loss']:.4g}"),
        "grok_step": _first(points, lambda pt: pt["test_accuracy"] >= 0.5),
        "test_99_step": _first(points, lambda pt: pt["test_accuracy"] >= 0.99),
        "phases": phases(points),
    }


def _round(pt: dict) -> dict:
    return {k: (float(f"{v:.5g}") if isinstance(v, float) else v) for k, v in pt.items()}


def train(recipe: GrokRecipe, out: Path, device: str | None = None) -> dict:
    """Train, record, save the model folder; returns metrics."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    started = time.time()
    final, steps, snaps = train_loop(recipe, device)
    train_seconds = time.time() - started
    cfg = recipe.bridge_config()
    train_idx, _ = modadd.split(recipe.p, recipe.frac_train, recipe.seed)
    _, grid = fourier.all_logits({k: v.to(device) for k, v in final.items()}, recipe.n_heads, recipe.p)
    freqs = fourier.key_frequencies(grid, recipe.p)
    with torch.no_grad():
        points = [_round({"step": s, "lr": recipe.lr * min(1.0, s / recipe.warmup_steps),
                          **fourier.progress(snap, recipe.n_heads, freqs, train_idx, recipe.p)})
                  for s, snap in zip(steps, snaps)]
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(cfg, indent=1) + "\n")
    save_file(final, out / "model.safetensors")
    (out / "training.json").write_text(json.dumps(points) + "\n")
    kept = choose_checkpoints(steps, phases(points), recipe.keep_checkpoints)
    shutil.rmtree(out / "checkpoints", ignore_errors=True)
    (out / "checkpoints").mkdir()
    for s in kept:
        snap = snaps[steps.index(s)]
        save_file({k: v.detach().to("cpu", torch.float16).contiguous() for k, v in snap.items()},
                  out / "checkpoints" / f"step_{s:05d}.safetensors")
    info = {"seconds": round(time.time() - started, 1), "train_seconds": round(train_seconds, 1),
            "device": torch.cuda.get_device_name() if device.startswith("cuda") else "cpu",
            "cpu": platform.machine(), "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
            "torch": torch.__version__, "steps": recipe.steps, "recipe": asdict(recipe), "curve_points": len(points),
            "checkpoints": kept}
    return write_metrics(out, recipe, final, points, info)


def write_metrics(out: Path, recipe: GrokRecipe, params: dict, points: list[dict], info: dict) -> dict:
    with torch.no_grad():
        metrics = measure(params, recipe, points) | {"training": info}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    (out / "card.md").write_text(render_card(recipe.bridge_config(), metrics))
    return metrics


def remeasure(out: Path) -> dict:
    """Re-measure saved weights; rewrite metrics.json and card.md (training info kept)."""
    old = json.loads((out / "metrics.json").read_text())
    recipe = GrokRecipe(**old["training"]["recipe"])
    params = load_file(out / "model.safetensors")
    points = json.loads((out / "training.json").read_text())
    return write_metrics(out, recipe, params, points, old["training"])


def _step(s) -> str:
    return "never (within the run)" if s is None else f"step {s:,}"


def render_card(cfg: dict, m: dict) -> str:
    """The Markdown card, every number from ``metrics.json``. Tests regenerate it and compare."""
    t, r, ph = m["training"], m["training"]["recipe"], m["phases"]
    p = cfg["d_vocab"] - 1
    neurons = ", ".join(f"{k}: {n}" for k, n in m["neurons_per_key_freq"].items()) or "none"
    lines = [
        f"# {cfg['model_name']}",
        "",
        f"A one-layer transformer ({cfg['n_heads']} attention heads of d_head {cfg['d_head']}, d_model "
        f"{cfg['d_model']}, {cfg['d_mlp']} ReLU neurons, no LayerNorm) trained on addition modulo {p}, the setup of "
        "Nanda et al. (2023), [Progress measures for grokking via mechanistic interpretability]"
        "(https://arxiv.org/abs/2301.05217).",
        "",
        "## Input format",
        f"Three tokens: `a`, `b` (token ids 0 to {p - 1} are the numbers) and `=` (token id {p}). The answer "
        f"(a + b) mod {p} is read at the `=` position from the first {p} logits; the loss is taken there only.",
        "",
        "## Training",
        f"`python -m app.training {cfg['model_name']}`: {r['frac_train']:.0%} of all {p * p:,} pairs (seeded split, "
        f"seed {r['seed']}) as one full batch, {r['steps']:,} AdamW steps (lr {r['lr']}, weight decay "
        f"{r['weight_decay']}, betas (0.9, 0.98), {r['warmup_steps']} warm-up steps), in {t['train_seconds']:.0f} s "
        f"of training on {t['device']} ({t['seconds']:.0f} s with the measurements; {t['torch_threads']} torch "
        "thread(s)). `python -m bench.grokking_recipe` times the step at 1 and 2 threads on the machine at hand and "
        "extrapolates the whole run (`bench/results/grokking_recipe.json`).",
        "",
        "## Measured properties (asserted by tests/test_grokking_model.py)",
        f"- Accuracy: train {m['train_accuracy']:.2%}, test (the other {1 - r['frac_train']:.0%} of pairs) "
        f"{m['test_accuracy']:.2%}; loss train {m['train_loss']:.3g}, test {m['test_loss']:.3g}.",
        f"- Key frequencies (at least {fourier.MIN_CLUSTER} neurons with >= {fourier.NEURON_FREQ_THRESHOLD:.0%} of "
        f"their variance on one frequency): {', '.join(map(str, m['key_frequencies'])) or 'none'} "
        f"(neurons per frequency: {neurons}; {m['neurons_clustered']:.0%} of neurons clustered).",
        f"- Share of the number embeddings' squared norm in the key frequencies: {m['embed_norm_in_key_freqs']:.1%}; "
        f"largest embedding frequencies: {', '.join(map(str, m['embed_top_freqs'][:6]))}.",
        f"- Share of the logits' variance explained by the cos(w(a+b-c)) terms of the key frequencies: "
        f"{m['logit_var_explained']:.1%}. A further {m['logit_var_c_only']:.1%} is a term in c alone, the same for "
        "every input (a fixed preference among answers that no input changes); of the variance that does depend on "
        f"the input, the key cosines explain {m['logit_var_explained'] / (1 - m['logit_var_c_only']):.1%}.",
        f"- Restricted loss (neurons keep only key-frequency terms): {m['restricted_loss']:.3g}; excluded loss "
        f"(key-frequency logit directions removed, training pairs): {m['excluded_loss']:.3g}.",
        f"- Test accuracy first >= 50% (grokking step): {_step(m['grok_step'])}; first >= 99%: "
        f"{_step(m['test_99_step'])}.",
        f"- Phases read off the curves: memorisation until {_step(ph['memorisation_end'])}, circuit formation until "
        f"{_step(ph['cleanup_start'])}, cleanup until {_step(ph['cleanup_end'])}.",
        "",
        "## Training record",
        f"`training.json`: {t['curve_points']} points, each with train/test loss and accuracy, restricted and "
        "excluded loss, the key-frequency share of the embedding norm and the total weight norm (measured against "
        "the final model's key frequencies). "
        f"{len(t['checkpoints'])} fp16 checkpoints in `checkpoints/` (steps "
        f"{', '.join(map(str, t['checkpoints']))}).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m app.training {NAME}", description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, help="override the step count (smoke tests)")
    parser.add_argument("--out", type=Path, help="output folder (default models/modadd-113)")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when present)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--frac", type=float, help="training share of all pairs (default 0.3, the paper's)")
    parser.add_argument("--snapshot-every", type=int, help="steps between curve points")
    parser.add_argument("--remeasure", action="store_true", help="no training: re-measure the saved weights")
    argv = list(argv) if argv is not None else None
    if argv and argv[0] == NAME:
        argv = argv[1:]
    args = parser.parse_args(argv)
    from app import zoo  # noqa: F401  (sets the app's thread default; ours below wins)

    torch.set_num_threads(args.threads)
    out = args.out or Path(__file__).resolve().parents[2] / "models" / NAME
    if args.remeasure:
        m = remeasure(out)
        print(f"re-measured {out}: test accuracy {m['test_accuracy']:.4f}, key frequencies {m['key_frequencies']}")
        return
    recipe = GrokRecipe(seed=args.seed, **({"frac_train": args.frac} if args.frac else {}))
    if args.steps:
        recipe = replace(recipe, steps=args.steps, snapshot_every=max(1, min(recipe.snapshot_every, args.steps // 50)))
    if args.snapshot_every:
        recipe = replace(recipe, snapshot_every=args.snapshot_every)
    m = train(recipe, out, args.device)
    print(f"wrote {out}: train acc {m['train_accuracy']:.4f}, test acc {m['test_accuracy']:.4f}, "
          f"grok step {m['grok_step']}, key freqs {m['key_frequencies']}, {m['training']['seconds']:.0f}s "
          f"({m['training']['train_seconds']:.0f}s training) on {m['training']['device']}")


if __name__ == "__main__":
    main()
