"""Every bad input to closed_form and to a Trajectory's methods fails early, naming the argument."""

from __future__ import annotations

import numpy as np
import pytest

import mfflow

Y = mfflow.make_target([3.0, 2.0, 1.0], seed=0)
U0 = mfflow.gaussian_init(3, 2, seed=1)


@pytest.fixture(scope="module")
def traj() -> mfflow.Trajectory:
    return mfflow.closed_form(Y, U0, 1e-3)


# ---- the target -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("y", "exc", "pattern"),
    [
        (np.ones((3, 4)), ValueError, r"^Y: .*square"),
        (np.ones(3), ValueError, r"^Y: .*2-D"),
        (np.ones((2, 2, 2)), ValueError, r"^Y: .*2-D"),
        (np.zeros((0, 0)), ValueError, r"^Y: .*non-empty"),
        (np.array([[1.0, 2.0], [0.0, 1.0]]), ValueError, r"^Y: .*symmetric"),
        (np.array([[1.0, np.nan], [np.nan, 1.0]]), ValueError, r"^Y: .*finite"),
        (np.array([[np.inf, 0.0], [0.0, 1.0]]), ValueError, r"^Y: .*finite"),
        ("not a matrix", TypeError, r"^Y: "),
        (None, TypeError, r"^Y: "),
        (np.eye(2, dtype=complex), TypeError, r"^Y: "),
        (np.array([["a", "b"], ["c", "d"]]), TypeError, r"^Y: "),
    ],
)
def test_bad_target(y, exc, pattern):
    n = np.shape(y)[0] if np.ndim(y) >= 1 and np.shape(y)[0] > 0 else 2
    with pytest.raises(exc, match=pattern):
        mfflow.closed_form(y, np.ones((n, 1)), 1e-3)


def test_symmetry_tolerance():
    """Rounding-level asymmetry is accepted (and kept: Y is checked, never symmetrized);
    anything beyond 1e-10 relative is refused with the measured asymmetry in the message."""
    y = Y.copy()
    y[0, 1] += 1e-14 * np.abs(Y).max()
    before = y.copy()
    traj = mfflow.closed_form(y, U0, 1e-3)
    np.testing.assert_array_equal(y, before)  # not symmetrized in place
    # the eigensolver reads the lower triangle: the flow is exactly that of the mirrored lower
    # triangle, which differs from Y's own flow by a rounding-level amount only
    lower = np.tril(y) + np.tril(y, -1).T
    np.testing.assert_array_equal(
        traj.W([0.5, 1.0]), mfflow.closed_form(lower, U0, 1e-3).W([0.5, 1.0])
    )
    ref = mfflow.closed_form(Y, U0, 1e-3).W([0.5, 1.0])
    assert np.max(np.abs(traj.W([0.5, 1.0]) - ref)) <= 1e-13 * np.abs(ref).max()
    y[0, 1] += 1e-8 * np.abs(Y).max()
    with pytest.raises(ValueError, match=r"^Y: expected a symmetric matrix.*got max\|Y - Y\^T\|"):
        mfflow.closed_form(y, U0, 1e-3)


# ---- the init -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("u0", "exc", "pattern"),
    [
        (np.ones((4, 2)), ValueError, r"^U0: expected 3 rows"),
        (np.ones((2, 2)), ValueError, r"^U0: expected 3 rows"),
        (np.ones(3), ValueError, r"^U0: .*2-D"),
        (np.ones((3, 0)), ValueError, r"^U0: .*at least one column"),
        (np.array([[1.0], [np.nan], [0.0]]), ValueError, r"^U0: .*finite"),
        (np.array([[1.0], [np.inf], [0.0]]), ValueError, r"^U0: .*finite"),
        ("U0", TypeError, r"^U0: "),
        (np.ones((3, 1), dtype=complex), TypeError, r"^U0: "),
    ],
)
def test_bad_init(u0, exc, pattern):
    with pytest.raises(exc, match=pattern):
        mfflow.closed_form(Y, u0, 1e-3)


# ---- the scale ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("alpha", "exc"),
    [
        (0.0, ValueError),
        (-1e-3, ValueError),
        (float("nan"), ValueError),
        (float("inf"), ValueError),
        (-float("inf"), ValueError),
        (True, TypeError),
        (False, TypeError),
        ("1e-3", TypeError),
        (None, TypeError),
        (1e-3 + 0j, TypeError),
        ([1e-3], TypeError),
        (np.array([1e-3, 1e-4]), TypeError),
    ],
)
def test_bad_alpha(alpha, exc):
    with pytest.raises(exc, match=r"^alpha: "):
        mfflow.closed_form(Y, U0, alpha)


