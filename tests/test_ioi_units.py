"""IOI prompt distribution, tokenizer, analysis and recipe pieces: no shipped weights needed."""

import itertools

import numpy as np
import pytest
import torch

from app import zoo
from app.analysis import ioi as A
from app.tasks import ioi
from app.training import ioi as recipe_mod


@pytest.fixture(scope="module")
def tok():
    return ioi.build_tokenizer()


def test_every_name_is_one_token_and_no_template_word_is_unknown(tok):
    for name in ioi.NAMES:
        assert tok.encode(f"to {name}.").tokens == ["to", name, "."]
    for split in ioi.SPLITS:
        for p in ioi.prompts(60, split, seed=3, gaps=True, prefix=True):
            assert ioi.UNK not in tok.encode(p.text).tokens, p.text
    rng = np.random.default_rng(0)
    assert ioi.UNK not in tok.encode(ioi.story(rng, 30, 3)).tokens
    assert tok.encode("Hello <b>wörld</b> 😀").tokens.count(ioi.UNK) >= 1  # odd input: UNK, no crash
    assert len(set(ioi.vocab())) == len(ioi.vocab())


def test_documented_example_encodes_as_written(tok):
    assert tok.encode("Then, Mary and John went to the store.").tokens == [
        "Then", ",", "Mary", "and", "John", "went", "to", "the", "store", "."]
    p = ioi.make_prompt(0, "Mary", "John", "ABBA")
    assert p.text == "Then, Mary and John went to the store. John gave a ring to"
    assert ioi.make_prompt(0, "Mary", "John", "BABA").text.startswith("Then, John and Mary")
    assert ioi.encode(tok, p.text)[0] == tok.token_to_id(ioi.BOS) == 0


def test_held_out_templates_and_pairs_never_reach_training():
    train_pairs, test_pairs = set(ioi.pairs("train")), set(ioi.pairs("test"))
    assert not train_pairs & test_pairs and len(train_pairs) + len(test_pairs) == len(list(
        itertools.combinations(ioi.NAMES, 2)))
    assert {n for p in train_pairs for n in p} == set(ioi.NAMES)  # every name occurs in training
    assert 0.1 < len(test_pairs) / (len(train_pairs) + len(test_pairs)) < 0.3
    for p in ioi.prompts(300, "train", seed=1, gaps=True, prefix=True):
        assert p.template in ioi.TRAIN_TEMPLATES and tuple(sorted((p.io, p.s))) in {tuple(sorted(q)) for q in train_pairs}
    for p in ioi.prompts(300, "test", seed=1):
        assert p.template in ioi.TEST_TEMPLATES and ioi.pair_split(p.io, p.s) == "test"
    assert ioi.prompts(20, "test", seed=5) == ioi.prompts(20, "test", seed=5)  # seeded
    assert {p.order for p in ioi.prompts(10, "test")} == {"ABBA", "BABA"}
    with pytest.raises(ValueError, match="unknown split"):
        ioi.prompts(2, "validation")


def test_corruptions_keep_the_length_and_do_what_they_say(tok):
    for p in ioi.prompts(100, "test", seed=2, gaps=True, prefix=True):
        abc = ioi.corrupt(p, "abc", seed=1)
        assert len(ioi.encode(tok, abc.text)) == len(ioi.encode(tok, p.text))
        a, b, c = abc.slots
        assert len({a, b, c}) == 3 and not {a, b, c} & {p.io, p.s}
        assert abc.text.replace(a, "X").replace(b, "X").replace(c, "X") == \
            p.text.replace(p.io, "X").replace(p.s, "X")  # only the names changed
        swap = ioi.corrupt(p, "swap")
        assert (swap.io, swap.s) == (p.s, p.io) and len(ioi.encode(tok, swap.text)) == len(ioi.encode(tok, p.text))
    with pytest.raises(ValueError, match="unknown corruption"):
        ioi.corrupt(p, "xyz")


def test_name_positions_follow_the_order(tok):
    abba, baba = ioi.make_prompt(0, "Mary", "John", "ABBA"), ioi.make_prompt(0, "Mary", "John", "BABA")
    assert ioi.name_positions(tok, abba) == {"IO": 3, "S1": 5, "S2": 11, "END": 15}
    assert ioi.name_positions(tok, baba) == {"IO": 5, "S1": 3, "S2": 11, "END": 15}
    for bad in (dict(io="Mary", s="Mary"), dict(io="Zorg", s="John"), dict(io="Mary", s="John", order="AB")):
        with pytest.raises(ValueError):
            ioi.make_prompt(0, **bad)


