"""Problem builders: shapes, determinism, the requested spectra, orthogonality, ranks, and bad
arguments named in the error."""

from __future__ import annotations

import numpy as np
import pytest

import mfflow

BUILDERS = {
    "make_target": lambda seed: mfflow.make_target([3.0, -1.0, 0.5], n=5, seed=seed),
    "gaussian_init": lambda seed: mfflow.gaussian_init(5, 3, seed=seed),
    "orthogonal_init": lambda seed: mfflow.orthogonal_init(5, 7, seed=seed),
    "low_rank_init": lambda seed: mfflow.low_rank_init(5, 4, 2, seed=seed),
    "random_orthogonal": lambda seed: mfflow.random_orthogonal(4, seed=seed),
    "spectral_init": lambda seed: mfflow.spectral_init(
        mfflow.make_target([2.0, 1.0], n=3, seed=0), [1.0, 2.0, 0.5], seed=seed
    ),
}


@pytest.mark.parametrize("name", list(BUILDERS))
def test_deterministic_under_a_seed(name):
    build = BUILDERS[name]
    np.testing.assert_array_equal(build(7), build(7))
    np.testing.assert_array_equal(build(np.random.default_rng(7)), build(np.random.default_rng(7)))
    assert not np.array_equal(build(7), build(8))


# ---- make_target ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spectrum", "n"),
    [([3.0, 2.0, 1.0], None), ([5.0, 3.0, 1.0], 6), ([2.0, -1.0, 0.5], 4), ([1.0], 1), ([0.0], 3)],
)
def test_make_target_spectrum(spectrum, n):
    y = mfflow.make_target(spectrum, n=n, seed=3)
    size = len(spectrum) if n is None else n
    assert y.shape == (size, size)
    np.testing.assert_array_equal(y, y.T)
    want = np.sort(np.concatenate([spectrum, np.zeros(size - len(spectrum))]))
    np.testing.assert_allclose(np.linalg.eigvalsh(y), want, rtol=0, atol=1e-14 * max(1, size))


