"""Model cards rendered from ``config.json`` + ``metrics.json`` (so every number is measured)."""

from __future__ import annotations


def _top(scores: dict[str, float], k: int = 3) -> str:
    best = sorted(scores.items(), key=lambda kv: -kv[1])[:k]
    return ", ".join(f"{name} {value:.3f}" for name, value in best)


def render_card(cfg: dict, m: dict) -> str:
    """The Markdown card for one text model. Tests regenerate it and compare byte for byte."""
    t = m["training"]
    r = t.get("recipe", {})
    norm = "no LayerNorm" if cfg.get("normalization_type") is None else f"{cfg['normalization_type']} normalization"
    exact = ("so the framework paper's path expansion is exact" if cfg.get("normalization_type") is None
             else "so the framework paper's path expansion holds up to the normalisation's per-token scale")
    lines = [
        f"# {cfg['model_name']}",
        "",
        f"An attention-only transformer with {cfg['n_layers']} layer(s), {cfg['n_heads']} heads of "
        f"d_head {cfg['d_head']}, d_model {cfg['d_model']}, context {cfg['n_ctx']}, vocabulary "
        f"{cfg['d_vocab']} (byte-level BPE), learned positional embeddings, {norm} and no MLPs, {exact}.",
        "",
        "## Data",
        "The Python standard library's own source files (test suites excluded), read in sorted order; "
        "about 5% of files, chosen by a hash of their path, are held out for evaluation. "
        f"{t['train_tokens_in_corpus']:,} training tokens.",
    ]
    if r.get("repeat_fraction"):
        lines += ["", f"{r['repeat_fraction']:.0%} of training windows are synthetic instead: a span of 8 to "
                  f"{cfg['n_ctx'] // 2 - 1} random tokens repeated to fill the window, where only copying from "
                  f"earlier in the context lowers the loss (tokens from the corpus's {r['repeat_vocab_size']} most frequent). "
                  "This gives the induction circuit a strong signal: with the same batch and steps on natural code alone "
                  "our two-layer model formed no induction head. The held-out numbers below are on natural code only."]
    lines += [
        "",
        "## Training",
        f"`python -m app.training {cfg['model_name']}`: {t['steps']} AdamW steps of {t['batch_size']} "
        f"windows ({t['tokens_seen']:,} tokens), peak learning rate {r.get('lr', 'n/a')}, seed {cfg['seed']}, in {t['seconds']:.0f} s on "
        f"{t['device']} ({t['cpu']}, {t['torch_threads']} torch threads, Python {t['python']}).",
        "",
        "## Measured properties (asserted by tests/test_models.py)",
        f"- Loss on the shipped held-out windows (`eval_tokens.safetensors`): {m['loss']:.3f} nats/token.",
        f"- In-context-learning score (loss at token ~250 minus token ~25 on those windows): {m['icl_score']:.3f}.",
        f"- Loss on repeated random tokens: first copy {m['repeat_loss_first_half']:.3f}, "
        f"second copy {m['repeat_loss_second_half']:.3f}.",
        f"- Highest OV copying scores: {_top(m['copying_score'])}.",
        f"- Highest previous-token scores: {_top(m['prev_token_score'])}.",
        f"- Highest induction scores: {_top(m['induction_score'])}.",
        "  (Both scores are TransformerLens' `mul` similarity over every query position, so the first copy, where "
        "no head can look back, caps an induction score at about 0.5.)",
        f"- Zero-ablating the top induction head ({m['ablation_head']}) raises the second-copy loss by "
        f"{m['ablation_loss_increase']:.3f} nats.",
        "- Phase change (best induction score half-way through its rise): "
        + (f"step {m['phase_change_step']}." if m["phase_change_step"] is not None else "none: no induction head formed."),
    ]
    if "k_composition_max" in m:
        k = m["k_composition_max"]
        lines.append(
            f"- Strongest K-composition: {k['pair'][0]} -> {k['pair'][1]} at {k['score']:.3f} "
            f"(random-matrix baseline {k['random_baseline']:.3f})."
        )
    lines += ["", "## Training record",
              f"`training.json`: {t['curve_points']} evaluation points over the run, each with held-out loss, "
              "loss by position, the in-context-learning score and every head's previous-token and induction scores."]
    if t["checkpoints"]:
        lines.append(f"fp16 checkpoints in `checkpoints/` at steps {', '.join(map(str, t['checkpoints']))}, "
                     "chosen after training to span the rise of the induction score.")
    lines += ["", "Every head's numbers are in `metrics.json`.", ""]
    return "\n".join(lines)
