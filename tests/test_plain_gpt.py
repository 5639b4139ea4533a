"""PlainGPT (the fast training module) computes what the TransformerLens bridge computes."""

import pytest
import torch

from app import zoo
from app.training.plain_gpt import PlainGPT

BASE = {"model_name": "t", "n_layers": 2, "d_model": 32, "n_heads": 4, "d_head": 8, "d_mlp": 64, "n_ctx": 12, "d_vocab": 50,
            "positional_embedding_type": "standard", "seed": 3}
CONFIGS = [
    {"attn_only": False, "normalization_type": "LN", "act_fn": "gelu"},
    {"attn_only": False, "normalization_type": None, "act_fn": "relu", "n_layers": 1},
    {"attn_only": True, "normalization_type": None, "act_fn": "relu"},
]


@pytest.mark.parametrize("extra", CONFIGS, ids=["ln-gelu-2l", "noln-relu-1l", "attn-only"])
def test_same_logits_as_bridge(extra):
    cfg = {**BASE, **extra}
    plain = PlainGPT(cfg).eval()
    with torch.no_grad():  # make LN and biases non-trivial so a wrong formula shows
        for p in plain.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    bridge = zoo.build(cfg)
    assert set(bridge.state_dict()) == set(plain.state_dict())
    bridge.load_state_dict(plain.state_dict(), strict=True)
    bridge.eval()
    tokens = torch.randint(0, 50, (3, 12), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = bridge(tokens)
        got = plain(tokens)
        last = plain(tokens, last_only=True)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(last, want[:, -1], atol=1e-5, rtol=1e-4)


def test_unsupported_config_names_the_fix():
    with pytest.raises(ValueError, match="act_fn"):
        PlainGPT({**BASE, "attn_only": False, "act_fn": "swish"})
    with pytest.raises(ValueError, match="normalization_type"):
        PlainGPT({**BASE, "normalization_type": "RMS"})
