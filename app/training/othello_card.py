"""The Othello-GPT model card, rendered from config.json + metrics.json (every number measured)."""

from __future__ import annotations


def _layers(values: list[float]) -> str:
    return ", ".join(f"{'emb' if i == 0 else f'L{i}'} {v:.3f}" for i, v in enumerate(values))


def render_card(cfg: dict, m: dict) -> str:
    t = m["training"]
    r = t.get("recipe", {})
    hw = f"one {t['gpu']}" if t.get("gpu") else f"{t['device']} ({t['cpu']}, {t['torch_threads']} torch threads)"
    stopped = "" if t["steps"] == t.get("planned_steps", t["steps"]) else (
        f" (stopped by its time limit at step {t['steps']} of {t['planned_steps']})")
    mt, bw = m["probe_acc_mine_theirs"], m["probe_acc_black_white"]
    best_mt = max(range(len(mt)), key=mt.__getitem__)
    best_bw = max(range(len(bw)), key=bw.__getitem__)
    lines = [
        f"# {cfg['model_name']}",
        "",
        f"A GPT with {cfg['n_layers']} layers, d_model {cfg['d_model']}, {cfg['n_heads']} heads, d_mlp {cfg['d_mlp']}, "
        f"GELU, pre-LayerNorm, learned positions, context {cfg['n_ctx']}, trained to predict the next move of random "
        "legal Othello games (after Li et al. 2023, https://arxiv.org/abs/2210.13382; their model had 8 layers of d_model 512).",
        "",
        "## Tokens",
        "61 tokens: 0 is padding, 1..60 are the 60 squares a move can be played on (a1..h8 in row-major order, "
        "skipping the four centre squares d4 e4 d5 e5). A game is its move list; passes are not tokens, so the model "
        "must infer whose turn it is. Input: the first 59 moves; position t predicts move t+1. "
        "The model never sees a board.",
        "",
        "## Data and training",
        f"`python -m app.training othello-gpt`: {t['train_games']:,} uniformly random legal games (seed {cfg['seed']}), "
        f"{t['steps']:,} AdamW steps of {t['batch_size']} games{stopped}, peak learning rate {r.get('lr')}, cosine "
        f"decay, in {t['seconds']:.0f} s on {hw}; generating the games took {t['game_generation_seconds']:.0f} s. "
        "The same recipe runs on a CPU (default) or CUDA, seeded; on two CPU cores it takes many hours.",
        "",
        "## Measured properties (asserted by tests/test_othello_model.py)",
        f"- Top-1 prediction is a legal move at {m['legal_move_top1']:.2%} of positions ({m['eval_games']:,} fresh "
        "games, every position where the game goes on). Li et al.'s 8-layer model: about 99.99%.",
        f"- Linear probes, mine / theirs / empty (relative to the player to move), accuracy per layer "
        f"(emb = embeddings, Lk = after block k): {_layers(mt)}.",
        f"- Linear probes, black / white / empty: {_layers(bw)}.",
        f"- Best layer: mine/theirs {mt[best_mt]:.3f} at {'emb' if best_mt == 0 else f'L{best_mt}'}, "
        f"black/white {bw[best_bw]:.3f} at {'emb' if best_bw == 0 else f'L{best_bw}'}. Predicting 'empty' everywhere "
        f"scores {m['probe_acc_all_empty']:.3f}.",
        f"- Probe edits: swapping one stone between mine and theirs along the mine/theirs probe direction, at layer "
        f"L{m['intervention_layer']} and every later layer (scale {m['intervention_scale']:g}), makes the model's "
        f"top-k moves equal the edited board's legal moves in {m['intervention_match_rate']:.1%} of "
        f"{m['intervention_cases']} positions (k = the number of legal moves; only positions where the swap changes "
        f"the legal moves). Unedited, the top-k equals the true legal set in {m['intervention_unedited_match_rate']:.1%} "
        f"of them; after the edit it still equals the old set in {m['intervention_still_old_rate']:.1%}. "
        "The layer and scale were chosen on a separate set of positions.",
        "",
        f"Probes (`probes.safetensors`): one multinomial logistic regression per layer and square, fitted by AdamW for "
        f"{r.get('probe_steps')} steps of 4,096 positions drawn from {r.get('probe_games'):,} fresh games (not the "
        f"training pool; fitted on {t.get('probes_fitted_on', t['device'])}) and scored on other fresh games. Games are "
        "regenerated from fixed seeds, so the tests need nothing but the weights and probes.",
    ]
    return "\n".join(lines) + "\n"
