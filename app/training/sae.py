"""Recipes for the sparse-autoencoder walkthrough: the one-layer MLP model and the SAE on its neurons.

``python -m app.training code-1l-mlp`` trains a one-layer transformer WITH an MLP (512 ReLU
neurons, no LayerNorm) on the standard-library code corpus, reusing the text recipes' corpus,
tokenizer and held-out windows (``text_lm.prepare_corpus``), in ``PlainGPT`` (several times faster per
step than the bridge; its state dict loads strictly into the bridge).

``python -m app.training code-1l-mlp-sae`` trains a sparse autoencoder on that model's MLP
post-activations (``blocks.0.mlp.hook_post``), as in Bricken et al. 2023, "Towards Monosemanticity"
(https://transformer-circuits.pub/2023/monosemantic-features/index.html, section "Problem setup" and
appendix "Autoencoder training"): activations streamed from the model over the corpus, an L1 penalty
weighted by decoder norms, and dead features resampled from badly reconstructed inputs. Saved in SAELens'
layout (``cfg.json`` + ``sae_weights.safetensors``) with our ``metrics.json``, ``features.safetensors``
(the browser's precomputed data) and ``card.md``. Seeded; CPU by default, CUDA when present.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from app.analysis import sae as S
from app.tasks import code_corpus
from app.training import recipes
from app.training.plain_gpt import PlainGPT
from app.training.text_lm import _lr_at, prepare_corpus, save_model, training_record

MODEL = "code-1l-mlp"
N_EVAL_WINDOWS = 32


@torch.no_grad()
def eval_loss(model: PlainGPT, tokens: torch.Tensor, batch: int = 16) -> float:
    """Mean next-token loss (nats) over ``tokens`` (n, ctx)."""
    model.eval()
    total = 0.0
    for i in range(0, len(tokens), batch):
        x = tokens[i : i + batch]
        logits = model(x)  # (b, ctx, V)
        total += F.cross_entropy(logits[:, :-1].flatten(0, 1), x[:, 1:].flatten(), reduction="sum").item()
    model.train()
    return total / (len(tokens) * (tokens.shape[1] - 1))


def train_model(recipe, out: Path, device: str, max_chars: int | None = None, log=print) -> dict:
    """Train the MLP model; writes config/model/tokenizer/eval tokens, training.json, metrics.json, card.md."""
    torch.manual_seed(recipe.seed)
    rng = np.random.default_rng(recipe.seed)
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    tok, train_stream, eval_tokens = prepare_corpus(recipe, out, N_EVAL_WINDOWS, max_chars)
    eval_dev = eval_tokens.to(device)
    model = PlainGPT(recipe.bridge_config()).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay, betas=(0.9, 0.98))
    curve, running = [], []
    for step in range(recipe.steps + 1):
        if step % recipe.eval_every == 0 or step == recipe.steps:
            point = {"step": step, "val_loss": round(eval_loss(model, eval_dev), 4),
                     "train_loss": round(sum(running) / len(running), 4) if running else None,
                     "lr": _lr_at(step, recipe), "seconds": round(time.time() - started, 1)}
            curve.append(point)
            running = []
            log(json.dumps(point), flush=True)
        if step == recipe.steps:
            break
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, recipe)
        x = torch.from_numpy(code_corpus.sample_windows(train_stream, recipe.batch_size, recipe.n_ctx, rng)).to(device)
        logits = model(x)  # (B, ctx, V)
        loss = F.cross_entropy(logits[:, :-1].flatten(0, 1), x[:, 1:].flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running.append(loss.item())
    seconds = time.time() - started
    save_model(model, recipe, out)
    metrics = {"loss": curve[-1]["val_loss"], "training": {**training_record(recipe, device, seconds, train_stream),
                                                          "curve_points": len(curve)}}
    (out / "training.json").write_text(json.dumps(curve) + "\n")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    (out / "card.md").write_text(model_card(recipe.bridge_config(), metrics, curve))
    return metrics


def model_card(cfg: dict, m: dict, curve: list[dict]) -> str:
    """The model's Markdown card (every number from metrics.json / training.json)."""
    t = m["training"]
    return "\n".join([
        f"# {cfg['model_name']}",
        "",
        f"A one-layer transformer with {cfg['n_heads']} attention heads of d_head {cfg['d_head']} and an MLP of "
        f"{cfg['d_mlp']} ReLU neurons, d_model {cfg['d_model']}, context {cfg['n_ctx']}, vocabulary {cfg['d_vocab']} "
        "(byte-level BPE), learned positional embeddings and no LayerNorm: a neuron's or feature's direct effect on "
        "the logits is the exact product of its output weights and the unembedding. Its MLP neurons are what the "
        "sparse autoencoder in `sae/` decomposes (the monosemanticity walkthrough).",
        "",
        "## Data",
        "The Python standard library's own source files (test suites excluded), the same corpus, tokenizer recipe and "
        f"held-out split as the attention-only models: {t['train_tokens_in_corpus']:,} training tokens.",
        "",
        "## Training",
        f"`python -m app.training {cfg['model_name']}`: {t['steps']} AdamW steps of {t['batch_size']} windows "
        f"({t['tokens_seen']:,} tokens), peak learning rate {t['recipe']['lr']}, seed {cfg['seed']}, in "
        f"{t['seconds']:.0f} s on {t['device']} ({t['cpu']}, {t['torch_threads']} torch thread(s), Python {t['python']}).",
        "",
        "## Measured properties (asserted by tests/test_sae_model.py)",
        f"- Loss on the shipped held-out windows (`eval_tokens.safetensors`): {m['loss']:.3f} nats/token "
        f"(at step 0: {curve[0]['val_loss']:.3f}).",
        f"- `training.json`: {len(curve)} evaluation points (held-out and running training loss).",
        "",
    ])


