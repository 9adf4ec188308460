"""Measurement operators and the sensing simulators (mfflow.sensing)."""

from __future__ import annotations

import numpy as np
import pytest

import mfflow
from mfflow import crossing_times, sensing_descent, sensing_flow
from mfflow.sensing import (
    EntrySampling,
    GaussianSensing,
    IdentityOperator,
    curve_distance,
    rip_constant,
)

OPERATORS = {
    "gauss-sym": lambda: GaussianSensing(6, 40, seed=0),
    "gauss-rect": lambda: GaussianSensing(5, 30, seed=1, cols=4),
    "entries-sym": lambda: EntrySampling(6, 0.4, seed=0),
    "entries-rect": lambda: EntrySampling(5, 0.5, seed=2, cols=3),
    "identity": lambda: IdentityOperator(4),
    "identity-rect": lambda: IdentityOperator(3, cols=5),
}


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_adjoint_identity(name):
    op = OPERATORS[name]()
    rng = np.random.default_rng(7)
    X = rng.standard_normal((3, *op.shape))  # not symmetric: the identity must hold anyway
    y = rng.standard_normal((3, op.m))
    lhs = np.sum(op.apply(X) * y, axis=-1)
    rhs = np.sum(X * op.adjoint(y), axis=(-2, -1))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12, atol=1e-12 * np.abs(lhs).max())
    # batching is the same as one at a time
    np.testing.assert_allclose(op.apply(X)[1], op.apply(X[1]), rtol=1e-14, atol=0)
    np.testing.assert_allclose(op.adjoint(y)[2], op.adjoint(y[2]), rtol=1e-14, atol=0)
    assert op.apply(X[0]).shape == (op.m,) and op.adjoint(y[0]).shape == op.shape
    if op.symmetric:
        g = op.adjoint(y[0])
        np.testing.assert_array_equal(g, g.T)
        np.testing.assert_allclose(op.apply(X[0]), op.apply(X[0].T), rtol=1e-13, atol=1e-13)


def _isotropy_zscores(make, X, seeds):
    samples = np.stack([make(s).adjoint(make(s).apply(X)) for s in seeds])
    mean = samples.mean(axis=0)
    se = samples.std(axis=0, ddof=1) / np.sqrt(len(seeds))
    return np.abs(mean - X) / se


