"""Mixed lazy/active dynamics (Tu, Aranguri & Jacot; docs/math.md §11): the exact B(t) against
an independent ODE solve of the self-consistent equation and against mpmath, the init Gram of the
issue, both signs of lambda, their Euler scheme, and the phase picture."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.linalg import sqrtm

import mfflow
from mfflow.mixed import mixed_init, mixed_rhs
from reference import Reference, rel_fro

SHAPES = [(5, 5), (3, 5), (5, 3)]


def _problem(shape, scale, seed=0):
    m, n = shape
    rng = np.random.default_rng(seed)
    return 2.0 * rng.standard_normal((m, n)), scale * rng.standard_normal((m, n))


def _psd_sqrt(S):
    return np.real(sqrtm(S))


@pytest.mark.parametrize("c", [0.3, 5.0])
@pytest.mark.parametrize("shape", SHAPES)
def test_exact_matches_the_self_consistent_ode(shape, c, ledger):
    """DOP853 on ``B' = -(sqrt(B B^T + c^2) G + G sqrt(B^T B + c^2))`` itself."""
    m, n = shape
    Y, B0 = _problem(shape, 0.1)
    traj = mfflow.mixed_dynamics(Y, B0, c)
    t = np.linspace(0.0, 4.0, 9)

    def rhs(_, b):
        B = b.reshape(m, n)
        G = B - Y
        return -(_psd_sqrt(B @ B.T + c * c * np.eye(m)) @ G
                 + G @ _psd_sqrt(B.T @ B + c * c * np.eye(n))).ravel()  # fmt: skip

    sol = solve_ivp(rhs, (0, 4), B0.ravel(), t_eval=t, method="DOP853", rtol=1e-13, atol=1e-14)
    ode = sol.y.T.reshape(-1, m, n)
    err = max(rel_fro(traj.W(ti), ode[i]) for i, ti in enumerate(t) if i)
    ledger.record("mixed: exact vs DOP853 (self-consistent ODE)", err, f"{m}x{n}, c={c}")
    assert err < 1e-10
    np.testing.assert_allclose(mixed_rhs(Y, B0, c), rhs(0, B0.ravel()).reshape(m, n), atol=1e-12)
    assert traj.lam == pytest.approx(2 * c if m <= n else -2 * c)


@pytest.mark.parametrize("shape", SHAPES)
def test_init_gram_is_the_issues(shape):
    """``U0 U0^T = sqrt(B B^T + c^2) +- c``, ``V0 V0^T = sqrt(B^T B + c^2) -+ c``,
    ``U0 V0^T = B0``, ``U0^T U0 - V0^T V0 = +-2c I``, with ``r = min(m, n)`` columns."""
    m, n = shape
    _, B0 = _problem(shape, 1.0, seed=1)
    c = 0.8
    U0, V0 = mixed_init(B0, c)
    sign = 1.0 if m <= n else -1.0
    assert U0.shape[1] == V0.shape[1] == min(m, n)
    np.testing.assert_allclose(U0 @ V0.T, B0, atol=1e-13)
    np.testing.assert_allclose(U0.T @ U0 - V0.T @ V0, 2 * sign * c * np.eye(min(m, n)), atol=1e-13)
    left = _psd_sqrt(B0 @ B0.T + c * c * np.eye(m))
    right = _psd_sqrt(B0.T @ B0 + c * c * np.eye(n))
    if m <= n:
        np.testing.assert_allclose(U0 @ U0.T, left + c * np.eye(m), atol=1e-12)
        np.testing.assert_allclose(V0 @ V0.T, right - c * np.eye(n), atol=1e-12)
    else:
        np.testing.assert_allclose(U0 @ U0.T, left - c * np.eye(m), atol=1e-12)
        np.testing.assert_allclose(V0 @ V0.T, right + c * np.eye(n), atol=1e-12)


