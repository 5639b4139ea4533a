"""The zoo: registry errors, caching, and isolation of hooked runs between threads."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from app import zoo


def test_unknown_model_lists_valid_names():
    with pytest.raises(zoo.UnknownModelError) as info:
        zoo.load("gpt-17")
    assert "attn-only-1l" in str(info.value) and "attn-only-2l" in str(info.value)


def test_path_like_names_are_refused():
    for bad in ("../models/attn-only-1l", "/etc", "attn-only-1l/../attn-only-2l", ""):
        with pytest.raises(zoo.UnknownModelError):
            zoo.model_dir(bad)


def test_load_is_cached():
    assert zoo.load("attn-only-2l") is zoo.load("attn-only-2l")


def test_concurrent_first_loads_build_each_model_once(monkeypatch):
    """Sessions arriving together at a cold server: one build per model, and a slow first build of one
    model does not hold up the first load of another (the build lock is per model, not global)."""
    import threading

    built, started, release, waited = [], threading.Event(), threading.Event(), []
    real = zoo._load_uncached

    def slow(name, checkpoint):
        built.append(name)
        if name == "attn-only-1l":
            started.set()
            waited.append(release.wait(20))  # False if the other load could not finish meanwhile
        return real(name, checkpoint)

    for store in (zoo._models, zoo._locks, zoo._build_locks):
        for key in [("attn-only-1l", None), ("attn-only-2l", None)]:
            monkeypatch.delitem(store, key, raising=False)
    monkeypatch.setattr(zoo, "_load_uncached", slow)
    with ThreadPoolExecutor(8) as pool:
        slow_loads = [pool.submit(zoo.load, "attn-only-1l") for _ in range(6)]
        assert started.wait(20)
        other = zoo.load("attn-only-2l")  # while attn-only-1l is still being built
        release.set()
        first = {id(f.result()) for f in slow_loads}
    assert waited == [True]
    assert len(first) == 1 and sorted(built) == ["attn-only-1l", "attn-only-2l"]
    assert other is zoo.load("attn-only-2l")


def _ablated_loss(name, tokens, head):
    """Zero-ablate one layer-0 head with a hook and return the loss (hooked run)."""

    def hook(z, hook):  # z: (batch, pos, head, d_head)
        z[:, :, head] = 0.0
        return z

    with zoo.use(name) as model, torch.no_grad():
        return float(model.run_with_hooks(tokens, return_type="loss", fwd_hooks=[("blocks.0.attn.hook_z", hook)]))


def _plain_loss(name, tokens):
    with zoo.use(name) as model, torch.no_grad():
        return float(model(tokens, return_type="loss"))


def test_concurrent_hooked_runs_match_serial():
    name = "attn-only-2l"
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(3, 2048, (2, 64), generator=g)
    jobs = [("hook", h % 8) if i % 2 else ("plain", None) for i, h in enumerate(range(96))]

    def run(job):
        kind, head = job
        return _ablated_loss(name, tokens, head) if kind == "hook" else _plain_loss(name, tokens)

    serial = [run(j) for j in jobs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        threaded = list(pool.map(run, jobs))
    assert threaded == serial
    assert len({round(v, 6) for v in serial}) > 2  # ablations really change the loss
    model = zoo.load(name)
    assert not any(hp.fwd_hooks or hp.bwd_hooks for hp in model.hook_dict.values())


def test_hooks_removed_after_exception():
    def bad_hook(z, hook):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        with zoo.use("attn-only-1l") as model:
            model.run_with_hooks(torch.tensor([[0, 5, 6]]), fwd_hooks=[("blocks.0.attn.hook_z", bad_hook)])
    model = zoo.load("attn-only-1l")
    assert not any(hp.fwd_hooks for hp in model.hook_dict.values())
