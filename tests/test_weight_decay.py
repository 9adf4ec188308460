"""Weight decay ``+ gamma/2 ||factors||_F^2`` (docs/math.md §10): the exact flows against
independent ODE solves and mpmath, the theory it implies measured, the simulation stack.

The symmetric flow ``U' = (Y - U U^T) U - gamma U`` is the plain flow with target
``Y - gamma I``; the balanced asymmetric flow is the symmetrized one with ``Ybar - gamma I``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import mfflow
from mfflow.riccati import analyze
from reference import Reference, logistic, rel_fro

# ---- independent references --------------------------------------------------------------------


def ode_symmetric(Y, U0, alpha, gamma, t):
    """``U' = (Y - U U^T) U - gamma U`` by DOP853, tolerances relative to the init (§9)."""
    n, r = U0.shape
    u0 = math.sqrt(alpha) * U0

    def rhs(_, u):
        U = u.reshape(n, r)
        return ((Y - U @ U.T) @ U - gamma * U).ravel()

    sol = solve_ivp(
        rhs,
        (0.0, float(t[-1])),
        u0.ravel(),
        t_eval=t,
        method="DOP853",
        rtol=1e-12,
        atol=1e-15 * float(np.abs(u0).max()),
    )
    assert sol.success
    U = sol.y.T.reshape(-1, n, r)
    return U @ U.transpose(0, 2, 1)


def ode_asymmetric(Y, U0, V0, alpha, gamma, t):
    """``U' = R V - gamma U``, ``V' = R^T U - gamma V``: ``(U V^T, U, V)`` at ``t``."""
    m, r = U0.shape
    n = V0.shape[0]

    def rhs(_, z):
        U, V = z[: m * r].reshape(m, r), z[m * r :].reshape(n, r)
        R = Y - U @ V.T
        return np.concatenate([(R @ V - gamma * U).ravel(), (R.T @ U - gamma * V).ravel()])

    z0 = math.sqrt(alpha) * np.concatenate([U0.ravel(), V0.ravel()])
    sol = solve_ivp(rhs, (0.0, float(t[-1])), z0, t_eval=t, method="DOP853", rtol=1e-12, atol=1e-15)
    assert sol.success
    U = sol.y.T[:, : m * r].reshape(-1, m, r)
    V = sol.y.T[:, m * r :].reshape(-1, n, r)
    return U @ V.transpose(0, 2, 1), U, V


def times_through(spectrum, gamma, alpha, factor=2.5, num=9):
    """Times from 0 to ``factor`` times the slowest learned mode's transition."""
    mu = np.asarray(spectrum, dtype=float) - gamma
    slow = float(mu[mu > 0].min()) if np.any(mu > 0) else 1.0
    return np.linspace(0.0, factor * math.log(1.0 / alpha) / (2.0 * slow) + 2.0, num)


# ---- the symmetric closed form -------------------------------------------------------------
#: name: (spectrum of Y, n, r, gamma). Each has a mode with sigma <= gamma (never learned).
CASES = {
    "r<n, a mode below gamma": ([3.0, 2.0, 1.0, 0.5], 4, 2, 0.7),
    "r>n": ([3.0, 1.2, 0.3], 3, 5, 1.0),
    "indefinite": ([2.5, 1.0, -0.5, -2.0], 4, 4, 0.4),
    "zero eigenvalues": ([2.0, 1.0], 4, 4, 0.3),
    "sigma = gamma": ([2.0, 1.0, 0.5], 3, 3, 1.0),
}


@pytest.mark.parametrize("alpha", [1e-2, 1e-6])
@pytest.mark.parametrize("name", list(CASES))
def test_closed_form_matches_ode(name, alpha, ledger):
    spectrum, n, r, gamma = CASES[name]
    Y = mfflow.make_target(spectrum, n=n, seed=3)
    U0 = mfflow.gaussian_init(n, r, seed=4)
    t = times_through([s for s in spectrum if s > 0] or [1.0], gamma, alpha)
    traj = mfflow.closed_form(Y, U0, alpha, weight_decay=gamma)
    ref = ode_symmetric(Y, U0, alpha, gamma, t)
    err = max(rel_fro(traj.W(ti), ref[i]) for i, ti in enumerate(t) if i)
    ledger.record("weight decay: closed form vs ODE", err, f"{name}, alpha={alpha:g}")
    assert err < 2e-9
    assert traj.weight_decay == gamma
    np.testing.assert_allclose(traj.lam, np.sort(np.linalg.eigvalsh(Y))[::-1] - gamma, atol=1e-14)
    np.testing.assert_allclose(traj.Y, Y, atol=1e-14)  # the target, not Y - gamma I


