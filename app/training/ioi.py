"""Recipes for the two IOI models (``python -m app.training ioi-small`` / ``ioi-shortcut``).

Task after Wang et al. (2022), "Interpretability in the Wild: a Circuit for Indirect Object
Identification in GPT-2 small", https://arxiv.org/abs/2211.00593 (section 2). Both models are
``PlainGPT`` transformers trained with next-token loss on every token of short documents built
from ``app.tasks.ioi`` (word-level tokenizer, names are single tokens), plus an extra loss term on
the answer (the IO) of each IOI document. Seeded; CPU by default, CUDA when present (same code).

- ``ioi-shortcut`` (the naive data): the 9 training templates with nothing but a short IOI prompt
  per document, plus name-free filler documents. S2 always sits a fixed, template-specific number
  of tokens before the end, and it is always the last name: the data allow a shortcut.
- ``ioi-small`` (data that ask for the paper's mechanism): IOI prompts with name-free filler
  before them and optional name-free spans after S2 (S2 at varied distances from the end and
  at varied absolute positions), stories in which a cast of 2-3 names recurs over a long context
  (who gave what to whom), and spans of random words repeated twice (induction food).
  Attention-only layers, so the work cannot hide in MLPs.

``measure`` (with ``app.analysis.ioi``) writes ``metrics.json`` and ``card.md`` from the saved
weights; ``--remeasure`` redoes only that.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import re
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from app.tasks import ioi
from app.training.plain_gpt import PlainGPT

NAMES = ("ioi-small", "ioi-shortcut")


@dataclass(frozen=True)
class IOIRecipe:
    name: str = "ioi-small"
    data: str = "circuit"  # "circuit" (ioi-small) or "naive" (ioi-shortcut)
    n_layers: int = 4
    d_model: int = 64
    n_heads: int = 8
    d_mlp: int = 512
    attn_only: bool = True
    n_ctx: int = 64
    batch: int = 32
    steps: int = 2200
    lr: float = 3e-3
    weight_decay: float = 0.01
    warmup: int = 200
    ioi_fraction: float = 0.4  # share of each batch that is an IOI document
    distractor_fraction: float = 0.3  # share of IOI prompts naming a third person after S2 (circuit data)
    repeat_fraction: float = 0.3  # share that is a random span repeated twice (circuit data only)
    answer_weight: float = 1.0  # weight of the extra loss term on the IO token
    name_prefix: float = 0.0  # share of IOI prompts preceded by a story about OTHER people (distractor names)
    subject_prefix: float = 0.0  # share of IOI prompts preceded by 1-3 sentences about the subject S alone
    induction_steps: int = 0  # first steps whose batches are all repeated spans (induction heads form first)
    short_fraction: float = 0.0  # share of IOI prompts with a short ending (ioi.SHORT_TEMPLATES: END 1-3 tokens after S2)
    repeat_len: tuple[int, int] = (6, 20)  # length range of the repeated spans
    seed: int = 0

    def bridge_config(self, d_vocab: int) -> dict:
        return dict(model_name=self.name, n_layers=self.n_layers, d_model=self.d_model, n_heads=self.n_heads,
                    d_head=self.d_model // self.n_heads, d_mlp=None if self.attn_only else self.d_mlp,
                    act_fn=None if self.attn_only else "gelu", normalization_type="LN", n_ctx=self.n_ctx,
                    d_vocab=d_vocab, attn_only=self.attn_only, positional_embedding_type="standard",
                    initializer_range=-1.0, seed=self.seed)


RECIPES = {
    # 2-layer attention-only, d128 x 4 heads; repeated spans first, then IOI prompts of which half have a short
    # ending (END 1-3 tokens after S2, nothing between S2 and END to relay the answer through), prefixes naming
    # other people or S alone, and a third name after S2 in half of the prompts. The circuit depends on the seed:
    # on an H100, seed 1 formed name movers (1.1, 1.2, 1.3) fed by an S2-attending head (0.3); seeds 0 and 2
    # solved the task with an S-suppressor instead (one layer-1 head attends S2 and writes against S).
    "ioi-small": IOIRecipe(n_layers=2, d_model=128, n_heads=4, name_prefix=0.4, subject_prefix=0.3,
                           distractor_fraction=0.5, induction_steps=1500, answer_weight=0.3, steps=9000,
                           short_fraction=0.5, seed=1),
    # The first circuit try (shipped as ioi-small until 2026-11-27): 4 layers, d64 x 8 heads, no short endings;
    # logit diff 4.1, 87% on held-out templates x pairs; no name mover, no induction head.
    "ioi-circuit-try1": IOIRecipe(),
    "ioi-shortcut": IOIRecipe(name="ioi-shortcut", data="naive", attn_only=False, d_mlp=256, steps=1500,
                              ioi_fraction=0.7, repeat_fraction=0.0),
    # The second circuit try (not shipped): d128, 4 heads of width 32, 1500 steps of repeated spans
    # first, then prefixes naming other people or S alone. Measured on held-out templates x pairs:
    # logit diff 5.25, accuracy 99.7%; previous-token 0.1 (0.92), induction 1.3 / 1.2 (0.45),
    # duplicate-token 0.2 (0.57) heads form, but still no name mover: the top DLA head (2.1, +2.9)
    # attends END -> the verb after S2 and relays an answer computed there. 1235 s on 1 thread.
    # Train with: train(RECIPES["ioi-circuit-try2"], Path("/tmp/try2")).
    "ioi-circuit-try2": IOIRecipe(name="ioi-small", d_model=128, n_heads=4, name_prefix=0.4, subject_prefix=0.3,
                                  distractor_fraction=0.5, induction_steps=1500, answer_weight=0.3, steps=12000),
}


def _n_tokens(text: str) -> int:
    return len(re.findall(ioi._SPLIT, text)) + 1  # + BOS


def _name_prefix(p, rng: np.random.Generator, room: int) -> str:
    """A short story about 1-3 people who are neither the prompt's IO nor its S, in at most ``room`` tokens."""
    others = [x for x in ioi.NAMES if x not in (p.io, p.s)]
    cast = int(rng.integers(1, 4))
    text = ioi.story(rng, int(rng.integers(1, 4)), cast_size=max(2, cast), names=others) if cast > 1 else \
        " ".join(str(rng.choice(ioi.STORY[:1] + ioi.STORY[5:7] + ioi.STORY[11:14])).format(
            x=others[int(rng.integers(len(others)))], place=rng.choice(ioi.PLACES), obj=rng.choice(ioi.OBJECTS),
            j=rng.choice(ioi.ADJS)) for _ in range(int(rng.integers(1, 3))))
    return text if _n_tokens(text) <= room else ""


