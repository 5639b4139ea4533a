"""Unit tests of the SAE module (no shipped weights): maths, hand-written gradients, SAELens layout, counts."""

import json

import pytest
import torch

from app.analysis import sae as S


def _sae(d_in=16, d_sae=64, seed=1, shift=0.0):
    sae = S.SAE(d_in, d_sae, seed=seed).double()
    with torch.no_grad():
        sae.b_enc.fill_(-shift)
        sae.b_dec.normal_(generator=torch.Generator().manual_seed(seed))
    return sae


def test_encode_decode_shapes_and_equations():
    sae = _sae()
    x = torch.randn(3, 5, 16, dtype=torch.float64)
    x_hat, f = sae(x)
    assert f.shape == (3, 5, 64) and x_hat.shape == x.shape and (f >= 0).all()
    assert torch.allclose(f, torch.relu((x - sae.b_dec) @ sae.W_enc + sae.b_enc))
    assert torch.allclose(x_hat, f @ sae.W_dec + sae.b_dec)
    assert torch.allclose(S.SAE(16, 64).W_dec.norm(dim=1), torch.ones(64))  # unit-norm rows at init


@pytest.mark.parametrize("shift,sparse_below", [(0.0, 0.05), (3.0, 0.05), (3.0, 0.0)])
def test_hand_gradients_match_autograd(shift, sparse_below):
    """Dense path (many active), sparse path (few active) and the forced dense path give autograd's gradients."""
    sae = _sae(shift=shift)
    x = torch.relu(torch.randn(200, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))) * 2
    x_hat, f = sae(x)
    loss = ((x_hat - x) ** 2).sum(1).mean() + 0.7 * f.sum(1).mean()
    loss.backward()
    ref = {k: p.grad.clone() for k, p in sae.named_parameters()}
    mse, l1_term, f2 = S.set_grads(sae, x, 0.7, sparse_below=sparse_below)
    assert 0 < float((f2 > 0).double().mean()) < 1
    assert mse + l1_term == pytest.approx(loss.item(), rel=1e-10)
    for k, p in sae.named_parameters():
        assert torch.allclose(p.grad, ref[k], atol=1e-10), k


def test_unit_norm_constraint_helpers():
    sae = _sae()
    sae.W_dec.grad = torch.randn_like(sae.W_dec)
    sae.remove_parallel_grad()
    assert torch.allclose((sae.W_dec.grad * sae.W_dec).sum(1), torch.zeros(64, dtype=torch.float64), atol=1e-10)
    with torch.no_grad():
        sae.W_dec.mul_(3.0)
    sae.normalize_decoder()
    assert torch.allclose(sae.W_dec.norm(dim=1), torch.ones(64, dtype=torch.float64))


def test_metrics_simple_cases():
    f = torch.tensor([[0.0, 1.0, 2.0], [0.0, 0.0, 0.5]])
    assert S.l0(f) == pytest.approx(1.5)
    assert torch.allclose(S.firing_rates(f), torch.tensor([0.0, 0.5, 1.0]))
    x = torch.randn(100, 4)
    assert S.fvu(x, x) == 0.0
    assert S.fvu(x, x.mean(0).expand_as(x)) == pytest.approx(1.0)


def test_neurons_for_share_counts():
    w = torch.zeros(3, 100)
    w[0, 7] = 5.0  # one neuron
    w[1] = 1.0  # uniform: 90 of 100 neurons hold 90%
    w[2, :4] = torch.tensor([3.0, 2.0, 1.0, 1.0])  # 9, 4, 1, 1 of 15: 9+4 = 13/15 < 0.9 -> 3 neurons
    assert S.neurons_for_share(w).tolist() == [1, 90, 3]
    assert S.neurons_for_share(w, 0.5).tolist() == [1, 50, 1]
    counts = S.neurons_for_share(w)
    assert S.dense_in_neuron_basis(counts) == pytest.approx(1 / 3)
    assert S.dense_in_neuron_basis(counts, torch.tensor([True, False, True])) == 0.0


def test_top_token_share_ignores_inactive_entries():
    ids = torch.tensor([[5, 5, 5, 9], [1, 2, 3, 4], [7, 7, 8, 8]])
    acts = torch.tensor([[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 0.0]])
    out = S.top_token_share(ids, acts)
    assert out.tolist() == pytest.approx([0.75, 0.25, 2 / 3])
    assert torch.isnan(S.top_token_share(ids[:1], torch.zeros(1, 4)))[0]


def test_unit_stats_streaming_matches_one_pass():
    a = torch.relu(torch.randn(1000, 6, generator=torch.Generator().manual_seed(0)))
    s = S.UnitStats(6, 5, 8, a.max(0).values)
    for start in range(0, 1000, 300):
        s.update(a[start : start + 300], start)
    v, i = a.topk(5, dim=0)
    assert torch.allclose(s.values, v.T) and (s.index == i.T).all()
    assert (s.hist.sum(1) == (a > 0).sum(0)).all()
    assert torch.allclose(s.firing_rate(), (a > 0).float().mean(0))


def test_saelens_layout_round_trip(tmp_path):
    sae = S.SAE(8, 32, seed=3)
    with torch.no_grad():
        sae.b_enc.uniform_(-1, 0)
        sae.b_dec.uniform_(0, 1)
    cfg = S.saelens_cfg(8, 32, "tiny", 16)
    S.save_saelens(sae, tmp_path, cfg)
    from safetensors.torch import load_file

    raw = load_file(tmp_path / "sae_weights.safetensors")
    assert {k: tuple(v.shape) for k, v in raw.items()} == {"W_enc": (8, 32), "W_dec": (32, 8), "b_enc": (32,), "b_dec": (8,)}
    stored = json.loads((tmp_path / "cfg.json").read_text())
    for key in ("d_in", "d_sae", "hook_name", "hook_layer", "dtype", "normalize_activations", "architecture",
                "activation_fn_str", "apply_b_dec_to_input", "context_size", "model_name"):
        assert key in stored, key
    assert stored["hook_name"] == "blocks.0.mlp.hook_post" and stored["hook_layer"] == 0
    back, _ = S.load_saelens(tmp_path)
    x = torch.randn(10, 8)
    assert torch.equal(back(x)[0], sae(x)[0])
    stored["d_sae"] = 31  # a cfg.json that does not match the weights is refused
    (tmp_path / "cfg.json").write_text(json.dumps(stored))
    with pytest.raises(ValueError, match="shape"):
        S.load_saelens(tmp_path)


def test_resample_dead_restarts_only_dead_features():
    from app.training.sae import resample_dead

    sae = S.SAE(8, 16, seed=0)
    opt = torch.optim.Adam(sae.parameters(), lr=1e-3)
    x = torch.relu(torch.randn(64, 8))
    S.set_grads(sae, x, 1.0)
    opt.step()
    before = sae.W_dec.detach().clone()
    dead = torch.zeros(16, dtype=torch.bool)
    dead[[2, 5]] = True
    n = resample_dead(sae, opt, dead, x, torch.Generator().manual_seed(0))
    assert n == 2
    assert torch.equal(sae.W_dec[~dead], before[~dead]) and not torch.equal(sae.W_dec[dead], before[dead])
    assert torch.allclose(sae.W_dec[dead].norm(dim=1), torch.ones(2)) and (sae.b_enc[dead] == 0).all()
    assert (opt.state[sae.W_dec]["exp_avg"][dead] == 0).all()
