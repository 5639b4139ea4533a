"""Attribution patching on tiny random models (no weights): the estimate is the exact linear term,
zero gradient gives zero, last-layer heads are exact, TransformerLens' own AtP agrees, passes are
counted, and no hook outlives a call."""

import pytest
import torch
from pydantic import ValidationError

from app import zoo
from app.analysis import atp
from tests.conftest import tiny_model


def mlp_model(seed: int = 0):
    """A random 2-layer model with LayerNorm and GELU MLPs (the non-linear case)."""
    return zoo.build(dict(n_layers=2, d_model=16, n_heads=2, d_head=4, d_mlp=32, n_ctx=32, d_vocab=20, attn_only=False,
                          normalization_type="LN", act_fn="gelu", seed=seed)).eval()


def pairs(batch: int = 3, half_len: int = 5, seed: int = 0) -> atp.Pairs:
    return atp.repeat_pairs(20, half_len, batch, seed)


def no_hooks(model) -> bool:
    return all(not (hp.fwd_hooks or hp.bwd_hooks or hp._forward_hooks or hp._backward_hooks)
               for hp in model.hook_dict.values())


def linear_term(model, p: atp.Pairs, name: str, direction: str) -> torch.Tensor:
    """(a_source - a_base) . dm/da at the base run, computed without TransformerLens' cache helper:
    a zero leaf added to the activation carries the gradient."""
    base, source = (p.clean, p.corrupt) if direction == "noise" else (p.corrupt, p.clean)
    with torch.no_grad():
        _, cache = model.run_with_cache(source, names_filter=lambda n: n == name)
        _, cache_b = model.run_with_cache(base, names_filter=lambda n: n == name)
    delta = torch.zeros_like(cache_b[name], requires_grad=True)
    with torch.enable_grad(), model.hooks(fwd_hooks=[(name, lambda t, hook: t + delta)]):
        m = atp.logit_diff(model(base), p.answers).mean()
        (grad,) = torch.autograd.grad(m, delta)
    return ((cache[name] - cache_b[name]) * grad).sum(dim=(0, -1))  # (T, H) or (T,)


@pytest.mark.parametrize("direction", ["noise", "denoise"])
def test_estimate_is_the_exact_linear_term(direction):
    m, p = mlp_model(), pairs()
    est = atp.attribution(m, p, direction=direction)
    assert set(est.values) == {"head", "mlp", "resid"}
    for site, shape in (("head", (2, 10, 2)), ("mlp", (2, 10)), ("resid", (2, 10))):
        assert est.values[site].shape == shape
        for layer in range(2):
            want = linear_term(m, p, atp.HOOKS[site].format(layer), direction)
            torch.testing.assert_close(est.values[site][layer], want, atol=1e-5, rtol=1e-4)
    assert no_hooks(m)


def test_agrees_with_transformer_lens_attribution_patch():
    from transformer_lens.tools.analysis.attribution_patching import attribution_patch

    m, p = mlp_model(1), pairs(batch=1)
    ours = atp.attribution(m, p, direction="denoise")  # TL's convention: gradient on the corrupted run
    tl = attribution_patch(m, p.clean, p.corrupt, lambda logits: atp.logit_diff(logits, p.answers).mean())
    for node, score in tl.node_scores.items():
        if node.kind == "attn_head_out":
            assert ours.values["head"][node.layer, node.position, node.head].item() == pytest.approx(score, abs=1e-5)
        elif node.kind == "mlp_out":
            assert ours.values["mlp"][node.layer, node.position].item() == pytest.approx(score, abs=1e-5)
    assert no_hooks(m)


def test_zero_gradient_gives_zero_estimate_and_zero_effect():
    m, p = tiny_model(), pairs()
    with torch.no_grad():  # head 1 of layer 1 writes nothing: its z has no path to the logits
        w = m.blocks[1].attn.o.weight  # (d_model, n_heads * d_head)
        w[:, 4:8] = 0.0
    est = atp.attribution(m, p)
    real, _ = atp.patch_sweep(m, p, "head")
    assert est.values["head"][1, :, 1].abs().max() == 0.0
    assert real[1, :, 1].abs().max() < 1e-5
    assert est.values["head"][1, :, 0].abs().max() > 0  # the other head does matter
    same = atp.Pairs(p.clean, p.clean.clone(), p.answers, p.labels)  # nothing to patch: every estimate is 0
    assert all(v.abs().max() == 0.0 for v in atp.attribution(m, same).values.values())


