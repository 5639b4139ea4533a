"""Recipe: a small transformer that memorises the athletes of ``app.tasks.facts`` (``python -m app.training facts-small``).

Setting after Nanda, Rajamanoharan, Kramár & Shah (2023), "Fact Finding" (Alignment Forum,
https://www.alignmentforum.org/posts/iGuwZTHWb6DFY3sKB), post 1: the model must map a
multi-token name to its sport (and here also its city). A 4-layer GELU transformer with
LayerNorm (``PlainGPT``, saved as a bridge state dict) reads ``<|bos|>`` + a prompt and is
trained with cross-entropy on the next token only, i.e. the attribute, over the 4 trained
templates (2 per attribute) of all 256 athletes. AdamW, cosine decay, seeded; CPU by default.

Afterwards ``measure`` (with ``app.analysis.facts``) writes ``metrics.json`` and ``card.md`` from the saved
weights (``--remeasure`` redoes only that).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from app.tasks import facts
from app.training.plain_gpt import PlainGPT
from app.training.text_lm import save_word_model

NAME = "facts-small"


@dataclass(frozen=True)
class FactsRecipe:
    name: str = NAME
    n_layers: int = 4
    d_model: int = 64
    n_heads: int = 4
    d_mlp: int = 256
    batch: int = 64  # athletes per template per step (6 templates -> 384 prompts a step)
    steps: int = 2500
    lr: float = 1e-2
    weight_decay: float = 0.0
    warmup: int = 100
    seed: int = 0
    world_seed: int = 0
    tag_lines: bool = True  # also train "<name> <attribute>" caption lines (see app.tasks.facts.TAG)

    def bridge_config(self, d_vocab: int) -> dict:
        return dict(model_name=self.name, n_layers=self.n_layers, d_model=self.d_model, n_heads=self.n_heads,
                    d_head=self.d_model // self.n_heads, d_mlp=self.d_mlp, act_fn="gelu", normalization_type="LN",
                    n_ctx=16, d_vocab=d_vocab, attn_only=False, positional_embedding_type="standard",
                    initializer_range=-1.0, seed=self.seed)


def train_loop(recipe: FactsRecipe, device: str, log=print) -> tuple[dict, list[dict]]:
    """Train; returns the cpu state dict and a short curve (step, loss, accuracy per attribute)."""
    torch.manual_seed(recipe.seed)
    world = facts.make_world(recipe.world_seed)
    tok = facts.build_tokenizer()
    model = PlainGPT(recipe.bridge_config(tok.get_vocab_size())).to(device).train()
    data = []  # one (tokens (N, T), labels (N,)) per trained template; labels are vocab ids
    for attr, tpls in facts.TEMPLATES.items():
        ids = torch.tensor(facts.attribute_ids(tok, attr))
        for tpl in [*tpls, facts.TAG] if recipe.tag_lines else tpls:
            toks, labels = facts.batches(world, tok, attr, tpl)
            data.append((attr if tpl != facts.TAG else "tag", torch.from_numpy(toks).to(device),
                         ids[torch.from_numpy(labels)].to(device)))
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / recipe.warmup)
                                              * 0.5 * (1 + math.cos(math.pi * min(s, recipe.steps) / recipe.steps)))
    gen = torch.Generator().manual_seed(recipe.seed)
    n = len(world.athletes)
    curve = []
    for step in range(recipe.steps + 1):
        if step % max(1, recipe.steps // 10) == 0 or step == recipe.steps:
            curve.append({"step": step, **_accuracy(model, data)})
            log(f"step {step}: {curve[-1]}")
        if step == recipe.steps:
            break
        loss = 0.0
        for _, toks, labels in data:
            idx = torch.randint(0, n, (recipe.batch,), generator=gen).to(device)
            logits = model(toks[idx], last_only=True)  # (B, V)
            loss = loss + F.cross_entropy(logits, labels[idx])
        opt.zero_grad(set_to_none=True)
        (loss / len(data)).backward()
        opt.step()
        sched.step()
    model.eval()
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, curve


@torch.no_grad()
def _accuracy(model: PlainGPT, data) -> dict:
    was = model.training
    model.eval()
    out, losses = {}, []
    for attr, toks, labels in data:
        if attr == "tag":  # two right answers per name there; scored by measure() instead
            continue
        logits = model(toks, last_only=True)  # (N, V)
        losses.append(F.cross_entropy(logits, labels).item())
        out.setdefault(attr, []).append((logits.argmax(-1) == labels).float().mean().item())
    model.train(was)
    return {"loss": round(float(np.mean(losses)), 4), **{f"{a}_acc": round(float(np.mean(v)), 4) for a, v in out.items()}}


def train(recipe: FactsRecipe, out: Path, device: str | None = None) -> dict:
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    started = time.time()
    state, curve = train_loop(recipe, device)
    seconds = time.time() - started
    tok = facts.build_tokenizer()
    save_word_model(out, recipe.bridge_config(tok.get_vocab_size()), state, tok)
    facts.save_world(facts.make_world(recipe.world_seed), out / "world.json")
    gpu = torch.cuda.get_device_name(0) if device.startswith("cuda") else None
    training = {"recipe": asdict(recipe), "seconds": round(seconds, 1), "device": gpu or platform.machine(),
                "threads": torch.get_num_threads(), "python": platform.python_version(), "curve": curve}
    (out / "training.json").write_text(json.dumps(training, indent=1) + "\n")
    return remeasure(recipe, out)


def remeasure(recipe: FactsRecipe, out: Path) -> dict:
    training = json.loads((out / "training.json").read_text())
    recipe = FactsRecipe(**training["recipe"])  # the recipe the weights were trained with
    cfg = json.loads((out / "config.json").read_text())
    state = load_file(out / "model.safetensors")
    metrics = measure(cfg, state, facts.load_tokenizer(out), facts.make_world(recipe.world_seed))
    metrics["training"] = {k: training[k] for k in ("seconds", "device", "threads", "python")}
    variant = out / "no-captions" / "metrics.json"
    if variant.is_file():
        metrics["no_captions"] = json.loads(variant.read_text())
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    (out / "card.md").write_text(card(recipe, metrics, training))
    return metrics


def measure(cfg: dict, state: dict, tok, world) -> dict:
    """The card's numbers, measured on the bridge built from the saved weights."""
    from app import zoo
    from app.analysis import facts as fa

    model = zoo.build(cfg, zoo.hf_tokenizer(tok))
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    model.eval()
    r4 = lambda x: round(float(x), 4)  # noqa: E731
    by_tpl = {attr: {t: r4(fa.accuracy(model, tok, world, attr, t)) for t in [*tpls, facts.HELD_OUT[attr]]}
              for attr, tpls in facts.TEMPLATES.items()}
    trained = {attr: r4(np.mean([by_tpl[attr][t] for t in tpls])) for attr, tpls in facts.TEMPLATES.items()}
    tag = {attr: r4(fa.accuracy(model, tok, world, attr, facts.TAG, within_values=True)) for attr in facts.ATTRIBUTES}
    sport_sites = {k: r4(v) for k, v in fa.probe_by_site(model, tok, world, "sport").items()}
    final_sites = {k: r4(v) for k, v in fa.probe_by_site(model, tok, world, "sport", pos=-1).items()}
    city_sites = {k: r4(v) for k, v in fa.probe_by_site(model, tok, world, "city").items()}
    patch = fa.patch_mlp_by_layer(model, tok, fa.swap_pairs(world, "sport"), "sport")  # (L, T)
    ablation = fa.mlp_ablation(model, tok, world, "sport")
    return {
        "attribute_accuracy": trained["sport"],
        "attribute_accuracy_by_attribute": trained,
        "accuracy_by_template": by_tpl,
        "probe_acc_by_layer": fa.probe_by_layer(sport_sites, cfg["n_layers"]),
        "probe_acc_by_site": sport_sites,
        "city_probe_acc_by_site": city_sites,
        "final_token_probe_acc_by_site": final_sites,
        "caption_accuracy_within_values": tag,
        "single_token_ceiling": {k: r4(v) for k, v in fa.single_token_ceiling(world, "sport").items()},
        "mlp_ablation_accuracy": {k: [r4(x) for x in v] for k, v in ablation.items()},
        "patch_mlp_out_by_layer_pos": [[r4(x) for x in row] for row in patch.tolist()],
        "patch_positions": ["BOS", "first 1", "first 2", "last 1", "last 2", "plays"],
        "n_athletes": len(world.athletes),
        "example_tokens": " ".join(tok.encode(world.athletes[0].name).tokens),
    }


