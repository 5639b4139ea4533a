"""Recipe: the reversal curse at toy scale (``python -m app.training reversal-small``).

Berglund, Tong, Kaufmann, Balesni, Cooper Stickland, Korbak & Evans (2023), "The Reversal
Curse", https://arxiv.org/abs/2309.12288, section 2.1: facts stated in one direction only are
recalled in that direction and not in the other. We train a small transformer from scratch on
the world of ``app.tasks.reversal`` (set A stated person-first only, control set B both ways)
with an ordinary next-token loss on every sentence, then score forward and backward queries
(``app.analysis.reversal``).

The run repeats for several seeds (model init and batch order; the world itself is fixed by
``world_seed`` so one tokenizer serves all), ships seed 0's weights and reports each measure as
mean +- 95% t-interval over seeds in ``metrics.json`` and ``card.md``. Trains
``app.training.plain_gpt.PlainGPT`` (no hooks, fast) whose state dict loads strictly into the
app's TransformerBridge. CPU by default with one thread; CUDA when present; same code.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from app.analysis import reversal as rv
from app.tasks import reversal as task
from app.training.plain_gpt import PlainGPT
from app.training.text_lm import save_word_model

NAME = "reversal-small"


@dataclass(frozen=True)
class ReversalRecipe:
    name: str = NAME
    n_per_group: int = 150
    world_seed: int = 0
    n_layers: int = 2
    d_model: int = 128
    n_heads: int = 4
    d_mlp: int = 512
    n_ctx: int = 12
    steps: int = 500
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    eval_every: int = 100
    seeds: tuple[int, ...] = (0, 1, 2)

    def bridge_config(self, d_vocab: int, seed: int) -> dict:
        """``TransformerBridgeConfig`` fields, saved as ``config.json``."""
        return dict(model_name=self.name, n_layers=self.n_layers, d_model=self.d_model, n_heads=self.n_heads,
                    d_head=self.d_model // self.n_heads, d_mlp=self.d_mlp, act_fn="gelu", normalization_type="LN",
                    n_ctx=self.n_ctx, d_vocab=d_vocab, attn_only=False, positional_embedding_type="standard",
                    initializer_range=-1.0, seed=seed)


def training_tensor(world: task.World, tok, n_ctx: int) -> torch.Tensor:
    """Every training sentence as BOS + ids, right-padded with PAD: (N, n_ctx) int64."""
    rows, _ = task.encode_batch(tok, task.sentences(world), n_ctx)
    return torch.tensor([r + [task.PAD_ID] * (n_ctx - len(r)) for r in rows], dtype=torch.long)


def summary(scores: dict[str, rv.GroupScore]) -> dict[str, float]:
    """Flat measures of one model (the metrics.json key names)."""
    return {"forward_accuracy": scores["A/forward"].accuracy, "backward_accuracy": scores["A/backward"].accuracy,
            "control_forward_accuracy": scores["B/forward"].accuracy,
            "control_backward_accuracy": scores["B/backward"].accuracy,
            "forward_gap": scores["A/forward"].gap, "backward_gap": scores["A/backward"].gap,
            "control_forward_gap": scores["B/forward"].gap, "control_backward_gap": scores["B/backward"].gap}


def train_one(recipe: ReversalRecipe, seed: int, world, tok, device: str, log=print) -> tuple[PlainGPT, list[dict], float]:
    """Train one seed; returns the model (cpu, eval), its curve and the training seconds."""
    data = training_tensor(world, tok, recipe.n_ctx).to(device)  # (N, n_ctx)
    cfg = recipe.bridge_config(tok.get_vocab_size(), seed)
    model = PlainGPT(cfg).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / recipe.warmup_steps) * 0.5 * (
        1 + math.cos(math.pi * min(s, recipe.steps) / recipe.steps)))
    gen = torch.Generator().manual_seed(seed)
    order, pos = torch.randperm(len(data), generator=gen), 0
    curve: list[dict] = []
    t0 = time.time()
    for step in range(1, recipe.steps + 1):
        if pos + recipe.batch_size > len(order):
            order, pos = torch.randperm(len(data), generator=gen), 0
        batch = data[order[pos:pos + recipe.batch_size].to(device)]  # (B, n_ctx)
        pos += recipe.batch_size
        logits = model(batch[:, :-1])  # (B, n_ctx-1, V)
        target = batch[:, 1:].clone()
        target[target == task.PAD_ID] = -100  # no loss on padding
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % recipe.eval_every == 0 or step == recipe.steps:
            model.eval()
            point = {"step": step, "loss": round(loss.item(), 5),
                     **{k: round(v, 5) for k, v in summary(rv.measure(model, tok, world)).items()}}
            model.train()
            curve.append(point)
            log(f"seed {seed} step {step}: loss {point['loss']:.3f} fwd {point['forward_accuracy']:.3f} "
                f"bwd {point['backward_accuracy']:.3f} ctrl bwd {point['control_backward_accuracy']:.3f} "
                f"({time.time() - t0:.0f}s)")
    return model.cpu().eval(), curve, time.time() - t0


def over_seeds(per_seed: dict[str, dict]) -> dict[str, dict]:
    """Each measure's mean and 95% CI half-width over seeds."""
    keys = next(iter(per_seed.values())).keys()
    out = {}
    for k in keys:
        mean, half = rv.mean_ci([m[k] for m in per_seed.values()])
        out[k] = {"mean": round(mean, 5), "ci95": round(half, 5)}
    return out