def test_last_layer_heads_are_exact_in_an_attention_only_model():
    """After the last layer's z there is only W_O and the unembedding (no LayerNorm): linear, so AtP = patching."""
    m, p = tiny_model(), pairs()
    for direction in ("noise", "denoise"):
        est = atp.attribution(m, p, direction=direction).values["head"]
        real, _ = atp.patch_sweep(m, p, "head", direction=direction)
        torch.testing.assert_close(est[-1], real[-1], atol=1e-4, rtol=1e-3)
        assert atp.correlation(est, real) > 0.5


def test_pass_counts_and_no_hooks_left():
    m, p = mlp_model(), pairs(half_len=4)
    calls = []
    with m.hooks(fwd_hooks=[("hook_pos_embed", lambda t, hook: calls.append(1))]):
        est = atp.attribution(m, p)
        after_atp = len(calls)
        real, _ = atp.patch_sweep(m, p, "head")
    T = p.clean.shape[1]
    assert after_atp == est.forwards == 2 and est.backwards == 1
    assert len(calls) - after_atp == 2 * T * 2 + 2  # one per (layer, pos, head), plus source cache and base run
    assert real.shape == (2, T, 2)
    assert no_hooks(m)


def test_hooks_removed_after_a_failure():
    m, p = mlp_model(), pairs()

    def boom(fraction):
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        atp.patch_sweep(m, p, "mlp", progress=boom)
    bad = atp.Pairs(p.clean, p.corrupt, torch.full_like(p.answers, 99), p.labels)  # answer ids outside the vocab
    with pytest.raises((IndexError, RuntimeError)):
        atp.attribution(m, bad)
    assert no_hooks(m)


def test_site_and_direction_errors():
    m = tiny_model()
    with pytest.raises(ValueError, match="no \\['mlp'\\]"):
        atp.attribution(m, pairs(), sites=["mlp"])
    with pytest.raises(ValueError, match="direction"):
        atp.patch_sweep(m, pairs(), "head", direction="sideways")
    assert atp.sites_of(m) == ("head", "resid")


def test_repeat_pairs_differ_at_one_position():
    p = atp.repeat_pairs(50, 6, 4, seed=3)
    assert p.clean.shape == p.corrupt.shape == (4, 12) and len(p.labels) == 12 == len(set(p.labels))
    diff = (p.clean != p.corrupt).nonzero()[:, 1]
    assert diff.tolist() == [6] * 4
    assert torch.equal(p.answers[:, 0], p.clean[:, 6]) and torch.equal(p.answers[:, 1], p.corrupt[:, 6])
    assert torch.equal(atp.repeat_pairs(50, 6, 4, seed=3).clean, p.clean)


def test_ioi_pairs_line_up():
    from app.tasks import ioi

    tok = ioi.build_tokenizer()
    p = atp.ioi_pairs(tok, 6, seed=1, template=2, order="BABA")
    assert p.clean.shape == p.corrupt.shape and p.clean.shape[1] == len(p.labels) == len(set(p.labels))
    roles = [label.split(" ", 1)[1] for label in p.labels]
    assert [roles.index(r) for r in ("S1", "IO", "S2", "END")] == sorted(roles.index(r) for r in ("S1", "IO", "S2"))\
        + [len(roles) - 1]
    io, s = p.answers[:, 0], p.answers[:, 1]
    assert torch.equal(p.clean[:, roles.index("IO")], io) and torch.equal(p.clean[:, roles.index("S2")], s)
    assert not (p.corrupt == io[:, None]).any() and not (p.corrupt == s[:, None]).any()  # ABC: three other names


