"""Numerical references: the ODE solve against the closed form, GD against the flow."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import mfflow
from mfflow.simulate import (
    ATOL_FACTOR,
    FlowResult,
    GDResult,
    flow_jacobian,
    flow_rhs,
    simulate_gd,
    simulate_gf,
)

# Measured worst case over the grid below (rtol=1e-11, DOP853, default atol): 2.3e-11
# (n=2, r=4, full-rank Y, alpha=1e-4, early in training). Asserted with ~10x headroom.
GF_GRID_TOL = 2.5e-10


def _rel_err(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Relative Frobenius error per time point of two ``(T, n, n)`` stacks."""
    return np.linalg.norm(a - b, axis=(-2, -1)) / np.linalg.norm(b, axis=(-2, -1))


def _spectrum(kind: str, n: int) -> np.ndarray:
    if kind == "full":
        return np.linspace(3.0, 1.0, n)
    if kind == "deficient":
        return np.linspace(3.0, 1.0, max(1, n // 2))
    pos = (n + 1) // 2
    return np.concatenate([np.linspace(3.0, 1.0, pos), -np.linspace(1.0, 2.0, n - pos)])


def _problem(n: int, r: int, kind: str) -> tuple[np.ndarray, np.ndarray, float]:
    spec = _spectrum(kind, n)
    Y = mfflow.make_target(spec, n, seed=n)
    U0 = mfflow.gaussian_init(n, r, seed=10 + n + r)
    return Y, U0, float(spec[spec > 0].min())


def _naive_gd(Y: np.ndarray, U: np.ndarray, eta: float, k: int) -> np.ndarray:
    for _ in range(k):
        U = U + eta * (Y - U @ U.T) @ U
    return U


# ---- gradient flow vs the closed form --------------------------------------------------------


@pytest.mark.parametrize("alpha", [1e-1, 1e-4, 1e-8])
@pytest.mark.parametrize("kind", ["full", "deficient", "indefinite"])
@pytest.mark.parametrize("r_rel", ["r<n", "r=n", "r>n"])
@pytest.mark.parametrize("n", [2, 5, 8])
def test_gf_matches_closed_form(n: int, r_rel: str, kind: str, alpha: float) -> None:
    r = {"r<n": max(1, n // 2), "r=n": n, "r>n": n + 2}[r_rel]
    Y, U0, lam_min = _problem(n, r, kind)
    t_last = np.log(1.0 / alpha) / (2.0 * lam_min)  # the last transition
    t = np.array([0.0, 0.25, 0.5, 0.9, 1.0, 1.1, 1.5, 2.0]) * t_last
    t[-1] += 2.0
    res = simulate_gf(Y, U0, alpha, t, rtol=1e-11)
    ref = mfflow.closed_form(Y, U0, alpha).W(t)
    err = _rel_err(res.W, ref)
    assert err.max() <= GF_GRID_TOL, (err.max(), t[err.argmax()])
    assert res.U.shape == (t.size, n, r)
    assert res.W.shape == (t.size, n, n)


@pytest.mark.parametrize(("alpha", "fixed_err"), [(1e-8, 1e-8), (1e-16, 1e-4)])
def test_gf_default_atol_scales_with_alpha(alpha: float, fixed_err: float) -> None:
    """With the default atol the error stays at the rtol level down to alpha = 1e-16 (measured
    6e-12 and 1.5e-11); an alpha-independent atol = 1e-11 lets the tiny, not yet learned
    components drift (measured 9e-8 and 8e-4)."""
    Y, U0, lam_min = _problem(5, 5, "full")
    t = np.array([0.25, 0.5, 0.9, 1.0, 1.1, 1.5, 2.0]) * np.log(1.0 / alpha) / (2.0 * lam_min)
    ref = mfflow.closed_form(Y, U0, alpha).W(t)
    good = simulate_gf(Y, U0, alpha, t, rtol=1e-11)
    assert good.atol == pytest.approx(ATOL_FACTOR * 1e-11 * np.sqrt(alpha) * np.abs(U0).max())
    assert _rel_err(good.W, ref).max() < 2e-10
    fixed = simulate_gf(Y, U0, alpha, t, rtol=1e-11, atol=1e-11)
    assert _rel_err(fixed.W, ref).max() > fixed_err


def test_gf_times_any_order_repeats_and_zero() -> None:
    Y, U0, _ = _problem(3, 2, "full")
    alpha = 1e-3
    t = np.array([4.0, 0.0, 2.0, 4.0, 1.0])
    res = simulate_gf(Y, U0, alpha, t, rtol=1e-10)
    order = np.argsort(t, kind="stable")
    sorted_res = simulate_gf(Y, U0, alpha, t[order], rtol=1e-10)
    np.testing.assert_array_equal(res.t, t)
    np.testing.assert_array_equal(res.U[order], sorted_res.U)
    np.testing.assert_array_equal(res.U[0], res.U[3])
    np.testing.assert_array_equal(res.U[1], np.sqrt(alpha) * U0)


def test_gf_scalar_time_and_trivial_cases() -> None:
    Y, U0, _ = _problem(3, 4, "indefinite")
    res = simulate_gf(Y, U0, 0.5, 1.0)
    assert isinstance(res, FlowResult)
    assert res.t.shape == (1,) and res.U.shape == (1, 3, 4) and res.W.shape == (1, 3, 3)
    only_zero = simulate_gf(Y, U0, 0.5, [0.0, 0.0])
    assert only_zero.nfev == 0
    np.testing.assert_array_equal(only_zero.U[1], np.sqrt(0.5) * U0)
    zero_init = simulate_gf(Y, np.zeros((3, 4)), 0.5, [1.0, 3.0])
    assert zero_init.nfev == 0 and not np.any(zero_init.U)
    with pytest.raises(ValueError, match=r"^t: expected at least one time, got an empty array"):
        simulate_gf(Y, U0, 0.5, np.array([]))


def test_gf_W_symmetric() -> None:
    Y, U0, _ = _problem(6, 9, "indefinite")
    W = simulate_gf(Y, U0, 1e-2, [0.5, 3.0, 10.0]).W
    np.testing.assert_array_equal(W, np.swapaxes(W, 1, 2))


@pytest.mark.parametrize("method", ["Radau", "BDF", "LSODA", "RK45"])
def test_gf_other_methods_agree(method: str) -> None:
    Y, U0, _ = _problem(3, 2, "indefinite")
    alpha, t = 1e-3, np.array([1.0, 3.0, 6.0])
    ref = mfflow.closed_form(Y, U0, alpha).W(t)
    res = simulate_gf(Y, U0, alpha, t, method=method, rtol=1e-9)
    assert res.method == method
    assert _rel_err(res.W, ref).max() < 1e-6


def test_gf_dense_output_option() -> None:
    Y, U0, _ = _problem(4, 4, "full")
    alpha, t = 1e-4, np.linspace(0.0, 8.0, 17)
    ref = mfflow.closed_form(Y, U0, alpha).W(t)
    res = simulate_gf(Y, U0, alpha, t, rtol=1e-11, dense=True)
    assert _rel_err(res.W, ref).max() < 1e-8


@pytest.mark.parametrize(("n", "r"), [(4, 2), (3, 5)])
def test_flow_rhs_and_jacobian(n: int, r: int) -> None:
    rng = np.random.default_rng(7)
    Y = mfflow.make_target(rng.standard_normal(n), seed=3)
    U = rng.standard_normal((n, r))
    np.testing.assert_allclose(flow_rhs(Y, U), (Y - U @ U.T) @ U, rtol=1e-13, atol=1e-13)
    jac = flow_jacobian(Y, U)
    h = 1e-6
    fd = np.empty((n * r, n * r))
    for k in range(n * r):
        e = np.zeros(n * r)
        e[k] = h
        plus = flow_rhs(Y, U + e.reshape(n, r)).ravel()
        minus = flow_rhs(Y, U - e.reshape(n, r)).ravel()
        fd[:, k] = (plus - minus) / (2 * h)
    np.testing.assert_allclose(jac, fd, rtol=1e-7, atol=1e-8)


# ---- gradient descent -------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "r", "alpha"), [(5, 3, 1e-2), (4, 6, 1e-3)])
def test_gd_converges_to_flow_order_one(n: int, r: int, alpha: float) -> None:
    spec = [3.0, 2.0, 1.0] + [-1.0] * (n - 3)
    Y = mfflow.make_target(spec, n, seed=0)
    U0 = mfflow.gaussian_init(n, r, seed=1)
    traj = mfflow.closed_form(Y, U0, alpha)
    horizon = 0.9 * np.log(1.0 / alpha) / 2.0  # through the transitions of modes 1 and 2
    etas = np.array([4e-3, 2e-3, 1e-3, 5e-4, 2.5e-4])
    errs = []
    for eta in etas:
        res = simulate_gd(Y, U0, alpha, eta, t=horizon)
        assert not res.diverged
        # compare with the flow at the time of the iterate (k eta), not the requested time
        errs.append(_rel_err(res.W[0], traj.W(res.t[0])))
    slope = np.polyfit(np.log(etas), np.log(errs), 1)[0]
    assert abs(slope - 1.0) < 0.01, (slope, errs)  # measured 1.005 and 1.003
    # the constant: error / eta measured 0.216-0.219 (n = 5) and 0.1308-0.1320 (n = 4)
    np.testing.assert_allclose(np.array(errs) / etas, 0.217 if n == 5 else 0.1315, rtol=0.015)


@pytest.mark.parametrize(("n", "r"), [(4, 2), (3, 5)])
def test_gd_matches_naive_loop(n: int, r: int) -> None:
    Y, U0, _ = _problem(n, r, "indefinite")
    alpha, eta = 1e-2, 0.01
    steps = np.array([300, 0, 70, 300, 1])
    res = simulate_gd(Y, U0, alpha, eta, steps=steps)
    assert isinstance(res, GDResult)
    np.testing.assert_array_equal(res.steps, steps)
    np.testing.assert_allclose(res.t, steps * eta)
    assert res.U.shape == (5, n, r) and res.W.shape == (5, n, n)
    for k, U in zip(steps, res.U, strict=True):
        ref = _naive_gd(Y, np.sqrt(alpha) * U0, eta, int(k))
        np.testing.assert_allclose(U, ref, rtol=1e-12, atol=1e-13 * np.abs(ref).max())
    np.testing.assert_array_equal(res.W, np.swapaxes(res.W, 1, 2))
    assert not res.diverged and res.diverged_at is None


def test_gd_times_round_to_steps() -> None:
    Y, U0, _ = _problem(2, 2, "full")
    res = simulate_gd(Y, U0, 1e-2, 0.1, t=[0.3, 0.0, 0.26, 1.0])
    np.testing.assert_array_equal(res.steps, [3, 0, 3, 10])
    np.testing.assert_allclose(res.t, [0.3, 0.0, 0.3, 1.0])
    scalar = simulate_gd(Y, U0, 1e-2, 0.1, steps=0)
    np.testing.assert_array_equal(scalar.U[0], np.sqrt(1e-2) * U0)


def test_gd_divergence_reported_without_warnings() -> None:
    Y, U0, _ = _problem(3, 3, "full")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = simulate_gd(Y, U0, 1e-2, 10.0, steps=np.arange(0, 500, 5))
    assert res.diverged and isinstance(res.diverged_at, int)
    reached = res.steps < res.diverged_at
    assert reached.any() and (~reached).any()
    assert np.all(np.isfinite(res.U[reached]))
    assert np.all(np.isnan(res.U[~reached]))
    # the reported step is the first bad iterate of the plain recursion: an entry above
    # min(blowup, MAGNITUDE_MAX^(1/2)) = 1e50 (beyond it U U^T and the loss would overflow)
    with np.errstate(over="ignore", invalid="ignore"):
        U = np.sqrt(1e-2) * U0
        first = None
        for k in range(1, 200):
            U = U + 10.0 * (Y - U @ U.T) @ U
            if not np.max(np.abs(U)) <= 1e50:
                first = k
                break
    assert res.diverged_at == first


def test_gd_divergence_located_exactly_across_chunks() -> None:
    """A threshold crossed after hundreds of steps is located by replaying from a checkpoint."""
    Y, U0, _ = _problem(3, 3, "full")
    alpha, eta, blowup = 1e-6, 1e-2, 1.0
    res = simulate_gd(Y, U0, alpha, eta, steps=[0, 2000], blowup=blowup)
    sizes = []
    U = np.sqrt(alpha) * U0
    for _ in range(2000):
        U = U + eta * (Y - U @ U.T) @ U
        sizes.append(np.max(np.abs(U)))
    first = int(np.argmax(np.array(sizes) > blowup)) + 1
    assert first > 100  # spans several checks
    assert res.diverged and res.diverged_at == first
    assert np.all(np.isfinite(res.U[0])) and np.all(np.isnan(res.U[1]))


def test_gd_divergence_raises_with_throw() -> None:
    Y, U0, _ = _problem(3, 3, "full")
    flagged = simulate_gd(Y, U0, 1e-2, 10.0, steps=[0, 499])
    assert flagged.diverged
    with pytest.raises(
        ValueError,
        match=rf"^eta: gradient descent diverged at step "
        rf"{flagged.diverged_at} with eta = 10 \(an entry above 1e\+50 or not finite; "
        r"blowup = 1e\+100 capped at MAGNITUDE_MAX\^\(1/2\)",
    ):
        simulate_gd(Y, U0, 1e-2, 10.0, steps=[0, 499], throw=True)
    # a run that stays finite does not raise
    assert not simulate_gd(Y, U0, 1e-2, 0.01, steps=[0, 499], throw=True).diverged


@pytest.mark.parametrize("eta", [10.0, 2.0, 1.0, 0.7])
@pytest.mark.parametrize("record", ["steps", "t", "last-only"])
def test_gd_large_steps_always_flagged(eta: float, record: str) -> None:
    """No NaN record without the flag: every record is either a finite iterate (before
    diverged_at) or NaN (at or after it), for every way of asking for records."""
    Y, U0, _ = _problem(3, 3, "full")  # sigma_1 = 3: blow-up from ~2.07/3 = 0.69
    kwargs = {
        "steps": {"steps": np.arange(0, 400, 7)},
        "t": {"t": np.linspace(0.0, 400 * eta, 23)},
        "last-only": {"steps": 400},
    }[record]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = simulate_gd(Y, U0, 1e-2, eta, **kwargs)
        W, loss, sv = res.W, res.loss, res.singular_values
    assert res.diverged and res.diverged_at is not None
    reached = res.steps < res.diverged_at
    assert np.all(np.isfinite(res.U[reached])) and np.all(np.isfinite(W[reached]))
    assert np.all(np.isfinite(loss[reached])) and np.all(np.isfinite(sv[reached]))
    assert np.all(np.isnan(res.U[~reached])) and np.all(np.isnan(loss[~reached]))


def test_gd_blown_up_init() -> None:
    Y, U0, _ = _problem(2, 2, "full")
    res = simulate_gd(Y, 1e3 * U0, 1.0, 0.1, steps=[0, 5], blowup=10.0)
    assert res.diverged and res.diverged_at == 0 and np.all(np.isnan(res.U))


# ---- validation -------------------------------------------------------------------------------

_Y, _U0, _ = _problem(3, 2, "full")


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"Y": np.triu(np.ones((3, 3)))}, ValueError, "^Y: expected a symmetric"),
        ({"Y": "abc"}, TypeError, "^Y: "),
        ({"U0": np.ones((4, 2))}, ValueError, "^U0: expected 3 rows"),
        ({"U0": np.full((3, 2), np.nan)}, ValueError, "^U0: expected finite"),
        ({"alpha": -1.0}, ValueError, "^alpha: expected a number > 0"),
        ({"alpha": "small"}, TypeError, "^alpha: "),
        ({"t": [-1.0, 2.0]}, ValueError, "^t: expected times >= 0"),
        ({"t": np.ones((2, 2))}, ValueError, "^t: expected a scalar or a 1-D"),
        ({"method": "Euler"}, ValueError, "^method: expected one of"),
        ({"method": 3}, TypeError, "^method: "),
        ({"rtol": 1e-20}, ValueError, r"^rtol: expected a number >= 2.22e-14"),
        ({"rtol": -1.0}, ValueError, "^rtol: expected a number > 0"),
        ({"atol": 0.0}, ValueError, "^atol: expected a number > 0"),
        ({"max_step": 0.0}, ValueError, "^max_step: expected a number > 0"),
        ({"dense": "yes"}, TypeError, "^dense: expected True or False"),
        ({"t": []}, ValueError, "^t: expected at least one time"),
        # refused up front with the step count instead of running for hours
        ({"max_step": 1e-12}, ValueError, r"^max_step: .* at least 1e\+12 steps, more than 1e\+08"),
        ({"t": [0.0, 1e4], "max_step": 1e-5}, ValueError, r"^max_step: .* 1e\+09 steps"),
    ],
)
def test_gf_bad_inputs(kwargs: dict, exc: type[Exception], match: str) -> None:
    args = {"Y": _Y, "U0": _U0, "alpha": 1e-2, "t": [1.0]} | kwargs
    with pytest.raises(exc, match=match):
        simulate_gf(**args)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"eta": -0.1}, ValueError, r"^eta: expected a number > 0, got -0\.1$"),
        ({"eta": np.inf}, ValueError, "^eta: expected a finite number > 0"),
        ({"eta": None}, TypeError, "^eta: expected a real number"),
        ({"Y": np.ones((3, 2))}, ValueError, "^Y: expected a square"),
        ({"U0": np.ones(3)}, ValueError, "^U0: expected a 2-D array"),
        ({"alpha": 0.0}, ValueError, "^alpha: expected a number > 0"),
        ({"steps": [1.0, 2.0]}, TypeError, "^steps: expected non-negative integers"),
        ({"steps": [True]}, TypeError, "^steps: expected non-negative integers"),
        ({"steps": [3, -1]}, ValueError, "^steps: expected integers >= 0, got -1"),
        ({"steps": [[1, 2]]}, ValueError, "^steps: expected an integer or a 1-D"),
        ({"steps": None}, ValueError, "^steps, t: expected exactly one.*got neither"),
        ({"t": [1.0]}, ValueError, "^steps, t: expected exactly one.*got both"),
        ({"steps": None, "t": [-0.5]}, ValueError, "^t: expected times >= 0"),
        ({"steps": None, "t": 1e300}, ValueError, "^t: t / eta"),
        ({"blowup": 0.0}, ValueError, "^blowup: expected a number > 0"),
        ({"steps": []}, ValueError, "^steps: expected at least one iteration index"),
        ({"steps": None, "t": []}, ValueError, "^t: expected at least one time"),
        # refused up front with the count instead of looping for centuries
        (
            {"steps": [0, 2**62]},
            ValueError,
            "^steps: the largest requested iteration is k = 4611686018427387904",
        ),
        ({"steps": None, "t": 1e8}, ValueError, r"^t: t / eta = 1e\+09 steps is more than 1e\+08"),
        ({"throw": "yes"}, TypeError, "^throw: expected True or False"),
    ],
)
def test_gd_bad_inputs(kwargs: dict, exc: type[Exception], match: str) -> None:
    args = {"Y": _Y, "U0": _U0, "alpha": 1e-2, "eta": 0.1, "steps": [1]} | kwargs
    with pytest.raises(exc, match=match):
        simulate_gd(**args)