def train(recipe: ReversalRecipe, out: Path, device: str | None = None, log=print) -> dict:
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    world = task.make_world(recipe.n_per_group, seed=recipe.world_seed)
    tok = task.build_tokenizer(world)
    out.mkdir(parents=True, exist_ok=True)
    per_seed, curves, seconds, shipped = {}, {}, {}, None
    for seed in recipe.seeds:
        model, curve, secs = train_one(recipe, seed, world, tok, device, log)
        per_seed[str(seed)] = {k: round(v, 5) for k, v in summary(rv.measure(model, tok, world)).items()}
        curves[str(seed)], seconds[str(seed)] = curve, round(secs, 1)
        if shipped is None:
            shipped = model
    cfg = recipe.bridge_config(tok.get_vocab_size(), recipe.seeds[0])
    save_word_model(out, cfg, shipped.state_dict(), tok)
    (out / "world.json").write_text(json.dumps({"n_per_group": recipe.n_per_group, "seed": recipe.world_seed}) + "\n")
    (out / "training.json").write_text(json.dumps(curves) + "\n")
    shipped_scores = rv.measure(shipped, tok, world)
    metrics = {
        **per_seed[str(recipe.seeds[0])],
        "n_per_group": recipe.n_per_group, "chance": round(1 / recipe.n_per_group, 5),
        "backward_correct": shipped_scores["A/backward"].correct,
        "backward_gap_sd": round(shipped_scores["A/backward"].gap_sd, 5),
        "seeds": per_seed, "over_seeds": over_seeds(per_seed),
        "training": {"recipe": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(recipe).items()},
                     "device": torch.cuda.get_device_name() if device == "cuda" else platform.processor() or "cpu",
                     "threads": torch.get_num_threads(), "seconds_per_seed": seconds,
                     "sentences": len(task.sentences(world))},
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    (out / "card.md").write_text(render_card(cfg, metrics))
    return metrics


def _pm(m: dict, key: str, pct: bool = True) -> str:
    o = m["over_seeds"][key]
    return f"{o['mean']:.1%} ± {o['ci95']:.1%}" if pct else f"{o['mean']:.2f} ± {o['ci95']:.2f}"