@pytest.mark.parametrize(
    ("kwargs", "exc", "pattern"),
    [
        ({"spectrum": []}, ValueError, r"^spectrum: "),
        ({"spectrum": [[1.0, 2.0]]}, ValueError, r"^spectrum: "),
        ({"spectrum": [1.0, np.nan]}, ValueError, r"^spectrum: "),
        ({"spectrum": [1.0, np.inf]}, ValueError, r"^spectrum: "),
        ({"spectrum": [1.0, 2.0], "n": 1}, ValueError, r"^n: expected n >= len\(spectrum\)"),
        ({"spectrum": [1.0], "n": 0}, ValueError, r"^n: "),
        ({"spectrum": [1.0], "n": 2.5}, TypeError, r"^n: "),
        ({"spectrum": [1.0], "n": True}, TypeError, r"^n: "),
    ],
)
def test_make_target_bad_arguments(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        mfflow.make_target(**kwargs)


# ---- inits ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("n", "r"), [(4, 2), (4, 4), (3, 7)])
def test_gaussian_init(n, r):
    u0 = mfflow.gaussian_init(n, r, seed=0)
    assert u0.shape == (n, r)
    assert u0.dtype == np.float64
    assert np.linalg.matrix_rank(u0) == min(n, r)


def test_gaussian_init_is_isotropic_on_average():
    """E[U0 U0^T] = I_n with N(0, 1/r) entries: with r = 40000, within a few 1/sqrt(r)."""
    u0 = mfflow.gaussian_init(3, 40_000, seed=1)
    np.testing.assert_allclose(u0 @ u0.T, np.eye(3), atol=0.03)


@pytest.mark.parametrize(("n", "r"), [(5, 2), (4, 4), (3, 6)])
def test_orthogonal_init(n, r):
    u0 = mfflow.orthogonal_init(n, r, seed=2)
    assert u0.shape == (n, r)
    if r <= n:
        np.testing.assert_allclose(u0.T @ u0, np.eye(r), atol=1e-14)
    if r >= n:
        np.testing.assert_allclose(u0 @ u0.T, np.eye(n), atol=1e-14)


def test_random_orthogonal():
    q = mfflow.random_orthogonal(6, seed=4)
    np.testing.assert_allclose(q.T @ q, np.eye(6), atol=1e-14)
    np.testing.assert_allclose(q @ q.T, np.eye(6), atol=1e-14)


@pytest.mark.parametrize(("n", "r", "rank"), [(5, 4, 2), (4, 6, 1), (3, 3, 3), (6, 2, 2)])
def test_low_rank_init(n, r, rank):
    u0 = mfflow.low_rank_init(n, r, rank, seed=5)
    assert u0.shape == (n, r)
    assert np.linalg.matrix_rank(u0) == rank
    sv = np.linalg.svd(u0, compute_uv=False)
    # singular beyond `rank` up to rounding only (see test_closed_form's low_rank_init tests)
    assert np.all(sv[rank:] <= 1e-14 * sv[0])


@pytest.mark.parametrize(
    ("builder", "args", "exc", "pattern"),
    [
        (mfflow.gaussian_init, (0, 2), ValueError, r"^n: "),
        (mfflow.gaussian_init, (3, 0), ValueError, r"^r: "),
        (mfflow.gaussian_init, (3.0, 2), TypeError, r"^n: "),
        (mfflow.gaussian_init, (3, True), TypeError, r"^r: "),
        (mfflow.orthogonal_init, (-1, 2), ValueError, r"^n: "),
        (mfflow.orthogonal_init, (3, "2"), TypeError, r"^r: "),
        (mfflow.low_rank_init, (4, 3, 4), ValueError, r"^rank: expected rank <= min\(n, r\) = 3"),
        (mfflow.low_rank_init, (4, 3, 0), ValueError, r"^rank: "),
        (mfflow.low_rank_init, (4, 3, 1.0), TypeError, r"^rank: "),
        (mfflow.random_orthogonal, (0,), ValueError, r"^n: "),
    ],
)
def test_init_bad_arguments(builder, args, exc, pattern):
    with pytest.raises(exc, match=pattern):
        builder(*args, seed=0)


# ---- spectral_init --------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [None, 3])
@pytest.mark.parametrize(
    ("spectrum", "n", "scales", "r"),
    [
        ([3.0, 2.0, 1.0], 3, [1.0, 0.5, 2.0], None),
        ([2.0, -1.0], 4, [0.3, 1.0, 2.0, 0.7], None),
        ([2.0, 1.0], 4, 0.5, 6),
        ([3.0, 1.0], 4, [1.0, 0.0, 0.5, 0.0], 2),
    ],
)
def test_spectral_init_diagonalizes_w0(spectrum, n, scales, r, seed):
    """Phi^T U0 U0^T Phi = diag(scales) in the descending eigenbasis of Y."""
    y = mfflow.make_target(spectrum, n=n, seed=1)
    u0 = mfflow.spectral_init(y, scales, r=r, seed=seed)
    assert u0.shape == (n, n if r is None else r)
    _, phi = mfflow.eigh_descending(y)
    w0 = phi.T @ u0 @ u0.T @ phi
    want = np.broadcast_to(np.asarray(scales, dtype=float), (n,))
    np.testing.assert_allclose(np.diag(w0), want, rtol=0, atol=1e-14)
    np.testing.assert_allclose(w0 - np.diag(np.diag(w0)), 0.0, atol=1e-14)
    assert mfflow.closed_form(y, u0, 1e-3).path == "spectral"


def test_spectral_init_seed_rotates_only_the_right_factor():
    y = mfflow.make_target([3.0, 2.0, 1.0], seed=1)
    a = mfflow.spectral_init(y, [1.0, 2.0, 3.0])
    b = mfflow.spectral_init(y, [1.0, 2.0, 3.0], seed=9)
    assert not np.allclose(a, b)
    np.testing.assert_allclose(a @ a.T, b @ b.T, atol=1e-14)


@pytest.mark.parametrize(
    ("kwargs", "exc", "pattern"),
    [
        ({"scales": [1.0, -1.0, 1.0]}, ValueError, r"^scales: "),
        ({"scales": [1.0, np.nan, 1.0]}, ValueError, r"^scales: "),
        ({"scales": [1.0, 1.0, 1.0], "r": 2}, ValueError, r"^scales: at most r = 2"),
        ({"scales": 1.0, "r": 0}, ValueError, r"^r: "),
    ],
)
def test_spectral_init_bad_arguments(kwargs, exc, pattern):
    y = mfflow.make_target([3.0, 2.0, 1.0], seed=1)
    with pytest.raises(exc, match=pattern):
        mfflow.spectral_init(y, **kwargs)


def test_spectral_init_bad_target():
    with pytest.raises(ValueError, match=r"^Y: .*symmetric"):
        mfflow.spectral_init(np.triu(np.ones((3, 3))), 1.0)
    with pytest.raises(ValueError, match=r"^Y: .*square"):
        mfflow.spectral_init(np.ones((2, 3)), 1.0)