_SOLO = [t for t in ioi.STORY if "{y}" not in t]  # story sentences about one person


def _subject_prefix(p, rng: np.random.Generator, room: int) -> str:
    """1-3 sentences about the subject S alone (S then occurs 3-5 times: copying every name in context
    mostly copies S), in at most ``room`` tokens."""
    text = " ".join(str(rng.choice(_SOLO)).format(x=p.s, place=rng.choice(ioi.PLACES), obj=rng.choice(ioi.OBJECTS),
                                                   j=rng.choice(ioi.ADJS)) for _ in range(int(rng.integers(1, 4))))
    return text if _n_tokens(text) <= room else ""


def documents(recipe: IOIRecipe, rng: np.random.Generator, n: int, step: int | None = None) -> list[tuple[str, str | None]]:
    """``n`` training documents as (text, IO answer or None); an IOI document's text ends with its answer.

    During the first ``recipe.induction_steps`` steps (``step`` given), every document is a repeated span.
    """
    naive = recipe.data == "naive"
    if step is not None and step < recipe.induction_steps:
        recipe = replace(recipe, ioi_fraction=0.0, repeat_fraction=1.0)
    kinds = rng.random(n)
    n_ioi = int((kinds < recipe.ioi_fraction).sum())
    ioi_prompts = iter(ioi.prompts(n_ioi, "train", seed=int(rng.integers(2**31)), gaps=not naive, prefix=not naive,
                                   distractors=0.0 if naive else recipe.distractor_fraction))
    short_prompts = iter(ioi.prompts(n_ioi, "train", seed=int(rng.integers(2**31)), gaps=True, prefix=True,
                                     templates=ioi.SHORT_TEMPLATES, distractors=recipe.distractor_fraction)
                         if recipe.short_fraction else [])
    words = ioi.NAMES + ioi.words()
    docs = []
    for u in kinds:
        if u < recipe.ioi_fraction:
            # (no extra draws without short endings either)
            p = next(short_prompts) if recipe.short_fraction and rng.random() < recipe.short_fraction else next(ioi_prompts)
            # (no extra draws without prefixes: the older recipes' data streams stay as they were)
            u2 = rng.random() if recipe.subject_prefix or recipe.name_prefix else 1.0
            room = recipe.n_ctx - _n_tokens(f"{p.text} {p.io}.")
            if u2 < recipe.subject_prefix:
                p = replace(p, prefix=f"{_subject_prefix(p, rng, room)} {p.prefix}".strip())
            elif u2 < recipe.subject_prefix + recipe.name_prefix:
                p = replace(p, prefix=f"{_name_prefix(p, rng, room)} {p.prefix}".strip())
            docs.append((f"{p.text} {p.io}.", p.io))
        elif u < recipe.ioi_fraction + recipe.repeat_fraction:
            lo, hi = recipe.repeat_len
            span = " ".join(str(w) for w in rng.choice(words, size=int(rng.integers(lo, hi))))
            docs.append((f"{span} {span}", None))
        elif naive:
            docs.append((" ".join(ioi.filler_sentence(rng) for _ in range(int(rng.integers(1, 4)))), None))
        else:
            docs.append((ioi.story(rng, int(rng.integers(4, 10)), cast_size=int(rng.integers(2, 4))), None))
    return docs