def test_recipe_batches_put_the_answer_where_the_loss_reads_it(tok):
    for name in ("ioi-small", "ioi-shortcut"):
        r = recipe_mod.RECIPES[name]
        toks, tgts, ans = recipe_mod.batch(r, tok, np.random.default_rng(0), 64)
        rows = torch.nonzero(ans >= 0)[:, 0]
        assert len(rows) > 10 and toks.shape[1] <= r.n_ctx
        names = set(ioi.name_ids(tok, ioi.NAMES))
        assert all(int(tgts[i, ans[i]]) in names for i in rows)  # the target there is a name: the IO
        assert all(int(tgts[i, ans[i] + 1]) == tok.token_to_id(".") for i in rows)


def test_recipe_runs_a_few_steps():
    r = recipe_mod.IOIRecipe(steps=2, batch=4, n_layers=2, d_model=32, n_heads=4, warmup=1, short_fraction=0.5)
    state, curve = recipe_mod.train_loop(r, "cpu", log=lambda *_: None)
    assert "blocks.1.attn.q.weight" in state and "blocks.0.mlp.in.weight" not in state
    assert curve[-1]["step"] == 2 and {"logit_diff", "acc"} <= set(curve[-1])


@pytest.fixture(scope="module")
def random_model(tok):
    cfg = recipe_mod.IOIRecipe(n_layers=2, d_model=32, n_heads=4).bridge_config(tok.get_vocab_size())
    m = zoo.build(cfg, zoo.hf_tokenizer(tok)).eval()
    g = torch.Generator().manual_seed(0)
    m.load_state_dict({k: v + 0.3 * torch.randn(v.shape, generator=g) for k, v in m.state_dict().items()})
    return m


def test_dla_adds_up_to_the_logit_difference(tok, random_model):
    batch = A.standard_batch(tok, 3, "BABA", n=4)
    d = A.dla(random_model, batch)
    assert d.heads.shape == (2, 4) and d.layer_src.shape == (2, batch.tokens.shape[1])
    assert d.heads.sum().item() + d.embed + d.bias == pytest.approx(d.total, abs=1e-3)
    assert d.layer_src.sum().item() == pytest.approx(d.heads.sum().item(), abs=1e-3)  # same heads, split by source


def test_patching_ends_are_zero_and_minus_one(tok, random_model):
    batch = A.standard_batch(tok, 8, "ABBA", n=4)
    bad = A.corrupted(tok, batch, "abc")
    seen = []
    p = A.patch(random_model, batch, bad, site="resid_pre", progress=seen.append)
    assert p.values.shape == (2, batch.tokens.shape[1]) and seen[-1] == 1.0
    # Patching the whole residual stream at layer 0 is every difference there is between the runs:
    # only the name positions differ, and patching a position with identical tokens changes nothing.
    same = [i for i in range(batch.tokens.shape[1]) if (batch.tokens[:, i] == bad[:, i]).all()]
    assert torch.allclose(p.values[0, same], torch.zeros(len(same)), atol=1e-5)
    heads = A.patch(random_model, batch, bad, site="z")
    assert heads.values.shape == (2, 4)
    with pytest.raises(ValueError):
        A.patch(random_model, batch, bad, site="mlp_out")


def test_ablating_nothing_changes_nothing(tok, random_model):
    batch = A.standard_batch(tok, 3, "ABBA", n=4)
    base = A.evaluate(random_model, tok, batch.prompts)["logit_diff"]
    assert A.ablate_heads(random_model, batch, []) == pytest.approx(base, abs=1e-4)
    assert A.ablate_heads(random_model, batch, [(1, 0), (0, 2)], A.corrupted(tok, batch)) != pytest.approx(base, abs=1e-4)


def test_mixed_layouts_are_refused(tok):
    with pytest.raises(ValueError, match="share"):
        A.make_batch(tok, [ioi.make_prompt(0, "Mary", "John"), ioi.make_prompt(9, "Mary", "John")])