@pytest.mark.parametrize("alpha", [1e-30, 1e-100])
def test_closed_form_matches_mpmath(alpha, ledger):
    """Dense and spectral paths against the published formula in mpmath for ``Y - gamma I``."""
    spectrum, gamma = [4.0, 2.5, 1.0, 0.3], 0.6
    Y = mfflow.make_target(spectrum, seed=5)
    U0 = mfflow.gaussian_init(4, 4, seed=6)
    tk = math.log(1.0 / alpha) / (2.0 * (1.0 - gamma))
    times = np.array([0.4, 1.0, 1.5]) * tk
    ref = Reference(Y - gamma * np.eye(4), U0, alpha, times.max())
    traj = mfflow.closed_form(Y, U0, alpha, weight_decay=gamma)
    err = max(rel_fro(traj.W(t), ref.W(t)) for t in times)
    ledger.record("weight decay: closed form vs mpmath", err, f"dense, alpha={alpha:g}")
    assert err < 1e-12
    # spectral path: each mode a logistic curve with rate lam - gamma, in mpmath
    U0s = mfflow.spectral_init(Y, [1.0, 0.5, 2.0, 1.5])
    spec = mfflow.closed_form(Y, U0s, alpha, weight_decay=gamma)
    assert spec.path == "spectral"
    s = spec.scales
    for t in times:
        pairs = zip(spec.lam, s, strict=True)
        exact = [logistic(float(lam), float(si), alpha, float(t)) for lam, si in pairs]
        got = spec.mode_values(t)
        err = float(np.max(np.abs(got - exact) / np.maximum(np.abs(exact), 1e-300)))
        ledger.record("weight decay: spectral vs mpmath (relative)", err, f"alpha={alpha:g}")
        assert err < 1e-12


def test_factored_target_complement_carries_minus_gamma():
    """A target given as a factor: the directions of span(basis, U0) outside the basis get
    ``-gamma`` (not 0), and the reduction stays exact (equal to the full ``n x n`` flow)."""
    n, gamma, alpha = 30, 0.5, 1e-4
    basis = mfflow.random_orthogonal(n, seed=7)[:, :3]
    values = np.array([3.0, 1.5, 0.4])  # 0.4 < gamma: never learned
    U0 = mfflow.gaussian_init(n, 2, seed=8)
    t = times_through(values, gamma, alpha)
    reduced = mfflow.closed_form((basis, values), U0, alpha, weight_decay=gamma)
    full = mfflow.closed_form((basis * values) @ basis.T, U0, alpha, weight_decay=gamma)
    assert reduced.reduced and reduced.dim == 5
    np.testing.assert_allclose(np.sort(reduced.lam), np.sort([*(values - gamma), -gamma, -gamma]))
    err = max(rel_fro(reduced.W(ti), full.W(ti)) for ti in t[1:])
    assert err < 1e-12
    ode = ode_symmetric((basis * values) @ basis.T, U0, alpha, gamma, t)
    assert max(rel_fro(reduced.W(ti), ode[i]) for i, ti in enumerate(t) if i) < 2e-9
    # shifting only the basis' values would leave 0 on the complement: a different flow
    wrong = mfflow.closed_form((basis, values - gamma), U0, alpha)
    assert rel_fro(wrong.W(t[2]), full.W(t[2])) > 1e-3


# ---- the theory it implies ---------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CASES))
def test_modes_below_gamma_are_never_learned(name):
    """``sigma_i <= gamma``: the component along ``phi_i`` never exceeds its initial order and
    decays (like ``e^{-2 (gamma - sigma_i) t}``, or ``1/(2t)`` at ``sigma_i = gamma``)."""
    spectrum, n, r, gamma = CASES[name]
    alpha = 1e-4
    Y = mfflow.make_target(spectrum, n=n, seed=3)
    U0 = mfflow.gaussian_init(n, r, seed=4)
    traj = mfflow.closed_form(Y, U0, alpha, weight_decay=gamma)
    t = np.geomspace(1e-2, 1e4, 300)
    comp = traj.mode_values(t)  # (T, n), descending sigma
    below = np.flatnonzero(traj.lam <= 1e-12)
    init_scale = alpha * float(np.sum(U0**2))
    assert comp[:, below].max() <= 1.01 * init_scale
    assert np.all(comp[-1, below] <= 1e-4 * init_scale + 1.0 / (2 * t[-1]))  # 1/(2t): lam = 0
    # and the limit keeps exactly the modes above gamma
    lam_y = np.sort(np.linalg.eigvalsh(Y))[::-1]
    k = int(np.count_nonzero(lam_y > gamma + 1e-12))
    assert np.linalg.matrix_rank(traj.limit(), tol=1e-9) == min(k, r)