def render_card(cfg: dict, m: dict) -> str:
    """card.md from config + metrics (every number measured); tests regenerate it and compare."""
    t, r = m["training"], m["training"]["recipe"]
    seeds = ", ".join(m["seeds"])
    n = m["n_per_group"]
    lines = [
        f"# {cfg['model_name']}",
        "",
        f"A {cfg['n_layers']}-layer transformer (d_model {cfg['d_model']}, {cfg['n_heads']} heads of d_head "
        f"{cfg['d_head']}, {cfg['d_mlp']} GELU neurons per MLP, LayerNorm, context {cfg['n_ctx']}, word-level "
        f"vocabulary of {cfg['d_vocab']}) trained from scratch on invented facts about people and their pets, to show "
        "the reversal curse of Berglund et al. (2023), [The Reversal Curse: LLMs trained on \"A is B\" fail to "
        "learn \"B is A\"](https://arxiv.org/abs/2309.12288), section 2.1.",
        "",
        "## Data",
        f"`app.tasks.reversal` (world seed {r['world_seed']}): {2 * n} made-up people (first + last name), each "
        f"owning one made-up pet. Set A ({n} people): the fact is stated only person-first, in "
        f"{len(task.FORWARD_TEMPLATES)} paraphrases (`Voran Zotijer owns Nipel .`). Control set B ({n} people): "
        f"stated person-first and pet-first ({len(task.BACKWARD_TEMPLATES)} paraphrases each, "
        "`Duju is owned by Jita Navijek .`). Every pet also has a species sentence (`Nipel is a tortoise .`), so "
        f"every pet name is read as an input during training. {t['sentences']} sentences in all.",
        "",
        "## Training",
        f"`python -m app.training {cfg['model_name']}`: next-token loss on every token of every sentence, "
        f"{r['steps']} AdamW steps of {r['batch_size']} sentences (lr {r['lr']}, cosine decay, weight decay "
        f"{r['weight_decay']}), seeds {seeds} (model init and batch order; the world is the same). The weights "
        f"shipped are seed {cfg['seed']}'s. Seconds per seed on {t['device']} ({t['threads']} thread(s)): "
        + ", ".join(f"seed {s}: {v:.0f} s" for s, v in t["seconds_per_seed"].items()) + ".",
        "",
        "## Measured (asserted by tests/test_reversal_model.py)",
        f"Each query is scored against every candidate answer of its set ({n} candidates, chance "
        f"{m['chance']:.2%}): accuracy = the true answer scores highest; likelihood gap = log p(true answer) "
        "minus the mean log p of the other candidates, in nats. Mean ± 95% t-interval over "
        f"{len(m['seeds'])} seeds:",
        "",
        "| measure | set A (one-way) | set B (control, both ways) |",
        "|---|---|---|",
        f"| forward accuracy (`<person> owns` -> pet) | {_pm(m, 'forward_accuracy')} | "
        f"{_pm(m, 'control_forward_accuracy')} |",
        f"| backward accuracy (`<pet> is owned by` -> person) | {_pm(m, 'backward_accuracy')} | "
        f"{_pm(m, 'control_backward_accuracy')} |",
        f"| forward likelihood gap (nats) | {_pm(m, 'forward_gap', False)} | {_pm(m, 'control_forward_gap', False)} |",
        f"| backward likelihood gap (nats) | {_pm(m, 'backward_gap', False)} | "
        f"{_pm(m, 'control_backward_gap', False)} |",
        "",
        f"Shipped weights (seed {cfg['seed']}): forward {m['forward_accuracy']:.1%}, backward "
        f"{m['backward_accuracy']:.1%} ({m['backward_correct']} of {n}; chance {m['chance']:.2%}), control backward "
        f"{m['control_backward_accuracy']:.1%}; backward likelihood gap {m['backward_gap']:+.3f} nats "
        f"(sd over queries {m['backward_gap_sd']:.3f}).",
        "",
        "`training.json` holds each seed's curve (loss and the eight measures every "
        f"{r['eval_every']} steps).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m app.training {NAME}", description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, help="override the step count (smoke tests)")
    parser.add_argument("--out", type=Path, help=f"output folder (default models/{NAME})")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when present)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds; the first one's weights ship")
    parser.add_argument("--n-per-group", type=int, help="people per set (default 150)")
    argv = list(argv) if argv is not None else None
    if argv and argv[0] == NAME:
        argv = argv[1:]
    args = parser.parse_args(argv)
    from app import zoo  # noqa: F401  (sets the app's thread default; ours below wins)

    torch.set_num_threads(args.threads)
    try:
        seeds = tuple(int(s) for s in args.seeds.split(",") if s.strip())
    except ValueError:
        parser.error(f"--seeds must be integers separated by commas, got {args.seeds!r}")
    recipe = ReversalRecipe(seeds=seeds or (0,))
    if args.steps:
        recipe = replace(recipe, steps=args.steps, eval_every=max(1, args.steps // 4), warmup_steps=min(100, args.steps))
    if args.n_per_group:
        recipe = replace(recipe, n_per_group=args.n_per_group)
    out = args.out or Path(__file__).resolve().parents[2] / "models" / NAME
    m = train(recipe, out, args.device)
    o = m["over_seeds"]
    print(f"wrote {out}: forward {o['forward_accuracy']['mean']:.3f}, backward {o['backward_accuracy']['mean']:.3f} "
          f"(chance {m['chance']:.4f}), control backward {o['control_backward_accuracy']['mean']:.3f} "
          f"over seeds {list(recipe.seeds)}")


if __name__ == "__main__":
    main()