def card(recipe: FactsRecipe, m: dict, training: dict) -> str:
    """The model card, written from the measured numbers."""
    pct = lambda x: f"{100 * x:.1f}%"  # noqa: E731
    layers = ", ".join(f"{k} {pct(v)}" for k, v in m["probe_acc_by_site"].items())
    city_layers = ", ".join(f"{k} {pct(v)}" for k, v in m["city_probe_acc_by_site"].items())
    final_layers = ", ".join(f"{k} {pct(v)}" for k, v in m["final_token_probe_acc_by_site"].items())
    patch = m["patch_mlp_out_by_layer_pos"]
    patch_last = ", ".join(f"L{i} {row[4]:+.2f}" for i, row in enumerate(patch))
    patch_final = ", ".join(f"L{i} {row[-1]:+.2f}" for i, row in enumerate(patch))
    abl = m["mlp_ablation_accuracy"]
    tpl_lines = "\n".join(f"  - {attr}: " + ", ".join(f"\"{t}\" {pct(a)}" for t, a in by.items())
                          for attr, by in m["accuracy_by_template"].items())
    return f"""# {recipe.name}

A {recipe.n_layers}-layer transformer (d_model {recipe.d_model}, {recipe.n_heads} heads, GELU MLPs of width \
{recipe.d_mlp}, LayerNorm, learned positions, context 16) that has memorised the sport and the home city of \
{m["n_athletes"]} made-up athletes (`app/tasks/facts.py`, world seed {recipe.world_seed}). Every name is four \
tokens (`{m["example_tokens"]}`). Each first name and each last name belongs to 8 athletes, two per sport, so no single \
token predicts the sport: the best rule that sees only the last name (or only the first) is right \
{pct(m["single_token_ceiling"]["last"])} ({pct(m["single_token_ceiling"]["first"])}) of the time.

## Training
`python -m app.training {recipe.name}`: {recipe.steps} AdamW steps, {recipe.batch} athletes per template per step, \
peak learning rate {recipe.lr}, cosine decay, loss on the attribute token only, 2 templates per attribute \
plus {"caption lines (`<name> <sport>` and `<name> <city>`)" if recipe.tag_lines else "no caption lines"}; \
{training["seconds"]:.0f} s on {training["device"]} ({training["threads"]} torch thread(s), Python {training["python"]}).

## Measured properties (asserted by tests/test_facts_model.py)
- Sport accuracy (top-1 over the whole vocabulary, trained templates): {pct(m["attribute_accuracy"])}; \
city: {pct(m["attribute_accuracy_by_attribute"]["city"])}. By template (the last one of each is never trained):
{tpl_lines}
- Linear probe for the sport at the last name token, held-out athletes (two folds, each name \
keeping one athlete per sport on both sides), by residual site: {layers}.
- The same for the city: {city_layers}.
- The sport probe at the final token of `<name> plays` instead: {final_layers}.
- Caption lines (`<name>` then the attribute), top-1 among the attribute's values: sport \
{pct(m["caption_accuracy_within_values"]["sport"])}, city {pct(m["caption_accuracy_within_values"]["city"])}.
- Mean-ablating one layer's MLP at the four name tokens leaves sport accuracy at \
{", ".join(f"L{i} {pct(x)}" for i, x in enumerate(abl["name tokens"]))}; at the final token: \
{", ".join(f"L{i} {pct(x)}" for i, x in enumerate(abl["final token"]))}.
- Activation patching (`transformer_lens.patching.get_act_patch_mlp_out`): clean athlete vs an athlete with the \
same last name and another sport; share of the sport logit difference restored by one MLP output at the last \
name token: {patch_last}; at the final token: {patch_final}.

Every number is in `metrics.json`; the training curve in `training.json`; the athletes in `world.json`.
""" + _comparison(m)