def test_transition_times_shift_to_sigma_minus_gamma():
    """Spectral init: the exact crossing time (3.2) with ``sigma - gamma``; general init: the
    slope of the measured times against ``log(1/alpha)`` is ``1/(2 (sigma_i - gamma))``."""
    spectrum, gamma = [4.0, 2.0, 1.0, 0.5], 0.8
    Y = mfflow.make_target(spectrum, seed=9)
    np.testing.assert_allclose(
        mfflow.transition_times(Y, 1e-10, weight_decay=gamma),
        math.log(1e10) / (2.0 * (np.array([4.0, 2.0, 1.0]) - gamma)),
        rtol=1e-13,
    )
    s, f, alpha = 1.3, 0.5, 1e-10
    U0 = mfflow.spectral_init(Y, s)
    got = mfflow.measured_transition_times(Y, U0, alpha, f, weight_decay=gamma)
    mu = np.array([4.0, 2.0, 1.0]) - gamma
    exact = (math.log(1 / alpha) + np.log(f * (mu - alpha * s) / ((1 - f) * s))) / (2 * mu)
    np.testing.assert_allclose(got, exact, rtol=1e-10)
    U0 = mfflow.gaussian_init(4, 4, seed=10)
    logs = np.array([20.0, 40.0, 60.0])
    meas = np.array(
        [mfflow.measured_transition_times(Y, U0, math.exp(-x), weight_decay=gamma) for x in logs]
    )
    slopes = np.polyfit(logs, meas, 1)[0]
    np.testing.assert_allclose(slopes, 1.0 / (2.0 * mu), rtol=1e-6)
    with pytest.raises(AssertionError):  # the unshifted constant is wrong by sigma/(sigma-gamma)
        np.testing.assert_allclose(slopes, 1.0 / (2.0 * mu + 2 * gamma), rtol=1e-2)


@pytest.mark.parametrize("r", [2, 6])
def test_limit_is_the_positive_part_of_y_minus_gamma(r):
    spectrum, gamma = [3.0, 2.0, 1.0, 0.4, -1.0], 0.7
    Y = mfflow.make_target(spectrum, n=6, seed=11)
    traj = mfflow.closed_form(Y, mfflow.gaussian_init(6, r, seed=12), 1e-6, weight_decay=gamma)
    lam, phi = mfflow.eigh_descending(Y - gamma * np.eye(6))
    keep = np.arange(6) < min(r, int(np.count_nonzero(lam > 0)))
    expected = (phi[:, keep] * lam[keep]) @ phi[:, keep].T
    np.testing.assert_allclose(traj.limit(), expected, atol=1e-13)
    np.testing.assert_allclose(traj.W(400.0), expected, atol=1e-10)


@pytest.mark.parametrize("init", ["gaussian", "spectral"])
def test_loss_is_the_regularized_objective(init):
    """``loss(t) = 1/4 ||Y - W||^2 + gamma/2 tr W`` on both paths, and it decreases."""
    Y = mfflow.make_target([3.0, 1.0, 0.2], n=4, seed=13)
    U0 = mfflow.gaussian_init(4, 4, seed=14) if init == "gaussian" else mfflow.spectral_init(Y, 1)
    gamma = 0.5
    traj = mfflow.closed_form(Y, U0, 1e-3, weight_decay=gamma)
    assert traj.path == ("spectral" if init == "spectral" else "dense")
    t = np.linspace(0.0, 30.0, 61)
    W = traj.W(t)
    direct = 0.25 * np.sum((Y - W) ** 2, axis=(1, 2)) + 0.5 * gamma * np.trace(W, axis1=1, axis2=2)
    np.testing.assert_allclose(traj.loss(t), direct, rtol=1e-13, atol=1e-15)
    assert np.all(np.diff(traj.loss(t)) <= 1e-14)


