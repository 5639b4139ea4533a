"""Properties of the shipped models/tms results, re-measured where that is cheap."""

import math

import pytest
import torch
from safetensors.torch import load_file

from app import zoo
from app.analysis import superposition as sp
from app.training import tms


@pytest.fixture(scope="module")
def phase():
    return sp.shipped("phase_diagram.json")


@pytest.fixture(scope="module")
def dims():
    return sp.shipped("dims_per_feature.json")


def _cell(phase, importance: float, density: float) -> int:
    i = min(range(len(phase["density"])), key=lambda k: abs(math.log(phase["density"][k] / density)))
    j = min(range(len(phase["relative_importance"])), key=lambda k: abs(math.log(phase["relative_importance"][k] / importance)))
    return phase["phase"][i][j]


def test_tms_is_a_toy_model_not_a_transformer():
    assert "tms" in zoo.toy_names() and "tms" not in zoo.names()
    assert zoo.card("tms").startswith("# tms") and "phase_counts" in zoo.metrics("tms")
    with pytest.raises(zoo.UnknownModelError, match="valid toy models"):
        zoo.toy_dir("../tms")


def test_phase_diagram_has_three_regions_where_expected(phase):
    cells = {c for row in phase["phase"] for c in row}
    assert cells == {sp.NOT_LEARNED, sp.DEDICATED, sp.SUPERPOSED}
    # dense features: the more important one takes the single dimension
    for r, c in zip(phase["relative_importance"], phase["phase"][-1]):
        if abs(r - 1) > 0.1:
            assert c == (sp.NOT_LEARNED if r < 1 else sp.DEDICATED), (r, c)
    # every importance column: superposition below some density, the dense phase above; few stuck cells
    strays = 0
    for j, r in enumerate(phase["relative_importance"]):
        col = [row[j] for row in phase["phase"]]  # low density first
        k, off = sp.phase_boundary(col)
        assert k >= len(col) // 2, (r, col)  # at least the sparser half shares the dimension
        dense_phase = sp.NOT_LEARNED if r <= 1 else sp.DEDICATED  # r = 1 is a tie, broken towards feature 0
        assert all(c in (dense_phase, sp.SUPERPOSED) for c in col[k:]), (r, col)  # stuck cells aside
        strays += off
    assert strays <= 8  # measured: 5 of 357 cells where every restart got stuck
    assert zoo.metrics("tms")["phase_stray_cells"] == strays


def test_phase_boundary_follows_the_estimate(phase):
    """Sharing costs ~p²(1+r)/6, dropping the weaker feature ~min(1, r)·p/3: superposition below p* = 2·min(1, r)/(1+r)."""
    dens = phase["density"]
    for j, r in enumerate(phase["relative_importance"]):
        k, _ = sp.phase_boundary([row[j] for row in phase["phase"]])
        p_star = sp.boundary_estimate(r)
        hi = dens[k] if k < len(dens) else 1.0  # superposed up to dens[k - 1], not from dens[k]
        assert dens[k - 1] / 2 <= p_star <= hi * 2, (r, dens[k - 1], hi, p_star)


def test_phase_cells_reproduce_when_retrained(phase):
    """Three cells retrained on their own (other random numbers than the recipe's grid) land in the same phase."""
    pts = [(0.1, 1.0), (10.0, 1.0), (1.0, 0.01)]
    setup = phase["setup"]
    cfg = sp.TrainConfig(steps=setup["steps"], seed=123)
    for imp, dens in pts:
        models = sp.phase_grid([imp], [dens], restarts=setup["restarts"], cfg=cfg)
        assert int(sp.classify_extra(models.W)[0]) == _cell(phase, imp, dens), (imp, dens)


def test_dims_json_matches_the_shipped_weights(dims):
    W = load_file(zoo.toy_dir("tms") / "dims_weights.safetensors")["W"]  # (k, m, n)
    assert W.shape == (len(dims["inv_density"]), dims["setup"]["d_hidden"], dims["setup"]["n_features"])
    assert torch.allclose(sp.dims_per_feature(W), torch.tensor(dims["dims_per_feature"]), atol=1e-3)
    assert torch.allclose(sp.fractional_dims(W), torch.tensor(dims["fractional_dims"]), atol=1e-3)
    assert sp.represented(W).tolist() == dims["represented"]


def test_dimensions_per_feature_fall_and_stick_at_one_half(dims):
    d = dims["dims_per_feature"]
    assert d[0] == pytest.approx(1.0, abs=0.03)  # dense: one dimension per feature, 20 features kept
    assert all(b <= a + 0.01 for a, b in zip(d, d[1:]))  # falls with sparsity (tiny wobbles allowed)
    found = {p["fraction"]: p for p in tms.plateaus(dims["inv_density"], d)}
    assert found["1/2"]["models"] >= 5  # the long plateau: antipodal pairs
    assert "2/5" in found  # a short one: pentagons


def test_features_sit_at_sticky_fractions(dims):
    """Per feature: antipodal pairs (1/2) dominate the plateau, and 2/3, 2/5, 1/3 geometries occur."""
    counts = tms.feature_fraction_counts(torch.tensor(dims["fractional_dims"]))
    assert counts["1/2"] >= 200
    for label in ("2/3", "2/5", "1/3"):
        assert counts[label] >= 10, (label, counts)


def test_metrics_and_card_match_the_results(phase, dims):
    m = zoo.metrics("tms")
    flat = [c for row in phase["phase"] for c in row]
    assert m["phase_counts"] == {sp.PHASES[k]: flat.count(k) for k in sp.PHASES}
    assert m["dims_plateaus"] == tms.plateaus(dims["inv_density"], dims["dims_per_feature"])
    assert m["feature_fractions"] == tms.feature_fraction_counts(torch.tensor(dims["fractional_dims"]))
    assert zoo.card("tms") == tms.render_card(m)


def test_live_row_in_the_card_is_what_the_page_trains():
    m = zoo.metrics("tms")["row"]
    row = sp.default_row(m["n_features"], m["decay"])
    assert sp.represented(row.W).tolist() == m["represented"]
    assert sp.first_all_represented(row) == m["first_all_represented"]


def test_prose_numbers_match_the_shipped_results():
    """content/superposition.yaml quotes these; retraining must update the prose too."""
    m = zoo.metrics("tms")
    assert m["phase_stray_cells"] == 5 and sum(m["phase_counts"].values()) == 357
    assert round(m["training"]["seconds"] / 60) == 36
    half = next(p for p in m["dims_plateaus"] if p["fraction"] == "1/2")
    assert half["models"] == 8 and round(half["inv_density_from"], 1) == 2.3 and round(half["inv_density_to"], 1) == 3.6
    assert {p["fraction"] for p in m["dims_plateaus"]} >= {"1/2", "2/5", "1/3"}
    assert m["feature_fractions"]["1/2"] == 521 and m["feature_fractions"]["3/4"] == 0
    assert all(m["feature_fractions"][f] > 0 for f in ("2/3", "2/5", "3/8", "1/3", "2/7", "1/4"))
    assert m["row"]["represented"][0] == 2 and m["row"]["first_all_represented"] is not None
