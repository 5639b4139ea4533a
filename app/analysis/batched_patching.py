"""Activation patching with many cells per forward pass: the same numbers as TransformerLens' sweep, faster.

Activation patching (Meng et al. 2022, https://arxiv.org/abs/2202.05262; Wang et al. 2022,
https://arxiv.org/abs/2211.00593, section 3) copies one activation from a source run into a base run and
measures a metric. ``transformer_lens.patching.generic_activation_patch`` does one forward pass per cell. On
our small models a forward is mostly fixed overhead (the bridge's hook machinery, Python), so a sweep of a
few hundred cells took a second or more (measured on ioi-small at load ~2: residual sweep 0.40 s, head x position
sweep 2.3 s; batched: 0.21 s and 0.73 s). Here K cells share one forward: the base batch is repeated K times and
the hook writes cell k's source activation into copy k only. Each copy's logits go to the caller's metric
exactly as TL's sweep would pass them, so the results match TL's to float rounding
(tests/test_batched_patching.py checks this against ``generic_activation_patch``).
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

MAX_LOGIT_FLOATS = 32_000_000  # cap on K * batch * seq * vocab per forward (~128 MB of fp32 logits)


def patch_cells(model, base: torch.Tensor, hook_name: str, source: torch.Tensor, cells: Sequence[tuple],
                metric: Callable[[torch.Tensor], torch.Tensor], chunk: int | None = None) -> torch.Tensor:
    """``metric(base run with act[:, *cell] := source[:, *cell])`` for every cell: a (len(cells),) tensor.

    base: (B, T) tokens. source: the hooked activation of the source run, (B, ...) like the hook's input.
    cells: index tuples into the activation after the batch axis, e.g. ``(pos,)`` for a residual stream
    ``(B, T, d)`` or ``(pos, head)`` / ``(slice(None), head)`` for ``hook_z`` ``(B, T, H, d_head)``.
    """
    B, T = base.shape
    if chunk is None:
        chunk = max(1, MAX_LOGIT_FLOATS // max(1, B * T * model.cfg.d_vocab))
    out = []
    for start in range(0, len(cells), chunk):
        part = list(cells[start:start + chunk])
        K = len(part)

        def hook(act, hook, part=part, K=K):  # act: (K*B, ...)
            act = act.clone()
            for k, cell in enumerate(part):
                act[(slice(k * B, (k + 1) * B), *cell)] = source[(slice(None), *cell)]
            return act

        with torch.no_grad():
            logits = model.run_with_hooks(base.repeat(K, 1), fwd_hooks=[(hook_name, hook)])  # (K*B, T, V)
        out += [metric(logits[k * B:(k + 1) * B]) for k in range(K)]
    return torch.stack([torch.as_tensor(v, dtype=torch.float32) for v in out])
