"""Gradient descent versus gradient flow: order of convergence, curvature, critical steps."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import mfflow
from mfflow.asymmetric import (
    balanced_init,
    gaussian_pair_init,
    lambda_balanced_init,
)
from mfflow.gd_vs_gf import (
    CriticalStepSizes,
    GDFlowGap,
    critical_step_sizes,
    curvature,
    gd_flow_gap,
)


def rect_target(m: int, n: int, spectrum: list[float], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p, _ = np.linalg.qr(rng.standard_normal((m, m)))
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    k = len(spectrum)
    return (p[:, :k] * np.asarray(spectrum)) @ q[:, :k].T


def problems() -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray | None]]:
    Ys = mfflow.make_target([3.0, 2.0, 1.0], seed=0)
    Ya = rect_target(4, 3, [3.0, 2.0, 1.0], seed=0)
    ub, vb = balanced_init(4, 3, 3, seed=2, Y=Ya)
    ul, vl = lambda_balanced_init(4, 3, 3, 1.0, seed=2)
    ug, vg = gaussian_pair_init(4, 3, 3, scale_u=2.0, scale_v=0.5, seed=2)
    return [
        ("symmetric", Ys, mfflow.gaussian_init(3, 3, seed=1), None),
        ("balanced", Ya, ub, vb),
        ("lambda", Ya, ul, vl),
        ("unbalanced", Ya, ug, vg),
    ]


# gap / eta measured for eta = 5e-4 .. 4e-3 (alpha = 1e-4, 30 times through the last
# transition): 2.701-2.702, 3.459-3.460, 2.746-2.767, 1.991-2.014; fitted orders 1.0000,
# 0.9998, 0.9961, 0.9944
GAP_CONSTANT = {"symmetric": 2.70, "balanced": 3.46, "lambda": 2.76, "unbalanced": 2.00}


@pytest.mark.parametrize("case", problems(), ids=lambda c: c[0])
def test_gd_converges_to_flow_with_order_one(case: tuple) -> None:
    name, Y, U0, V0 = case
    etas = np.array([5e-4, 1e-3, 2e-3, 4e-3])
    res = gd_flow_gap(Y, U0, 1e-4, etas, V0=V0, n_times=30)
    assert isinstance(res, GDFlowGap)
    assert not np.any(res.diverged)
    assert np.all(np.diff(res.gap) > 0)
    assert abs(res.order - 1.0) < 0.01, res.order
    np.testing.assert_allclose(res.gap / etas, GAP_CONSTANT[name], rtol=0.01)
    assert res.gd_values.shape == (4, 30, 3) and res.flow_values.shape == (30, 3)


def test_gap_reports_divergence_not_nan() -> None:
    Y = mfflow.make_target([3.0, 1.0], seed=0)
    U0 = mfflow.gaussian_init(2, 2, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = gd_flow_gap(Y, U0, 1e-3, [1e-3, 2e-3, 3.0], t=np.linspace(0.0, 30.0, 20))
    assert list(res.diverged) == [False, False, True]
    assert np.isinf(res.gap[2]) and np.all(np.isfinite(res.gap[:2]))
    assert np.isfinite(res.order)


def test_curvature_formulas() -> None:
    # symmetric minimizer: lambda_max = 2 sigma_1
    Y = mfflow.make_target([3.0, 2.0, 1.0], seed=0)
    lam, phi = mfflow.eigh_descending(Y)
    U = phi * np.sqrt(lam)
    assert curvature(Y, U) == pytest.approx(6.0, rel=1e-12)
    # asymmetric lambda-balanced minimizer: sqrt(lam^2 + 4 sigma_1^2)
    Ya = rect_target(4, 3, [3.0, 2.0, 1.0], seed=0)
    pu, s, pvt = np.linalg.svd(Ya, full_matrices=False)
    for lam_ in [0.0, 1.0, -2.0]:
        b = np.sqrt((-lam_ + np.sqrt(lam_**2 + 4 * s**2)) / 2)
        a = s / b
        U, V = pu * a, pvt.T * b
        np.testing.assert_allclose(U.T @ U - V.T @ V, lam_ * np.eye(3), atol=1e-12)
        assert curvature(Ya, U, V) == pytest.approx(np.sqrt(lam_**2 + 36.0), rel=1e-12)


# Measured (n_scan=10, n_bisect=6: thresholds located to ~1%, the bisection's resolution), in
# units of sigma_1 = 3: blow-up from eta sigma_1 = 2.077 (symmetric; 2 for the 1-D cubic map) and
# 1.52, 1.44, 1.46 (asymmetric); last convergent eta = 0.324 (0.972 x the stability limit 1/3)
# for all but lambda (0.327); transition times within 10% up to eta = 0.085, 0.080, 0.083, 0.087.
CRITICAL = {  # eta_converge, eta_blowup, eta_incremental, eta_match
    "symmetric": (0.3240, 0.6924, 0.3240, 0.0847),
    "balanced": (0.3240, 0.5068, 0.3076, 0.0804),
    "lambda": (0.3274, 0.4811, 0.2421, 0.0829),
    "unbalanced": (0.3240, 0.4861, 0.3141, 0.0865),
}


@pytest.mark.parametrize("case", problems(), ids=lambda c: c[0])
def test_critical_step_sizes(case: tuple) -> None:
    name, Y, U0, V0 = case
    res = critical_step_sizes(Y, U0, 1e-4, V0=V0, n_scan=10, n_bisect=6)
    assert isinstance(res, CriticalStepSizes)
    assert res.curvature == pytest.approx(6.0, rel=1e-6)  # 2 sigma_1 (lam = alpha lam0 ~ 0)
    converge, blowup, incremental, match = CRITICAL[name]
    # GD converges up to slightly below (finite horizon) the linear-stability limit 1/sigma_1
    assert res.eta_converge == pytest.approx(converge, rel=0.02)
    assert res.eta_converge < res.eta_stability
    # blow-up is a later threshold
    assert res.eta_blowup == pytest.approx(blowup, rel=0.02)
    assert res.eta_incremental == pytest.approx(incremental, rel=0.02)
    assert res.eta_match == pytest.approx(match, rel=0.02)
    assert res.eta_match < res.eta_incremental <= res.eta_converge < res.eta_blowup


def test_bad_inputs() -> None:
    Y = mfflow.make_target([3.0, 1.0], seed=0)
    U0 = mfflow.gaussian_init(2, 2, seed=1)
    with pytest.raises(ValueError, match="etas"):
        gd_flow_gap(Y, U0, 1e-3, [0.0, 1e-3])
    with pytest.raises(ValueError, match="etas"):
        gd_flow_gap(Y, U0, 1e-3, [])
    with pytest.raises(ValueError, match="Y"):
        gd_flow_gap(np.ones((2, 3)), U0, 1e-3, [1e-3])
    with pytest.raises(ValueError, match="V0"):
        gd_flow_gap(np.ones((2, 3)), U0, 1e-3, [1e-3], V0=np.ones((2, 2)))
    with pytest.raises(ValueError, match="alpha"):
        critical_step_sizes(Y, U0, 0.0)
    with pytest.raises(ValueError, match="time_rtol"):
        critical_step_sizes(Y, U0, 1e-3, time_rtol=-1.0)
    with pytest.raises(ValueError, match="U"):
        curvature(Y, np.ones((3, 2)))