@pytest.mark.parametrize("shape", [(5, 3), (3, 5)])
def test_both_signs_of_lambda_give_the_same_b(shape):
    """The issue's Gram (``lambda = +2c``, target ``Ybar + c J``) for any shape, and the
    opposite sign, give the same ``B(t)``: the ODE in ``B`` has one solution."""
    m, n = shape
    Y, B0 = _problem(shape, 0.2, seed=2)
    c = 0.6
    left = _psd_sqrt(B0 @ B0.T + c * c * np.eye(m))
    right = _psd_sqrt(B0.T @ B0 + c * c * np.eye(n))
    t = np.linspace(0.5, 4.0, 8)
    ref = mfflow.mixed_dynamics(Y, B0, c).W(t)
    for sign in (1.0, -1.0):
        gram = (
            np.block([[left + sign * c * np.eye(m), B0], [B0.T, right - sign * c * np.eye(n)]])
            / 2.0
        )
        w, v = np.linalg.eigh(gram)
        keep = w > 1e-12 * w.max()
        z0 = v[:, keep] * np.sqrt(w[keep])  # a factor of the Gram, rank m (+) or n (-)
        assert z0.shape[1] == (m if sign > 0 else n)
        sym = mfflow.closed_form(mfflow.symmetrized_target(Y, 2 * sign * c), z0, 1.0)
        B = 2.0 * sym.W(t)[:, :m, m:]
        assert float(np.max(np.abs(B - ref))) < 1e-11 * float(np.max(np.abs(ref)))


@pytest.mark.parametrize("scale", [1e-20, 1e-60])
def test_exact_matches_mpmath_at_tiny_init(scale, ledger):
    """Tiny ``B0`` and small ``c``: lazy at first, then active; against the published formula
    for the symmetrized problem in 100+ digit arithmetic."""
    m, n = 3, 4
    Y = mfflow.rectangular_target([3.0, 2.0, 1.0], m, n, seed=3)
    B0 = scale * np.random.default_rng(4).standard_normal((m, n))
    c = 1e-3
    traj = mfflow.mixed_dynamics(Y, B0, c)
    U0, V0 = mixed_init(B0, c)
    z0 = np.concatenate([U0, V0]) / math.sqrt(2.0)
    ybar = mfflow.symmetrized_target(Y, 2 * c)
    times = np.array([0.5, 1.0, 2.0]) * math.log(1.0 / scale) / 2.0
    ref = Reference(ybar, z0, 1.0, times.max(), extra_dps=int(math.log10(1 / scale)))
    for t in times:
        B = 2.0 * ref.W(t)[:m, m:]
        err = rel_fro(traj.W(t), B)
        ledger.record("mixed: exact vs mpmath", err, f"B0 ~ {scale:g}")
        assert err < 1e-12


def test_lazy_and_active_limits():
    """``c >> ||Y||``: ``B(t) ~ Y + e^{-2ct} (B0 - Y)`` (lazy, linear); ``c = 0``: the balanced
    factorization flow (active), converging to ``Y``."""
    Y, B0 = _problem((4, 3), 0.5, seed=5)
    c = 1e4
    traj = mfflow.mixed_dynamics(Y, B0, c)
    t = np.array([0.1, 0.5, 1.0]) / (2 * c)
    lazy = Y + np.exp(-2 * c * t)[:, None, None] * (B0 - Y)
    assert float(np.max(np.abs(traj.W(t) - lazy))) < 1e-3 * float(np.max(np.abs(Y)))
    active = mfflow.mixed_dynamics(Y, B0, 0.0)
    U0, V0 = mixed_init(B0, 0.0)
    np.testing.assert_allclose(U0.T @ U0, V0.T @ V0, atol=1e-14)  # balanced
    ref = mfflow.closed_form_asymmetric(Y, U0, V0, 1.0)
    s = np.linspace(0.0, 5.0, 6)
    np.testing.assert_allclose(active.W(s), ref.W(s), atol=1e-12)
    np.testing.assert_allclose(active.limit(), Y, atol=1e-10)


def test_their_euler_scheme_converges_to_the_exact_flow_at_order_one():
    Y, B0 = _problem((4, 5), 0.1, seed=6)
    c = 0.5
    exact = mfflow.mixed_dynamics(Y, B0, c).W(2.0)
    gaps = []
    for eta in (4e-3, 2e-3):
        run = mfflow.mixed_euler(Y, B0, c, eta, round(2.0 / eta))
        gaps.append(float(np.max(np.abs(run.B_last - exact))))
    assert 1.9 < gaps[0] / gaps[1] < 2.1
    # small, and the Richardson extrapolation 2 gap(eta/2) - gap(eta) vanishes: Euler's error is
    # all first order, so it converges to this exact B(t) and nothing else (measured 8.3e-5)
    assert gaps[1] < 2e-4 * float(np.max(np.abs(Y)))
    assert abs(2.0 * gaps[1] - gaps[0]) < 0.01 * gaps[1]


