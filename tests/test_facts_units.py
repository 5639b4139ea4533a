"""Fact-recall world, tokenizer, probe and recipe pieces: no shipped weights needed."""

import numpy as np
import torch

from app.analysis import facts as fa
from app.tasks import facts
from app.training.facts import FactsRecipe, train_loop


def test_world_is_seeded_and_balanced():
    w = facts.make_world(0)
    assert w == facts.make_world(0) and w.athletes != facts.make_world(1).athletes
    assert len(w.athletes) == facts.N_NAMES * facts.PER_NAME
    assert len({(a.first, a.last) for a in w.athletes}) == len(w.athletes)  # every pairing once
    for part in ("first", "last"):
        for i in range(facts.N_NAMES):
            sports = [a.sport for a in w.athletes if getattr(a, part) == i]
            assert np.bincount(sports, minlength=4).tolist() == [2, 2, 2, 2]  # no token says the sport
    assert fa.single_token_ceiling(w, "sport") == {"first": 0.25, "last": 0.25}
    for a in w.athletes[:20]:  # same last name, other first name, other sport: exists for everyone
        assert len({b.sport for b in w.same_last(a)}) == 4


def test_names_are_multi_token_and_encode_as_documented():
    w, tok = facts.make_world(0), facts.build_tokenizer()
    for a in w.athletes:
        pieces = tok.encode(a.name).tokens
        assert len(pieces) == 4 and facts.UNK not in pieces and "".join(pieces) == a.name.replace(" ", "")
    a = w.athletes[0]
    ids = facts.encode(tok, facts.prompt(a, facts.TEMPLATES["sport"][0]))
    assert ids[0] == tok.token_to_id(facts.BOS) == 0 and len(ids) == 6
    assert tok.encode("Hello <b>wörld</b> 😀").tokens.count(facts.UNK) >= 1  # odd input: UNK, no crash
    assert len(set(facts.vocab())) == len(facts.vocab())


def test_probe_finds_a_linear_signal_and_not_noise():
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(200) % 4
    fold = (torch.arange(200) // 4) % 2
    signal = torch.nn.functional.one_hot(y, 4).float() * 3 + torch.randn(200, 4, generator=gen) * 0.5
    x = torch.cat([signal, torch.randn(200, 12, generator=gen)], 1)  # (200, 16)
    assert fa.probe_accuracy(x, y, fold) > 0.95
    noise = torch.randn(200, 16, generator=gen)
    assert fa.probe_accuracy(noise, y, fold) < 0.45


def test_sites_and_layer_summary():
    assert fa.sites(2) == ["embed", "L0 attn", "L0 mlp", "L1 attn", "L1 mlp"]
    by_site = {s: float(i) for i, s in enumerate(fa.sites(2))}
    assert fa.probe_by_layer(by_site, 2) == [0.0, 2.0, 4.0]


def test_recipe_runs_a_few_steps():
    state, curve = train_loop(FactsRecipe(steps=2, batch=8), "cpu", log=lambda *_: None)
    assert "blocks.3.mlp.in.weight" in state and curve[-1]["step"] == 2
    assert {"loss", "sport_acc", "city_acc"} <= set(curve[-1])


def test_recipe_model_folder_round_trips(tmp_path):
    """text_lm.save_word_model (shared by the facts, IOI and reversal recipes) writes a folder the bridge loads."""
    import json

    from safetensors.torch import load_file

    from app import zoo
    from app.training.text_lm import save_word_model

    recipe = FactsRecipe(steps=1, batch=4)
    state, _ = train_loop(recipe, "cpu", log=lambda *_: None)
    tok = facts.build_tokenizer()
    save_word_model(tmp_path, recipe.bridge_config(tok.get_vocab_size()), state, tok)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors", "tokenizer.json"]
    saved = load_file(tmp_path / "model.safetensors")
    assert saved.keys() == state.keys() and all(torch.equal(saved[k], state[k]) for k in state)
    model = zoo.build(json.loads((tmp_path / "config.json").read_text()))
    model.load_state_dict(saved, strict=False)
    assert model.cfg.d_vocab == tok.get_vocab_size()
