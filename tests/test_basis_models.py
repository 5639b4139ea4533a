"""Properties of the shipped outliers-adam / outliers-sgd weights: the cards' numbers and the page's claims."""

import json

import pytest
from safetensors.torch import load_file

from app import zoo
from app.analysis import basis
from app.training import outliers

MODELS = {"outliers-adam": "adam", "outliers-sgd": "sgd"}


@pytest.fixture(scope="module")
def measured():
    out = {}
    for name in MODELS:
        tokens = load_file(zoo.model_dir(name) / "eval_tokens.safetensors")["tokens"].long()
        with zoo.use(name) as model:
            acts = basis.residual_stream(model, tokens)
            out[name] = {"metrics": outliers.measure(model, tokens), "stats": basis.basis_stats(acts),
                         "state": {k: v.clone() for k, v in model.state_dict().items()}}
    return out


@pytest.mark.parametrize("name", MODELS)
def test_metrics_json_matches_shipped_weights(name, measured):
    stored, got = zoo.metrics(name), measured[name]["metrics"]
    assert set(got) == set(stored) - {"training"}
    for key, value in stored.items():
        if key == "training":
            continue
        if isinstance(value, float):
            assert got[key] == pytest.approx(value, abs=2e-3), key
        elif isinstance(value, dict):
            for b, vs in value.items():
                assert got[key][b] == pytest.approx(vs, abs=2e-3), (key, b)
        else:
            assert got[key] == value, key


@pytest.mark.parametrize("name", MODELS)
def test_card_is_rendered_from_measured_numbers(name, measured):
    folder = zoo.model_dir(name)
    m = dict(measured[name]["metrics"], training=zoo.metrics(name)["training"])
    card = outliers.render_card(zoo.config(name), m, outliers.read_sweep(folder))
    assert card == zoo.card(name)


@pytest.mark.parametrize("name", MODELS)
def test_one_outlier_dimension_in_the_standard_basis_only(name, measured):
    m = measured[name]["metrics"]
    assert len(m["outlier_dims"]) == 1 and m["outlier_dims_random_basis"] == []
    assert m["max_kurtosis_standard_basis"] > 10 and m["max_kurtosis_random_basis"] < 3.5
    for p in range(len(m["kurtosis_by_point"]["random"])):
        assert 2.5 < m["kurtosis_by_point"]["random"][p] < 3.5
    # the page's claim: kurtosis of the outlier dimension over tokens does not single it out
    dim = m["outlier_dims"][0]
    k = measured[name]["stats"].kurtosis  # (point, d_model)
    assert all(float(k[p, dim]) < 3.5 for p in range(1, k.shape[0]))
    assert m["max_dim_kurtosis_standard_basis"] < 8


def test_sgd_outlier_is_the_larger_one(measured):
    a, s = (measured[n]["metrics"]["max_kurtosis_standard_basis"] for n in MODELS)
    assert s > a


@pytest.mark.parametrize("name", MODELS)
def test_outlier_dimension_has_the_smallest_layernorm_gain_after_block_0(name, measured):
    dim = measured[name]["metrics"]["outlier_dims"][0]
    state = measured[name]["state"]
    n = zoo.config(name)["n_layers"]
    gains = [f"blocks.{l}.{ln}.weight" for l in range(1, n) for ln in ("ln1", "ln2")] + ["ln_final.weight"]
    for key in gains:
        assert int(state[key].argmin()) == dim, key


@pytest.mark.parametrize("name", MODELS)
def test_sweep_record_matches_the_shipped_run(name):
    """The shipped learning rate is its optimiser's lowest-loss run in the sweep, and that row is these weights."""
    m = zoo.metrics(name)
    sweep = outliers.read_sweep(zoo.model_dir(name))
    recipe = outliers.RECIPES[name]
    rows = [r for r in sweep if r["optimizer"] == MODELS[name] and r["ln_gain"] == "trained" and r["seed"] == 0
            and (r["steps"], r["batch_size"]) == (recipe.steps, recipe.batch_size)]  # the full-size runs
    best = min(rows, key=lambda r: r["loss"])
    assert best["lr"] == m["training"]["recipe"]["lr"] == outliers.RECIPES[name].lr
    assert best["loss"] == pytest.approx(m["loss"], abs=2e-3)
    assert best["max_kurtosis_standard_basis"] == pytest.approx(m["max_kurtosis_standard_basis"], abs=2e-3)
    assert best["outlier_dims"] == m["outlier_dims"]
    # the page says the low-learning-rate runs have no outlier dimension
    assert all(r["outlier_dims"] == [] for r in rows if r["lr"] <= {"adam": 1e-3, "sgd": 0.1}[MODELS[name]])


def test_pair_shares_data_and_initialisation():
    a, s = (zoo.model_dir(n) for n in MODELS)
    assert json.loads((a / "tokenizer.json").read_text()) == json.loads((s / "tokenizer.json").read_text())
    assert (load_file(a / "eval_tokens.safetensors")["tokens"] == load_file(s / "eval_tokens.safetensors")["tokens"]).all()
    ra, rs = (zoo.metrics(n)["training"]["recipe"] for n in MODELS)
    assert {k for k in ra if ra[k] != rs.get(k)} == {"name", "optimizer", "lr"}


@pytest.mark.parametrize("name", MODELS)
def test_outlier_dimension_check_accepts_the_measured_dimension(name, measured):
    from app.exercises import outlier_dimension

    dim = measured[name]["metrics"]["outlier_dims"][0]
    assert outlier_dimension(str(dim), name).correct
    assert not outlier_dimension(str((dim + 1) % 128), name).correct
    assert "between 0 and 127" in outlier_dimension("-3", name).feedback


def test_layernorm_gain_ablation_record_matches_the_page():
    """The page: with frozen gains the (CPU-sized) SGD run has no outlier; its trained-gain control does."""
    sweep = outliers.read_sweep(zoo.model_dir("outliers-sgd"))
    cpu = {r["ln_gain"]: r for r in sweep if r["device"] == "cpu" and r["optimizer"] == "sgd"}
    assert set(cpu) == {"trained", "frozen"}
    assert (cpu["trained"]["steps"], cpu["trained"]["batch_size"], cpu["trained"]["lr"]) == \
        (cpu["frozen"]["steps"], cpu["frozen"]["batch_size"], cpu["frozen"]["lr"])
    assert cpu["frozen"]["outlier_dims"] == [] and cpu["frozen"]["max_kurtosis_standard_basis"] < 3.5
    assert cpu["trained"]["outlier_dims"] == zoo.metrics("outliers-sgd")["outlier_dims"]  # the same dimension
    assert cpu["trained"]["max_kurtosis_standard_basis"] > 5
    assert cpu["frozen"]["loss"] < cpu["trained"]["loss"]
    assert outliers.read_sweep(zoo.model_dir("outliers-adam")) == sweep