def test_every_word_of_the_held_out_templates_is_trained(tok):
    """Held-out templates must test new structures, not untrained (random) embeddings."""
    rng = np.random.default_rng(0)
    for name in ("ioi-small", "ioi-shortcut"):
        seen = set()
        for _ in range(20):
            seen |= {t for text, _ in recipe_mod.documents(recipe_mod.RECIPES[name], rng, 200)
                     for t in tok.encode(text).tokens}
        for p in ioi.prompts(100, "test", seed=0, gaps=True, prefix=True):
            assert set(tok.encode(p.text).tokens) <= seen, set(tok.encode(p.text).tokens) - seen


def test_metrics_writer_merges_and_card_shows_foreign_keys(tmp_path):
    (tmp_path / "metrics.json").write_text('{"atp_vs_ap_r": 0.97, "atp_speedup": 80.0, "logit_diff": -1}')
    m = recipe_mod.write_metrics(tmp_path, {"logit_diff": 2.5})
    assert m == {"atp_vs_ap_r": 0.97, "atp_speedup": 80.0, "logit_diff": 2.5}
    assert recipe_mod.write_metrics(tmp_path, {}) == m  # read back from disk


def test_distractor_prompts_name_a_third_person_after_s2(tok):
    for p in ioi.prompts(50, "test", seed=4, gaps=True, distractors=1.0):
        ids = ioi.encode(tok, p.text)
        pos = ioi.name_positions(tok, p)
        other = ids.index(tok.token_to_id(p.other))
        assert p.other not in (p.io, p.s) and pos["S2"] < other < pos["END"]  # the last name is not the subject
        assert p.other not in ioi.corrupt(p, "abc").slots
        assert len(ioi.encode(tok, ioi.corrupt(p, "abc").text)) == len(ids)
    assert not any(p.other for p in ioi.prompts(50, "test", seed=4, gaps=True))


def test_name_and_subject_prefixes_and_the_induction_phase(tok):
    """Prefix stories name only OTHER people (or only S); early steps are all repeated spans; docs fit the context."""
    from dataclasses import replace

    r = replace(recipe_mod.RECIPES["ioi-small"], ioi_fraction=1.0, repeat_fraction=0.0, name_prefix=0.5,
                subject_prefix=0.5, induction_steps=10)
    rng = np.random.default_rng(0)
    counts = []
    for text, io in recipe_mod.documents(r, rng, 200, step=50):
        words = tok.encode(text).tokens
        assert len(words) + 1 <= r.n_ctx + 1 and words[-2] == io
        named = [w for w in words if w in ioi.NAMES]
        counts.append(len(set(named)))
        assert named.count(io) == 2  # the IO is named once, then answered: prefixes never name it
    assert min(counts) == 2 and max(counts) >= 4  # subject-only prefixes, and stories about other people
    early = recipe_mod.documents(r, rng, 50, step=5)
    assert all(a is None for _, a in early)  # the induction phase: repeated spans only
    assert all(t.split()[: len(t.split()) // 2] == t.split()[len(t.split()) // 2:] for t, _ in early)


def test_short_endings_put_end_within_three_tokens_of_s2(tok):
    """The recipe's short endings (training only): END follows S2 by 1-3 tokens (plus any gap), and the standard
    splits never draw them."""
    from dataclasses import replace

    assert not set(ioi.SHORT_TEMPLATES) & set(ioi.TRAIN_TEMPLATES + ioi.TEST_TEMPLATES)
    assert all(p.template not in ioi.SHORT_TEMPLATES for split in ioi.SPLITS for p in ioi.prompts(100, split, seed=3))
    for t in ioi.SHORT_TEMPLATES:
        pos = ioi.name_positions(tok, ioi.make_prompt(t, "Mary", "John"))
        assert 1 <= pos["END"] - pos["S2"] <= 3
    r = replace(recipe_mod.RECIPES["ioi-small"], ioi_fraction=1.0, repeat_fraction=0.0, short_fraction=1.0)
    docs = recipe_mod.documents(r, np.random.default_rng(0), 100, step=r.induction_steps)
    endings = {ioi.TEMPLATES[t].split("{gap}")[1] for t in ioi.SHORT_TEMPLATES}  # " called", " said hello to", ...
    assert all(io is not None and any(text.endswith(f"{e} {io}.") for e in endings) for text, io in docs)
