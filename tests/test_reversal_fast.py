"""The cached-prefix scoring path (``PlainGPT.prefix_cache`` / ``continue_from``) gives the numbers of the
plain per-candidate forwards.

Small random models first (no weights, fast), then the shipped reversal-small weights through the
TransformerBridge the app runs: the accuracy view's four set x direction groups and a live query.
"""

import pytest
import torch
from tokenizers import Tokenizer

from app import zoo
from app.analysis import reversal as rv
from app.tasks import reversal as task
from app.training.plain_gpt import PlainGPT
from app.training.reversal import ReversalRecipe

NAME = "reversal-small"
CONFIGS = {  # the recipe's own config, and variants PlainGPT.from_state claims to support
    "recipe": {},
    "attn-only, no LN": {"attn_only": True, "normalization_type": None},
    "relu, 3 layers": {"act_fn": "relu", "n_layers": 3},
    "gelu_new": {"act_fn": "gelu_new"},
}


def _random_model(vocab: int, **changes) -> tuple[PlainGPT, dict]:
    cfg = {**ReversalRecipe().bridge_config(vocab, 3), **changes}
    model = PlainGPT(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():  # away from init, so every weight matters
            p.add_(torch.randn_like(p) * 0.5)
    return model, cfg


def _one_forward_per_candidate(model, prefixes: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
    """The reference: a full forward of prefix + answer for every (query, candidate) pair: (Q, C)."""
    Q, Tp = prefixes.shape
    out = torch.zeros(Q, answers.shape[0])
    with torch.no_grad():
        for q in range(Q):
            for c in range(answers.shape[0]):
                ids = torch.cat([prefixes[q], answers[c]])[None]  # (1, Tp + La)
                logp = model(ids)[0, Tp - 1:-1].log_softmax(-1)  # (La, V)
                out[q, c] = logp.gather(-1, answers[c, :, None]).sum()
    return out


@pytest.fixture(scope="module")
def world():
    return task.make_world(12, 5, 5)


@pytest.mark.parametrize("variant", CONFIGS)
def test_cached_prefix_equals_per_candidate_forwards(world, variant):
    torch.manual_seed(0)
    tok = task.build_tokenizer(world)
    model, cfg = _random_model(tok.get_vocab_size(), **CONFIGS[variant])
    fast = PlainGPT.from_state(model.state_dict(), cfg)
    facts = world.group("B")
    for d in rv.DIRECTIONS:
        prefixes = rv.encode(tok, [rv.query_text(f, d) for f in facts], bos=True)  # (Q, Tp)
        answers = rv.encode(tok, [rv.answer_text(f, d) for f in facts], bos=False)  # (C, La)
        want = _one_forward_per_candidate(model, prefixes, answers)
        got = rv.score_group(fast, tok, facts, d)  # the cached path: fast is a PlainGPT
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-5)
        assert torch.equal(got.argmax(-1), want.argmax(-1))
    tokens = torch.randint(0, tok.get_vocab_size(), (3, cfg["n_ctx"]))
    want = model(tokens).detach()  # (3, T, V); without LN the random logits reach ~1e4, so float32 error scales
    torch.testing.assert_close(fast(tokens), want, atol=1e-6 * want.abs().max().item() + 1e-4, rtol=1e-5)


def test_longer_answers_shared_heads_and_small_chunks():
    """Three-token answers with repeated first tokens (the causal mask inside the answer, the unique-head
    bookkeeping) and query chunks smaller than the batch."""
    torch.manual_seed(1)
    model, cfg = _random_model(40)
    prefixes = torch.randint(3, 40, (7, 4))  # (Q, Tp)
    answers = torch.tensor([[5, 6, 7], [5, 6, 8], [5, 9, 7], [10, 6, 7], [10, 6, 7], [11, 12, 13]])  # (C, 3)
    want = _one_forward_per_candidate(model, prefixes, answers)
    for chunk in (1, 5, 8192):
        got = rv._cached_answer_logprobs(model, prefixes, answers, chunk=chunk)
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(rv.answer_logprobs(model, prefixes, answers), want, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(rv.answer_logprobs(lambda t: model(t), prefixes, answers), want, atol=1e-4, rtol=1e-5)
    cache = model.prefix_cache(prefixes)
    logits = model.continue_from(cache, answers)  # (Q, C, 3, V) = the full forwards' answer positions
    full = model(torch.cat([prefixes[:, None].expand(-1, 6, -1), answers[None].expand(7, -1, -1)], -1).flatten(0, 1))
    torch.testing.assert_close(logits, full.view(7, 6, 7, -1)[:, :, 4:], atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(cache.logits, model(prefixes)[:, -1], atol=1e-4, rtol=1e-5)


def test_unsupported_configs_are_refused():
    base = ReversalRecipe().bridge_config(40, 0)
    assert PlainGPT.supports(base)
    for change in ({"positional_embedding_type": "rotary"}, {"normalization_type": "RMS"}, {"act_fn": "silu"},
                   {"gated_mlp": True}, {"n_key_value_heads": 2}, {"output_logits_soft_cap": 30.0}, {"eps": 1e-6},
                   {"attention_dir": "bidirectional"}, {"attn_scale": 4.0}, {"final_rms": True}):
        assert not PlainGPT.supports({**base, **change})
    with pytest.raises(ValueError, match="from_state supports"):
        PlainGPT.from_state({}, {**base, "act_fn": "silu"})


def test_from_state_takes_the_bridge_defaults_for_missing_fields():
    """A config without normalization_type / act_fn / d_mlp builds the bridge with TransformerBridgeConfig's
    defaults (LN, relu, 4 d_model); from_state must compute the same logits, not PlainGPT's own defaults."""
    cfg = {"model_name": "t", "n_layers": 2, "d_model": 16, "n_heads": 2, "d_head": 8, "n_ctx": 6, "d_vocab": 30}
    bridge = zoo.build(cfg).eval()
    with torch.no_grad():
        for p in bridge.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    plain = PlainGPT.from_state(bridge.state_dict(), cfg)
    tokens = torch.randint(0, 30, (4, 6), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(plain(tokens), bridge(tokens), atol=1e-5, rtol=1e-4)


@pytest.fixture(scope="module")
def shipped():
    world = rv.load_world(NAME)
    tok = Tokenizer.from_file(str(zoo.model_dir(NAME) / "tokenizer.json"))
    with zoo.use(NAME) as model:
        return world, tok, model, PlainGPT.from_state(model.state_dict(), zoo.config(NAME))


@pytest.mark.parametrize("group", ["A", "B"])
@pytest.mark.parametrize("direction", rv.DIRECTIONS)
def test_shipped_weights_same_groups_as_the_bridge(shipped, group, direction):
    """What the accuracy view shows: the full 150 x 150 score matrix, accuracy and gap, both paths."""
    world, tok, model, fast = shipped
    facts = world.group(group)
    with zoo.use(NAME):
        old = rv.score_group(lambda t: model(t), tok, facts, direction)  # (Q, C) via the bridge
        new = rv.score_group(fast, tok, facts, direction)
        s_old = rv.group_score(lambda t: model(t), tok, world, group, direction)
        s_new = rv.group_score(fast, tok, world, group, direction)
    assert new.shape == (150, 150)
    torch.testing.assert_close(new, old, atol=1e-4, rtol=1e-5)
    assert torch.equal(new.argmax(-1), old.argmax(-1))
    assert s_new.correct == s_old.correct and s_new.n == s_old.n == 150
    assert s_new.gap == pytest.approx(s_old.gap, abs=1e-4)
    assert s_new.gap_sd == pytest.approx(s_old.gap_sd, abs=1e-4)


def test_the_app_compute_takes_the_fast_path_with_the_same_numbers(shipped):
    from app.ui import compute_reversal as cr

    world, tok, model, _ = shipped
    with zoo.use(NAME) as m:
        fast = cr._forward(NAME, m)
        assert isinstance(fast, PlainGPT) and cr._forward(NAME, m) is fast  # built once per loaded bridge
        assert fast.embed.weight.data_ptr() == m.state_dict()["embed.weight"].data_ptr()  # the bridge's tensors
        s = rv.group_score(lambda t: m(t), tok, world, "A", "backward")
        fact = world.group("B")[3]
        bwd = rv.score_query(lambda t: m(t), tok, world, fact, "backward")
    shown = cr.group_score.__wrapped__(NAME, "A", "backward")
    assert shown["correct"] == s.correct and shown["gap"] == pytest.approx(s.gap, abs=1e-4)
    q = cr.query.__wrapped__(NAME, fact.pet)
    assert q["backward"]["rank"] == bwd.rank
    assert q["backward"]["logprobs"] == pytest.approx(list(bwd.logprobs), abs=1e-4)
