"""Structural properties of the exact flow, over hypothesis-generated problems (derandomized).

The problems: a target with well-separated eigenvalues (gaps >= 0.25, so "best rank-k
approximation" is unique) of any signs, a Gaussian, low-rank or spectral init, and a moderate
scale ``alpha in [1e-6, 1e-1]`` so that numerical rank is well defined at the times probed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mfflow


@st.composite
def targets(draw, min_n: int = 2, max_n: int = 5) -> np.ndarray:
    """A symmetric target with eigenvalues on a 0.25-spaced grid: distinct non-zero ones."""
    n = draw(st.integers(min_n, max_n))
    n_pos = draw(st.integers(1, n))
    n_neg = draw(st.integers(0, n - n_pos))
    pos = draw(st.lists(st.integers(2, 14), min_size=n_pos, max_size=n_pos, unique=True))
    neg = draw(st.lists(st.integers(1, 8), min_size=n_neg, max_size=n_neg, unique=True))
    spectrum = [0.25 * k for k in pos] + [-0.25 * k for k in neg]
    seed = draw(st.integers(0, 2**16))
    return mfflow.make_target(spectrum, n=n, seed=seed)


@st.composite
def problems(draw, kinds=("gaussian", "low_rank")):
    y = draw(targets())
    n = y.shape[0]
    kind = draw(st.sampled_from(kinds))
    r = draw(st.integers(1, n + 2))
    seed = draw(st.integers(0, 2**16))
    if kind == "gaussian":
        u0 = mfflow.gaussian_init(n, r, seed=seed)
    elif kind == "spectral":
        scales = draw(st.lists(st.floats(0.05, 4.0), min_size=n, max_size=n))
        u0 = mfflow.spectral_init(y, scales, seed=seed)
    else:
        rank = draw(st.integers(1, min(n, r)))
        u0 = mfflow.low_rank_init(n, r, rank, seed=seed)
    alpha = 10.0 ** draw(st.floats(-6.0, -1.0))
    return y, u0, alpha


def last_transition(y: np.ndarray, alpha: float) -> float:
    lam = np.linalg.eigvalsh(y)
    return math.log(1 / alpha) / (2 * lam[lam > 1e-8].min())


@given(problems(), st.floats(0.0, 3.0))
def test_w_is_symmetric_psd(problem, frac):
    y, u0, alpha = problem
    t = frac * last_transition(y, alpha)
    w = mfflow.closed_form(y, u0, alpha).W(t)
    scale = float(np.abs(w).max())
    assert scale > 0
    assert np.abs(w - w.T).max() <= 1e-15 * scale
    assert np.linalg.eigvalsh(w).min() >= -1e-13 * scale


@given(problems(), st.floats(0.0, 1.5))
def test_rank_is_preserved(problem, frac):
    """rank W(t) = rank W0, numerically: eigenvalues (dgejsv, relatively accurate) above
    ``1e-12 max``. Up to 1.5 t_last at alpha >= 1e-6 nothing decays or grows past that range;
    low_rank_init's rounding-level extra directions (~1e-32 of W0) stay far below it."""
    y, u0, alpha = problem
    t = frac * last_transition(y, alpha)
    rank0 = np.linalg.matrix_rank(u0)
    vals = mfflow.closed_form(y, u0, alpha).eigvals(t)
    assert np.count_nonzero(vals > 1e-12 * vals[0]) == rank0, vals


@given(problems(kinds=("gaussian", "low_rank", "spectral")))
def test_loss_is_non_increasing(problem):
    y, u0, alpha = problem
    traj = mfflow.closed_form(y, u0, alpha)
    vals = traj.loss(np.linspace(0.0, 3 * last_transition(y, alpha), 120))
    y_norm = float(np.linalg.norm(y))
    assert np.all(np.diff(vals) <= 1e-12 * vals[:-1] + (1e-14 * y_norm) ** 2)


@given(targets(), st.integers(1, 7), st.integers(0, 2**16), st.floats(-8.0, -1.0))
def test_long_time_limit_is_best_low_rank_approximation_of_positive_part(y, r, seed, log_alpha):
    """From a generic init, W(t) -> the best rank-min(r, K+) approximation of Y's positive
    part (K+ = number of positive eigenvalues of Y). Zero eigenvalues of Y are forgotten only
    like 1/(2t), so the check is at t = 1e12 (and via limit() for targets without them)."""
    n = y.shape[0]
    alpha = 10.0**log_alpha
    u0 = mfflow.gaussian_init(n, r, seed=seed)
    traj = mfflow.closed_form(y, u0, alpha)
    lam, phi = np.linalg.eigh(y)
    lam, phi = lam[::-1], phi[:, ::-1]
    k = min(r, int(np.count_nonzero(lam > 1e-8)))
    best = (phi[:, :k] * lam[:k]) @ phi[:, :k].T
    scale = float(np.abs(y).max())
    assert np.abs(traj.W(1e12) - best).max() <= 1e-10 * scale
    if np.all(np.abs(lam) > 1e-8):
        assert np.abs(traj.limit() - best).max() <= 1e-10 * scale
    residual = 0.25 * np.sum(lam[k:] ** 2)
    assert abs(traj.loss(1e12) - residual) <= 1e-10 * (residual + scale**2)


@pytest.mark.parametrize("seed", [0, 4])
def test_limit_of_rank_deficient_target(seed):
    y = mfflow.make_target([1.0, 0.5], n=3, seed=seed)
    traj = mfflow.closed_form(y, mfflow.gaussian_init(3, 3, seed=1), 1e-3)
    lam, phi = np.linalg.eigh(y)
    best = (phi * np.where(lam > 1e-8, lam, 0.0)) @ phi.T
    assert np.abs(traj.limit() - best).max() <= 1e-10


@given(problems(kinds=("gaussian",)), st.floats(0.1, 1.5), st.floats(0.1, 1.5))
def test_semigroup(problem, frac_t, frac_s):
    """The flow from U(t) (a factor of W(t), alpha = 1) for a time s reaches W(t + s)."""
    y, u0, alpha = problem
    last = last_transition(y, alpha)
    t, s = frac_t * last, frac_s * last
    traj = mfflow.closed_form(y, u0, alpha)
    restarted = mfflow.closed_form(y, traj.factor(t), 1.0, spectral=False)
    w = traj.W(t + s)
    np.testing.assert_allclose(restarted.W(s), w, rtol=0, atol=1e-10 * np.abs(w).max())


@given(targets(), st.lists(st.floats(0.05, 4.0), min_size=5, max_size=5), st.floats(-8.0, -1.0))
def test_spectral_path_equals_dense_path(y, scales, log_alpha):
    n = y.shape[0]
    alpha = 10.0**log_alpha
    u0 = mfflow.spectral_init(y, scales[:n], seed=1)
    spectral = mfflow.closed_form(y, u0, alpha)
    dense = mfflow.closed_form(y, u0, alpha, spectral=False)
    assert spectral.path == "spectral"
    times = np.linspace(0.0, 3 * last_transition(y, alpha), 9)
    w_s, w_d = spectral.W(times), dense.W(times)
    for k in range(times.size):
        scale = np.abs(w_d[k]).max()
        assert np.abs(w_s[k] - w_d[k]).max() <= 1e-11 * scale
    np.testing.assert_allclose(spectral.eigvals(times), dense.eigvals(times), rtol=1e-10)