@pytest.mark.parametrize(
    ("make", "shape", "sym"),
    [
        (lambda s: GaussianSensing(4, 12, seed=s), (4, 4), True),
        (lambda s: GaussianSensing(3, 10, seed=s, cols=4), (3, 4), False),
        (lambda s: EntrySampling(5, 0.3, seed=s), (5, 5), True),
        (lambda s: EntrySampling(4, 0.6, seed=s, cols=3), (4, 3), False),
    ],
)
def test_isotropy_on_average(make, shape, sym):
    """E[A* A (X)] = X: the seed average is within 5 standard errors (CLT) in every entry."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal(shape)
    if sym:
        X = X + X.T
    z = _isotropy_zscores(make, X, range(600))
    assert float(z.max()) < 5.0


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_completion_mask_fraction(p):
    n = 60
    op = EntrySampling(n, p, seed=11)
    assert op.mask.shape == (n, n) and np.array_equal(op.mask, op.mask.T)
    assert op.m == int(np.triu(op.mask).sum())
    sd = np.sqrt((2.0 * n * (n - 1) + n) * p * (1 - p)) / n**2
    assert abs(op.observed_fraction - p) < 5 * sd
    rect = EntrySampling(n, p, seed=12, cols=40)
    assert abs(rect.observed_fraction - p) < 5 * np.sqrt(p * (1 - p) / (n * 40))


def test_rip_constant_shrinks_with_m():
    deltas = [
        rip_constant(GaussianSensing(10, m, seed=0), rank=2, trials=300) for m in (20, 200, 2000)
    ]
    assert deltas[0] > 0.5 and deltas[2] < 0.2
    assert deltas[0] > deltas[1] > deltas[2]
    assert rip_constant(IdentityOperator(6), rank=3) < 1e-13
    assert rip_constant(GaussianSensing(5, 40, seed=1, cols=7), rank=2) > 0


def test_loss_scaling_matches_raw_sum():
    """The losses are the definitions with the raw sensing matrices ``A_i = sqrt(m) * rows``:
    ``1/(4m) sum_i (<A_i, Y> - <A_i, U U^T>)^2`` and ``1/(2m) sum_i (<A_i, Y> - <A_i, U V^T>)^2``,
    along flows and descents."""
    n, m = 4, 25
    op = GaussianSensing(n, m, seed=5)
    raw = np.sqrt(m) * op.adjoint(np.eye(m))  # (m, n, n), symmetric A_i
    np.testing.assert_array_equal(raw, np.swapaxes(raw, 1, 2))
    Y = mfflow.make_target([2.0, 1.0], n=n, seed=0)
    U0 = mfflow.gaussian_init(n, 3, seed=1)

    def definition(W, A, target, factor):
        return np.array([np.sum(np.einsum("kij,ij->k", A, target - w) ** 2) for w in W]) * factor

    flow = sensing_flow(op, Y, U0, 0.3, [0.0, 1.0, 5.0])
    np.testing.assert_allclose(flow.W[0], 0.3 * U0 @ U0.T, rtol=1e-15)
    np.testing.assert_allclose(flow.loss, definition(flow.W, raw, Y, 1 / (4 * m)), rtol=1e-12)
    gd = sensing_descent(op, Y, U0, 0.3, 0.01, [0, 100])
    np.testing.assert_allclose(gd.loss, definition(gd.W, raw, Y, 1 / (4 * m)), rtol=1e-12)
    rect = GaussianSensing(4, 30, seed=1, cols=3)
    raw_r = np.sqrt(30) * rect.adjoint(np.eye(30))  # (m, 4, 3)
    rng = np.random.default_rng(2)
    Yr = rng.standard_normal((4, 3))
    U0r, V0r = rng.standard_normal((4, 2)), rng.standard_normal((3, 2))
    asym = sensing_flow(rect, Yr, U0r, 0.1, [0.0, 2.0], V0=V0r)
    np.testing.assert_allclose(asym.loss, definition(asym.W, raw_r, Yr, 1 / (2 * 30)), rtol=1e-12)
    # raw rows of unit variance: E<A_i, X>^2 = ||X||_F^2 for symmetric X; the sample mean of
    # <A_i, X>^2 / ||X||_F^2 (chi^2_1: mean 1, variance 2) is within 5 standard errors of 1
    big = GaussianSensing(n, 20000, seed=6)
    X = Y - 0.3 * U0 @ U0.T
    ratio = 20000 * big.apply(X) ** 2 / np.sum(X**2)
    assert abs(ratio.mean() - 1.0) < 5 * np.sqrt(2.0 / 20000)


CASES = [
    ([3.0, 2.0, 1.0], 5, 3, 1e-4),  # r < n, rank-deficient Y
    ([3.0, 2.0, -1.0], 5, 7, 1e-6),  # indefinite Y, r > n
    ([2.0, 1.5, 1.0, 0.5], 4, 4, 1e-2),
]


@pytest.mark.parametrize(("spec", "n", "r", "alpha"), CASES)
def test_identity_operator_reproduces_closed_form(spec, n, r, alpha):
    Y = mfflow.make_target(spec, n=n, seed=0)
    U0 = mfflow.gaussian_init(n, r, seed=1)
    t = np.linspace(0.0, 12.0, 25)
    res = sensing_flow(IdentityOperator(n), Y, U0, alpha, t, rtol=1e-12)
    traj = mfflow.closed_form(Y, U0, alpha)
    W = traj.W(t)
    rel = np.linalg.norm(res.W - W, axis=(1, 2)) / np.linalg.norm(W, axis=(1, 2))
    assert rel.max() < 1e-11  # measured at most 8.6e-13 (scaled atol, landing on every t)
    np.testing.assert_allclose(res.loss, traj.loss(t), rtol=1e-8, atol=1e-14)  # 9.6e-10
    err = np.linalg.norm(W - Y, axis=(1, 2)) / np.linalg.norm(Y)
    np.testing.assert_allclose(res.recovery_error, err, rtol=1e-8, atol=1e-12)  # 4.8e-10
    assert res.kind == "symmetric" and res.dynamics == "flow" and res.m == n * n
    assert res.method == "DOP853"  # a flow's method is its ODE solver


def test_identity_operator_asymmetric_balanced_matches_embedding():
    """Balanced U V^T flow = 2 x (1,2) block of the symmetric flow of [[0, Y], [Y^T, 0]]."""
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((4, 3))
    P = np.linalg.qr(rng.standard_normal((4, 2)))[0]
    Q = np.linalg.qr(rng.standard_normal((3, 2)))[0]
    R = mfflow.random_orthogonal(2, 1)
    d = np.array([1.0, 0.7])
    U0, V0 = (P * d) @ R, (Q * d) @ R
    t = np.linspace(0.0, 15.0, 20)
    res = sensing_flow(IdentityOperator(4, cols=3), Y, U0, 1e-4, t, V0=V0, rtol=1e-12)
    Ybar = np.zeros((7, 7))
    Ybar[:4, 4:], Ybar[4:, :4] = Y, Y.T
    ref = 2.0 * mfflow.closed_form(Ybar, np.vstack([U0, V0]) / np.sqrt(2), 1e-4).W(t)[:, :4, 4:]
    rel = np.linalg.norm(res.W - ref, axis=(1, 2)) / np.linalg.norm(ref, axis=(1, 2))
    assert rel.max() < 1e-11  # measured 2.7e-13
    assert res.kind == "asymmetric"
    np.testing.assert_allclose(res.loss, 0.5 * np.sum((ref - Y) ** 2, axis=(1, 2)), rtol=1e-10)


def test_gaussian_sensing_approaches_closed_form_as_m_grows():
    """Time-averaged singular-value distance to the identity closed form, m / (n r) = 2, 8, 32.

    Measured (alpha = 1e-3, n = 10, r = 2, 4 seeds): 0.103, 0.035, 0.017 on average, and it
    shrinks for every seed.
    """
    n, K, alpha = 10, 2, 1e-3
    Y = mfflow.make_target([2.0, 1.0], n=n, seed=3)
    U0 = mfflow.gaussian_init(n, n, seed=4)
    t = np.linspace(0.0, 14.0, 57)
    traj = mfflow.closed_form(Y, U0, alpha)
    dist = np.array(
        [
            [
                curve_distance(
                    sensing_flow(GaussianSensing(n, c * n * K, seed=s), Y, U0, alpha, t, rtol=1e-8),
                    traj,
                ).mean()
                for s in range(4)
            ]
            for c in (2, 8, 32)
        ]
    )
    assert np.all(np.diff(dist, axis=0) < 0)  # per seed
    mean = dist.mean(axis=1)
    assert mean[0] > 2 * mean[2]
    assert mean[2] < 0.03


def test_descent_approaches_flow():
    Y = mfflow.make_target([2.0, 1.0], n=4, seed=0)
    U0 = mfflow.gaussian_init(4, 4, seed=1)
    op = GaussianSensing(4, 60, seed=2)
    flow = sensing_flow(op, Y, U0, 1e-3, [6.0], rtol=1e-11)
    errs = []
    for eta in (0.04, 0.02, 0.01):
        gd = sensing_descent(op, Y, U0, 1e-3, eta, [round(6.0 / eta)])
        assert gd.method == "descent" and gd.t[0] == pytest.approx(6.0)
        errs.append(np.linalg.norm(gd.W[0] - flow.W[0]))
    order = np.log2(errs[0] / errs[1]), np.log2(errs[1] / errs[2])
    assert all(abs(o - 1.0) < 0.05 for o in order)  # first order in eta: measured 1.021, 1.010
    np.testing.assert_allclose(np.array(errs) / [0.04, 0.02, 0.01], 0.115, rtol=0.03)


def test_descent_divergence_flagged_not_raised():
    """One divergence policy for every descent: flagged with NaN records after it by default,
    raised naming eta with throw=True."""
    op = GaussianSensing(3, 30, seed=0)
    res = sensing_descent(op, Y3, U3, 1.0, 5.0, [0, 10, 200])
    assert res.diverged and 0 < res.diverged_at <= 200
    reached = res.steps < res.diverged_at
    assert np.all(np.isfinite(res.W[reached])) and np.all(np.isnan(res.W[~reached]))
    assert np.all(np.isnan(res.singular_values[~reached])) and np.all(np.isnan(res.loss[~reached]))
    with pytest.raises(
        ValueError, match=f"^eta: gradient descent diverged at step {res.diverged_at}"
    ):
        sensing_descent(op, Y3, U3, 1.0, 5.0, [0, 10, 200], throw=True)


def test_asymmetric_descent_and_completion_run():
    rng = np.random.default_rng(1)
    Y = rng.standard_normal((5, 2)) @ rng.standard_normal((2, 4))
    op = EntrySampling(5, 0.8, seed=0, cols=4)
    U0, V0 = 0.1 * rng.standard_normal((5, 5)), 0.1 * rng.standard_normal((4, 5))
    res = sensing_descent(op, Y, U0, 1e-2, 0.02, [0, 50, 4000], V0=V0)
    assert res.singular_values.shape == (3, 4)
    assert res.loss[-1] < 1e-3 * res.loss[0]


def test_crossing_times_and_transition_times():
    t = np.linspace(0.0, 2.0, 5)
    vals = np.stack([t, 2 * t], axis=1)
    np.testing.assert_allclose(crossing_times(t, vals, [1.0, 1.0]), [1.0, 0.5])
    assert np.isnan(crossing_times(t, vals, [5.0, 1.0])[0])
    Y = mfflow.make_target([2.0, 1.0], n=3, seed=0)
    U0 = mfflow.gaussian_init(3, 3, seed=1)
    tt = np.linspace(0, 12, 200)
    res = sensing_flow(IdentityOperator(3), Y, U0, 1e-4, tt)
    exact = crossing_times(tt, mfflow.closed_form(Y, U0, 1e-4).eigvals(tt)[:, :2], [1.0, 0.5])
    np.testing.assert_allclose(res.transition_times([1.0, 0.5]), exact, rtol=1e-6)


Y3 = mfflow.make_target([2.0, 1.0], n=3, seed=0)
U3 = mfflow.gaussian_init(3, 2, seed=0)


@pytest.mark.parametrize(
    ("call", "exc", "name"),
    [
        (lambda: GaussianSensing(0, 5), ValueError, "n"),
        (lambda: GaussianSensing(3, 2.5), TypeError, "m"),
        (lambda: GaussianSensing(3, 5, cols=0), ValueError, "cols"),
        (lambda: EntrySampling(4, 1.5), ValueError, "fraction"),
        (lambda: EntrySampling(4, 0.0), ValueError, "fraction"),
        (lambda: IdentityOperator(3).apply(np.ones((2, 2))), ValueError, "X"),
        (lambda: IdentityOperator(3).adjoint(np.ones(4)), ValueError, "y"),
        (lambda: rip_constant(IdentityOperator(3), rank=4), ValueError, "rank"),
        (lambda: rip_constant("op", rank=1), TypeError, "op"),
        (lambda: sensing_flow(IdentityOperator(4), Y3, U3, 1e-3, 1.0), ValueError, "operator"),
        (lambda: sensing_flow(np.eye(3), Y3, U3, 1e-3, 1.0), TypeError, "operator"),
        (
            lambda: sensing_flow(IdentityOperator(3), Y3 + np.triu(Y3, 1), U3, 1e-3, 1.0),
            ValueError,
            "Y",
        ),
        (lambda: sensing_flow(IdentityOperator(3), Y3, U3, -1.0, 1.0), ValueError, "alpha"),
        (lambda: sensing_flow(IdentityOperator(3), Y3, U3, 1e-3, -1.0), ValueError, "t"),
        (lambda: sensing_flow(IdentityOperator(3), Y3, U3, 1e-3, 1.0, rtol=0), ValueError, "rtol"),
        (lambda: sensing_flow(IdentityOperator(3), Y3, U3[:2], 1e-3, 1.0), ValueError, "U0"),
        (
            lambda: sensing_flow(IdentityOperator(3), Y3, U3, 1e-3, 1.0, V0=np.ones((3, 3))),
            ValueError,
            "V0",
        ),
        (lambda: sensing_descent(IdentityOperator(3), Y3, U3, 1e-3, 0.0, 5), ValueError, "eta"),
        (lambda: sensing_descent(IdentityOperator(3), Y3, U3, 1e-3, 0.1, 2.5), TypeError, "steps"),
        (
            lambda: sensing_descent(IdentityOperator(3), Y3, U3, 1.0, 5.0, 200, throw=True),
            ValueError,
            "eta",
        ),
        (
            lambda: sensing_flow(IdentityOperator(3), Y3, U3, 1e-3, 1.0, method="x"),
            ValueError,
            "method",
        ),
        (
            lambda: sensing_flow(IdentityOperator(3), Y3, U3, 1e-3, 1.0, rtol=1e-20),
            ValueError,
            "rtol",
        ),
        (lambda: sensing_flow(IdentityOperator(3), Y3, U3, 1e-3, []), ValueError, "t"),
        (lambda: sensing_flow(None, Y3, U3, 1e-3, 1.0), TypeError, "operator"),
        (lambda: crossing_times([0, 1], np.ones((3, 1)), 1.0), ValueError, "values"),
    ],
)
def test_bad_inputs_name_the_argument(call, exc, name):
    with pytest.raises(exc, match=rf"^{name}\b|^{name}:|{name}:"):
        call()
