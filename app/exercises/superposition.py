"""Checks for the toy-models-of-superposition walkthrough (Elhage et al. 2022); they train live rows."""

from __future__ import annotations

from app.exercises.common import CheckResult, _number_answer


def all_features_sparsity(answer: str, n_features: int = 5, decay: float = 0.9) -> CheckResult:
    """From which sparsity S on does the live n→2 row (seed 0) represent every feature? Trains the row."""
    from app.analysis import superposition as sp

    guess = _number_answer(answer)
    if guess is None or not 0 <= guess < 1:
        return CheckResult(False, "Answer with a sparsity S between 0 and 1, for example 0.5.")
    row = sp.default_row(n_features, decay)
    counts, grid = sp.represented(row.W).tolist(), list(sp.SPARSITIES)
    first = sp.first_all_represented(row)
    if first is None:
        return CheckResult(False, f"This row never represents all {n_features} features: no sparsity is right.")
    i = grid.index(first)
    lo = grid[i - 1] if i else -1.0
    if lo < guess <= first + 1e-9:
        before = f"at S = {lo} it keeps {counts[i - 1]}; " if i else ""
        return CheckResult(True, f"Yes: {before}from S = {first} on, all {n_features} features have ‖W_i‖ > 0.5.")
    near = min(range(len(grid)), key=lambda j: abs(grid[j] - guess))
    if guess > first:
        return CheckResult(False, f"All {n_features} are already represented at S = {first}: look at lower sparsities.")
    return CheckResult(False, f"At S = {grid[near]} the model represents {counts[near]} of {n_features} features: "
                              "move the sparsity slider up and watch the bar chart.")


def pentagon_angle(answer: str, sparsity: float = 0.97) -> CheckResult:
    """The angle between neighbouring feature directions of the live 5→2 model at ``sparsity``."""
    import math

    from app.analysis import superposition as sp

    guess = _number_answer(answer.replace("°", "").replace("deg", ""))
    if guess is None:
        return CheckResult(False, "Answer with an angle in degrees, such as 90.")
    row = sp.default_row(5, 0.9)
    W = row.W[list(sp.SPARSITIES).index(sparsity)]  # (2, 5)
    angles = sorted(math.degrees(math.atan2(float(W[1, i]), float(W[0, i]))) % 360 for i in range(5))
    gaps = [(angles[(i + 1) % 5] - angles[i]) % 360 for i in range(5)]
    mean = sum(gaps) / 5
    if abs(guess - mean) <= 6:
        return CheckResult(True, f"Yes: the gaps are {', '.join(f'{g:.0f}°' for g in gaps)} (mean {mean:.1f}°), "
                                 "close to 360°/5 = 72°: a regular pentagon.")
    return CheckResult(False, f"Not quite: measure the angle between two neighbouring arrows at S = {sparsity} "
                              "(five arrows share the full circle).")


def extra_feature_superposed_below(answer: str, relative_importance: float) -> CheckResult:
    """Below which density does the extra feature (at this importance) go into superposition? From the shipped diagram."""
    from app.analysis import superposition as sp

    guess = _number_answer(answer)
    if guess is None or not 0 < guess <= 1:
        return CheckResult(False, "Answer with a feature density between 0 and 1, for example 0.2.")
    pd = sp.shipped("phase_diagram.json")
    rel, dens = pd["relative_importance"], pd["density"]
    col = min(range(len(rel)), key=lambda j: abs(rel[j] - relative_importance))
    column = [row[col] for row in pd["phase"]]  # phase per density, low density first
    k, _ = sp.phase_boundary(column)  # superposition for densities[:k] (ignoring the odd stuck cell)
    if k == 0 or k == len(column):
        return CheckResult(False, "In the shipped diagram this column has no single boundary; try another importance.")
    lo, hi = dens[max(k - 2, 0)], dens[min(k + 1, len(dens) - 1)]  # one cell of slack on each side
    if lo <= guess <= hi:
        return CheckResult(True, f"Yes: at importance {rel[col]:.2f} the extra feature is in superposition up to density "
                                 f"{dens[k - 1]:.3f} and {pd['labels'][str(column[k])]} from {dens[k]:.3f}.")
    side = "lower" if guess > hi else "higher"
    return CheckResult(False, f"Look up the column at importance {rel[col]:.2f}: the boundary is at a {side} density.")


def dims_plateau(answer: str, lo: float, hi: float) -> CheckResult:
    """Which fraction does m/‖W‖_F² stick at for 1/(1-S) in [lo, hi]? From the shipped sweep."""
    import statistics

    from app.analysis import superposition as sp

    guess = _number_answer(answer)
    if guess is None:
        return CheckResult(False, "Answer with a fraction such as 1/3 or a decimal such as 0.33.")
    runs = sp.shipped("dims_per_feature.json")
    vals = [d for x, d in zip(runs["inv_density"], runs["dims_per_feature"]) if lo <= x <= hi]
    if not vals:
        raise ValueError(f"no shipped model has 1/(1-S) between {lo} and {hi}")
    median = statistics.median(vals)
    if abs(guess - median) <= 0.03:
        return CheckResult(True, f"Yes: the {len(vals)} models there have m/‖W‖_F² from {min(vals):.3f} to {max(vals):.3f}.")
    return CheckResult(False, f"Read the top panel for 1/(1−S) between {lo} and {hi}: your value is off by "
                              f"{abs(guess - median):.2f}.")


CHECKS = {fn.__name__: fn for fn in (
    all_features_sparsity,
    pentagon_angle,
    extra_feature_superposed_below,
    dims_plateau,
)}