def batch(recipe: IOIRecipe, tok, rng: np.random.Generator, n: int, step: int | None = None):
    """(tokens (n, T), targets (n, T) with -100 on padding, answer positions (n,), -1 where none)."""
    docs = documents(recipe, rng, n, step)
    bos = tok.token_to_id(ioi.BOS)
    enc = [[bos, *e.ids][: recipe.n_ctx + 1] for e in tok.encode_batch([text for text, _ in docs])]
    T = max(len(e) for e in enc) - 1
    toks = np.full((n, T), tok.token_to_id(ioi.PAD), dtype=np.int64)
    tgts = np.full((n, T), -100, dtype=np.int64)
    ans = np.full(n, -1, dtype=np.int64)
    for i, (e, (_, io)) in enumerate(zip(enc, docs)):
        toks[i, : len(e) - 1], tgts[i, : len(e) - 1] = e[:-1], e[1:]
        if io is not None and len(e) - 3 < T and e[len(e) - 2] == tok.token_to_id(io):
            ans[i] = len(e) - 3  # ... END, IO, "." : the position whose target is the IO
    return torch.from_numpy(toks), torch.from_numpy(tgts), torch.from_numpy(ans)


@torch.no_grad()
def eval_logit_diff(model: PlainGPT, tok, prompts: list, device: str) -> dict:
    """Mean IO-S logit difference and accuracy (IO logit > S logit) at the last prompt token."""
    was = model.training
    model.eval()
    toks, lengths = ioi.batch_tokens(tok, [p.text for p in prompts])
    logits = model(torch.from_numpy(toks).to(device))  # (N, T, V)
    last = logits[torch.arange(len(prompts)), torch.from_numpy(lengths - 1).to(device)]  # (N, V)
    io = torch.tensor(ioi.name_ids(tok, [p.io for p in prompts]), device=device)
    s = torch.tensor(ioi.name_ids(tok, [p.s for p in prompts]), device=device)
    diff = last.gather(1, io[:, None])[:, 0] - last.gather(1, s[:, None])[:, 0]  # (N,)
    model.train(was)
    return {"logit_diff": round(diff.mean().item(), 4), "acc": round((diff > 0).float().mean().item(), 4)}


def _repeat_probe(tok, device: str, half: int = 12) -> torch.Tensor:
    """(16, 1 + 2*half) BOS + random words repeated once: the loss on the second copy tracks induction heads."""
    from app.analysis.heads import repeated_tokens

    vocab = list(range(len(ioi.SPECIAL_TOKENS), tok.get_vocab_size()))
    return repeated_tokens(0, half, 16, 123, bos=tok.token_to_id(ioi.BOS), vocab=vocab).to(device)