# ---- the sparse autoencoder ---------------------------------------------------------------------------

@dataclass(frozen=True)
class SAERecipe:
    """Defaults for ``code-1l-mlp-sae``; every field is saved in metrics.json."""

    expansion: int = 4  # d_sae = 4 x 512 neurons
    l1: float = 3.0  # L1 weight, on inputs scaled so that E|x|^2 = d_in (Bricken's appendix normalises too)
    l1_warmup: float = 0.05  # share of steps over which the L1 weight ramps up from 0
    lr: float = 1e-3
    batch_rows: int = 4096
    activations: int = 10_485_760  # 2,560 steps of 4,096 rows
    windows_per_chunk: int = 32  # activations streamed from the model 32 windows (8,192 tokens) at a time ...
    buffer_chunks: int = 8  # ... and shuffled in a buffer of 8 chunks
    resample_every: int = 400  # dead features (no firing for this many steps) are resampled ...
    resample_until: float = 0.6  # ... until this share of training
    eval_every: int = 100  # curve points (>= 20)
    browser_windows: int = 256  # held-out windows the feature browser's top contexts come from
    top_k: int = 32
    hist_bins: int = 24
    seed: int = 0

    @property
    def steps(self) -> int:
        return self.activations // self.batch_rows


def load_plain(model_dir: Path, device: str) -> PlainGPT:
    """The shipped model as a PlainGPT (fast, no hooks) for streaming activations during training."""
    from safetensors.torch import load_file

    model = PlainGPT(json.loads((model_dir / "config.json").read_text()))
    model.load_state_dict(load_file(model_dir / "model.safetensors"), strict=True)
    return model.to(device).eval().requires_grad_(False)


