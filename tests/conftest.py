import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def tiny_model(n_layers: int = 2, n_heads: int = 2, d_model: int = 16, d_head: int = 4, d_vocab: int = 20, seed: int = 0):
    """A random attention-only bridge with no weights on disk (for unit tests)."""
    from app import zoo

    return zoo.build(dict(n_layers=n_layers, d_model=d_model, n_heads=n_heads, d_head=d_head, n_ctx=32, d_vocab=d_vocab,
                          attn_only=True, normalization_type=None, seed=seed, act_fn="relu")).eval()
