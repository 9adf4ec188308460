"""Work the closed form must not do: each check pins one measured performance fix.

* ``kernel.dense_factor`` on NumPy evaluates the same formula as the array-API path
  (``_scaled``, the solve, the flush, the first-order start at ``t = 0``) with fewer ``exp``
  calls, in place, and builds the start only for times ``t = 0``: compared bit for bit with the
  generic steps run on NumPy.
* The spectral path's per-mode outputs are evaluated in few chunks (their working arrays are
  ``O(d)`` per time point, not ``O(d m)``), its factor without a product with the selection
  matrix, and its set-up without an SVD of a cluster whose rows are already orthogonal.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import mfflow
from mfflow.backend import NUMPY
from mfflow.riccati import kernel, lapack, structure


def _generic(lam: np.ndarray, L: np.ndarray, log_alpha, t: np.ndarray) -> np.ndarray:
    """The array-API path of ``dense_factor``, step by step, on NumPy."""
    b = NUMPY
    d, m = L.shape
    with b.errstate():
        nonzero = L != 0.0
        log_abs_l = np.where(nonzero, np.log(np.abs(np.where(nonzero, L, 1.0))), -np.inf)
        per_point = not isinstance(log_alpha, int | float)
        A1 = lam[:, None] * L
        A3 = L @ (L.T @ L)
        parts = []
        for sl in kernel.chunks(t.shape[0], 8 * 3 * d * max(m, 1)):
            la = log_alpha[sl][:, None] if per_point else float(log_alpha)
            ts, at_zero = kernel._safe_times(b, t[sl])
            R, e0, P = kernel._scaled(b, lam, L, log_abs_l, la, ts)
            F = lapack.solve_scaled(R, e0, P)
            F = np.where(np.abs(F) < b.tiny, 0.0, F)
            start = kernel._at_start(b, L, A1, A3, la, t[sl])
            parts.append(np.where(at_zero[:, None, None], start, F))
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


@pytest.mark.parametrize("n, r", [(6, 6), (30, 12), (40, 40), (8, 20)])
@pytest.mark.parametrize("alpha", [1e-4, 1e-40, 1e-300])
def test_numpy_fast_path_is_bitwise_the_generic_formula(n: int, r: int, alpha: float) -> None:
    Y = mfflow.make_target([4.0, 3.0, 2.0, 1.0, -1.0][: min(5, n)], n, seed=0)
    traj = mfflow.closed_form(Y, mfflow.gaussian_init(n, r, seed=1), alpha, spectral=False)
    t = np.concatenate([[0.0], np.linspace(0.0, 2.0 * math.log(1 / alpha), 61), [0.0]])
    got = kernel.dense_factor(NUMPY, traj.lam, traj.L, math.log(alpha), t)
    want = _generic(traj.lam, traj.L, math.log(alpha), t)
    assert np.array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want))
    # one scale per point (with_alphas), zeros of t included
    la = np.log(np.repeat([alpha, 1e-7], t.size))
    tt = np.concatenate([t, t])
    got = kernel.dense_factor(NUMPY, traj.lam, traj.L, la, tt)
    assert np.array_equal(got, _generic(traj.lam, traj.L, la, tt))


def test_numpy_fast_path_builds_the_start_only_at_t_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first-order start costs an ``O(d m^2)`` product and a ``(k, d, m)`` array per chunk:
    times ``t > 0`` must not pay for it."""
    n = 30
    traj = mfflow.closed_form(
        mfflow.make_target([3.0, 2.0, 1.0], n, seed=0), mfflow.gaussian_init(n, n, seed=1), 1e-8
    )
    calls = []
    real = kernel._at_start
    monkeypatch.setattr(kernel, "_at_start", lambda *a: calls.append(a[-1]) or real(*a))
    traj.mode_values(np.linspace(0.5, 10.0, 50))
    assert calls == []
    traj.mode_values(np.array([0.0, 1.0, 0.0]))
    assert [c.tolist() for c in calls] == [[0.0, 0.0]]


def _spectral_problem(n: int, alpha: float) -> tuple[np.ndarray, np.ndarray, mfflow.Trajectory]:
    """A rank-4 target (a zero eigenvalue of multiplicity ``n - 4``) and a spectral init."""
    Y = mfflow.make_target([4.0, 3.0, 2.0, 1.0], n, seed=0)
    scales = np.random.default_rng(2).uniform(0.5, 2.0, n)
    scales[n // 2] = 0.0  # one untouched mode
    U0 = mfflow.spectral_init(Y, scales, seed=3)
    return Y, scales, mfflow.closed_form(Y, U0, alpha)


def test_spectral_curves_are_evaluated_in_few_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, traj = _spectral_problem(300, 1e-8)
    assert traj.path == "spectral"
    calls = []
    real = kernel.spectral_values
    monkeypatch.setattr(kernel, "spectral_values", lambda *a: calls.append(1) or real(*a))
    t = np.linspace(0.0, 20.0, 200)
    for method in (traj.eigvals, traj.mode_values, traj.loss):
        calls.clear()
        method(t)
        assert len(calls) <= 2, method.__name__


def test_spectral_setup_skips_the_svd_of_an_orthogonal_cluster(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The zero eigenvalue of multiplicity ``n - 4`` is a cluster whose rows of ``Phi^T U0`` are
    orthogonal under a spectral init: sorting them is the whole rotation. The result is checked
    against the logistic curves written out (eq. 7)."""
    n, alpha = 60, 1e-8
    Y, scales, _ = _spectral_problem(n, alpha)
    U0 = mfflow.spectral_init(Y, scales, seed=3)

    def no_svd(*args, **kwargs):
        raise AssertionError("SVD of an already orthogonal cluster")

    monkeypatch.setattr(structure.np.linalg, "svd", no_svd)
    traj = mfflow.closed_form(Y, U0, alpha)
    monkeypatch.undo()
    assert traj.path == "spectral"
    lam, phi = np.linalg.eigh(Y)
    lam, phi = lam[::-1], phi[:, ::-1]
    t = np.array([0.5, 3.0, 6.0, 9.0, 14.0])
    with np.errstate(over="ignore"):
        e = np.exp(-2.0 * lam[None, :] * t[:, None])
        h = np.where(
            lam == 0.0,
            2.0 * t[:, None],
            -np.expm1(-2.0 * lam * t[:, None]) / np.where(lam == 0, 1, lam),
        )
        sigma = np.where(scales > 0, 1.0 / (e / (alpha * np.maximum(scales, 1e-300)) + h), 0.0)
    want = np.einsum("ik,tk,jk->tij", phi, sigma, phi)
    got = traj.W(t)
    err = np.linalg.norm(got - want, axis=(1, 2)) / np.linalg.norm(want, axis=(1, 2))
    assert err.max() < 1e-12, err


def test_spectral_factor_is_the_scaled_basis_bitwise() -> None:
    """``factor`` and ``W`` scale ``Phi``'s touched columns (``O(n m)`` per time point) instead of
    multiplying ``Phi`` by the ``(d, m)`` selection matrix; the values are the same bits."""
    _, _, traj = _spectral_problem(80, 1e-6)
    t = np.linspace(0.0, 15.0, 9)
    via_selection = np.stack(
        [traj.Phi @ traj._factor_eig(t[i : i + 1], math.log(1e-6))[0] for i in range(t.size)]
    )
    assert np.array_equal(traj.factor(t), via_selection)
    assert np.array_equal(traj.W(t), via_selection @ np.swapaxes(via_selection, 1, 2))
