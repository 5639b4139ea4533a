"""The optional hub loader (app/hub.py), offline: off by default, and a real boot of a tiny local GPT-2.

The tiny GPT-2 (random weights, our word-level tokenizer saved as a Hugging Face tokenizer) stands in
for GPT-2 small: the same ``TransformerBridge.boot_transformers`` path, the same analysis functions
(DLA, patching) and the same page views, without touching the network.
"""

import pytest

from app import hub, zoo
from app.analysis import ioi as A
from app.tasks import ioi


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory):
    """A folder holding a 2-layer GPT-2 (with MLPs) and a tokenizer in which every name is one token."""
    transformers = pytest.importorskip("transformers")
    import torch

    folder = tmp_path_factory.mktemp("tiny-gpt2")
    tok = zoo.hf_tokenizer(ioi.build_tokenizer())  # word level: " Mary" is one token, like GPT-2's BPE names
    cfg = transformers.GPT2Config(n_layer=2, n_head=2, n_embd=16, n_positions=64, vocab_size=tok.vocab_size,
                                  bos_token_id=0, eos_token_id=0)
    torch.manual_seed(0)
    transformers.GPT2LMHeadModel(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture()
def offline(monkeypatch, tiny_gpt2):
    monkeypatch.setenv(hub.ENV, "1")
    monkeypatch.setenv(hub.MODEL_ENV, str(tiny_gpt2))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    return tiny_gpt2


def test_hub_is_off_by_default_and_says_how_to_enable(monkeypatch):
    monkeypatch.delenv(hub.ENV, raising=False)
    monkeypatch.delenv(hub.MODEL_ENV, raising=False)
    assert not hub.enabled() and hub.default_name() == "gpt2"
    with pytest.raises(hub.HubUnavailable, match=hub.ENV):
        hub.load("gpt2")
    with pytest.raises(ValueError):  # the pages' generic handler catches it as a message
        hub.load()


def test_unreachable_model_is_a_message_not_a_traceback(monkeypatch, tmp_path):
    monkeypatch.setenv(hub.ENV, "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(hub.HubUnavailable, match="could not be loaded"):
        hub.load(str(tmp_path / "no-such-model"))


def test_boots_a_tiny_local_gpt2_and_scores_ioi(offline):
    with hub.use() as model:
        assert model.cfg.n_layers == 2 and not model.training
        text = ioi.make_prompt(0, "Mary", "John").text
        r = hub.ioi_logit_diff(model, text, "Mary", "John", k=5)
        logits = model(model.to_tokens(text))[0, -1]
        mary, john = hub.name_token(model, "Mary"), hub.name_token(model, "John")
    assert r["logit_diff"] == pytest.approx(float(logits[mary] - logits[john]), abs=1e-5)
    assert len(r["top"]) == 5 and hub.load(str(offline)) is model  # one shared instance per name


def test_dla_and_patching_run_on_the_hub_model(offline):
    """The analysis functions of our models, on a batch the hub model tokenized: roles, sums and no-op cells."""
    with hub.use() as model:
        batch = hub.standard_batch(model, 8, "BABA", n=6)
        n, T = batch.tokens.shape
        assert n == 6 and batch.pos["END"] == T - 1
        assert (batch.tokens[:, batch.pos["IO"]] == batch.io).all() and (batch.tokens[:, batch.pos["S2"]] == batch.s).all()
        d = A.dla(model, batch)
        assert d.heads.shape == (2, 2) and d.mlp.shape == (2,)
        # heads + MLPs + embeddings + biases add up to the model's own logit difference (a GPT-2 has MLPs)
        assert float(d.heads.sum() + d.mlp.sum()) + d.embed + d.bias == pytest.approx(d.total, abs=1e-4)
        bad = hub.corrupted(model, batch, "abc")
        resid = A.patch(model, batch, bad, site="resid_pre")
        heads = A.patch(model, batch, hub.corrupted(model, batch, "swap"), site="z")
    assert resid.values.shape == (2, T) and heads.values.shape == (2, 2)
    same = (batch.tokens == bad).all(0)  # positions where clean and ABC tokens agree (e.g. BOS, the template words)
    assert same.any() and not same.all()
    before_names = [p for p in range(T) if same[: p + 1].all()]  # causal: nothing before the first name changed
    assert before_names and resid.values[:, before_names].abs().max() < 1e-5
    assert resid.values[0, batch.pos["IO"]] != 0  # the name itself does change something
    with pytest.raises(ValueError, match="unknown corruption"):
        hub.corrupted(model, batch, "nope")


def test_page_runs_dla_and_patching_on_the_hub_model(offline):
    """With hub models on, choosing GPT-2 small runs the DLA and patching views on it (here the tiny stand-in)."""
    from tests.conftest import open_page
    from tests.test_pages import _texts

    at = open_page("walkthroughs/ioi.py", {"ioi_dla.model": "gpt2", "ioi_patching.model": "gpt2",
                                           "ioi_patching.site": "z"}, timeout=300)
    assert not at.exception and not at.error
    texts = _texts(at)
    assert "the MLPs" in texts  # the DLA caption lists MLP terms: only the (GPT-2) hub model has MLPs here
    assert "Each cell puts one corrupted activation" in texts and "Unavailable: GPT-2 small" not in texts
    assert at.selectbox(key="ioi_dla.model").value == "gpt2"
    assert "hub.standard_batch(model" in "".join(c.value for c in at.code)


def test_page_says_the_hub_model_is_unavailable_offline(monkeypatch):
    from tests.conftest import open_page
    from tests.test_pages import _texts

    monkeypatch.delenv(hub.ENV, raising=False)
    at = open_page("walkthroughs/ioi.py", {"ioi_dla.model": "gpt2"}, timeout=300)
    assert not at.exception and not at.error
    assert "Unavailable: GPT-2 small is a hub model, and hub models are off" in _texts(at)
