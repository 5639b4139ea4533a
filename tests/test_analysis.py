"""Analysis units on tiny random models with hand-set weights (no shipped weights needed)."""

import pytest
import torch

from app.analysis import circuits, heads
from app.analysis.skip_trigrams import skip_trigrams
from tests.conftest import tiny_model


def _set_ov(model, layer, head, matrix_fn):
    """Make the head's OV circuit W_E W_V W_O W_U equal to a chosen map via W_V, W_O."""
    sd = model.state_dict()
    d, dh = model.cfg.d_model, model.cfg.d_head
    v = sd[f"blocks.{layer}.attn.v.weight"].clone()
    o = sd[f"blocks.{layer}.attn.o.weight"].clone()
    wv, wo = matrix_fn(d, dh)  # (d, dh), (dh, d)
    sl = slice(head * dh, (head + 1) * dh)
    v[sl, :] = wv.T
    o[:, sl] = wo.T
    sd[f"blocks.{layer}.attn.v.weight"] = v
    sd[f"blocks.{layer}.attn.o.weight"] = o
    model.load_state_dict(sd)


def test_weight_layout_matches_tl_views():
    m = tiny_model()
    _set_ov(m, 0, 1, lambda d, dh: (torch.ones(d, dh), 2 * torch.ones(dh, d)))
    assert torch.allclose(m.W_V[0, 1], torch.ones(16, 4))
    assert torch.allclose(m.W_O[0, 1], 2 * torch.ones(4, 16))


def test_copying_score_sign():
    m = tiny_model(d_vocab=16)
    sd = m.state_dict()
    sd["embed.weight"] = torch.eye(16)
    sd["unembed.weight"] = torch.eye(16)  # W_U = I (stored transposed)
    m.load_state_dict(sd)
    e = torch.eye(16)
    _set_ov(m, 0, 0, lambda d, dh: (e[:, :dh], e[:dh, :]))  # projector: copies 4 tokens
    _set_ov(m, 0, 1, lambda d, dh: (e[:, :dh], -e[:dh, :]))  # negative projector
    assert abs(circuits.copying_score(circuits.ov_eigenvalues(m, 0, 0)) - 1.0) < 1e-5
    assert abs(circuits.copying_score(circuits.ov_eigenvalues(m, 0, 1)) + 1.0) < 1e-5
    assert circuits.copying_scores(m).shape == (2, 2)


def test_direct_path_top_and_block_agree_with_dense():
    m = tiny_model()
    dense = m.W_E @ m.W_U
    top = circuits.top_in_row(circuits.direct_path(m), 5, 3)
    assert top.ids == dense[5].topk(3).indices.tolist()
    ov = circuits.ov_circuit(m, 1, 0)
    dense_ov = m.W_E @ m.W_V[1, 0] @ m.W_O[1, 0] @ m.W_U
    assert torch.allclose(circuits.block(ov, [1, 4], [2, 3]), dense_ov[[1, 4]][:, [2, 3]], atol=1e-5)
    pairs = circuits.top_pairs(ov, 2, exclude={0})
    masked = dense_ov.clone()
    masked[0, :] = masked[:, 0] = float("-inf")
    assert abs(pairs.scores[0] - float(masked.max())) < 1e-5
    assert 0 not in pairs.rows and 0 not in pairs.cols


def test_qk_circuit_matches_scores():
    m = tiny_model(n_layers=1)
    qk = circuits.qk_circuit(m, 0, 1)
    dense = (m.W_E @ m.W_Q[0, 1]) @ (m.W_E @ m.W_K[0, 1]).T / m.cfg.d_head**0.5
    assert torch.allclose(qk.AB, dense, atol=1e-5)


def test_composition_scores_shape_and_bounds():
    m = tiny_model()
    for mode in "QKV":
        s = circuits.composition_scores(m, mode)
        assert s.shape == (2, 2) and (s >= 0).all() and (s <= 1).all()
    base = circuits.random_composition_baseline(m, n_samples=50)
    assert 0 < base < 1


def test_orthogonal_heads_do_not_compose():
    m = tiny_model()
    e = torch.eye(16)
    _set_ov(m, 0, 0, lambda d, dh: (e[:, :dh], e[:dh, :]))  # layer-0 head writes dims 0..3
    sd = m.state_dict()
    v = sd["blocks.1.attn.v.weight"].clone()
    v[:4, :] = 0
    v[:4, 8:12] = torch.eye(4)  # layer-1 head 0 reads dims 8..11 only
    sd["blocks.1.attn.v.weight"] = v
    m.load_state_dict(sd)
    assert circuits.composition_scores(m, "V")[0, 0] < 1e-6