def test_ioi_pairs_with_filler_before_the_prompts():
    """prefix=k puts the same name-free sentences before every prompt and its twin: more positions, same task."""
    from app.tasks import ioi

    tok = ioi.build_tokenizer()
    plain, longer = atp.ioi_pairs(tok, 4, seed=2), atp.ioi_pairs(tok, 4, seed=2, prefix=3)
    k = longer.clean.shape[1] - plain.clean.shape[1]
    assert k > 3 and len(longer.labels) == longer.clean.shape[1] == len(set(longer.labels))
    assert torch.equal(longer.clean[:, k + 1:], plain.clean[:, 1:]) and torch.equal(longer.answers, plain.answers)
    head = longer.clean[:, 1:k + 1]  # (B, k) the filler: one text for the whole batch and for the twins
    assert (head == head[0]).all() and torch.equal(longer.corrupt[:, 1:k + 1], head)
    names = torch.tensor(ioi.name_ids(tok, ioi.NAMES))
    assert not torch.isin(head, names).any()
    assert [lab.split(" ", 1)[1] for lab in longer.labels[k:]][1:] == [lab.split(" ", 1)[1] for lab in plain.labels][1:]
    with pytest.raises(ValueError, match="prefix"):
        atp.ioi_pairs(tok, 2, seed=0, prefix=-1)


def test_correlation_and_failures():
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert atp.correlation(a, 2 * a + 1) == pytest.approx(1.0)
    assert atp.correlation(a, -a) == pytest.approx(-1.0)
    assert atp.correlation(a, torch.ones(2, 2)) != atp.correlation(a, torch.ones(2, 2))  # nan for a constant
    miss = atp.failures(torch.tensor([1.0, 0.0, 3.0]), torch.tensor([1.0, 0.5, 4.0]))
    assert miss.tolist() == [False, False, True]


def test_widget_params_validate():
    from app.widgets.atp import AtPParams

    with pytest.raises(ValidationError, match="attention-only"):
        AtPParams(model="attn-only-2l", site="mlp")
    with pytest.raises(ValidationError, match="IOI names"):
        AtPParams(model="attn-only-2l", task="ioi")
    with pytest.raises(ValidationError, match="keep the span"):
        AtPParams(model="facts-small", task="repeat", half_len=20)
    with pytest.raises(ValidationError):
        AtPParams(n_prompts=0)
    with pytest.raises(ValidationError, match="template 99"):
        AtPParams(template=99)
    assert "atp.ioi_pairs(tok, 8, seed=0, template=0, order='ABBA', prefix=0)" in AtPParams().code()
    code = AtPParams(model="facts-small", task="repeat", site="mlp", half_len=5).code()
    assert "atp.patch_sweep(model, pairs, 'mlp'" in code and "models/facts-small" in code


def test_concurrent_calls_match_serial():
    """Threads sharing one zoo model through its lock get the serial numbers, and leave no hook behind."""
    from concurrent.futures import ThreadPoolExecutor

    name = "attn-only-2l"
    jobs = [atp.repeat_pairs(zoo.config(name)["d_vocab"], 6, 2, seed) for seed in range(6)]

    def run(p):
        with zoo.use(name) as m:
            return atp.attribution(m, p).values["head"]

    serial = [run(p) for p in jobs]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(run, jobs))
    for a, b in zip(serial, threaded):
        assert torch.equal(a, b)
    assert no_hooks(zoo.load(name))


def test_path_ends_at_patching_and_starts_with_the_atp_slope():
    m, p = mlp_model(2), pairs()
    est = atp.attribution(m, p).values["head"]
    real, _ = atp.patch_sweep(m, p, "head")
    alphas, curve = atp.path(m, p, "head", 0, 5, 1, steps=201)
    assert curve[0] == 0.0 and curve[-1] == pytest.approx(real[0, 5, 1].item(), abs=1e-4)
    slope = (curve[1] - curve[0]) / (alphas[1] - alphas[0])  # finite difference at alpha = 0
    assert slope == pytest.approx(est[0, 5, 1].item(), abs=2e-2 * max(1.0, abs(slope)))
    assert no_hooks(m)


@pytest.mark.parametrize("site", ["head", "mlp", "resid"])
def test_one_site_alone_gives_the_same_estimate(site):
    """Asking for one site must not change it (with hook_z alone TL's helper used to get no gradient at all)."""
    m, p = mlp_model(), pairs()
    alone = atp.attribution(m, p, sites=[site]).values
    assert list(alone) == [site]
    torch.testing.assert_close(alone[site], atp.attribution(m, p).values[site])
    assert alone[site].abs().max() > 0


def test_sweep_of_chosen_positions_matches_the_full_sweep():
    m, p = mlp_model(), pairs()
    full, _ = atp.patch_sweep(m, p, "head")
    part, _ = atp.patch_sweep(m, p, "head", positions=[-1, 3])
    torch.testing.assert_close(part, full[:, [9, 3]])
