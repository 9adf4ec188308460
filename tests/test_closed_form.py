"""The closed form against an independent high-precision reference (tests/reference.py).

One grid of problems runs through the same checks: sizes ``n in {2, 3, 5}``;
inits with ``r < n``, ``r = n``, ``r > n`` and an exactly singular ``W0``; full-rank,
rank-deficient and indefinite targets; ``alpha`` from ``1e-2`` down to ``1e-300``; times from 0
to ten times the last transition time ``log(1/alpha) / (2 lam_min+)``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import mfflow
from mfflow.backend import NUMPY
from mfflow.riccati.kernel import dense_factor
from reference import Reference, factor_reference, logistic, rel_fro

TINY = np.finfo(np.float64).tiny
EPS = np.finfo(np.float64).eps
TOL = 1e-12
ALPHAS = [1e-2, 1e-10, 1e-50, 1e-100, 1e-200, 1e-300]
#: times, as multiples of the last transition time
FRACTIONS = [0.0, 0.25, 0.5, 0.8, 1.0, 1.25, 2.0, 10.0]

SPECTRA = {
    (2, "full"): ([2.0, 1.0], 2),
    (2, "deficient"): ([1.5], 2),
    (2, "indefinite"): ([1.5, -1.0], 2),
    (3, "full"): ([2.0, 1.5, 1.0], 3),
    (3, "deficient"): ([2.0, 1.0], 3),
    (3, "indefinite"): ([2.0, 1.0, -1.0], 3),
    (5, "full"): ([2.0, 1.6, 1.3, 1.1, 1.0], 5),
    (5, "deficient"): ([2.0, 1.5, 1.0], 5),
    (5, "indefinite"): ([2.0, 1.2, 0.0, -0.7, -1.5], 5),
}
INITS = ["r<n", "r=n", "r>n", "singular"]


def make_y(n: int, kind: str) -> np.ndarray:
    spec, size = SPECTRA[(n, kind)]
    return mfflow.make_target(spec, n=size, seed=10 * n + len(kind))


def make_u0(n: int, kind: str) -> np.ndarray:
    """Initialization shapes. ``singular``: ``r = n + 1`` columns of which only ``k < n`` are
    non-zero, so ``W0`` is *exactly* singular in float64 (``low_rank_init``'s product ``A B`` is
    only singular up to rounding; see ``test_low_rank_init_*`` below)."""
    if kind == "r<n":
        return mfflow.gaussian_init(n, max(1, n - 2), seed=n)
    if kind == "r=n":
        return mfflow.gaussian_init(n, n, seed=n + 1)
    if kind == "r>n":
        return mfflow.gaussian_init(n, n + 3, seed=n + 2)
    k = max(1, n - 2)
    u0 = np.zeros((n, n + 1))
    u0[:, :k] = mfflow.gaussian_init(n, k, seed=n + 3)
    return u0


def transition_times(y: np.ndarray, alpha: float) -> tuple[float, float]:
    """First and last transition times ``log(1/alpha) / (2 lam)``, ``lam`` over positive modes."""
    lam = np.linalg.eigvalsh(y)
    pos = lam[lam > 1e-8]
    return math.log(1 / alpha) / (2 * pos.max()), math.log(1 / alpha) / (2 * pos.min())


def grid_times(y: np.ndarray, alpha: float) -> np.ndarray:
    first, last = transition_times(y, alpha)
    return np.array(sorted({*(f * last for f in FRACTIONS), first}))


GRID = [
    pytest.param(n, ykind, ukind, id=f"n={n}-Y={ykind}-U0={ukind}")
    for n in (2, 3, 5)
    for ykind in ("full", "deficient", "indefinite")
    for ukind in INITS
]


# the n = 5 cases at the smallest alphas need up to ~6000-digit arithmetic: ~1 s each
FULL_GRID = [
    pytest.param(
        *p.values,
        alpha,
        id=f"{p.id}-alpha={alpha:g}",
        marks=[pytest.mark.slow] if (p.values[0] == 5 and alpha <= 1e-100) else [],
    )
    for p in GRID
    for alpha in ALPHAS
]


@pytest.mark.parametrize(("n", "ykind", "ukind", "alpha"), FULL_GRID)
def test_closed_form_matches_mpmath(n, ykind, ukind, alpha, ledger):
    """Relative Frobenius error <= 1e-12 against eq. 6 in high precision, no FP warnings."""
    y, u0 = make_y(n, ykind), make_u0(n, ukind)
    times = grid_times(y, alpha)
    ref = Reference(y, u0, alpha, times.max())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        traj = mfflow.closed_form(y, u0, alpha)
        w = traj.W(times)
        w_eig = traj.W_eig(times)
        f = traj.factor(times)
        loss = traj.loss(times)
    y_norm = float(np.linalg.norm(y))
    assert traj.path == "dense"
    assert np.all(np.isfinite(w)) and np.all(np.isfinite(f))
    _, last = transition_times(y, alpha)
    # inside a cluster of equal eigenvalues the eigenbasis is arbitrary (mfflow rotates it to
    # make the init's rows orthogonal, mpmath's eigsy picks another): entries of W~ there are
    # basis-dependent, so the entrywise check below skips them
    lam = np.linalg.eigvalsh(y)[::-1]
    repeated = np.array([np.sum(np.abs(lam - v) <= 1e-12 * np.abs(lam).max()) > 1 for v in lam])
    comparable = ~(repeated[:, None] | repeated[None, :])
    for k, t in enumerate(times):
        w_ref_eig = ref.W_eig_mp(t)
        w_ref = ref.W_from_eig(w_ref_eig, t)
        err = rel_fro(w[k], w_ref)
        where = f"n={n} Y={ykind} U0={ukind} alpha={alpha:g} t={t / last:.2f} t_last"
        ledger.record("closed form vs mpmath (rel. Frobenius)", err, where)
        assert err <= TOL, where
        # subnormal entries of W~ only where the true value is below the normal range
        ref_eig = np.array(
            [[float(abs(w_ref_eig[i, j])) for j in range(n)] for i in range(n)], dtype=float
        )
        sub = (w_eig[k] != 0) & (np.abs(w_eig[k]) < TINY) & comparable
        assert np.all(ref_eig[sub] < 2 * TINY), where
        # the loss: ||Y - W||_F = sqrt(4 L) is accurate to TOL ||Y||_F (absolutely: the dense
        # path subtracts, so a converged run's 1e-100 loss is only known to be ~0)
        want = ref.loss(t, w_ref_eig)
        res, res_ref = math.sqrt(4 * loss[k]), math.sqrt(4 * want)
        assert abs(res - res_ref) <= TOL * y_norm, where
        if res_ref > 0.1 * y_norm:
            err = abs(loss[k] - want) / want
            ledger.record("loss vs mpmath (rel., residual > 0.1 ||Y||)", err, where)
            assert err <= 20 * TOL, where


@pytest.mark.parametrize("alpha", [1e-2, 1e-300], ids=lambda a: f"alpha={a:g}")
@pytest.mark.parametrize(("n", "ykind", "ukind"), [p for p in GRID if p.values[0] == 3])
def test_dense_factor_against_unique_factor(n, ykind, ukind, alpha, ledger):
    """``dense_factor`` returns ``S L C^{-T}`` (unique given ``L``), entry by entry.

    Subnormal numbers in its output are legitimate only where the exact entry is itself below
    ``2.2e-308``; this is what is checked (a value that tiny cannot be represented normally).
    """
    y, u0 = make_y(n, ykind), make_u0(n, ukind)
    traj = mfflow.closed_form(y, u0, alpha, spectral=False)
    times = grid_times(y, alpha)
    out = dense_factor(NUMPY, traj.lam, traj.L, math.log(alpha), times)
    for k, t in enumerate(times):
        ref = factor_reference(traj.lam, traj.L, alpha, t)
        big = np.abs(ref) >= 1e-13 * np.abs(ref).max()
        err = float(np.max(np.abs(out[k] - ref)[big] / np.abs(ref)[big]))
        ledger.record(
            "dense_factor vs mpmath (max rel., large entries)",
            err,
            f"n={n} Y={ykind} U0={ukind} alpha={alpha:g} t={t:.4g}",
        )
        assert rel_fro(out[k], ref) <= TOL
        sub = (out[k] != 0) & (np.abs(out[k]) < TINY)
        assert np.all(np.abs(ref[sub]) < 2 * TINY)


def test_dense_factor_flushes_subnormals_where_the_exact_value_is_below_tiny():
    """A reproducible case whose exact factor has an entry below the normal range (1.4e-315):
    the factor returns exactly 0 there (no subnormal reaches the caller's BLAS), and every
    entry agrees with the exact factor to within ``tiny`` absolutely."""
    y = mfflow.make_target([2.0, 1.6, 1.3, 1.1, 1.0], seed=3)
    u0 = mfflow.gaussian_init(5, 3, seed=1)
    alpha = 1e-300
    t = 3 * math.log(1 / alpha) / 2
    traj = mfflow.closed_form(y, u0, alpha)
    out = dense_factor(NUMPY, traj.lam, traj.L, math.log(alpha), np.array([t]))[0]
    ref = factor_reference(traj.lam, traj.L, alpha, t)
    tiny_exact = (ref != 0) & (np.abs(ref) < TINY)
    assert np.any(tiny_exact)
    assert not np.any((out != 0) & (np.abs(out) < TINY))
    assert np.all(out[tiny_exact] == 0.0)
    assert np.all(np.abs(out - ref) < np.maximum(TINY, 1e-12 * np.abs(ref)))


# ---- the reference checks itself --------------------------------------------------------------
@pytest.mark.parametrize(
    ("n", "ykind", "ukind", "alpha"),
    [(3, "full", "r=n", 1e-10), (3, "indefinite", "r<n", 1e-4), (2, "deficient", "r>n", 1e-3)],
)
def test_reference_satisfies_riccati_ode(n, ykind, ukind, alpha, ledger):
    """The mpmath W(t) solves dW/dt = (Y - W) W + W (Y - W) (central difference, original basis)."""
    y, u0 = make_y(n, ykind), make_u0(n, ukind)
    _, last = transition_times(y, alpha)
    ref = Reference(y, u0, alpha, 3 * last)
    for t in (0.5 * last, 1.0 * last, 3 * last):
        res = ref.riccati_residual(y, t)
        ledger.record("mpmath reference Riccati residual", res, f"n={n} Y={ykind} t={t:.3g}")
        assert res < 1e-25


@pytest.mark.parametrize(("ykind", "alpha"), [("full", 1e-100), ("indefinite", 1e-300)])
def test_reference_guard_digits_suffice(ykind, alpha):
    """50 more digits change the reference by far less than float64 resolution."""
    y, u0 = make_y(3, ykind), make_u0(3, "r>n")
    times = grid_times(y, alpha)
    ref = Reference(y, u0, alpha, times.max())
    more = Reference(y, u0, alpha, times.max(), extra_dps=50)
    for t in times:
        a, b = ref.W_eig_mp(t), more.W_eig_mp(t)
        scale = max(abs(b[i, j]) for i in range(3) for j in range(3))
        diff = max(abs(a[i, j] - b[i, j]) for i in range(3) for j in range(3))
        assert float(diff / scale) < 1e-25


def test_reference_full_and_push_through_forms_agree():
    """The n x n form of eq. 6 and the r x r push-through form are the same function."""
    y, u0 = make_y(3, "indefinite"), make_u0(3, "r>n")
    times = grid_times(y, 1e-20)
    full = Reference(y, u0, 1e-20, times.max(), form="full")
    push = Reference(y, u0, 1e-20, times.max(), form="push")
    for t in times:
        assert rel_fro(full.W(t), push.W(t)) < 1e-15


# ---- singular W0 from low_rank_init: exactly singular in float64 --------------------------------
def test_low_rank_init_vs_mpmath(ledger):
    """``low_rank_init`` has exact zero columns, so ``W0`` is exactly singular and the closed form
    matches mpmath at every time, past the last transition included."""
    y = make_y(5, "full")
    u0 = mfflow.low_rank_init(5, 6, 2, seed=4)
    for alpha in (1e-2, 1e-50, 1e-300):
        _, last = transition_times(y, alpha)
        times = np.linspace(0, 3 * last, 5)
        ref = Reference(y, u0, alpha, times.max())
        w = mfflow.closed_form(y, u0, alpha).W(times)
        for k, t in enumerate(times):
            err = rel_fro(w[k], ref.W(t))
            ledger.record("low_rank_init vs mpmath", err, f"alpha={alpha:g}")
            assert err <= TOL


def test_low_rank_init_rank_is_kept_at_long_times():
    y = make_y(5, "full")
    u0 = mfflow.low_rank_init(5, 6, 2, seed=4)
    alpha = 1e-50
    _, last = transition_times(y, alpha)
    vals = mfflow.closed_form(y, u0, alpha).eigvals(3 * last)
    assert np.count_nonzero(vals > 1e-8) == 2, vals


# ---- spectral path -----------------------------------------------------------------------------
def _rotate_cluster(phi: np.ndarray, cols: slice, seed: int) -> np.ndarray:
    q = mfflow.random_orthogonal(cols.stop - cols.start, seed)
    out = phi.copy()
    out[:, cols] = phi[:, cols] @ q
    return out


SPECTRAL_CASES = {
    # name: (spectrum, n, scales (descending order of eigenvalues), cluster to rotate)
    "distinct": ([3.0, 2.0, 1.0], 3, [1.0, 0.5, 2.0], None),
    "indefinite": ([2.0, 0.5, -1.0, -2.0], 4, [0.7, 1.3, 1.0, 0.2], None),
    "deficient-null-rotated": ([2.0, 1.0], 5, [1.0, 0.5, 2.0, 0.3, 1.5], slice(2, 5)),
    "repeated-positive": ([2.0, 2.0, 1.0], 3, [0.4, 1.5, 1.0], slice(0, 2)),
}


def _spectral_problem(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    spec, n, scales, cluster = SPECTRAL_CASES[name]
    y = mfflow.make_target(spec, n=n, seed=7)
    lam, phi = mfflow.eigh_descending(y)
    if cluster is not None:
        # a spectral init in *another* basis of a repeated eigenspace than eigh's
        phi = _rotate_cluster(phi, cluster, seed=11)
    s = np.asarray(scales)
    u0 = (phi * np.sqrt(s)) @ mfflow.random_orthogonal(n, 5).T
    return y, u0, lam, s


@pytest.mark.parametrize("alpha", [1e-2, 1e-100, 1e-300], ids=lambda a: f"alpha={a:g}")
@pytest.mark.parametrize("name", list(SPECTRAL_CASES))
def test_spectral_path_matches_dense_and_logistic(name, alpha, ledger):
    y, u0, lam, s = _spectral_problem(name)
    traj = mfflow.closed_form(y, u0, alpha)
    dense = mfflow.closed_form(y, u0, alpha, spectral=False)
    assert traj.path == "spectral" and dense.path == "dense"
    assert traj.rank == np.count_nonzero(s)
    times = grid_times(y, alpha)
    w_s, w_d = traj.W(times), dense.W(times)
    ev = traj.eigvals(times)
    ref = Reference(y, u0, alpha, times.max())
    for k, t in enumerate(times):
        where = f"{name} alpha={alpha:g} t={t:.4g}"
        w_ref = ref.W(t)
        e_sd = rel_fro(w_s[k], w_d[k])
        e_sm = rel_fro(w_s[k], w_ref)
        ledger.record("spectral vs dense path (rel. Frobenius)", e_sd, where)
        ledger.record("spectral vs mpmath eq. 6 (rel. Frobenius)", e_sm, where)
        assert e_sd <= TOL, where
        assert e_sm <= TOL, where
        # eq. 7 per mode, in mpmath; the modes as a multiset (order within a cluster is free)
        sig = np.array([logistic(lam[i], s[i], alpha, t) for i in range(lam.size)])
        sig = np.sort(sig)[::-1]
        nz = sig > 0
        e7 = float(np.max(np.abs(ev[k][nz] - sig[nz]) / sig[nz]))
        ledger.record("spectral eigvals vs mpmath eq. 7 (max rel.)", e7, where)
        # float64 eigenvalues of Y are off by ~eps ||Y||, and d log(sigma) / d lam <= 2t: this
        # is what separates eq. 7 at the float eigenvalues from eq. 7 at the exact ones
        tol7 = TOL + 4 * EPS * np.abs(lam).max() * t
        assert e7 <= tol7, where
        assert np.all(ev[k][~nz] == 0)
        # mode values in the spectral basis: each mode's curve, as a multiset
        mv = np.sort(traj.mode_values(t))[::-1]
        np.testing.assert_allclose(mv, sig, rtol=tol7, atol=0)


def _partial_support_problem() -> tuple[np.ndarray, np.ndarray]:
    y = mfflow.make_target([3.0, 1.0], n=4, seed=7)
    return y, mfflow.spectral_init(y, [1.0, 0.0, 0.5, 0.0])


def test_spectral_partial_support_follows_eq7_at_all_times():
    """Zero scales: eq. 7 keeps those modes at 0. The float64 ``U0`` has ~1e-17 components along
    them (rounding in ``eigh``): below ``RANK_RTOL`` times the init's scale they are exact zeros
    on both paths, so the spectral path, the dense path and eq. 7 agree at every time, long
    after those rounding components would have grown to O(1) (``e^{2 lam t} 1e-34 ~ 1`` near
    ``t = 13`` for ``lam = 3``)."""
    y, u0 = _partial_support_problem()
    lam = np.array([3.0, 1.0, 0.0, 0.0])
    s = np.array([1.0, 0.0, 0.5, 0.0])
    for alpha in (1e-2, 1e-100):
        traj = mfflow.closed_form(y, u0, alpha)
        dense = mfflow.closed_form(y, u0, alpha, spectral=False)
        assert traj.path == "spectral"
        for t in [*np.linspace(0.0, math.log(1 / alpha) / 2 + 4, 7), 300.0]:
            sig = np.array([logistic(lam[i], s[i], alpha, t) for i in range(4)])
            np.testing.assert_allclose(traj.mode_values(t), sig, rtol=1e-12, atol=1e-13 * sig[0])
            assert rel_fro(traj.W(t), dense.W(t)) <= TOL


def test_spectral_partial_support_untouched_modes_stay_zero():
    """The untouched modes (``s = 0``) are exactly zero on both paths, and ``limit()`` is
    ``diag(3, 0, 0, 0)`` in the eigenbasis (the ``lam = 0``, ``s = 0.5`` mode decays)."""
    y, u0 = _partial_support_problem()
    for spectral in (None, False):
        traj = mfflow.closed_form(y, u0, 1e-2, spectral=spectral)
        assert traj.rank == 2
        times = np.array([0.0, 1.0, 10.0, 100.0, 1e4])
        vals = traj.mode_values(times)
        assert np.all(vals[:, [1, 3]] == 0.0), (spectral, vals)
        # eq. 7 for the lam = 0 mode: alpha s / (1 + 2 alpha s t); the float64 Y's "zero"
        # eigenvalue is ~1e-16, whose e^{2 lam t} shows at t = 1e4 as a ~2e-12 relative change
        want = 1e-2 * 0.5 / (1.0 + 2 * 1e-2 * 0.5 * times)
        np.testing.assert_allclose(vals[:, 2], want, rtol=1e-11)
        np.testing.assert_allclose(traj.eigvals(100.0)[:2], [3.0, want[3]], rtol=1e-11)
        limit_eig = traj.Phi.T @ traj.limit() @ traj.Phi
        np.testing.assert_allclose(limit_eig, np.diag([3.0, 0, 0, 0]), atol=1e-14)


# ---- an init missing an eigenvector exactly ------------------------------------------------------
def _missing_mode_problem(n: int, missing: list[int], r: int) -> tuple[np.ndarray, np.ndarray]:
    """``Y`` diagonal (so its eigenvectors are exact), ``U0`` Gaussian with exactly zero rows at
    ``missing``: ``Phi^T U0`` has exact zero rows for modes that are not the last."""
    y = np.diag(np.linspace(4.0, 0.5, n))
    u0 = mfflow.gaussian_init(n, r, seed=3)
    u0[missing, :] = 0.0
    return y, u0


@pytest.mark.parametrize("alpha", [1e-2, 1e-300], ids=lambda a: f"alpha={a:g}")
def test_zero_component_along_an_eigenvector_matches_mpmath(alpha, ledger):
    """Y = diag(4, 2, 1, 0.5), U0[0] = 0 (issue: off by 1.4e-6 at t = 10, then a failed
    Cholesky from t ~ 15): mode 1 is never learned and the rest is the exact flow, to TOL
    against eq. 6 in high precision, through 30x the last transition."""
    y = np.diag([4.0, 2.0, 1.0, 0.5])
    u0 = mfflow.gaussian_init(4, 3, seed=3)
    u0[0, :] = 0.0
    traj = mfflow.closed_form(y, u0, alpha)
    last = math.log(1 / alpha) / (2 * 0.5)
    times = np.array([0.0, 10.0, 11.9, 15.0, 0.5 * last, last, 3 * last, 30 * last])
    ref = Reference(y, u0, alpha, times.max())
    w = traj.W(times)
    for k, t in enumerate(times):
        err = rel_fro(w[k], ref.W_from_eig(ref.W_eig_mp(t), t))
        ledger.record("zero eigen-component vs mpmath (rel. Frobenius)", err, f"alpha={alpha:g}")
        assert err <= TOL, (alpha, t, err)
    assert np.all(w[:, 0, :] == 0.0) and np.all(w[:, :, 0] == 0.0)
    assert np.all(np.isfinite(traj.eigvals(times)))
    np.testing.assert_allclose(traj.limit(), np.diag([0.0, 2.0, 1.0, 0.5]), atol=1e-14)


@pytest.mark.parametrize(
    ("n", "missing", "r"),
    [(4, [0], 3), (6, [1, 3], 4), (30, [0, 5, 17], 26)],
    ids=["n=4", "n=6-two-missing", "n=30-lapack-path"],
)
def test_zero_component_along_an_eigenvector_matches_ode(n, missing, r):
    """The same exact structure on the batched (small m) and per-time LAPACK (m >= 24) paths,
    against an ODE solve of the flow on U (accurate to ~1e-11 at alpha = 1e-2)."""
    y, u0 = _missing_mode_problem(n, missing, r)
    alpha = 1e-2
    traj = mfflow.closed_form(y, u0, alpha)
    last = math.log(1 / alpha) / (2 * 0.5) + 10
    times = np.linspace(0.0, 2 * last, 9)
    sim = mfflow.simulate_gf(y, u0, alpha, times, rtol=1e-12)
    w = traj.W(times)
    for k in range(times.size):
        assert rel_fro(w[k], sim.W[k]) <= 1e-9, (times[k], rel_fro(w[k], sim.W[k]))
    assert np.all(w[:, missing, :] == 0.0)
    assert traj.rank == min(n - len(missing), r)


def test_zero_component_on_the_low_rank_target_path():
    """A factored target whose basis the init misses in one direction: the reduced path keeps
    that direction exactly unlearned, like the dense path on the full matrix."""
    n, K = 50, 3
    basis = np.eye(n)[:, :K]
    values = np.array([3.0, 2.0, 1.0])
    u0 = mfflow.gaussian_init(n, 2, seed=4)
    u0[1, :] = 0.0  # no component along the second basis vector
    traj = mfflow.closed_form((basis, values), u0, 1e-6)
    full = mfflow.closed_form((basis * values) @ basis.T, u0, 1e-6)
    assert traj.reduced
    times = np.array([0.0, 5.0, 10.0, 50.0, 1e3])
    np.testing.assert_allclose(traj.W(times), full.W(times), atol=1e-12)
    np.testing.assert_allclose(traj.eigvals(times, k=3)[-1], [3.0, 1.0, 0.0], atol=1e-12)


def test_spectral_detection_and_flags():
    y = mfflow.make_target([3.0, 2.0, 1.0], seed=1)
    spectral = mfflow.spectral_init(y, [1.0, 2.0, 0.5], seed=3)
    generic = mfflow.gaussian_init(3, 3, seed=2)
    assert mfflow.closed_form(y, spectral, 1e-3).path == "spectral"
    assert mfflow.closed_form(y, spectral, 1e-3, spectral=True).path == "spectral"
    assert mfflow.closed_form(y, spectral, 1e-3, spectral=False).path == "dense"
    assert mfflow.closed_form(y, generic, 1e-3).path == "dense"
    assert mfflow.closed_form(y, generic, 1e-3, spectral=False).path == "dense"
    with pytest.raises(ValueError, match="U0"):
        mfflow.closed_form(y, generic, 1e-3, spectral=True)
    with pytest.raises(TypeError, match="spectral"):
        mfflow.closed_form(y, generic, 1e-3, spectral="yes")


def test_spectral_init_with_rotation_is_detected_on_rank_deficient_target():
    y = mfflow.make_target([2.0, 1.0], n=4, seed=2)
    u0 = mfflow.spectral_init(y, [1.0, 0.5, 2.0, 0.25], seed=9)
    assert mfflow.closed_form(y, u0, 1e-30).path == "spectral"


# ---- eigenvalues -------------------------------------------------------------------------------
@pytest.mark.parametrize(("n", "ykind", "ukind"), [p for p in GRID if p.values[0] != 2])
def test_eigvals_relative_accuracy(n, ykind, ukind, ledger):
    """Eigenvalues of W(t) against mpmath eigenvalues of the reference W(t), *relative* to each
    eigenvalue, at alpha = 1e-40 (pre-transition eigenvalues ~ alpha, post ~ lam_i)."""
    alpha = 1e-40
    y, u0 = make_y(n, ykind), make_u0(n, ukind)
    traj = mfflow.closed_form(y, u0, alpha)
    times = grid_times(y, alpha)
    ev = traj.eigvals(times)
    assert ev.shape == (times.size, n)
    assert np.all(np.diff(ev, axis=1) <= 0)
    assert np.all(ev >= 0)
    ref = Reference(y, u0, alpha, times.max())
    rank = np.linalg.matrix_rank(u0)
    for k, t in enumerate(times):
        e_ref = ref.eigvals(t)
        where = f"n={n} Y={ykind} U0={ukind} t={t:.4g}"
        # the zero eigenvalues (rank W(t) = rank W0) are exactly zero or at rounding level
        assert np.all(ev[k][rank:] <= 1e-15 * ev[k][0]), where
        # eigenvalues of decaying (negative) modes below the float64 range: 0 or tiny
        gone = e_ref < TINY
        assert np.all(ev[k][gone] < 2 * TINY), where
        top = e_ref[:rank][~gone[:rank]]
        small = top < 1e-20  # pre-transition: ~alpha
        err = np.abs(ev[k][:rank][~gone[:rank]] - top) / top
        if np.any(small):
            ledger.record("eigvals rel. error, eigenvalues < 1e-20", err[small].max(), where)
        if np.any(~small):
            ledger.record("eigvals rel. error, eigenvalues >= 1e-20", err[~small].max(), where)
        assert err.max() <= 1e-10, where


# ---- loss, factor, shapes ----------------------------------------------------------------------
@pytest.mark.parametrize("alpha", [1e-2, 1e-300], ids=lambda a: f"alpha={a:g}")
@pytest.mark.parametrize(("n", "ykind", "ukind"), [p for p in GRID if p.values[0] == 5])
def test_loss_non_increasing(n, ykind, ukind, alpha):
    """Gradient flow never increases the loss (up to its rounding, ~(eps ||Y||)^2 near 0).

    Its accuracy against mpmath is checked on the main grid (test_closed_form_matches_mpmath).
    """
    y, u0 = make_y(n, ykind), make_u0(n, ukind)
    traj = mfflow.closed_form(y, u0, alpha)
    t_end = grid_times(y, alpha).max()
    vals = traj.loss(np.linspace(0, t_end, 500))
    y_norm = float(np.linalg.norm(y))
    assert np.all(np.diff(vals) <= 1e-12 * vals[:-1] + (1e-14 * y_norm) ** 2)


def test_loss_spectral_path_matches_mpmath():
    y, u0, _, _ = _spectral_problem("indefinite")
    for alpha in (1e-3, 1e-200):
        traj = mfflow.closed_form(y, u0, alpha)
        assert traj.path == "spectral"
        times = grid_times(y, alpha)
        ref = Reference(y, u0, alpha, times.max())
        for t in times:
            assert abs(traj.loss(t) - ref.loss(t)) <= 1e-12 * ref.loss(t)


@pytest.mark.parametrize("ukind", INITS)
@pytest.mark.parametrize("alpha", [1e-2, 1e-100], ids=lambda a: f"alpha={a:g}")
def test_factor_reproduces_w(ukind, alpha):
    y, u0 = make_y(5, "indefinite"), make_u0(5, ukind)
    traj = mfflow.closed_form(y, u0, alpha)
    times = grid_times(y, alpha)
    f = traj.factor(times)
    assert f.shape == (times.size, 5, traj.rank)
    w = traj.W(times)
    for k in range(times.size):
        assert rel_fro(f[k] @ f[k].T, w[k]) <= 1e-15
        np.testing.assert_array_equal(w[k], w[k].T)


def test_scalar_and_array_times_shapes():
    y = make_y(3, "full")
    for u0 in (make_u0(3, "r<n"), mfflow.spectral_init(y, 1.0)):
        traj = mfflow.closed_form(y, u0, 1e-6)
        m = traj.rank
        ts = np.array([0.0, 1.0, 5.0, 20.0])
        assert traj.W(1.0).shape == (3, 3)
        assert traj.W(ts).shape == (4, 3, 3)
        assert traj.W([1.0]).shape == (1, 3, 3)
        assert traj.W_eig(2.0).shape == (3, 3)
        assert traj.W_eig(ts).shape == (4, 3, 3)
        assert traj.eigvals(1.0).shape == (3,)
        assert traj.eigvals(ts).shape == (4, 3)
        assert traj.mode_values(1.0).shape == (3,)
        assert traj.mode_values(ts).shape == (4, 3)
        assert isinstance(traj.loss(1.0), float)
        assert traj.loss(ts).shape == (4,)
        assert traj.factor(1.0).shape == (3, m)
        assert traj.factor(ts).shape == (4, 3, m)
        assert isinstance(traj.distance(y, 1.0), float)
        assert traj.distance(y, ts).shape == (4,)
        assert traj.limit().shape == (3, 3)
        for k, t in enumerate(ts):
            np.testing.assert_array_equal(traj.W(t), traj.W(ts)[k])
            assert traj.loss(t) == traj.loss(ts)[k]
        np.testing.assert_array_equal(traj.W(np.int64(2)), traj.W(2.0))


def test_initial_condition_is_alpha_w0():
    y = make_y(5, "indefinite")
    for ukind in INITS:
        u0 = make_u0(5, ukind)
        for alpha in (1.0, 1e-300):
            w = mfflow.closed_form(y, u0, alpha).W(0.0)
            assert rel_fro(w, alpha * (u0 @ u0.T)) <= 1e-13


@pytest.mark.parametrize("spectral", [False, None])
def test_with_alpha_equals_a_fresh_closed_form(spectral):
    """Re-scaling a trajectory reuses its set-up and gives what ``closed_form`` gives."""
    y = make_y(5, "indefinite")
    u0 = (
        mfflow.spectral_init(y, [1.0, 0.5, 2.0, 0.0, 1.0])
        if spectral is None
        else make_u0(5, "r>n")
    )
    base = mfflow.closed_form(y, u0, 1.0, spectral=spectral)
    for alpha in (1e-3, 1e-40, 1e-300):
        moved = base.with_alpha(alpha)
        fresh = mfflow.closed_form(y, u0, alpha, spectral=spectral)
        assert moved.path == fresh.path and moved.alpha == alpha
        times = grid_times(y, alpha)
        for t in times:
            assert rel_fro(moved.W(t), fresh.W(t)) <= 1e-14
    with pytest.raises(ValueError, match="alpha"):
        base.with_alpha(-1.0)