def test_theorem_with_weight_decay():
    """The corrected theorem for ``Y - gamma I``: constants with ``sigma_1 - gamma``, intervals
    with ``sigma_k - gamma``; they hold. The slide's left ends, and the intervals computed as if
    there were no weight decay, do not."""
    spectrum, gamma, eps = [4.0, 2.5, 1.5, 0.5], 0.9, 0.1
    Y = mfflow.make_target(spectrum, seed=15)
    U0 = mfflow.orthogonal_init(4, 6, seed=16)  # M = 1
    const = mfflow.theorem_constants(Y, U0, 1e-30, eps, weight_decay=gamma)
    assert const.hypotheses_hold and const.weight_decay == gamma
    np.testing.assert_allclose(const.sigma, np.array([4.0, 2.5, 1.5]) - gamma, rtol=1e-13)
    assert const.C_eps == pytest.approx(16 * (4.0 - gamma) ** 2 / eps, rel=1e-13)
    check = mfflow.check_theorem(Y, U0, 1e-30, eps, weight_decay=gamma)
    assert check.all_hold and all(r.contained for r in check.rows)
    assert max(r.max_error_on_certified for r in check.rows) < 0.25 * eps  # the proof's bound
    slide = mfflow.check_theorem(Y, U0, 1e-30, eps, endpoints="slide", weight_decay=gamma)
    assert not any(r.holds for r in slide.rows)
    # the intervals without weight decay are too early for the decayed flow
    traj = mfflow.closed_form(Y, U0, 1e-30, weight_decay=gamma)
    naive = mfflow.theorem_intervals(Y, U0, 1e-30, eps)[:3]
    for k, (a, _) in enumerate(naive):
        target = np.zeros(4)
        target[: k + 1] = traj.lam[: k + 1]
        w = traj.W_eig(a)
        assert float(np.max(np.abs(np.linalg.eigvalsh(w - np.diag(target))))) > 5 * eps


def test_theorem_failures_name_the_weight_decay():
    Y = mfflow.make_target([1.0, 0.5], seed=17)
    U0 = mfflow.orthogonal_init(2, 2, seed=18)
    const = mfflow.theorem_constants(Y, U0, 1e-20, 0.1, weight_decay=1.5)
    assert not const.hypotheses_hold
    assert any("weight decay" in f for f in const.failures)
    # Y - gamma I is indefinite: that alone is not a failure, Y itself must be PSD
    ok = mfflow.theorem_constants(Y, U0, 1e-20, 0.1, weight_decay=0.2)
    assert not any("semidefinite" in f for f in ok.failures)


# ---- asymmetric ------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(4, 3), (3, 5)])
def test_asymmetric_balanced_matches_ode_and_soft_thresholds(shape, ledger):
    m, n = shape
    Y = mfflow.rectangular_target([3.0, 1.5, 0.3], m, n, seed=19)
    U0, V0 = mfflow.balanced_init(m, n, 3, seed=20)
    gamma, alpha = 0.6, 1e-4
    traj = mfflow.closed_form_asymmetric(Y, U0, V0, alpha, weight_decay=gamma)
    t = times_through([3.0, 1.5], gamma, alpha)
    W, U, V = ode_asymmetric(Y, U0, V0, alpha, gamma, t)
    err = max(rel_fro(traj.W(ti), W[i]) for i, ti in enumerate(t) if i)
    ledger.record("weight decay: asymmetric vs ODE", err, f"{m}x{n}")
    assert err < 2e-9
    loss = 0.5 * np.sum((Y - W) ** 2, axis=(1, 2)) + 0.5 * gamma * (
        np.sum(U**2, axis=(1, 2)) + np.sum(V**2, axis=(1, 2))
    )
    np.testing.assert_allclose(traj.loss(t), loss, rtol=1e-8, atol=1e-14)
    p, s, qt = np.linalg.svd(Y, full_matrices=False)
    soft = (p * np.maximum(s - gamma, 0.0)) @ qt
    np.testing.assert_allclose(traj.limit(), soft, atol=1e-12)


