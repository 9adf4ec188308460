"""Eigenvalues of W(t): relative accuracy against mpmath, the fast path against the guaranteed
one, alpha batches and thread splitting.

``Trajectory.eigvals`` has two algorithms on NumPy: ``"svd"`` (rows sorted by norm, one batched
LAPACK SVD; the default) and ``"jacobi"`` (``dgejsv`` per time point, relative accuracy
guaranteed for graded factors). Both are checked relative to *each* eigenvalue, down to
eigenvalues of 1e-120 and below, on every path (spectral, dense, reduced low-rank target), with
repeated and negative eigenvalues of ``Y``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mfflow
from reference import Reference

TINY = np.finfo(np.float64).tiny


def _problem(kind: str) -> tuple[object, np.ndarray, np.ndarray]:
    """(target for closed_form, the dense Y for the reference, U0)."""
    if kind == "dense-repeated-negative":  # a repeated eigenvalue, negative ones, r > n
        y = mfflow.make_target([2.0, 1.0, 1.0, -0.5, -1.5], seed=4)
        return y, y, mfflow.gaussian_init(5, 7, seed=5)
    if kind == "dense-deficient-r<n":
        y = mfflow.make_target([3.0, 1.5, 0.7], n=5, seed=6)
        return y, y, mfflow.gaussian_init(5, 3, seed=7)
    if kind == "spectral":
        y = mfflow.make_target([3.0, 1.0, -1.0], n=4, seed=8)
        return y, y, mfflow.spectral_init(y, [1.0, 0.5, 2.0, 0.3], seed=9)
    if kind == "lowrank":
        basis = np.linalg.qr(np.random.default_rng(3).standard_normal((6, 2)))[0]
        values = np.array([2.0, 1.0])
        return (basis, values), (basis * values) @ basis.T, mfflow.gaussian_init(6, 2, seed=2)
    raise AssertionError(kind)


KINDS = ["dense-repeated-negative", "dense-deficient-r<n", "spectral", "lowrank"]


@pytest.mark.parametrize("algorithm", ["svd", "jacobi"])
@pytest.mark.parametrize("alpha", [1e-40, 1e-120], ids=lambda a: f"alpha={a:g}")
@pytest.mark.parametrize("kind", KINDS)
def test_eigvals_relative_accuracy_against_mpmath(kind, alpha, algorithm, ledger):
    """Every eigenvalue above the float64 range's floor to 1e-11 relative (measured: ~1e-13)."""
    target, y, u0 = _problem(kind)
    traj = mfflow.closed_form(target, u0, alpha)
    lam = np.linalg.eigvalsh(y)
    slow = float(lam[lam > 1e-8].min())
    last = math.log(1 / alpha) / (2 * slow)
    times = np.array([0.0, 0.1, 0.3, 0.6, 1.0, 1.5, 3.0]) * last
    ev = traj.eigvals(times, algorithm=algorithm)
    ref = Reference(y, u0, alpha, times.max())
    rank = np.linalg.matrix_rank(u0)  # rank W(t) = rank W0: the rest is exactly zero
    assert np.all(ev[:, rank:] <= 1e-15 * ev[:, :1])
    for i, t in enumerate(times):
        e_ref = np.sort(ref.eigvals(t))[::-1][:rank]  # beyond: mpmath's rounding of zeros
        keep = e_ref > 1e3 * TINY
        err = np.abs(ev[i][:rank][keep] - e_ref[keep]) / e_ref[keep]
        where = f"{kind} alpha={alpha:g} t={t / last:.2f} t_last {algorithm}"
        ledger.record(f"eigvals ({algorithm}) vs mpmath (max rel.)", float(err.max()), where)
        small = e_ref[keep] < 1e-100
        if np.any(small):
            ledger.record("eigvals < 1e-100 vs mpmath (max rel.)", float(err[small].max()), where)
        assert err.max() <= 1e-11, where
        # what mpmath says is below the float64 range is 0 (or tiny) here too
        assert np.all(ev[i][:rank][~keep] <= 2e3 * TINY), where
    assert np.min(ev[ev > 0]) < 1e3 * alpha  # the grid reached the tiny (unlearned) eigenvalues