def test_phase_diagram_against_a_fine_grid_and_euler():
    """Each cell's optimum is the exact minimizer (fine grid); their Euler scheme with a 20x
    smaller step than theirs lands within 1% of it; the active corner (small c, small init)
    reaches a lower test error at a lower stable rank than the lazy corner."""
    d = 10
    task = mfflow.mixed_task(d, 2, seed=7)
    gs, gw = np.array([-2.2, -0.8]), np.array([1.75, 2.8])
    c, scale = mfflow.tu_parameters(d, *np.meshgrid(gs, gw, indexing="ij"))
    pd = mfflow.mixed_phase_diagram(task, c, scale, seed=8, euler=True, step_factor=1000.0)
    assert pd.test_error.shape == (2, 2) and not pd.at_horizon.any()
    g0 = np.random.default_rng(8).standard_normal((d, d))
    ys = task.Ystar
    for idx in np.ndindex(2, 2):
        traj = mfflow.mixed_dynamics(task.Y, scale[idx] * g0, c[idx])
        fine = np.linspace(0.0, 3.0 * pd.time[idx], 3001)
        err = np.sum((traj.W(fine) - ys) ** 2, axis=(1, 2)) / d**2
        assert pd.test_error[idx] <= err.min() * (1 + 1e-12)
        assert abs(pd.time[idx] - fine[err.argmin()]) <= 2 * (fine[1] - fine[0])
    gap = pd.euler_discrepancy()
    assert gap["test_error"] < 1e-2 and gap["stable_rank"] < 1e-2
    assert gap["iterations"] < 5e-2
    assert pd.test_error[0, 0] < pd.test_error[1, 1]  # active vs lazy
    assert pd.stable_rank[0, 0] < pd.stable_rank[1, 1]
    np.testing.assert_allclose(pd.iterations, pd.time / pd.eta)


def test_inputs_are_checked():
    Y, B0 = _problem((3, 4), 0.1)
    with pytest.raises(ValueError, match="c: "):
        mfflow.mixed_dynamics(Y, B0, -1.0)
    with pytest.raises(ValueError, match="B0: expected shape"):
        mfflow.mixed_dynamics(Y, B0.T, 1.0)
    with pytest.raises(ValueError, match="eta: "):
        mfflow.mixed_euler(Y, B0, 1.0, 0.0, 10)
    with pytest.raises(TypeError, match="task: "):
        mfflow.mixed_phase_diagram(mfflow.noisy_target([1.0], 4, 0.1), [1.0], [1.0])
    task = mfflow.mixed_task(6, 2)
    with pytest.raises(ValueError, match="scale: "):
        mfflow.mixed_phase_diagram(task, [1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="k: "):
        mfflow.mixed_task(3, 5)


def test_a_phase_diagram_built_by_hand_with_half_the_euler_fields_is_refused_by_name() -> None:
    """Not an assert (``python -O`` would drop it): a ValueError naming the missing fields."""
    task = mfflow.mixed_task(4, 2, seed=0)
    pd = mfflow.mixed_phase_diagram(task, [1.0], [0.1], euler=True)
    assert set(pd.euler_discrepancy()) == {"test_error", "stable_rank", "iterations"}
    half = mfflow.MixedPhaseDiagram(
        **{
            k: getattr(pd, k)
            for k in ("c", "scale", "test_error", "stable_rank", "time", "eta", "iterations")
        },
        at_horizon=pd.at_horizon,
        euler_test_error=pd.euler_test_error,
    )
    with pytest.raises(ValueError, match=r"^euler_stable_rank, euler_iterations: expected"):
        half.euler_discrepancy()


def test_a_diverging_euler_run_is_refused_naming_eta() -> None:
    Y = np.array([[2.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    with pytest.raises(ValueError, match=r"^eta: the Euler scheme diverged at step \d+"):
        mfflow.mixed_euler(Y, 0.1 * np.ones((3, 2)), 21.0, 0.05, 200)
    # a stable step runs: one step is B0 + eta * (the velocity)
    B0 = 0.1 * np.ones((3, 2))
    one = mfflow.mixed_euler(Y, B0, 21.0, 1e-3, 1).B_last
    np.testing.assert_allclose(one, B0 + 1e-3 * mixed_rhs(Y, B0, 21.0), rtol=1e-14, atol=1e-16)