def test_lambda_balanced_with_weight_decay_is_refused_and_simulated():
    """``lam0 != 0``: no closed form (refused, pointing to the simulation); simulated, the
    imbalance decays exactly like ``e^{-2 gamma t}``."""
    Y = mfflow.rectangular_target([2.0, 1.0], 3, 4, seed=21)
    U0, V0 = mfflow.lambda_balanced_init(3, 4, 3, lam=0.8, seed=22)
    with pytest.raises(ValueError, match=r"weight_decay: .*simulate_asymmetric_gf"):
        mfflow.closed_form_asymmetric(Y, U0, V0, 1e-2, weight_decay=0.3)
    mfflow.closed_form_asymmetric(Y, U0, V0, 1e-2)  # without weight decay: exact
    t = np.linspace(0.0, 10.0, 6)
    res = mfflow.simulate_asymmetric_gf(Y, U0, V0, 1.0, t, weight_decay=0.3, rtol=1e-12)
    D = mfflow.imbalance(res.U, res.V)
    np.testing.assert_allclose(D, np.exp(-0.6 * t)[:, None, None] * D[0], atol=1e-12)
    assert res.imbalance is None  # nothing conserved: the drift is not a solver error


# ---- the simulation stack, every model ---------------------------------------------------------


def test_stack_symmetric_and_asymmetric_against_the_closed_forms():
    Y = mfflow.make_target([3.0, 2.0, 0.4], seed=23)
    U0 = mfflow.gaussian_init(3, 3, seed=24)
    gamma, alpha = 0.7, 1e-3
    t = np.linspace(0.0, 20.0, 5)
    exact = mfflow.closed_form(Y, U0, alpha, weight_decay=gamma)
    flow = mfflow.simulate_gf(Y, U0, alpha, t, weight_decay=gamma, rtol=1e-12)
    assert max(rel_fro(flow.W[i], exact.W(t[i])) for i in range(1, 5)) < 1e-10
    np.testing.assert_allclose(flow.loss, exact.loss(t), rtol=1e-10)
    gaps = []
    for eta in (2e-3, 1e-3):
        gd = mfflow.simulate_gd(Y, U0, alpha, eta, t=t, weight_decay=gamma)
        gaps.append(float(np.max(np.abs(gd.W - exact.W(gd.t)))))
    assert 1.8 < gaps[0] / gaps[1] < 2.2  # order 1 in eta
    # and towards the weight-decay flow itself: small, and the first-order term is all of it
    # (measured 5.8e-6 at eta = 1e-3; |2 gap(eta/2) - gap(eta)| 0.6% of gap(eta/2)); GD without
    # the decay stays 0.7 away from this exact solution
    assert gaps[1] < 1e-5
    assert abs(2.0 * gaps[1] - gaps[0]) < 0.05 * gaps[1]
    radau = mfflow.simulate_gf(Y, U0, alpha, t, weight_decay=gamma, method="Radau", rtol=1e-9)
    assert max(rel_fro(radau.W[i], exact.W(t[i])) for i in range(1, 5)) < 1e-6
    # identity operator: the sensing flow is the plain one
    sens = mfflow.sensing_flow(mfflow.IdentityOperator(3), Y, U0, alpha, t, weight_decay=gamma)
    assert max(rel_fro(sens.W[i], exact.W(t[i])) for i in range(1, 5)) < 1e-8
    Ya = mfflow.rectangular_target([2.0, 1.0], 3, 2, seed=25)
    Ua, Va = mfflow.balanced_init(3, 2, 2, seed=26)
    ea = mfflow.closed_form_asymmetric(Ya, Ua, Va, alpha, weight_decay=0.2)
    fa = mfflow.simulate_gf(Ya, Ua, alpha, t, V0=Va, weight_decay=0.2, rtol=1e-12)
    assert max(rel_fro(fa.W[i], ea.W(t[i])) for i in range(1, 5)) < 1e-10
    da = mfflow.simulate_asymmetric_gd(Ya, Ua, Va, alpha, 1e-3, t=t, weight_decay=0.2)
    assert float(np.max(np.abs(da.W - ea.W(da.t)))) < 1e-2