@pytest.mark.parametrize("alpha", [1e-300, 5e-324 * 2**60, 1, np.float32(0.5), np.int64(2)])
def test_good_alpha(alpha):
    assert mfflow.closed_form(Y, U0, alpha).alpha == float(alpha)


def test_bad_spectral_flag():
    with pytest.raises(TypeError, match=r"^spectral: "):
        mfflow.closed_form(Y, U0, 1e-3, spectral="yes")
    with pytest.raises(TypeError, match=r"^spectral: "):
        mfflow.closed_form(Y, U0, 1e-3, spectral=2)
    with pytest.raises(ValueError, match=r"^U0: spectral=True"):
        mfflow.closed_form(Y, U0, 1e-3, spectral=True)


# ---- times ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("t", "exc", "pattern"),
    [
        (-1.0, ValueError, r"^t: expected times >= 0"),
        ([0.0, 1.0, -1e-9], ValueError, r"^t: expected times >= 0"),
        (float("nan"), ValueError, r"^t: expected finite"),
        ([0.0, float("nan")], ValueError, r"^t: expected finite"),
        (float("inf"), ValueError, r"^t: expected finite"),
        (np.zeros((2, 2)), ValueError, r"^t: .*1-D"),
        ([[1.0]], ValueError, r"^t: .*1-D"),
        ("1.0", TypeError, r"^t: "),
        (None, TypeError, r"^t: "),
        (1.0 + 0j, TypeError, r"^t: "),
    ],
)
@pytest.mark.parametrize("method", ["W", "W_eig", "eigvals", "loss", "factor", "mode_values"])
def test_bad_times(traj, method, t, exc, pattern):
    with pytest.raises(exc, match=pattern):
        getattr(traj, method)(t)


def test_bad_times_on_spectral_path():
    traj = mfflow.closed_form(Y, mfflow.spectral_init(Y, 1.0), 1e-3)
    assert traj.path == "spectral"
    for method in ("W", "eigvals", "loss", "mode_values"):
        with pytest.raises(ValueError, match=r"^t: "):
            getattr(traj, method)(-1.0)


def test_bad_distance_arguments(traj):
    with pytest.raises(ValueError, match=r"^Z: expected shape \(3, 3\)"):
        traj.distance(np.eye(2), 1.0)
    with pytest.raises(ValueError, match=r"^Z: .*symmetric"):
        traj.distance(np.triu(np.ones((3, 3))), 1.0)
    with pytest.raises(ValueError, match=r"^ord: "):
        traj.distance(Y, 1.0, ord=1)
    with pytest.raises(ValueError, match=r"^t: "):
        traj.distance(Y, -1.0)


def test_bad_eigvals_k(traj):
    with pytest.raises(ValueError, match=r"^k: "):
        traj.eigvals(1.0, k=4)
    with pytest.raises(ValueError, match=r"^k: "):
        traj.eigvals(1.0, k=0)
    with pytest.raises(TypeError, match=r"^k: "):
        traj.eigvals(1.0, k=1.5)
    assert traj.eigvals(1.0, k=2).shape == (2,)


def test_bad_low_rank_target():
    basis = np.linalg.qr(np.random.default_rng(0).standard_normal((6, 2)))[0]
    u0 = mfflow.gaussian_init(6, 2, seed=0)
    with pytest.raises(ValueError, match=r"^Y: a low-rank target is a pair"):
        mfflow.closed_form((basis,), u0, 1e-3)
    with pytest.raises(ValueError, match=r"^Y\[1\] \(values\): expected shape \(2,\)"):
        mfflow.closed_form((basis, [1.0, 2.0, 3.0]), u0, 1e-3)
    with pytest.raises(ValueError, match=r"^Y\[1\] \(values\): expected finite"):
        mfflow.closed_form((basis, [1.0, np.nan]), u0, 1e-3)
    with pytest.raises(ValueError, match=r"^Y\[0\] \(basis\): expected orthonormal"):
        mfflow.closed_form((2 * basis, [1.0, 2.0]), u0, 1e-3)
    with pytest.raises(ValueError, match=r"^U0: expected 6 rows"):
        mfflow.closed_form((basis, [1.0, 2.0]), np.ones((5, 2)), 1e-3)


def test_inputs_are_not_modified():
    y, u0 = Y.copy(), U0.copy()
    traj = mfflow.closed_form(y, u0, 1e-3)
    traj.W(np.array([0.0, 1.0]))
    np.testing.assert_array_equal(y, Y)
    np.testing.assert_array_equal(u0, U0)


def test_integer_and_list_inputs_are_accepted():
    y = [[2, 0], [0, 1]]
    u0 = [[1], [1]]
    traj = mfflow.closed_form(y, u0, 1e-2)
    w = traj.W(0)
    np.testing.assert_allclose(w, 1e-2 * np.ones((2, 2)), rtol=1e-14)
