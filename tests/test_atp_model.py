"""Attribution patching on the shipped ioi-small: the recorded r is reproduced, the pass counts hold,
and the residual stream at the embedding is where the estimate misses most (the failure the page shows)."""

import pytest

from app import zoo
from app.analysis import atp
from app.training import atp_measure as am

MODEL = "ioi-small"


@pytest.fixture(scope="module")
def view():
    pairs = am.view_pairs(MODEL)
    with zoo.use(MODEL) as model:
        est = atp.attribution(model, pairs)
        real = {s: atp.patch_sweep(model, pairs, s)[0] for s in ("head", "resid")}
    return pairs, est, real


def test_shipped_r_is_reproduced(view):
    _, est, real = view
    shipped = zoo.metrics(MODEL)
    assert atp.correlation(est.values["head"], real["head"]) == pytest.approx(shipped["atp_vs_ap_r"], abs=0.01)
    assert shipped["atp_speedup"] > 0  # a timing: measured by bench/atp.py, never asserted here


def test_pass_counts(view):
    pairs, est, real = view
    cfg = zoo.config(MODEL)
    assert (est.forwards, est.backwards) == (2, 1)
    assert real["head"].numel() == cfg["n_layers"] * cfg["n_heads"] * pairs.clean.shape[1]  # one forward per cell


def test_residual_stream_misses_most_at_the_embedding(view):
    """The page's failure case: the linear term is worst where a whole name's embedding is swapped."""
    _, est, real = view
    err = (est.values["resid"] - real["resid"]).abs().amax(dim=1)  # (L,) the worst cell per layer
    assert int(err.argmax()) == 0
    assert atp.correlation(est.values["resid"], real["resid"]) < atp.correlation(est.values["head"], real["head"])
    assert atp.failures(est.values["resid"][0], real["resid"][0]).any()