def test_stack_deep_balanced_spectral_init_follows_the_mode_ode():
    """Depth ``L`` with weight decay from a balanced spectral init: each mode follows
    ``s' = L s^{2-2/L} (sigma - s) - L gamma s`` (a scalar ODE solved independently)."""
    L, gamma, alpha = 3, 0.3, 1e-2
    Y = mfflow.make_target([2.0, 1.0, 0.2], seed=27)
    F = mfflow.deep_spectral_init(Y, L, scales=[1.0, 1.0, 1.0])
    t = np.linspace(0.0, 40.0, 9)
    res = mfflow.deep_flow(Y, F, alpha, t, weight_decay=gamma, rtol=1e-11)
    p = 2.0 - 2.0 / L
    for sigma in [2.0, 1.0, 0.2]:
        sol = solve_ivp(
            lambda _, s, sigma=sigma: L * s**p * (sigma - s) - L * gamma * s,
            (0.0, 40.0),
            [alpha],
            t_eval=t,
            method="DOP853",
            rtol=1e-12,
            atol=1e-16,
        )
        match = np.min(np.abs(res.singular_values - sol.y[0][:, None]), axis=1)
        assert float(np.max(match)) < 1e-8
    gd = mfflow.deep_descent(Y, F, alpha, 1e-3, t=t, weight_decay=gamma)
    assert float(np.max(np.abs(gd.singular_values - res.singular_values))) < 2e-2


# ---- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [-0.1, math.nan, math.inf, True, "0.1", None])
def test_weight_decay_is_validated_everywhere(bad):
    Y = mfflow.make_target([2.0, 1.0], seed=28)
    U0 = mfflow.gaussian_init(2, 2, seed=29)
    calls = {  # call: whether None means "no weight decay"
        lambda: mfflow.closed_form(Y, U0, 1e-2, weight_decay=bad): True,
        lambda: mfflow.transition_times(Y, 1e-2, weight_decay=bad): True,
        lambda: mfflow.simulate_gf(Y, U0, 1e-2, [1.0], weight_decay=bad): False,
        lambda: mfflow.simulate_gd(Y, U0, 1e-2, 0.1, steps=[1], weight_decay=bad): False,
        lambda: mfflow.closed_form_asymmetric(Y, U0, U0, 1e-2, weight_decay=bad): False,
    }
    for call, none_ok in calls.items():
        if bad is None and none_ok:
            call()
        else:
            with pytest.raises((TypeError, ValueError), match=r"^weight_decay: "):
                call()


def test_structure_and_trajectory_must_agree_on_weight_decay():
    Y = mfflow.make_target([2.0, 1.0], seed=30)
    U0 = mfflow.gaussian_init(2, 2, seed=31)
    st = analyze(Y, U0, weight_decay=0.5)
    assert mfflow.closed_form(Y, U0, 1e-2, structure=st).weight_decay == 0.5
    with pytest.raises(ValueError, match="weight_decay"):
        mfflow.closed_form(Y, U0, 1e-2, structure=st, weight_decay=0.2)
    traj = mfflow.closed_form(Y, U0, 1e-2, weight_decay=0.5)
    with pytest.raises(ValueError, match="weight_decay"):
        mfflow.check_theorem(traj, eps=0.1, weight_decay=0.1)
    np.testing.assert_allclose(mfflow.transition_times(traj), np.log(100.0) / np.array([3.0, 1.0]))
    assert "weight decay 0.5" in traj.describe()


def test_gradients_through_the_shifted_target():
    """Torch inputs with gradients: the differentiable set-up shifts ``eigh(Y)`` by ``-gamma``
    too (same values as NumPy; gradient in ``Y`` by central differences); a weight decay that
    carries a gradient is refused by name."""
    torch = pytest.importorskip("torch")
    Y = mfflow.make_target([3.0, 1.0, 0.4], seed=32)
    U0 = mfflow.gaussian_init(3, 3, seed=33)
    gamma, alpha, t = 0.6, 1e-3, 6.0
    ref = mfflow.closed_form(Y, U0, alpha, weight_decay=gamma).W(t)
    Yt = torch.tensor(Y, requires_grad=True)
    out = mfflow.closed_form(Yt, torch.tensor(U0), alpha, weight_decay=gamma).W(t)
    np.testing.assert_allclose(out.detach().numpy(), ref, atol=1e-12)
    (grad,) = torch.autograd.grad(out.sum(), Yt)
    E = np.zeros((3, 3))
    E[0, 1] = E[1, 0] = 1.0
    h = 1e-6
    fd = (
        mfflow.closed_form(Y + h * E, U0, alpha, weight_decay=gamma).W(t).sum()
        - mfflow.closed_form(Y - h * E, U0, alpha, weight_decay=gamma).W(t).sum()
    ) / (2 * h)
    assert float(grad[0, 1] + grad[1, 0]) == pytest.approx(fd, rel=1e-6)
    with pytest.raises(ValueError, match=r"^weight_decay: gradients"):
        mfflow.closed_form(Y, U0, alpha, weight_decay=torch.tensor(0.5, requires_grad=True))
