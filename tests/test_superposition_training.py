"""The tms recipe end to end on tiny grids (seconds), and its plateau finder."""

import json

import pytest

from app.training import tms


def test_quick_recipe_writes_every_file(tmp_path):
    from app.training.__main__ import main

    main(["tms", "--quick", "--out", str(tmp_path), "--threads", "1"])  # as `python -m app.training tms` calls it
    phase = json.loads((tmp_path / "phase_diagram.json").read_text())
    dims = json.loads((tmp_path / "dims_per_feature.json").read_text())
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    r = tms.QUICK
    assert len(phase["phase"]) == len(r.phase_densities) and len(phase["phase"][0]) == len(r.phase_importances)
    assert {c for row in phase["phase"] for c in row} <= {0, 1, 2}
    assert len(dims["fractional_dims"]) == len(r.dims_inv_density) and len(dims["fractional_dims"][0]) == r.dims_features
    assert sum(metrics["phase_counts"].values()) == len(r.phase_densities) * len(r.phase_importances)
    assert (tmp_path / "card.md").read_text() == tms.render_card(metrics)
    assert (tmp_path / "dims_weights.safetensors").is_file()


def test_plateaus_need_two_consecutive_models_near_a_fraction():
    inv = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    dims = [1.0, 0.7, 0.505, 0.495, 0.41, 0.30]
    found = {p["fraction"]: p for p in tms.plateaus(inv, dims)}
    assert set(found) == {"1/2"}  # 1 and 2/5 are hit by one model each: no plateau
    assert found["1/2"]["models"] == 2 and (found["1/2"]["inv_density_from"], found["1/2"]["inv_density_to"]) == (3.0, 4.0)
    assert found["1/2"]["mean_dims_per_feature"] == pytest.approx(0.5)
