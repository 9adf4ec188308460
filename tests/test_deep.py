"""Deep factorization: the exact per-mode curves and the simulators (mfflow.deep)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad, solve_ivp

import mfflow
from mfflow import deep_descent, deep_flow
from mfflow.deep import (
    deep_mode_curve,
    deep_mode_time,
    deep_random_init,
    deep_spectral_init,
    deep_transition_time,
)
from mfflow.sensing import IdentityOperator


def _quad_time(sigma, s0, L, s):
    """t(s) by quadrature in x = log u (a smooth integrand), independent of the closed form."""
    p = 2.0 - 2.0 / L
    val, _ = quad(
        lambda x: math.exp((1.0 - p) * x) / (L * (sigma - math.exp(x))),
        math.log(s0),
        math.log(s),
        epsabs=0.0,
        epsrel=1e-13,
        limit=400,
    )
    return val


@pytest.mark.parametrize("L", [2, 3, 4, 5, 8])
@pytest.mark.parametrize("s0", [1e-2, 1e-6])
def test_mode_time_matches_quadrature(L, s0):
    sigma = 1.7
    for frac in (0.1, 0.5, 0.99):
        exact = deep_mode_time(sigma, s0, L, frac * sigma)
        assert exact == pytest.approx(_quad_time(sigma, s0, L, frac * sigma), rel=1e-11)


def _ode_curve(sigma, s0, L, t):
    """The scalar ODE in log s, by solve_ivp at tight tolerances."""
    p = 2.0 - 2.0 / L
    sol = solve_ivp(
        lambda _t, x: [L * math.exp((p - 1.0) * x[0]) * (sigma - math.exp(x[0]))],
        (0.0, float(t[-1])),
        [math.log(s0)],
        method="DOP853",
        t_eval=t,
        rtol=1e-13,
        atol=1e-13,
    )
    return np.exp(sol.y[0])


@pytest.mark.parametrize("L", [2, 3, 4, 6])
@pytest.mark.parametrize(("sigma", "s0"), [(2.0, 1e-4), (1.0, 3.0), (0.0, 0.5), (1.0, 1e-12)])
def test_mode_curve_matches_scalar_ode(L, sigma, s0):
    horizon = 3.0 * deep_transition_time(sigma, s0, L, 0.9) if 0 < s0 < 0.9 * sigma else 5.0
    t = np.linspace(0.0, horizon, 30)
    exact = deep_mode_curve(sigma, s0, L, t)
    np.testing.assert_allclose(exact, _ode_curve(sigma, s0, L, t), rtol=1e-9)
    assert exact[0] == s0


@pytest.mark.parametrize("L", [2, 3, 4])
def test_mode_curve_inverts_mode_time_for_tiny_s0(L):
    """s0 = 1e-300 is handled; for L >= 3 the time of the whole transition, ~s0^{-(1-2/L)}, is
    then so large that float64 cannot resolve it (documented limit), so only the start is tested
    there."""
    sigma, s0 = 1.3, 1e-300
    s = s0 * np.array([2.0, 10.0, 1e3])
    if L == 2:
        s = np.concatenate([s, sigma * np.array([1e-100, 1e-10, 0.5, 0.9, 1 - 1e-9])])
    t = np.array([deep_mode_time(sigma, s0, L, v) for v in s])
    assert np.all(np.diff(t) > 0) and np.all(np.isfinite(t))
    np.testing.assert_allclose(deep_mode_curve(sigma, s0, L, t), s, rtol=1e-9)
    t_half = deep_transition_time(sigma, s0, L)
    assert deep_mode_curve(sigma, s0, L, 10 * t_half) == pytest.approx(sigma, rel=1e-15)


@pytest.mark.parametrize("L", [2, 3, 4])
def test_exact_curves_match_balanced_spectral_network(L):
    """Singular values of W_L ... W_1 from a balanced spectral init vs deep_mode_curve.

    Measured max relative error over all modes and times (rtol = 1e-12, the stack's scaled
    atol): 1.3e-12 (L = 2), 1.8e-12 (L = 3), 8.7e-12 (L = 4); with the former
    ``atol = rtol * min(1, scale)``: 9e-12, 4e-11, 7e-9.
    """
    Y = mfflow.make_target([3.0, 2.0, 1.0], n=4, seed=0)
    sigma = np.linalg.svd(Y, compute_uv=False)
    alpha = 1e-3
    F = deep_spectral_init(Y, L, seed=1)
    t = np.linspace(0.0, 1.5 * deep_transition_time(sigma[2], alpha, L, 0.99), 40)
    res = deep_flow(Y, F, alpha, t, rtol=1e-12)
    exact = deep_mode_curve(sigma, alpha, L, t)
    rel = np.abs(res.singular_values - exact) / exact
    assert rel.max() < 1e-10
    assert res.kind == "deep" and res.depth == L
    assert res.relative_imbalance_drift < 1e-14  # balancedness conserved (measured 1e-15)
    np.testing.assert_allclose(res.loss, 0.5 * np.sum((sigma - exact) ** 2, axis=1), rtol=1e-6)


@pytest.mark.parametrize("scales", [1.0, [1.0, 0.5, 2.0, 1.0]])
def test_depth_two_is_the_symmetric_logistic_curve(scales):
    """L = 2 with loss 1/2 ||Y - W_2 W_1||^2 = closed form of 1/4 ||Y - U U^T||^2, same t."""
    Y = mfflow.make_target([3.0, 2.0, 1.0, 0.5], n=4, seed=2)
    alpha = 1e-5
    s = np.broadcast_to(np.asarray(scales, dtype=float), (4,))
    traj = mfflow.closed_form(Y, mfflow.spectral_init(Y, s), alpha)
    t = np.linspace(0.0, 15.0, 50)
    exact = deep_mode_curve(traj.lam, alpha * s, 2, t)
    np.testing.assert_allclose(exact, traj.mode_values(t), rtol=1e-12)
    # and the logistic formula of eq. 7 for t(s)
    lam, s0 = 3.0, 1e-5
    expected = (math.log(1.5 / 1.5) - math.log(s0 / (lam - s0))) / (2 * lam)
    assert deep_transition_time(lam, s0, 2) == pytest.approx(expected, rel=1e-14)


def test_transitions_later_and_sharper_with_depth():
    """At fixed s0 = 1e-4, sigma = 1: measured t_1/2 = 4.61, 20.7, 49.7, 83.7, 116.1 and
    relative width (t_0.9 - t_0.1) / t_1/2 = 0.477, 0.097, 0.036, 0.019, 0.013 for L = 2..6."""
    depths = [2, 3, 4, 5, 6]
    half = np.array([deep_transition_time(1.0, 1e-4, L) for L in depths])
    width = np.array(
        [
            deep_transition_time(1.0, 1e-4, L, 0.9) - deep_transition_time(1.0, 1e-4, L, 0.1)
            for L in depths
        ]
    )
    assert np.all(np.diff(half) > 0)
    assert np.all(np.diff(width / half) < 0)
    assert np.all(width < 2.5)  # O(1 / (L sigma^p)): bounded while t_1/2 grows
    # leading-order transition time (s0/sigma)^{-(1-2/L)} / ((L-2) sigma^{2-2/L}) for L >= 3
    for L in (3, 4, 6):
        sigma, s0 = 2.0, 1e-12
        lead = (s0 / sigma) ** (-(1 - 2 / L)) / ((L - 2) * sigma ** (2 - 2 / L))
        assert deep_transition_time(sigma, s0, L) == pytest.approx(lead, rel=1e-3)


def test_spectral_init_is_balanced_with_the_requested_product():
    Y = mfflow.make_target([3.0, -2.0, 1.0], n=3, seed=4)  # SVD handles the sign
    s = np.array([1.0, 2.0, 0.5])
    F = deep_spectral_init(Y, 4, scales=s, seed=3)
    P, _, Qt = np.linalg.svd(Y)
    W = F[3] @ F[2] @ F[1] @ F[0]
    np.testing.assert_allclose(W, (P * s) @ Qt, atol=1e-13)
    for j in range(3):
        np.testing.assert_allclose(F[j + 1].T @ F[j + 1], F[j] @ F[j].T, atol=1e-13)


def test_operator_identity_equals_plain_loss_and_descent_approaches_flow():
    Y = mfflow.make_target([2.0, 1.0], n=3, seed=0)
    F = deep_random_init(3, 3, seed=5)
    t = [0.0, 4.0, 8.0]
    plain = deep_flow(Y, F, 1e-2, t, rtol=1e-11)
    with_op = deep_flow(Y, F, 1e-2, t, operator=IdentityOperator(3), rtol=1e-11)
    np.testing.assert_allclose(with_op.W, plain.W, rtol=1e-14, atol=0)  # measured: equal
    errs = []
    for eta in (0.02, 0.01, 0.005):
        gd = deep_descent(Y, F, 1e-2, eta, round(8.0 / eta))
        errs.append(np.linalg.norm(gd.W[0] - plain.W[-1]))
    # first order: ||W_k - W(k eta)|| = C eta, C measured 0.0224, 0.0222, 0.0221
    np.testing.assert_allclose(np.array(errs) / [0.02, 0.01, 0.005], 0.0222, rtol=0.02)
    assert errs[0] > 1.95 * errs[1] > 1.95**2 * errs[2]


def test_random_init_learns_modes_one_by_one():
    """Seed talk figure 2: from a small random init the top singular value is learned first."""
    Y = mfflow.make_target([3.0, 1.0], n=4, seed=1)
    for L in (2, 3):
        res = deep_descent(Y, deep_random_init(4, L, seed=0), 1e-4, 0.02, np.arange(0, 4001, 20))
        times = res.transition_times([1.5, 0.5])
        assert times[0] < times[1]
        assert res.recovery_error[-1] < 1e-2


Y3 = mfflow.make_target([2.0, 1.0], n=3, seed=0)


@pytest.mark.parametrize(
    ("call", "exc", "name"),
    [
        (lambda: deep_mode_curve(1.0, 1e-3, 1, 1.0), ValueError, "L"),
        (lambda: deep_mode_curve(1.0, 1e-3, 2.0, 1.0), TypeError, "L"),
        (lambda: deep_mode_curve(-1.0, 1e-3, 2, 1.0), ValueError, "sigma"),
        (lambda: deep_mode_curve(1.0, -1e-3, 2, 1.0), ValueError, "s0"),
        (lambda: deep_mode_curve(1.0, 1e-3, 2, -1.0), ValueError, "t"),
        (lambda: deep_mode_curve([1.0, 2.0], [1e-3, 1e-3, 1e-3], 2, 1.0), ValueError, "sigma"),
        (lambda: deep_mode_time(1.0, 1e-3, 3, 2.0), ValueError, "s"),
        (lambda: deep_transition_time(1.0, 1e-3, 3, fraction=1.0), ValueError, "fraction"),
        (lambda: deep_spectral_init(np.ones((3, 2)), 3), ValueError, "Y"),
        (lambda: deep_spectral_init(Y3, 3, scales=-1.0), ValueError, "scales"),
        (lambda: deep_flow(Y3, np.ones((1, 3, 3)), 1e-3, 1.0), ValueError, "factors0"),
        (lambda: deep_flow(Y3, np.ones((2, 2, 2)), 1e-3, 1.0), ValueError, "factors0"),
        (lambda: deep_flow(Y3, deep_random_init(3, 2), 0.0, 1.0), ValueError, "alpha"),
        (
            lambda: deep_flow(Y3, deep_random_init(3, 2), 1e-3, 1.0, operator=3),
            TypeError,
            "operator",
        ),
        (lambda: deep_descent(Y3, deep_random_init(3, 2), 1e-3, -0.1, 3), ValueError, "eta"),
        (lambda: deep_descent(Y3, deep_random_init(3, 2), 1e-3, 0.1, [1.5]), TypeError, "steps"),
    ],
)
def test_bad_inputs_name_the_argument(call, exc, name):
    with pytest.raises(exc, match=rf"{name}"):
        call()


def test_s0_down_to_the_smallest_normal_double_and_subnormal_refused_with_the_reason() -> None:
    tiny = float(np.finfo(np.float64).tiny)
    t = mfflow.deep_mode_time(1.0, tiny, 2, 0.5)  # L = 2: t = (log(s/(1-s)) - log s0) / 2 + ...
    assert np.isfinite(t) and t > 300.0
    np.testing.assert_allclose(mfflow.deep_mode_curve(1.0, tiny, 2, t), 0.5, rtol=1e-9)
    with pytest.raises(ValueError, match=r"^s0: .* at least 2.2.*e-308 .*subnormal"):
        mfflow.deep_mode_curve(1.0, 1e-320, 3, [1.0])
