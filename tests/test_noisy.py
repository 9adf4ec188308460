"""Noisy targets (docs/math.md §12): the exact test error and its rate against direct evaluation,
an independent ODE solve and mpmath; the optimal stopping time against a fine grid; the
Eckart-Young baseline; the random-matrix prediction within its stated finite-n error."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

import mfflow
from mfflow.noisy import minimize_in_time
from reference import Reference

# ---- problems ---------------------------------------------------------------------------------


def _symmetric(kind: str):
    target = mfflow.noisy_target([12.0, 8.0], n=24, noise=1.0, seed=0)
    if kind == "gaussian r<n":
        U0 = mfflow.gaussian_init(24, 4, seed=1)
    elif kind == "gaussian r=n":
        U0 = mfflow.gaussian_init(24, 24, seed=2)
    else:
        U0 = mfflow.spectral_init(target.Y, 1.0)
    return target, U0


SYMMETRIC = ["gaussian r<n", "gaussian r=n", "spectral"]


@pytest.mark.parametrize("kind", SYMMETRIC)
def test_symmetric_error_and_rate_against_ode(kind, ledger):
    """``||W - Y*||`` and ``d/dt ||W - Y*||^2`` from an independent solve of
    ``U' = (Y - U U^T) U`` (the rate from the ODE's own velocity)."""
    target, U0 = _symmetric(kind)
    alpha = 1e-6
    traj = target.trajectory(U0, alpha)
    assert traj.path == ("spectral" if kind == "spectral" else "dense")
    n, r = U0.shape
    Y, Ys = target.Y, target.Ystar
    t = np.linspace(0.0, 3.0, 7)

    def rhs(_, u):
        U = u.reshape(n, r)
        return ((Y - U @ U.T) @ U).ravel()

    u0 = math.sqrt(alpha) * U0
    sol = solve_ivp(
        rhs, (0, 3), u0.ravel(), t_eval=t, method="DOP853", rtol=1e-12, atol=1e-15 * abs(u0).max()
    )
    U = sol.y.T.reshape(-1, n, r)
    W = U @ U.transpose(0, 2, 1)
    Wdot = (Y - W) @ W + W @ (Y - W)
    err_ode = np.linalg.norm(W - Ys, axis=(1, 2))
    rate_ode = 2.0 * np.sum((W - Ys) * Wdot, axis=(1, 2))
    err = mfflow.signal_error(traj, target, t)
    rate = mfflow.signal_error_rate(traj, target, t)
    e1 = float(np.max(np.abs(err - err_ode) / err_ode))
    e2 = float(np.max(np.abs(rate - rate_ode)) / np.max(np.abs(rate_ode)))
    ledger.record("noisy: test error vs ODE (relative)", e1, kind)
    ledger.record("noisy: error rate vs ODE (relative to max)", e2, kind)
    assert e1 < 1e-9 and e2 < 1e-8
    # and exactly the closed form's own W(t)
    direct = np.linalg.norm(traj.W(t) - Ys, axis=(1, 2))
    np.testing.assert_allclose(err, direct, rtol=1e-13)


@pytest.mark.parametrize("shape", [(30, 18), (14, 25)])
def test_rectangular_error_and_rate_against_ode(shape, ledger):
    m, n = shape
    target = mfflow.noisy_target([10.0, 6.0], n=n, m=m, noise=1.0, seed=3)
    U0, V0 = mfflow.balanced_init(m, n, 3, seed=4)
    alpha = 1e-6
    traj = target.trajectory(U0, alpha, V0=V0)
    Y, Ys = target.Y, target.Ystar
    t = np.linspace(0.0, 3.0, 7)
    r = 3

    def rhs(_, z):
        U, V = z[: m * r].reshape(m, r), z[m * r :].reshape(n, r)
        R = Y - U @ V.T
        return np.concatenate([(R @ V).ravel(), (R.T @ U).ravel()])

    z0 = math.sqrt(alpha) * np.concatenate([U0.ravel(), V0.ravel()])
    sol = solve_ivp(rhs, (0, 3), z0, t_eval=t, method="DOP853", rtol=1e-12, atol=1e-16)
    U = sol.y.T[:, : m * r].reshape(-1, m, r)
    V = sol.y.T[:, m * r :].reshape(-1, n, r)
    B = U @ V.transpose(0, 2, 1)
    R = Y - B
    Bdot = R @ V @ V.transpose(0, 2, 1) + U @ U.transpose(0, 2, 1) @ R
    err_ode = np.linalg.norm(B - Ys, axis=(1, 2))
    rate_ode = 2.0 * np.sum((B - Ys) * Bdot, axis=(1, 2))
    err = mfflow.signal_error(traj, target, t)
    rate = mfflow.signal_error_rate(traj, target, t)
    e1 = float(np.max(np.abs(err - err_ode) / err_ode))
    e2 = float(np.max(np.abs(rate - rate_ode)) / np.max(np.abs(rate_ode)))
    ledger.record("noisy: test error vs ODE (relative)", e1, f"{m}x{n}")
    assert e1 < 1e-9 and e2 < 1e-8


@pytest.mark.parametrize("shape", [(9, 5), (5, 9), (6, 6)])
def test_balanced_flow_is_closed_form_asymmetric(shape):
    """The thin-SVD set-up (factored symmetrized target) equals the dense one."""
    m, n = shape
    Y = np.random.default_rng(5).standard_normal((m, n))
    U0, V0 = mfflow.balanced_init(m, n, 3, seed=6)
    fast = mfflow.balanced_flow(Y, U0, V0, 1e-8)
    ref = mfflow.closed_form_asymmetric(Y, U0, V0, 1e-8)
    t = np.linspace(0.0, 25.0, 11)
    scale = float(np.max(np.abs(ref.W(t))))
    assert float(np.max(np.abs(fast.W(t) - ref.W(t)))) < 1e-12 * scale
    assert fast.symmetric.reduced == (m != n)  # dimension 2 min(m, n) + r
    U1, V1 = mfflow.lambda_balanced_init(m, n, 3, lam=0.5, seed=7)
    with pytest.raises(ValueError, match=r"U0, V0: .*lambda-balanced"):
        mfflow.balanced_flow(Y, U1, V1, 1e-8)


def test_test_error_against_mpmath_at_tiny_alpha():
    """At ``alpha = 1e-80``: the error from the factor against ``||W - Y*||`` with ``W`` from
    the published formula in 100+ digit arithmetic."""
    target = mfflow.noisy_target([5.0, 3.0], n=5, noise=0.5, seed=8)
    U0 = mfflow.gaussian_init(5, 5, seed=9)
    alpha = 1e-80
    traj = target.trajectory(U0, alpha)
    lam = np.linalg.eigvalsh(target.Y)[::-1]
    times = np.array([0.8, 1.0, 1.3]) * math.log(1 / alpha) / (2 * lam[1])
    ref = Reference(target.Y, U0, alpha, times.max())
    for t in times:
        with mp.workdps(ref.dps_at(t)):
            W = ref.W_mp(t)
            ys = mp.matrix(target.Ystar.tolist())
            exact = float(mp.mnorm(W - ys, "f"))
        got = mfflow.signal_error(traj, target, float(t))
        assert abs(got - exact) <= 1e-13 * target.signal_norm


# ---- the optimal stopping time ---------------------------------------------------------------


@pytest.mark.parametrize("kind", [*SYMMETRIC, "rectangular", "weight decay", "narrow dips"])
def test_optimal_stopping_against_a_fine_grid(kind):
    """The global minimum, also when the curve has several narrow dips (``alpha = 1e-40``:
    transitions last ~2% of their time; a plain log grid of 60 points per decade misses them)."""
    if kind == "narrow dips":
        target = mfflow.noisy_target([14.0, 12.0, 10.0, 9.0], n=40, noise=1.0, seed=15)
        traj = target.trajectory(np.eye(40), 1e-40)
    elif kind == "rectangular":
        target = mfflow.noisy_target([10.0, 6.0], n=15, m=25, noise=1.0, seed=10)
        U0, V0 = mfflow.balanced_init(25, 15, 3, seed=11)
        traj = target.trajectory(U0, 1e-8, V0=V0)
    elif kind == "weight decay":
        target, U0 = _symmetric("gaussian r<n")
        traj = mfflow.closed_form(target.Y, U0, 1e-8, weight_decay=2.0)
    else:
        target, U0 = _symmetric(kind)
        traj = target.trajectory(U0, 1e-8)
    stop = mfflow.early_stopping(traj, target)
    assert not stop.at_horizon and 0 < stop.t_star < stop.t[-1]
    fine = np.linspace(0.0, 3.0 * stop.t_star, 30001)
    err = mfflow.signal_error(traj, target, fine)
    j = int(np.argmin(err))
    assert stop.error_star <= err[j] + 1e-13 * target.signal_norm
    assert abs(stop.t_star - fine[j]) <= 2 * (fine[1] - fine[0])
    rate = mfflow.signal_error_rate(traj, target, stop.t_star)
    slope = float(np.max(np.abs(np.diff(err**2) / np.diff(fine))))
    assert abs(rate) <= 1e-9 * slope
    np.testing.assert_allclose(stop.error, mfflow.signal_error(traj, target, stop.t), rtol=1e-13)


def test_minimize_in_time_edge_cases():
    t = np.linspace(0.0, 2.0, 21)
    # minimum at the start (increasing curve): t = 0
    assert minimize_in_time(lambda x: x**2 + x, lambda x: 2 * x + 1, t)[:2] == (0.0, 0.0)
    # still decreasing at the end: flagged
    t_star, _, at_end = minimize_in_time(lambda x: -x, lambda x: -np.ones_like(x), t)
    assert t_star == 2.0 and at_end
    with pytest.raises(ValueError, match="t: "):
        minimize_in_time(np.sin, np.cos, [1.0, 0.5])


# ---- baselines and the random-matrix prediction ---------------------------------------------


@pytest.mark.parametrize("rect", [False, True])
def test_truncation_errors_against_direct(rect):
    target = (
        mfflow.noisy_target([10.0, 6.0], n=20, m=30, noise=1.0, seed=12)
        if rect
        else mfflow.noisy_target([10.0, -6.0, 3.0], n=20, noise=1.0, seed=12)
    )
    errs = mfflow.truncation_errors(target, k_max=12)
    u, s, vt = np.linalg.svd(target.Y)
    for k in range(13):
        Yk = (u[:, :k] * s[:k]) @ vt[:k]
        assert errs[k] == pytest.approx(np.linalg.norm(Yk - target.Ystar), rel=1e-12)


def test_spiked_prediction_formulas():
    pred = mfflow.spiked_prediction([30.0, 15.0, 5.0], noise=1.0, n=100)
    a = 100.0
    assert pred.threshold == 10.0 and pred.bulk_edge == 20.0
    np.testing.assert_allclose(pred.outliers, [30 + a / 30, 15 + a / 15, 20.0])
    np.testing.assert_allclose(pred.overlap_left, [1 - a / 900, 1 - a / 225, 0.0])
    # included spike: 2a + 3 a^2 / theta^2; partial: 2a - a^2 / theta^2; excluded: theta^2
    full1, part2 = 2 * a + 3 * a**2 / 900, 2 * a - a**2 / 225
    assert pred.early_stopping_error == pytest.approx(math.sqrt(full1 + part2 + 25.0))
    assert pred.truncation_errors[1] == pytest.approx(math.sqrt(full1 + 225 + 25))
    assert pred.best_rank == 1  # theta_2^2 = 225 < 3a: keeping it hurts a truncation
    assert pred.stopping_fraction == pytest.approx((2.25 - 1) / (2.25 + 1))
    rect = mfflow.spiked_prediction([30.0], noise=1.0, n=400, m=100)
    assert rect.threshold == pytest.approx(200.0**0.5) and rect.bulk_edge == 30.0
    assert rect.overlap_left[0] > rect.overlap_right[0]  # the shorter side is better aligned


@pytest.mark.parametrize("rect", [False, True])
def test_prediction_within_its_finite_n_error(rect, ledger):
    """Outliers within ``3 s``, overlaps within ``3 / sqrt(n)``, the best truncation error, the
    flow's optimal early-stopping error (``alpha = 1e-40``) and its time within ``2 / sqrt(n)``
    relative (docs/math.md §12: relative errors ``O(n^{-1/2})`` away from the threshold; the
    stated ``2 / sqrt(n)`` is twice the largest deviation measured there)."""
    if rect:
        m, n = 900, 300
        x = np.array([3.0, 2.0, 1.4, 0.5]) * (n / m) ** 0.25
        big = max(m, n)
    else:
        m, n = None, 500
        x = np.array([3.0, 2.0, 1.5, 0.6])
        big = n
    theta = x * math.sqrt(big)
    pred = mfflow.spiked_prediction(theta, 1.0, n, m=m)
    for seed in range(2):
        target = mfflow.noisy_target(theta, n=n, m=m, noise=1.0, seed=seed)
        if rect:
            U0, V0 = mfflow.balanced_init(m, n, 4, seed=seed + 20)
            traj = target.trajectory(U0, 1e-40, V0=V0)
            u, y, vt = np.linalg.svd(target.Y, full_matrices=False)
            cl = (u[:, :4].T @ target.left).diagonal() ** 2
            cr = (vt[:4] @ target.right).diagonal() ** 2
        else:
            traj = target.trajectory(np.eye(n), 1e-40)  # W0 = alpha I: spectral, O(n) per time
            y, vec = mfflow.eigh_descending(target.Y)
            cl = cr = (vec[:, :4].T @ target.left).diagonal() ** 2
        det = pred.detectable
        assert np.all(np.abs(y[:4][det] - pred.outliers[det]) < 3.0)
        assert np.all(np.abs(cl[det] - pred.overlap_left[det]) < 3 / math.sqrt(n))
        assert np.all(np.abs(cr[det] - pred.overlap_right[det]) < 3 / math.sqrt(n))
        trunc = mfflow.truncation_errors(target, k_max=6).min()
        stop = mfflow.early_stopping(traj, target)
        if not rect:  # the time: eq. 3.2 at the predicted fraction of the predicted outlier
            d_time = abs(stop.t_star / pred.stopping_time(1e-40) - 1)
            ledger.record("noisy: stopping time vs prediction (rel)", d_time, f"n={n}")
            assert d_time < 2 / math.sqrt(n)
        d_trunc = abs(trunc / pred.truncation_error - 1)
        d_stop = abs(stop.error_star / pred.early_stopping_error - 1)
        ledger.record("noisy: truncation vs prediction (rel)", d_trunc, f"rect={rect} n={n}")
        ledger.record("noisy: early stopping vs prediction (rel)", d_stop, f"rect={rect} n={n}")
        assert d_trunc < 2 / math.sqrt(n) and d_stop < 2 / math.sqrt(n)
        # the flow's partial learning beats every truncation, as predicted
        assert stop.error_star < trunc
    assert pred.early_stopping_error < pred.truncation_error


def test_inputs_are_checked():
    target = mfflow.noisy_target([5.0], n=6, noise=0.5, seed=13)
    rect = mfflow.noisy_target([5.0], n=6, m=7, noise=0.5, seed=13)
    traj = target.trajectory(mfflow.gaussian_init(6, 2, seed=14), 1e-4)
    with pytest.raises(TypeError, match="target: "):
        mfflow.signal_error(traj, "Y*", 1.0)
    with pytest.raises(ValueError, match="target: rectangular"):
        mfflow.signal_error(traj, rect, 1.0)
    with pytest.raises(TypeError, match="V0: required"):
        rect.trajectory(np.ones((7, 1)), 1e-4)
    with pytest.raises(TypeError, match="V0: the target is symmetric"):
        target.trajectory(np.ones((6, 1)), 1e-4, V0=np.ones((6, 1)))
    with pytest.raises(ValueError, match="noise: "):
        mfflow.noisy_target([5.0], n=6, noise=-1.0)
    with pytest.raises(ValueError, match="signal: "):
        mfflow.noisy_target([5.0, -1.0], n=6, m=7, noise=1.0)
    with pytest.raises(ValueError, match="noise: "):
        mfflow.spiked_prediction([5.0], noise=0.0, n=6)
    with pytest.raises(ValueError, match="t: "):
        mfflow.signal_error(traj, target, -1.0)


def test_truncation_errors_from_rank_zero():
    """``k_max = 0``: the one error ``||0 - Y*||_F = ||theta||`` (was an invalid eigh subset)."""
    target = mfflow.noisy_target([4.0, 2.0], 6, 0.3, seed=0)
    errs = mfflow.truncation_errors(target, k_max=0)
    np.testing.assert_allclose(errs, [math.sqrt(4.0**2 + 2.0**2)], rtol=1e-14)
    np.testing.assert_allclose(mfflow.truncation_errors(target, k_max=2)[0], errs[0], rtol=1e-14)
