"""The optional hub loader (app/hub.py), offline: off by default, and a real boot of a tiny local GPT-2."""

import pytest

from app import hub, zoo
from app.tasks import ioi


def test_hub_is_off_by_default_and_says_how_to_enable(monkeypatch):
    monkeypatch.delenv(hub.ENV, raising=False)
    assert not hub.enabled()
    with pytest.raises(hub.HubUnavailable, match=hub.ENV):
        hub.load("gpt2")


def test_unreachable_model_is_a_message_not_a_traceback(monkeypatch, tmp_path):
    monkeypatch.setenv(hub.ENV, "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(hub.HubUnavailable, match="could not be loaded"):
        hub.load(str(tmp_path / "no-such-model"))


def test_boots_a_tiny_local_gpt2_and_scores_ioi(monkeypatch, tmp_path):
    transformers = pytest.importorskip("transformers")
    import torch

    monkeypatch.setenv(hub.ENV, "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    tok = zoo.hf_tokenizer(ioi.build_tokenizer())  # word level: " Mary" is one token, like GPT-2's BPE names
    cfg = transformers.GPT2Config(n_layer=1, n_head=2, n_embd=16, n_positions=64, vocab_size=tok.vocab_size,
                                  bos_token_id=0, eos_token_id=0)
    torch.manual_seed(0)
    transformers.GPT2LMHeadModel(cfg).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    with hub.use(str(tmp_path)) as model:
        assert model.cfg.n_layers == 1 and not model.training
        text = ioi.make_prompt(0, "Mary", "John").text
        r = hub.ioi_logit_diff(model, text, "Mary", "John", k=5)
        logits = model(model.to_tokens(text))[0, -1]
    mary, john = tok.convert_tokens_to_ids(["Mary", "John"])
    assert r["logit_diff"] == pytest.approx(float(logits[mary] - logits[john]), abs=1e-5)
    assert len(r["top"]) == 5 and hub.load(str(tmp_path)) is model  # one shared instance per name