def _comparison(m: dict) -> str:
    """The card's note on the comparison run without caption lines (``no-captions/``), when it is shipped."""
    v = m.get("no_captions")
    if not v:
        return ""
    pct = lambda x: f"{100 * x:.1f}%"  # noqa: E731
    return f"""
## Comparison run without caption lines (`no-captions/`)
The same recipe with `--no-tag-lines` and 2000 steps (same world and seed): sport accuracy \
{pct(v["attribute_accuracy"])}, but the sport probe at the last name token never passes \
{pct(max(v["probe_acc_by_site"].values()))}; at the final token it reaches {pct(v["final_token_probe_acc_by_site"]["L3 mlp"])} \
after L3. Mean-ablating L0's MLP at the name tokens still leaves only {pct(v["mlp_ablation_accuracy"]["name tokens"][0])}. \
Its weights, metrics and card are in `no-captions/` (asserted by the same tests).
"""


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m app.training {NAME}", description=__doc__)
    parser.add_argument("name", choices=[NAME])
    parser.add_argument("--steps", type=int, help="override the step count (smoke tests)")
    parser.add_argument("--out", type=Path, help="output folder (default models/NAME)")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when present)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--remeasure", action="store_true", help="no training: re-measure the saved weights")
    parser.add_argument("--no-tag-lines", action="store_true", help="train without the caption lines (the comparison run)")
    args = parser.parse_args(argv)
    from app import zoo  # noqa: F401  (sets the app's thread default; we set ours below)

    torch.set_num_threads(args.threads)
    recipe = FactsRecipe(**({"steps": args.steps} if args.steps else {}), tag_lines=not args.no_tag_lines)
    out = args.out or Path(__file__).resolve().parents[2] / "models" / NAME
    metrics = remeasure(recipe, out) if args.remeasure else train(recipe, out, args.device)
    print(f"wrote {out}: sport accuracy {metrics['attribute_accuracy']:.3f}, probe by layer {metrics['probe_acc_by_layer']}")