def test_detection_patterns():
    p = heads.previous_token_pattern(4)
    assert p.tolist() == [[0, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]
    ind = heads.induction_pattern(7, 3)  # BOS a b c a b c
    assert ind[4, 2] == 1 and ind[5, 3] == 1 and ind[6, 4] == 1 and ind.sum() == 3


def test_repeated_tokens_and_scores():
    toks = heads.repeated_tokens(20, 5, 2, seed=1)
    assert toks.shape == (2, 11) and (toks[:, 1:6] == toks[:, 6:]).all() and (toks[:, 0] == 0).all()
    assert (toks[:, 1:] >= 3).all()
    m = tiny_model()
    s = heads.head_scores(m, toks, 5)
    assert s.previous_token.shape == (2, 2) and ((s.induction >= 0) & (s.induction <= 1)).all()
    loss = heads.per_token_loss(m, toks)  # (2, 10)
    first, second = heads.half_losses(loss, 5)
    assert first > 0 and second > 0
    assert first == pytest.approx(float(loss[:, 1:5].mean())) and second == pytest.approx(float(loss[:, 6:].mean()))
    assert heads.half_losses(loss.mean(0), 5) == pytest.approx((first, second))


def test_skip_trigrams_rows():
    m = tiny_model(n_layers=1)
    toks = torch.tensor([0, 5, 6, 7, 5])
    rows = skip_trigrams(m, toks, -1, 2)
    assert len(rows) == 2 * m.cfg.n_heads
    assert all(r.dest_token == 5 and 0 <= r.src_pos <= 4 and len(r.predicted) == 2 for r in rows)
    assert len(m.hook_dict) and not any(h.fwd_hooks for h in m.hook_dict.values())


def test_ablation_changes_loss_and_leaves_no_hooks():
    from app.analysis import induction

    m = tiny_model()
    toks = heads.repeated_tokens(20, 5, 2, seed=0)
    base = heads.per_token_loss(m, toks)
    zero = induction.ablated_loss(m, toks, [(0, 1), (1, 0)])
    means = induction.head_means(m, toks)
    mean = induction.ablated_loss(m, toks, [(0, 1)], means)
    assert means.shape == (2, 2, 4)
    assert not torch.allclose(base, zero) and not torch.allclose(base, mean)
    assert torch.allclose(induction.ablated_loss(m, toks, []), base)
    assert not any(hp.fwd_hooks for hp in m.hook_dict.values())


def test_induction_guesses_find_repeats():
    from app.analysis import induction

    m = tiny_model()
    toks = torch.tensor([0, 5, 6, 7, 5, 6, 9])  # 5 recurs at 4 (guess 6), 6 recurs at 5 (guess 7)
    guesses, true_next = induction.induction_guesses(m, toks, 1, 0)
    assert [(g.pos, g.prev, g.guess) for g in guesses] == [(4, 1, 6), (5, 2, 7)]
    assert true_next.shape == (7,) and torch.isnan(true_next[-1]) and (true_next[:-1] > 0).all()


def test_repeated_tokens_from_a_vocab():
    toks = heads.repeated_tokens(2048, 10, 3, seed=0, vocab=[7, 9, 11])
    assert set(toks[:, 1:].unique().tolist()) <= {7, 9, 11}


def test_synthetic_windows():
    import numpy as np

    from app.tasks.code_corpus import frequent_tokens, sample_windows

    stream = np.array([0, 5, 5, 5, 6, 6, 7, 1, 2] * 50, dtype=np.uint16)
    assert frequent_tokens(stream, 2).tolist() == [5, 6]
    rng = np.random.default_rng(0)
    w = sample_windows(stream, 6, 32, rng, repeat_fraction=1.0, repeat_vocab=np.array([10, 11, 12]))
    assert w.shape == (6, 32) and (w[:, 0] == 0).all() and set(np.unique(w[:, 1:])) <= {10, 11, 12}
    plain = sample_windows(stream, 4, 32, np.random.default_rng(0))
    assert set(np.unique(plain[:, 1:])) <= set(stream.tolist())