def plain_post(model: PlainGPT, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(residual before the MLP (B, T, d_model), MLP post-activations (B, T, d_mlp)) of a one-layer PlainGPT."""
    b = model.blocks[0]
    x = model.embed(tokens) + model.pos_embed.weight[: tokens.shape[1]]
    x = x + b.attn(b.ln1(x))
    return x, b.mlp.act(getattr(b.mlp, "in")(b.ln2(x)))


def plain_loss(model: PlainGPT, tokens: torch.Tensor, replace_post=None) -> float:
    """Mean next-token loss, optionally with the MLP post-activations replaced by ``replace_post(post)``."""
    x, post = plain_post(model, tokens)
    post = post if replace_post is None else replace_post(post)
    logits = model.unembed(model.ln_final(x + model.blocks[0].mlp.out(post)))  # (B, T, V)
    return float(F.cross_entropy(logits[:, :-1].flatten(0, 1), tokens[:, 1:].flatten()))


def activation_batches(model: PlainGPT, stream: np.ndarray, r: SAERecipe, n_ctx: int, rng, device: str):
    """Endless shuffled batches (batch_rows, d_mlp) of MLP post-activations over random corpus windows."""
    if r.buffer_chunks * r.windows_per_chunk * n_ctx // 2 < r.batch_rows:
        raise ValueError("the activation buffer must hold at least two batches")
    buf = None
    while True:
        while buf is None or len(buf) < r.buffer_chunks * r.windows_per_chunk * n_ctx:
            w = torch.from_numpy(code_corpus.sample_windows(stream, r.windows_per_chunk, n_ctx, rng)).to(device)
            with torch.no_grad():
                acts = plain_post(model, w)[1].flatten(0, 1)  # (chunk tokens, d_mlp)
            buf = acts if buf is None else torch.cat([buf, acts])
        buf = buf[torch.randperm(len(buf), device=device)]
        half = len(buf) // 2
        out, buf = buf[:half], buf[half:]
        for i in range(0, half - r.batch_rows + 1, r.batch_rows):
            yield out[i : i + r.batch_rows]


@torch.no_grad()
def resample_dead(sae: S.SAE, opt, dead: torch.Tensor, x: torch.Tensor, gen: torch.Generator) -> int:
    """Bricken et al.'s resampling: each dead feature restarts on an input the SAE reconstructs badly
    (drawn with probability ~ squared error): decoder row = that input's direction, encoder column = the same
    direction scaled to 0.2 x the alive features' mean encoder norm, bias 0; its Adam state is cleared."""
    idx = dead.nonzero().flatten()
    if len(idx) == 0:
        return 0
    err = ((sae(x)[0] - x) ** 2).sum(1)  # (rows,)
    pick = torch.multinomial(err / err.sum(), len(idx), replacement=len(idx) > len(x), generator=gen)
    v = x[pick] - sae.b_dec
    v = v / v.norm(dim=1, keepdim=True).clamp_min(1e-8)  # (n_dead, d_in)
    alive_norm = sae.W_enc[:, ~dead].norm(dim=0).mean() if (~dead).any() else torch.tensor(1.0)
    sae.W_dec[idx] = v
    sae.W_enc[:, idx] = (v * 0.2 * alive_norm).T
    sae.b_enc[idx] = 0.0
    for p, sl in ((sae.W_dec, (idx,)), (sae.W_enc, (slice(None), idx)), (sae.b_enc, (idx,))):
        for key in ("exp_avg", "exp_avg_sq"):
            if p in opt.state:
                opt.state[p][key][sl] = 0.0
    return len(idx)


def train_sae(r: SAERecipe, model_dir: Path, out: Path, device: str, max_chars: int | None = None, log=print) -> dict:
    """Train the SAE on the model's MLP neurons; write the SAELens files, curves, browser data, metrics, card."""
    from safetensors.torch import load_file, save_file

    torch.manual_seed(r.seed)
    rng, gen = np.random.default_rng(r.seed), torch.Generator(device=device).manual_seed(r.seed)
    started = time.time()
    out.mkdir(parents=True, exist_ok=True)
    cfg = json.loads((model_dir / "config.json").read_text())
    model = load_plain(model_dir, device)
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    stream = code_corpus.encode_stream(tok, code_corpus.read_texts("train", max_chars=max_chars))
    eval_tokens = load_file(model_dir / "eval_tokens.safetensors")["tokens"].long().to(device)  # (32, ctx)
    with torch.no_grad():
        eval_x = plain_post(model, eval_tokens)[1].flatten(0, 1)  # (eval tokens, d_mlp)
        clean, zero = plain_loss(model, eval_tokens), plain_loss(model, eval_tokens, torch.zeros_like)
    batches = activation_batches(model, stream, r, cfg["n_ctx"], rng, device)
    first = next(batches)
    scale = float((cfg["d_mlp"] / (first ** 2).sum(1).mean()).sqrt())  # inputs x scale have E|x|^2 = d_in
    sae = S.SAE(cfg["d_mlp"], r.expansion * cfg["d_mlp"], seed=r.seed).to(device)
    opt = torch.optim.Adam(sae.parameters(), lr=r.lr, betas=(0.9, 0.999))
    since_fired = torch.zeros(sae.d_sae, dtype=torch.long, device=device)
    curve, resampled, x = [], [], first
    stop_file = out / "STOP"  # a safety valve on a busy machine: touch it to finish now (steps done are recorded)
    stop_file.unlink(missing_ok=True)
    for step in range(r.steps + 1):
        stop = stop_file.exists()
        if step % r.eval_every == 0 or step == r.steps or stop:
            with torch.no_grad():
                xe = eval_x * scale
                xh, f = sae(xe)
                spliced = plain_loss(model, eval_tokens, lambda p: sae(p * scale)[0] / scale)
            point = {"step": step, "activations": step * r.batch_rows, "l0": round(S.l0(f), 2),
                     "fvu": round(S.fvu(xe, xh), 4), "loss_recovered": round((zero - spliced) / (zero - clean), 4),
                     "dead_in_eval": round(float((f.sum(0) == 0).float().mean()), 4),
                     "seconds": round(time.time() - started, 1)}
            curve.append(point)
            log(json.dumps(point), flush=True)
        if step == r.steps or stop:
            break
        if step and step % r.resample_every == 0 and step <= r.resample_until * r.steps:
            n = resample_dead(sae, opt, since_fired >= r.resample_every, x * scale, gen)
            resampled.append({"step": step, "features": n})
            since_fired.zero_()
        x = x if step == 0 else next(batches)
        xs = x * scale  # (batch, d_in)
        l1 = r.l1 * min(1.0, step / max(1, r.l1_warmup * r.steps))
        _, _, f = S.set_grads(sae, xs, l1)  # hand-written sparse gradients (checked against autograd in tests)
        sae.remove_parallel_grad()
        opt.step()
        sae.normalize_decoder()
        since_fired = torch.where((f > 0).any(0), 0, since_fired + 1)
    with torch.no_grad():  # fold the input scale into the weights: the saved SAE reads raw activations
        sae.W_enc.mul_(scale)
        sae.W_dec.div_(scale)
        sae.b_dec.div_(scale)
    sae = sae.cpu().eval().requires_grad_(False)
    seconds = time.time() - started
    stop_file.unlink(missing_ok=True)
    S.save_saelens(sae, out, S.saelens_cfg(sae.d_in, sae.d_sae, cfg["model_name"], cfg["n_ctx"]))
    (out / "training.json").write_text(json.dumps({"curve": curve, "resampled": resampled}) + "\n")
    browser_tokens = browser_windows(tok, cfg["n_ctx"], r.browser_windows, max_chars)
    save_file(browser_data(load_plain(model_dir, "cpu"), sae, browser_tokens, r), out / "features.safetensors")
    metrics = measure_sae(model_dir, out)
    metrics["training"] = {"seconds": round(seconds, 1), "device": device, "torch_threads": torch.get_num_threads(),
                           "steps": step, "activations_seen": step * r.batch_rows, "input_scale": scale,
                           "train_tokens_in_corpus": int(len(stream)), "resampled": resampled,
                           "curve_points": len(curve), "recipe": asdict(r)}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    (out / "card.md").write_text(sae_card(metrics, curve))
    return metrics


def browser_windows(tok, n_ctx: int, n: int, max_chars: int | None = None) -> torch.Tensor:
    """The first ``n`` non-overlapping windows (n, n_ctx) of the held-out split, each starting with BOS."""
    val = code_corpus.encode_stream(tok, code_corpus.read_texts("val", max_chars=max_chars))
    n = min(n, len(val) // (n_ctx - 1))
    body = torch.from_numpy(val[: n * (n_ctx - 1)].astype(np.int64)).view(n, n_ctx - 1)
    return torch.cat([torch.zeros(n, 1, dtype=torch.long), body], 1)  # BOS id 0


@torch.no_grad()
def browser_data(model: PlainGPT, sae: S.SAE, tokens: torch.Tensor, r: SAERecipe, chunk: int = 16) -> dict:
    """Top-activating tokens, histograms and firing rates of every feature and neuron over ``tokens``."""
    posts = [plain_post(model, tokens[i : i + chunk])[1].flatten(0, 1) for i in range(0, len(tokens), chunk)]
    top_f = torch.stack([sae.encode(p).max(0).values for p in posts]).max(0).values  # (d_sae,)
    top_n = torch.stack([p.max(0).values for p in posts]).max(0).values  # (d_mlp,)
    fs = S.UnitStats(sae.d_sae, r.top_k, r.hist_bins, top_f)
    ns = S.UnitStats(sae.d_in, r.top_k, r.hist_bins, top_n)
    start = 0
    for p in posts:
        fs.update(sae.encode(p), start)
        ns.update(p, start)
        start += len(p)
    out = {"tokens": tokens.to(torch.int16)}
    for name, s in (("feature", fs), ("neuron", ns)):
        out |= {f"{name}_top_index": s.index.to(torch.int32), f"{name}_top_act": s.values.half(),
                f"{name}_hist": s.hist.to(torch.int32), f"{name}_firing": s.firing_rate()}
    return {k: v.contiguous() for k, v in out.items()}


def load_bridge(model_dir: Path):
    """The model folder as an eval-mode TransformerLens bridge (hooks), as the zoo builds it."""
    from safetensors.torch import load_file
    from tokenizers import Tokenizer

    from app import zoo

    cfg = json.loads((model_dir / "config.json").read_text())
    model = zoo.build(cfg, zoo.hf_tokenizer(Tokenizer.from_file(str(model_dir / "tokenizer.json"))))
    model.load_state_dict(load_file(model_dir / "model.safetensors"), strict=True)
    return model.eval()


def measure_sae(model_dir: Path, sae_dir: Path) -> dict:
    """The SAE's card numbers, measured on the shipped files: L0 / FVU / loss recovered on the model's held-out
    windows (splicing through the bridge's ``blocks.0.mlp.hook_post``), dead and dense fractions over the
    browser's held-out windows, neuron-basis density and the top-token monosemanticity proxy."""
    from safetensors.torch import load_file

    model = load_bridge(model_dir)
    sae, _ = S.load_saelens(sae_dir)
    eval_tokens = load_file(model_dir / "eval_tokens.safetensors")["tokens"].long()
    x = S.post_activations(model, eval_tokens).flatten(0, 1)  # (tokens, d_mlp)
    x_hat, f = sae(x)
    losses = S.spliced_losses(model, eval_tokens, sae)
    data = load_file(sae_dir / "features.safetensors")
    firing = data["feature_firing"]
    alive = firing > 0
    counts = S.neurons_for_share(sae.W_dec)
    flat = data["tokens"].long().flatten()
    share_f = S.top_token_share(flat[data["feature_top_index"].long()], data["feature_top_act"])[alive]
    share_n = S.top_token_share(flat[data["neuron_top_index"].long()], data["neuron_top_act"])[data["neuron_firing"] > 0]
    return {
        "l0": round(S.l0(f), 3), "fvu": round(S.fvu(x, x_hat), 4),
        "loss_recovered": round(losses["loss_recovered"], 4),
        "loss_clean": round(losses["clean"], 4), "loss_spliced": round(losses["spliced"], 4),
        "loss_zero_ablated": round(losses["zero"], 4),
        "dead_fraction": round(float((~alive).float().mean()), 4),
        "dense_fraction": round(float((firing > S.DENSE_FIRING).float().mean()), 4),
        "dense_in_neuron_basis_fraction": round(S.dense_in_neuron_basis(counts, alive), 4),
        "neurons_for_90pct_median": float(counts[alive].float().median()),
        "top_token_share_median": {"features": round(float(share_f.median()), 4),
                                   "neurons": round(float(share_n.median()), 4)},
        "eval_tokens": int(eval_tokens.numel()), "browser_tokens": int(flat.numel()),
        "d_in": sae.d_in, "d_sae": sae.d_sae,
    }


def sae_card(m: dict, curve: list[dict]) -> str:
    """The SAE's Markdown card; every number from metrics.json / training.json."""
    t, r = m["training"], m["training"]["recipe"]
    rows = ["| step | activations | L0 | FVU | loss recovered |", "|---:|---:|---:|---:|---:|"]
    rows += [f"| {p['step']} | {p['activations']:,} | {p['l0']:.1f} | {p['fvu']:.3f} | {p['loss_recovered']:.1%} |"
             for p in curve]
    n_res = sum(e["features"] for e in t["resampled"])
    return "\n".join([
        "# code-1l-mlp / sae",
        "",
        f"A sparse autoencoder with {m['d_sae']} features ({r['expansion']}x) on the {m['d_in']} MLP neurons of "
        "`code-1l-mlp` (hook `blocks.0.mlp.hook_post`), after Bricken et al. 2023, *Towards Monosemanticity*. "
        "Saved in SAELens' layout: `cfg.json` + `sae_weights.safetensors` (`W_enc` (d_in, d_sae), `W_dec` "
        "(d_sae, d_in), `b_enc`, `b_dec`; reads raw activations, `normalize_activations: none`).",
        "",
        "## Training",
        f"`python -m app.training code-1l-mlp-sae`: {t['steps']} Adam steps of {r['batch_rows']} activations "
        f"({t['activations_seen']:,} in all) streamed from the model over random training windows, lr {r['lr']}, "
        f"L1 weight {r['l1']} (ramped in over the first {r['l1_warmup']:.0%} of steps) on inputs scaled to mean "
        f"squared norm d_in (scale folded into the saved weights), unit-norm decoder rows, seed {r['seed']}, in "
        f"{t['seconds']:.0f} s on {t['device']} ({t['torch_threads']} torch thread(s)). Dead features (no firing for "
        f"{r['resample_every']} steps) resampled at steps {', '.join(str(e['step']) for e in t['resampled']) or 'none'} "
        f"({n_res} in all)." + (f" Stopped by hand before the planned {r['activations']:,} activations (busy machine)."
                                if t["activations_seen"] < r["activations"] else ""),
        "",
        "## Measured properties (asserted by tests/test_sae_model.py)",
        f"On the model's {m['eval_tokens']:,} held-out tokens (`../eval_tokens.safetensors`):",
        f"- L0 (mean active features per token): {m['l0']:.1f}.",
        f"- Fraction of variance unexplained: {m['fvu']:.3f}.",
        f"- Loss recovered: {m['loss_recovered']:.1%} (clean {m['loss_clean']:.3f}, with the reconstruction spliced "
        f"in {m['loss_spliced']:.3f}, with the MLP zeroed {m['loss_zero_ablated']:.3f} nats/token).",
        f"On the browser's {m['browser_tokens']:,} held-out tokens (`features.safetensors`):",
        f"- Dead features (never fire): {m['dead_fraction']:.1%}; dense features (fire on > 10% of tokens): "
        f"{m['dense_fraction']:.1%}.",
        f"- Dense in the neuron basis (decoder row needs > 10 neurons for 90% of its squared norm): "
        f"{m['dense_in_neuron_basis_fraction']:.1%} of alive features; median neurons for 90%: "
        f"{m['neurons_for_90pct_median']:.0f} of {m['d_in']}.",
        f"- Top-token share (of a unit's {r['top_k']} strongest activations, the share on its most common token), "
        f"median: features {m['top_token_share_median']['features']:.2f}, neurons "
        f"{m['top_token_share_median']['neurons']:.2f}.",
        "",
        "## Over training (`training.json`, held-out tokens)",
        *rows,
        "",
    ])


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m app.training", description=__doc__.split("\n\n")[0])
    parser.add_argument("name", choices=[MODEL, MODEL + "-sae"])
    parser.add_argument("--steps", type=int, help="override the step count (smoke tests)")
    parser.add_argument("--out", type=Path, help="output folder (default models/code-1l-mlp[/sae])")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when present)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--max-chars", type=int, help="cap the corpus size (smoke tests)")
    parser.add_argument("--model-dir", type=Path, help="SAE only: the model folder to read (default models/code-1l-mlp)")
    parser.add_argument("--activations", type=int, help="SAE only: activations to train on (default the recipe's)")
    args = parser.parse_args(argv)
    from app import zoo  # sets the app's thread count; ours below

    torch.set_num_threads(args.threads)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if args.name == MODEL:
        recipe = recipes.get(MODEL, **({"steps": args.steps} if args.steps else {}))
        out = args.out or zoo.MODELS_DIR / MODEL
        m = train_model(recipe, out, device, args.max_chars)
        print(f"wrote {out}: val loss {m['loss']:.3f} in {m['training']['seconds']:.0f}s")
        return
    recipe = SAERecipe(**({"activations": args.activations} if args.activations else {}))
    if args.steps:
        recipe = replace(recipe, batch_rows=512, activations=args.steps * 512, windows_per_chunk=4, buffer_chunks=2,
                         eval_every=max(1, args.steps // 2), resample_every=max(1, args.steps // 2), browser_windows=8)
    model_dir = args.model_dir or zoo.MODELS_DIR / MODEL
    out = args.out or model_dir / "sae"
    m = train_sae(recipe, model_dir, out, device, args.max_chars)
    print(f"wrote {out}: L0 {m['l0']:.1f}, FVU {m['fvu']:.3f}, loss recovered {m['loss_recovered']:.1%}, "
          f"dead {m['dead_fraction']:.1%} in {m['training']['seconds']:.0f}s")