@given(
    n=st.integers(2, 7),
    extra=st.integers(-1, 3),
    log_alpha=st.floats(-250.0, -1.0),
    spec_seed=st.integers(0, 10_000),
    frac=st.floats(0.0, 2.5),
)
def test_svd_agrees_with_jacobi(n, extra, log_alpha, spec_seed, frac):
    """The fast batched SVD against the guaranteed Jacobi SVD, relative to each eigenvalue
    (representable ones), on random indefinite targets and inits of any width."""
    rng = np.random.default_rng(spec_seed)
    spectrum = np.sort(rng.uniform(-2.0, 3.0, n))[::-1]
    y = mfflow.make_target(spectrum, seed=spec_seed)
    u0 = mfflow.gaussian_init(n, max(1, n + extra), seed=spec_seed + 1)
    alpha = 10.0**log_alpha
    traj = mfflow.closed_form(y, u0, alpha, spectral=False)
    top = max(float(spectrum.max()), 0.1)
    times = np.linspace(0.0, frac * math.log(1 / alpha) / top + 1.0, 7)
    fast = traj.eigvals(times)
    sure = traj.eigvals(times, algorithm="jacobi")
    keep = sure > 1e-290
    assert np.all(np.abs(fast[keep] - sure[keep]) <= 1e-11 * sure[keep])
    assert np.all(fast[~keep] <= 1e-280)


@pytest.mark.parametrize("kind", KINDS)
def test_alpha_batch_equals_one_alpha_at_a_time(kind):
    target, _, u0 = _problem(kind)
    alphas = np.array([1e-2, 1e-12, 1e-90])
    base = mfflow.closed_form(target, u0, 1.0)
    batch = base.with_alphas(alphas)
    times = np.linspace(0.0, 80.0, 23)
    z = np.eye(base.n)
    got = {
        "eigvals": batch.eigvals(times),
        "mode_values": batch.mode_values(times),
        "loss": batch.loss(times),
        "W": batch.W(times),
        "distance": batch.distance(z, times),
    }
    for a, alpha in enumerate(alphas):
        one = base.with_alpha(alpha)
        want = {
            "eigvals": one.eigvals(times),
            "mode_values": one.mode_values(times),
            "loss": one.loss(times),
            "W": one.W(times),
            "distance": one.distance(z, times),
        }
        for name, value in want.items():
            np.testing.assert_allclose(got[name][a], value, rtol=1e-14, atol=0, err_msg=name)
    assert batch.eigvals(5.0).shape == (3, base.n)


def test_thread_splitting_gives_identical_numbers(monkeypatch):
    """Chunks are computed the same way on 1 or 2 threads: bitwise equal results."""
    y = mfflow.make_target(np.linspace(3.0, 0.5, 12), n=30, seed=1)
    u0 = mfflow.gaussian_init(30, 30, seed=2)
    traj = mfflow.closed_form(y, u0, 1e-20)
    times = np.linspace(0.0, 100.0, 400)  # several chunks
    out = {}
    for threads in ("1", "2"):
        monkeypatch.setenv("MFFLOW_NUM_THREADS", threads)
        out[threads] = (traj.eigvals(times), traj.W(times), traj.loss(times))
    for a, b in zip(out["1"], out["2"], strict=True):
        np.testing.assert_array_equal(a, b)


def test_eigvals_arguments_are_checked(monkeypatch):
    y = mfflow.make_target([2.0, 1.0], seed=0)
    traj = mfflow.closed_form(y, mfflow.gaussian_init(2, 2, seed=1), 1e-4)
    with pytest.raises(ValueError, match="algorithm"):
        traj.eigvals(1.0, algorithm="qr")
    with pytest.raises(ValueError, match="k"):
        traj.eigvals(1.0, k=3)
    with pytest.raises(ValueError, match="alphas"):
        traj.with_alphas([])
    with pytest.raises(ValueError, match=r"alphas\[1\]"):
        traj.with_alphas([1e-3, -1.0])
    monkeypatch.setenv("MFFLOW_NUM_THREADS", "zero")
    with pytest.raises(ValueError, match="MFFLOW_NUM_THREADS"):
        traj.eigvals([0.0, 1.0])