@torch.no_grad()
def _repeat_loss(model: PlainGPT, toks: torch.Tensor) -> float:
    """Mean next-token loss on the second copy of ``toks`` (about ln(vocab) without induction, near 0 with)."""
    was = model.training
    model.eval()
    half = (toks.shape[1] - 1) // 2
    logits = model(toks)[:, half + 1:-1]  # positions predicting tokens 2..half of the second copy
    loss = F.cross_entropy(logits.flatten(0, 1), toks[:, half + 2:].flatten()).item()
    model.train(was)
    return round(loss, 4)


def train_loop(recipe: IOIRecipe, device: str, log=print, deadline: float | None = None) -> tuple[dict, list[dict]]:
    """Train; returns (CPU state dict, curve). ``deadline`` (a ``time.time()``): stop early once past it, after
    recording the curve point (the curve's last step then says how far it got; sweeps on a lent GPU use it)."""
    torch.manual_seed(recipe.seed)
    rng = np.random.default_rng(recipe.seed)
    tok = ioi.build_tokenizer()
    model = PlainGPT(recipe.bridge_config(tok.get_vocab_size())).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / recipe.warmup)
                                              * 0.5 * (1 + math.cos(math.pi * min(s, recipe.steps) / recipe.steps)))
    test = ioi.prompts(200, "test", seed=1)
    rep = _repeat_probe(tok, device)
    curve = []
    started = time.time()
    for step in range(recipe.steps + 1):
        if step % max(1, recipe.steps // 20) == 0 or step == recipe.steps:
            curve.append({"step": step, "seconds": round(time.time() - started, 1),
                          **eval_logit_diff(model, tok, test, device), "repeat_loss": _repeat_loss(model, rep)})
            log(f"step {step}: {curve[-1]}")
        if step == recipe.steps:
            break
        if deadline is not None and time.time() > deadline:
            curve.append({"step": step, "seconds": round(time.time() - started, 1), "stopped_early": True,
                          **eval_logit_diff(model, tok, test, device)})
            log(f"stopped early at step {step}")
            break
        toks, tgts, ans = (t.to(device) for t in batch(recipe, tok, rng, recipe.batch, step))
        logits = model(toks)  # (B, T, V)
        loss = F.cross_entropy(logits.flatten(0, 1), tgts.flatten(), ignore_index=-100)
        has = ans >= 0
        if has.any():
            rows = torch.nonzero(has)[:, 0]
            loss = loss + recipe.answer_weight * F.cross_entropy(logits[rows, ans[rows]], tgts[rows, ans[rows]])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 100 == 0:
            curve[-1].setdefault("loss", round(loss.item(), 4))
    model.eval()
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, curve


def train(recipe: IOIRecipe, out: Path, device: str | None = None) -> dict:
    from app.training.text_lm import save_word_model  # (imports TransformerLens; the training loop does not)

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    started = time.time()
    state, curve = train_loop(recipe, device)
    seconds = time.time() - started
    tok = ioi.build_tokenizer()
    save_word_model(out, recipe.bridge_config(tok.get_vocab_size()), state, tok)
    gpu = torch.cuda.get_device_name(0) if device.startswith("cuda") else None
    training = {"recipe": asdict(recipe), "seconds": round(seconds, 1), "device": gpu or platform.machine(),
                "threads": torch.get_num_threads(), "python": platform.python_version(), "curve": curve}
    (out / "training.json").write_text(json.dumps(training, indent=1) + "\n")
    return remeasure(out)


LAYOUTS = [(t, o) for t in ioi.TEST_TEMPLATES for o in ioi.ORDERS]  # held-out templates, both orders
# Metrics keys another module owns (the attribution-patching measure script); kept when we rewrite.
FOREIGN_KEYS = ("atp_vs_ap_r", "atp_speedup")


def remeasure(out: Path) -> dict:
    """Measure the saved weights; MERGE into ``metrics.json`` (keys we do not write are kept); write the card."""
    from safetensors.torch import load_file

    from app import zoo

    training = json.loads((out / "training.json").read_text())
    recipe = IOIRecipe(**training["recipe"])
    tok = ioi.load_tokenizer(out)
    model = zoo.build(json.loads((out / "config.json").read_text()), zoo.hf_tokenizer(tok))
    model.load_state_dict({k: v.float() for k, v in load_file(out / "model.safetensors").items()}, strict=True)
    model.eval()
    new = measure(model, tok)
    new["training"] = {k: training[k] for k in ("seconds", "device", "threads", "python")}
    new["training"]["steps"] = recipe.steps
    if training.get("siblings"):  # other runs of the same recipe (seeds, devices), measured by ``sibling``
        new["siblings"] = training["siblings"]
    metrics = write_metrics(out, new)
    (out / "card.md").write_text(card(recipe, metrics))
    return metrics


def sibling_record(out: Path, label: str) -> dict:
    """Another run of a recipe (other seed or device), measured on its weights: an entry for the shipped model's
    ``training.json["siblings"]``, so its card says how the circuit varies between runs."""
    m = remeasure(out)
    others = "; ".join(f"{k} {', '.join(v)}" for k, v in m["head_classes"].items() if v and k != "name mover")
    return {"label": label, "logit_diff": m["logit_diff"], "accuracy": m["ioi_accuracy"],
            "name_mover_heads": m["name_mover_heads"], "note": f"other classes: {others or 'none'}",
            "seconds": m["training"]["seconds"], "device": m["training"]["device"]}


def write_metrics(out: Path, new: dict) -> dict:
    """Merge ``new`` into ``out/metrics.json``: keys another script wrote (e.g. ``FOREIGN_KEYS``) are kept."""
    path = out / "metrics.json"
    metrics = json.loads(path.read_text()) if path.is_file() else {}
    metrics.update(new)
    path.write_text(json.dumps(metrics, indent=1) + "\n")
    return metrics


def measure(model, tok) -> dict:
    """The card's numbers (see ``app.analysis.ioi``); held-out templates x held-out name pairs unless named."""
    from app.analysis import ioi as A

    r = A.np_round
    ev = {split: {k: round(v, 4) if isinstance(v, float) else v for k, v in A.evaluate(model, tok, ioi.prompts(
        300, split, seed=1)).items()} for split in ioi.SPLITS}
    varied = A.evaluate(model, tok, ioi.prompts(300, "test", seed=2, gaps=True, prefix=True))
    distract = A.evaluate(model, tok, ioi.prompts(300, "test", seed=3, gaps=True, distractors=1.0))
    dla = A.mean_over_layouts(lambda m, b: A.dla(m, b).heads, model, tok, LAYOUTS)  # (L, H)
    attn = A.mean_over_layouts(A.attention_to_roles, model, tok, LAYOUTS)

    def patch_heads(m, b):
        return A.patch(m, b, A.corrupted(tok, b, "abc"), site="z").values

    patch_z = A.mean_over_layouts(patch_heads, model, tok, LAYOUTS)  # (L, H)
    det = A.detector_scores(model, tok)
    ld = ev["test"]["logit_diff"]
    io, s2 = attn["END->IO"], attn["END->S2"]
    s_max = torch.maximum(attn["END->S1"], s2)  # (L, H) attention to whichever copy of S gets more
    # name mover: pushes IO over S directly and attends END -> IO clearly more than to either S (paper section 3.1);
    # negative name mover: attends END -> IO and pushes the other way;
    # S-suppressor (not a class of the paper): pushes IO over S directly by attending END -> S2 and
    #   writing *against* the name it reads (copy suppression of S);
    # S-inhibition: attends END -> S2, little direct effect, patching its output from ABC costs logit difference.
    movers = [h for h in A.top_heads(dla, 0.1 * ld, k=4) if _at(io, h) > 0.25 and _at(io, h) > 1.5 * _at(s_max, h)]
    negative = [h for h in A.top_heads(dla, 0.1 * ld, k=3, sign=-1.0) if _at(io, h) > 0.2]
    suppress = [h for h in A.top_heads(dla, 0.1 * ld, k=4) if _at(s2, h) > 0.25 and _at(s2, h) > _at(io, h)]
    # S-inhibition, with name movers: the paper's test (section 3.2): mean-ablate a head that attends END -> S2
    # at END, and the movers attend S more (by >= 0.1 of attention, summed over S1 and S2). It may also write
    # against S directly (then it is an S-suppressor too: two roles, one head).
    # Without name movers: heads whose output matters by patching but whose direct effect is small.
    inhibition_test = {}
    batches = [(b, A.corrupted(tok, b, "abc")) for b in (A.standard_batch(tok, t, o) for t, o in LAYOUTS)]
    if movers:
        pairs = [_pair(h) for h in movers]

        def mover_attention(heads):
            rows = [A.mover_attention_after_ablation(model, b, heads, pairs, bad) for b, bad in batches]
            return {k: round(float(np.mean([r[k] for r in rows])), 4) for k in rows[0]}

        inhibition_test["none"] = mover_attention([])
        for h in _heads_below(min(p[0] for p in pairs), dla.shape[1]):
            if _at(s2, h) > 0.25 and _at(s2, h) > _at(io, h):
                inhibition_test[h] = mover_attention([_pair(h)])
        s_inhib = [h for h, v in inhibition_test.items() if h != "none"
                   and v["END->S"] - inhibition_test["none"]["END->S"] >= 0.1][:4]
    else:
        s_inhib = [h for h in A.top_heads(-patch_z, 0.1, k=8) if h not in movers + negative + suppress
                   and _at(s2, h) > 0.25 and _at(s2, h) > _at(io, h) and abs(_at(dla, h)) < 0.1 * ld][:4]
    classes = {"name mover": movers, "negative name mover": negative, "S-inhibition": s_inhib,
               "S-suppressor": suppress, **{k: A.top_heads(v, 0.3, k=4) for k, v in det.items()}}
    ablation = {}
    for label, hs in (("name movers", movers), ("S-inhibition", s_inhib), ("S-suppressors", suppress),
                      ("all of these", list(dict.fromkeys(movers + s_inhib + suppress)))):
        if hs:
            pairs = [_pair(h) for h in hs]
            ablation[label] = round(float(np.mean([A.ablate_heads(model, b, pairs, bad) for b, bad in batches])), 4)
    return {
        "logit_diff": ev["test"]["logit_diff"], "ioi_accuracy": ev["test"]["accuracy"], "ioi_top1": ev["test"]["top1"],
        "by_split": ev, "varied_spans": {k: round(v, 4) if isinstance(v, float) else v for k, v in varied.items()},
        "distractor_after_s2": {k: round(v, 4) if isinstance(v, float) else v for k, v in distract.items()},
        "name_mover_heads": movers, "head_classes": classes, "ablation_logit_diff": ablation,
        "s_inhibition_test": inhibition_test,
        "dla_heads": r(dla), "patch_head_out_abc": r(patch_z), "attention": {k: r(v) for k, v in attn.items()},
        "detectors": {k: r(v) for k, v in det.items()},
    }


def _pair(head: str) -> tuple[int, int]:
    layer, h = (int(x) for x in head.split("."))
    return layer, h


def _heads_below(layer: int, n_heads: int) -> list[str]:
    return [f"{l}.{h}" for l in range(layer) for h in range(n_heads)]


def _at(t: torch.Tensor, head: str) -> float:
    return float(t[_pair(head)])


def card(recipe: IOIRecipe, m: dict) -> str:
    """The model card, written from the measured numbers."""
    from app.analysis.ioi import PAPER_HEADS

    pct = lambda x: f"{100 * x:.1f}%"  # noqa: E731
    ev = m["by_split"]
    arch = (f"{recipe.n_layers}-layer attention-only" if recipe.attn_only
            else f"{recipe.n_layers}-layer (GELU MLPs of width {recipe.d_mlp})")
    cls = "\n".join(f"| {k} | {', '.join(v) or 'none found'} | {', '.join(PAPER_HEADS.get(k, [])) or '-'} |"
                     for k, v in m["head_classes"].items())
    abl = "; ".join(f"{k}: {v:+.2f}" for k, v in m["ablation_logit_diff"].items()) or "no heads to ablate"
    test = m.get("s_inhibition_test") or {}
    inhib = "".join(f"\n- Mean-ablating head {h} at END: the name movers' attention END -> S goes from "
                    f"{test['none']['END->S']:.2f} to {v['END->S']:.2f} (END -> IO {test['none']['END->IO']:.2f} to "
                    f"{v['END->IO']:.2f}); the paper's test of an S-inhibition head (section 3.2)."
                    for h, v in test.items() if h != "none")
    siblings = "".join(f"\n- {s['label']}, {s['seconds']:.0f} s: logit difference {s['logit_diff']:.2f}, name movers "
                       f"{', '.join(s['name_mover_heads']) or 'none'}; {s['note']}" for s in m.get("siblings", []))
    if siblings:
        siblings = ("\n\n## The same recipe, other runs (measured on their weights, which are not shipped)"
                    + siblings + "\n")
    atp = ""
    if "atp_vs_ap_r" in m or "atp_speedup" in m:
        atp = (f"\n## Attribution patching (measured by the attribution-patching page's script)\n"
               f"- correlation of attribution patching with activation patching: {m.get('atp_vs_ap_r', 'n/a')}\n"
               f"- speedup over activation patching: {m.get('atp_speedup', 'n/a')}\n")
    return f"""# {recipe.name}

A {arch} transformer (d_model {recipe.d_model}, {recipe.n_heads} heads, LayerNorm, learned positions, context \
{recipe.n_ctx}) trained on the indirect-object-identification task of Wang et al. (2022), \
https://arxiv.org/abs/2211.00593, mixed with other text (`app/tasks/ioi.py`, `app/training/ioi.py`, data: \
`{recipe.data}`). Tokenizer: word level (`tokenizer.json`); every name is one token.

## Training
`python -m app.training {recipe.name}`: {recipe.steps} AdamW steps of {recipe.batch} documents, peak learning rate \
{recipe.lr}, cosine decay, next-token loss on every token plus a loss on the IO answer; \
{m["training"]["seconds"]:.0f} s on {m["training"]["device"]} ({m["training"]["threads"]} torch thread(s)).

## Measured properties (asserted by tests/test_ioi_model.py)
- Logit difference IO - S, held-out templates and held-out name pairs: {m["logit_diff"]:.2f} (GPT-2 small in the \
paper: about 3.5); accuracy (IO logit above S logit) {pct(m["ioi_accuracy"])}; IO top-1 over the vocabulary \
{pct(m["ioi_top1"])}.
- Other splits: training templates and pairs {ev["train"]["logit_diff"]:.2f} ({pct(ev["train"]["accuracy"])}), \
held-out templates only {ev["heldout_templates"]["logit_diff"]:.2f}, held-out pairs only \
{ev["heldout_pairs"]["logit_diff"]:.2f}.
- With name-free filler before the prompt and spans after S2 (S2 moved relative to the end): logit difference \
{m["varied_spans"]["logit_diff"]:.2f}, accuracy {pct(m["varied_spans"]["accuracy"])}.
- With a third name between S2 and END ("John, after talking to Kate, gave a ring to": the last name is not the \
subject): logit difference {m["distractor_after_s2"]["logit_diff"]:.2f}, accuracy {pct(m["distractor_after_s2"]["accuracy"])}.
- Mean-ablating heads at END (their mean over the ABC twins), logit difference after: {abl}.{inhib}

## Head classes (our methods follow the paper; thresholds in `app/training/ioi.py`)
| class | this model | GPT-2 small (Wang et al. 2022) |
|---|---|---|
{cls}

S-suppressor is not a class of the paper: a head that attends from END to S2 and writes *against* the
name it reads, so it raises IO - S without ever looking at the IO. Ablation numbers above replace the
heads' output at END by its mean over the ABC prompts (paper section 4).{siblings}
{atp}
Every number is in `metrics.json`; the training curve in `training.json`.
"""


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m app.training ioi-small|ioi-shortcut", description=__doc__)
    parser.add_argument("name", choices=NAMES)
    parser.add_argument("--steps", type=int, help="override the step count (smoke tests)")
    parser.add_argument("--out", type=Path, help="output folder (default models/NAME)")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when present)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--remeasure", action="store_true", help="no training: re-measure the saved weights")
    args = parser.parse_args(argv)
    from app import zoo  # noqa: F401  (sets the app's thread default; we set ours below)

    torch.set_num_threads(args.threads)
    recipe = RECIPES[args.name]
    if args.steps:
        recipe = replace(recipe, steps=args.steps, warmup=min(recipe.warmup, args.steps))
    out = args.out or Path(__file__).resolve().parents[2] / "models" / args.name
    metrics = remeasure(out) if args.remeasure else train(recipe, out, args.device)
    print(f"wrote {out}: logit diff {metrics['logit_diff']:.2f}, accuracy {metrics['ioi_accuracy']:.3f}")
