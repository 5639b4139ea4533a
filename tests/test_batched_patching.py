"""Batched activation patching gives TransformerLens' numbers: K cells per forward, same metric calls."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from transformer_lens import patching
from transformer_lens.utilities import get_act_name

from app import zoo
from app.analysis import ioi as A
from app.analysis.batched_patching import patch_cells
from app.tasks import ioi


def _hook_count(model) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


@pytest.fixture(scope="module")
def setup():
    model = zoo.load("ioi-small")
    tok = ioi.load_tokenizer(zoo.model_dir("ioi-small"))
    batch = A.standard_batch(tok, 0, "ABBA", n=8)
    corrupt = A.corrupted(tok, batch, "abc")
    metric, _, _ = A._normalised_metric(model, batch, corrupt)
    return model, batch, corrupt, metric


@pytest.mark.parametrize("site", ["resid_pre", "z"])
def test_ioi_patch_equals_transformer_lens_generic_activation_patch(setup, site):
    model, batch, corrupt, metric = setup
    L, T, H = model.cfg.n_layers, batch.tokens.shape[1], model.cfg.n_heads
    names = {get_act_name(site, l) for l in range(L)}
    with torch.no_grad():
        _, cache = model.run_with_cache(corrupt, names_filter=lambda n: n in names)
    setter = patching.layer_pos_patch_setter if site == "resid_pre" else patching.layer_head_vector_patch_setter
    width = T if site == "resid_pre" else H
    rows = []
    for l in range(L):
        index = pd.DataFrame({"layer": [l] * width, "pos" if site == "resid_pre" else "head": list(range(width))})
        with torch.no_grad():
            rows.append(patching.generic_activation_patch(model, batch.tokens, cache, metric, setter, site,
                                                          index_df=index).reshape(width))
    reference = torch.stack(rows)
    ours = A.patch(model, batch, corrupt, site).values
    assert ours.shape == reference.shape == (L, width)
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=1e-5)
    assert ours.abs().max() > 0.1  # the sweep finds cells that matter (not all zeros)


def test_cells_per_chunk_do_not_change_the_numbers(setup):
    """Chunking (forced here to 3 cells per forward) and cell order are invisible in the result."""
    model, batch, corrupt, metric = setup
    name = "blocks.1.attn.hook_z"
    with torch.no_grad():
        _, cache = model.run_with_cache(corrupt, names_filter=lambda n: n == name)
    cells = [(p, h) for p in range(batch.tokens.shape[1]) for h in range(model.cfg.n_heads)]
    hooks_before = _hook_count(model)
    whole = patch_cells(model, batch.tokens, name, cache[name], cells, metric)
    chunked = patch_cells(model, batch.tokens, name, cache[name], cells, metric, chunk=3)
    reverse = patch_cells(model, batch.tokens, name, cache[name], cells[::-1], metric)
    torch.testing.assert_close(whole, chunked, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(whole, reverse.flip(0), atol=1e-5, rtol=1e-5)
    assert _hook_count(model) == hooks_before  # no hook left on the shared model
