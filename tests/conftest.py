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


def open_page(page: str, query: dict | None = None, timeout: int = 240):
    """AppTest of the whole app switched to one walkthrough page, with URL query params set first.

    Fails the test on an uncaught exception. The timeout is generous: the TransformerLens import
    alone takes seconds, and some pages train toy models live on a busy 2-core machine.
    """
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=timeout)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def answer_exercises(at, answer: str, at_least: int = 3) -> str:
    """Type ``answer`` into every exercise box of an AppTest page and press its Check button.

    Asserts there are ``at_least`` boxes and that no check raised; returns the page's texts after each check.
    """
    from tests.test_pages import _texts

    boxes = [t for t in at.text_input if t.key.endswith(".answer")]
    assert len(boxes) >= at_least
    texts = ""
    for box in boxes:
        box.set_value(answer).run()
        next(b for b in at.button if b.key == box.key.rsplit(".", 1)[0] + ".check").click().run()
        assert not at.exception, at.exception
        texts += _texts(at)
    return texts


def tiny_model(n_layers: int = 2, n_heads: int = 2, d_model: int = 16, d_head: int = 4, d_vocab: int = 20, seed: int = 0):
    """A random attention-only bridge with no weights on disk (for unit tests)."""
    from app import zoo

    return zoo.build(dict(n_layers=n_layers, d_model=d_model, n_heads=n_heads, d_head=d_head, n_ctx=32, d_vocab=d_vocab,
                          attn_only=True, normalization_type=None, seed=seed, act_fn="relu")).eval()

from tests.workshop_pg import workshop_pg_server  # noqa: E402,F401  (session fixture: a throw-away PostgreSQL)
