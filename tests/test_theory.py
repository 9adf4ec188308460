"""Tests of mfflow.theory: the incremental-learning theorem against the exact trajectory.

Independent checks: errors are recomputed with ``Trajectory.distance`` (a dense eigvalsh of
``W~(t) - Phi^T Z Phi``) against :func:`best_rank_k`, itself checked against an SVD truncation;
transition times of a spectral init against the logistic curve's explicit inverse.

What the numbers showed when this module was written (docs/math.md §4 has the derivation):

* the slide's left ends ``log(c_eps/alpha)/(2 sigma_k)`` are false: the error there is
  ``sigma_k - O(c_eps)`` (4.0, 2.0, 1.0 for spectrum [4, 2, 1]: 10-40 times eps = 0.1);
* the corrected intervals ``[log(C_eps/alpha)/(2 sigma_k), log(c_eps/alpha)/(2 sigma_{k+1})]``
  hold: over 165 random instances (n = 2..5, Gaussian, scaled orthogonal and ill-conditioned
  inits, eps from 0.01 min(sigma_K, 1) to min(sigma_K, 1), alpha from alpha_max down to 1e-300)
  the largest error on a certified interval was 0.035 eps;
* the delay per unit of log(1/alpha) is 1/(2 sigma_i) (fitted slopes within 1e-4), not 1/sigma_i.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import mfflow
from mfflow.theory import (
    TheoremCheck,
    best_rank_k,
    check_theorem,
    measured_intervals,
    measured_transition_times,
    theorem_constants,
    theorem_intervals,
    transition_times,
)

EPS = 0.1

# (spectrum, n, r, init, seed); every case meets the hypotheses for alpha <= alpha_max.
CASES = [
    ([4.0, 2.0, 1.0], 3, 5, "gaussian", 0),
    ([4.0, 2.0, 1.0], 5, 8, "gaussian", 1),
    ([3.0, 2.0, 1.5, 1.0], 4, 6, "gaussian", 2),
    ([3.0, 2.0, 1.5, 1.0], 4, 4, "orthogonal", 3),
    ([5.0, 1.0], 3, 3, "orthogonal", 4),
]


def _problem(spec, n, r, init, seed):
    Y = mfflow.make_target(spec, n=n, seed=seed)
    if init == "gaussian":
        U0 = mfflow.gaussian_init(n, r, seed=seed + 100)
    else:
        U0 = mfflow.orthogonal_init(n, r, seed=seed + 100) * 1.5
    return Y, U0


def _case_id(case):
    spec, n, r, init, seed = case
    return f"{init}-n{n}-r{r}-K{len(spec)}-s{seed}"


def _alphas(Y, U0):
    """The largest admissible alpha (hardest case) and a tiny one."""
    alpha_max = theorem_constants(Y, U0, 1e-300, EPS).alpha_max
    assert alpha_max > 1e-200
    return [alpha_max, 1e-60]


def _dense_times(a: float, b: float) -> np.ndarray:
    """Many points of ``[a, b]`` incl. both ends; for ``b = inf``, out to ``1e6 a``."""
    if math.isinf(b):
        return np.unique(
            np.concatenate([np.linspace(a, 4 * a, 400), np.geomspace(a, 1e6 * a, 200)])
        )
    return np.unique(np.concatenate([np.linspace(a, b, 400), np.geomspace(a, b, 100)]))


# ---- best_rank_k and transition_times ------------------------------------------------------
def test_best_rank_k_matches_svd_truncation():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((6, 6))
    Y = A + A.T  # indefinite
    u, s, vt = np.linalg.svd(Y)
    for k in range(7):
        ref = (u[:, :k] * s[:k]) @ vt[:k]
        got = best_rank_k(Y, k)
        np.testing.assert_allclose(got, ref, atol=1e-12)
        assert np.linalg.matrix_rank(got, tol=1e-9) == k
        assert np.isclose(np.linalg.norm(Y - got), np.sqrt(np.sum(s[k:] ** 2)))


def test_best_rank_k_psd_keeps_top_eigenvalues():
    Y = mfflow.make_target([4.0, 2.0, 1.0], n=5, seed=3)
    lam, phi = mfflow.eigh_descending(Y)
    np.testing.assert_allclose(best_rank_k(Y, 2), (phi[:, :2] * lam[:2]) @ phi[:, :2].T, atol=1e-13)


def test_transition_times_formula():
    Y = mfflow.make_target([4.0, 2.0, 1.0], n=4, seed=0)
    alpha = 1e-12
    np.testing.assert_allclose(
        transition_times(Y, alpha), np.log(1e12) / (2 * np.array([4.0, 2.0, 1.0])), rtol=1e-13
    )


# ---- the corrected theorem holds -------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_certified_intervals_hold_and_are_contained(case):
    Y, U0 = _problem(*case)
    for alpha in _alphas(Y, U0):
        const = theorem_constants(Y, U0, alpha, EPS)
        assert const.hypotheses_hold, const.failures
        certified = theorem_intervals(Y, U0, alpha, EPS)
        measured = measured_intervals(Y, U0, alpha, EPS)
        traj = mfflow.closed_form(Y, U0, alpha)
        assert len(certified) == len(measured) == len(case[0])
        assert math.isinf(certified[-1][1])
        for k, ((a, b), meas) in enumerate(zip(certified, measured, strict=True), start=1):
            assert 0 < a <= b
            err = traj.distance(best_rank_k(Y, k), _dense_times(a, b))
            assert err.max() <= EPS, (k, alpha, err.max())
            assert meas is not None
            assert meas[0] <= a and b <= meas[1], (k, (a, b), meas)


@pytest.mark.parametrize("case", CASES[:3], ids=_case_id)
def test_measured_endpoints_are_roots(case):
    """``||W - Yhat_k||_2 = eps`` at each finite measured end, and > eps just outside."""
    Y, U0 = _problem(*case)
    alpha = 1e-40
    traj = mfflow.closed_form(Y, U0, alpha)
    for k, meas in enumerate(measured_intervals(Y, U0, alpha, EPS), start=1):
        assert meas is not None
        Z = best_rank_k(Y, k)
        lo, hi = meas
        assert abs(traj.distance(Z, lo) - EPS) < 1e-8
        assert traj.distance(Z, lo * (1 - 1e-6)) > EPS
        assert traj.distance(Z, 0.5 * (lo + min(hi, 2 * lo))) <= EPS
        if math.isfinite(hi):
            assert abs(traj.distance(Z, hi) - EPS) < 1e-8
            assert traj.distance(Z, hi * (1 + 1e-6)) > EPS
        else:
            assert k == len(case[0])
            assert traj.distance(Z, np.geomspace(lo * 1.01, 1e8, 20)).max() <= EPS


@pytest.mark.parametrize("case", CASES[:3], ids=_case_id)
def test_check_theorem_rows(case):
    Y, U0 = _problem(*case)
    check = check_theorem(Y, U0, 1e-40, EPS)
    assert isinstance(check, TheoremCheck)
    assert check.constants.hypotheses_hold and check.all_hold
    for row in check.rows:
        assert row.holds and row.contained
        # certified is conservative: the bound is met with a wide margin
        assert row.max_error_on_certified < 0.05 * EPS
    text = check.to_table()
    assert len(text.splitlines()) == 2 + len(check.rows)
    data = json.loads(json.dumps(check.as_dict()))
    assert data["rows"][-1]["certified"][1] == math.inf
    assert data["constants"]["failures"] == []


# ---- the slide's endpoints are false -------------------------------------------------------
def test_slide_left_endpoint_violates_the_bound():
    """At ``log(c_eps/alpha)/(2 sigma_k)`` mode k is unlearned: the error is ~ sigma_k >> eps.

    Spectrum [4, 2, 1], Gaussian init (n = 3, r = 5), eps = 0.1, alpha = 1e-30 gives errors
    (3.9973, 1.9993, 0.9990) at the three slide left ends, i.e. 40, 20 and 10 times eps.
    The corrected left ends, a factor ``log(C_eps/alpha) / log(c_eps/alpha)`` later, are fine.
    """
    Y, U0 = _problem(*CASES[0])
    alpha = 1e-30
    traj = mfflow.closed_form(Y, U0, alpha)
    slide = theorem_intervals(Y, U0, alpha, EPS, endpoints="slide")
    corrected = theorem_intervals(Y, U0, alpha, EPS)
    sigma = np.array(CASES[0][0])
    for k, ((a_s, b_s), (a_c, b_c)) in enumerate(zip(slide, corrected, strict=True), start=1):
        assert b_s == b_c and a_s < a_c  # same right end, earlier left end
        err = traj.distance(best_rank_k(Y, k), a_s)
        assert err > 0.99 * sigma[k - 1] and err > 9 * EPS
        np.testing.assert_allclose(err, sigma[k - 1], rtol=2e-3)
        assert traj.distance(best_rank_k(Y, k), a_c) <= EPS
    check = check_theorem(Y, U0, alpha, EPS, endpoints="slide")
    assert check.constants.hypotheses_hold  # its own hypotheses hold; its claim does not
    assert not check.all_hold
    assert all(r.holds is False and r.contained is False for r in check.rows)
    np.testing.assert_allclose([r.max_error_on_certified for r in check.rows], sigma, rtol=2e-3)


# ---- transition times ------------------------------------------------------------------------
def test_measured_transition_times_spectral_exact():
    """Spectral init: mode i reaches f sigma_i at (log(f (sigma - a) / ((1 - f) a))) / 2 sigma."""
    Y = mfflow.make_target([4.0, 2.0, 1.0], n=4, seed=5)
    s = np.array([0.5, 1.0, 2.0, 1.0])
    U0 = mfflow.spectral_init(Y, s)
    sigma = np.array([4.0, 2.0, 1.0])
    for alpha, f in [(1e-6, 0.5), (1e-50, 0.9), (1e-200, 0.1)]:
        a = alpha * s[:3]
        ref = np.log(f * (sigma - a) / ((1 - f) * a)) / (2 * sigma)
        got = measured_transition_times(Y, U0, alpha, fraction=f)
        np.testing.assert_allclose(got, ref, rtol=1e-10)


@pytest.mark.parametrize("case", [CASES[1], CASES[2]], ids=_case_id)
def test_transition_delay_is_one_over_two_sigma(case):
    """Delay per unit of log(1/alpha) is 1/(2 sigma_i) (docs/math.md §4), not 1/sigma_i (the talk);
    measured minus log(1/alpha)/(2 sigma_i) stays O(1) as alpha shrinks."""
    Y, U0 = _problem(*case)
    sigma = np.array(case[0])
    logs = np.linspace(np.log(1e4), np.log(1e40), 6)
    measured = np.array([measured_transition_times(Y, U0, np.exp(-x)) for x in logs])
    predicted = np.array([transition_times(Y, np.exp(-x)) for x in logs])
    diff = measured - predicted
    assert np.all(np.abs(diff) < 2.0)
    assert np.all(np.ptp(diff[len(logs) // 2 :], axis=0) < 1e-3)  # the O(1) shift settles
    slopes = np.polyfit(logs, measured, 1)[0]
    np.testing.assert_allclose(slopes * 2 * sigma, 1.0, atol=1e-3)
    # shrinking alpha by e^{-1} delays mode i by 1/(2 sigma_i), half the talk's 1/sigma_i
    delay = measured_transition_times(Y, U0, 1e-30 * np.exp(-1.0)) - measured_transition_times(
        Y, U0, 1e-30
    )
    np.testing.assert_allclose(delay, 1 / (2 * sigma), rtol=1e-3)


# ---- failed hypotheses are reported, not raised ----------------------------------------------
def test_singular_init_reported():
    Y = mfflow.make_target([4.0, 2.0, 1.0], seed=0)
    U0 = mfflow.gaussian_init(3, 2, seed=1)  # r < n: W0 singular
    const = theorem_constants(Y, U0, 1e-30, EPS)
    assert not const.hypotheses_hold and const.M == math.inf
    assert const.c_eps == 0.0 and const.C_eps == math.inf
    assert any("singular" in msg and "r = 2 < n = 3" in msg for msg in const.failures)
    check = check_theorem(Y, U0, 1e-30, EPS)
    assert not check.constants.hypotheses_hold
    assert all(r.holds is None and r.max_error_on_certified is None for r in check.rows)
    assert check.status.startswith("hypotheses fail: U0: W0 = U0 U0^T is singular")
    # measured intervals are still there: rank-2 W(t) learns Yhat_1, then Yhat_2 forever
    m1, m2, m3 = (r.measured for r in check.rows)
    assert m1 is not None and math.isfinite(m1[1])
    assert m2 is not None and m2[1] == math.inf
    assert m3 is None
    assert "singular" in check.to_table()
    times = measured_transition_times(Y, U0, 1e-30)
    assert np.all(np.isfinite(times[:2])) and times[2] == math.inf  # mode 3: never learned


def test_rank_deficient_square_init_reported():
    Y = mfflow.make_target([4.0, 2.0, 1.0], seed=0)
    U0 = mfflow.low_rank_init(3, 4, rank=2, seed=2)
    const = theorem_constants(Y, U0, 1e-30, EPS)
    assert any("singular" in msg for msg in const.failures)


def test_eps_too_large_reported_nonpositive_raises():
    Y, U0 = _problem(*CASES[0])
    const = theorem_constants(Y, U0, 1e-30, 1.5)  # > min(sigma_K, 1) = 1
    assert not const.hypotheses_hold
    assert any(msg.startswith("eps:") and "min(sigma_K, 1)" in msg for msg in const.failures)
    check = check_theorem(Y, U0, 1e-30, 1.5)
    assert all(r.measured is not None for r in check.rows)
    # the boundary eps = min(sigma_K, 1) is allowed
    assert theorem_constants(Y, U0, 1e-60, 1.0).hypotheses_hold
    for bad in (0.0, -0.1, math.nan):
        with pytest.raises(ValueError, match="eps"):
            theorem_constants(Y, U0, 1e-30, bad)
        with pytest.raises(ValueError, match="eps"):
            check_theorem(Y, U0, 1e-30, bad)


def test_alpha_too_large_and_empty_intervals_reported():
    Y, U0 = _problem(*CASES[2])
    const = theorem_constants(Y, U0, 1e-3, EPS)
    assert any(msg.startswith("alpha:") for msg in const.failures)
    assert any(msg.startswith("intervals:") and "empty" in msg for msg in const.failures)
    # just above alpha_max some interval is empty; at alpha_max none is
    alpha_max = theorem_constants(Y, U0, 1e-300, EPS).alpha_max
    above = theorem_constants(Y, U0, alpha_max * 1.01, EPS)
    assert not above.hypotheses_hold
    assert theorem_constants(Y, U0, alpha_max, EPS).hypotheses_hold
    check = check_theorem(Y, U0, 1e-3, EPS)
    assert not check.constants.hypotheses_hold
    assert all(r.holds is None for r in check.rows if not r.certified[0] <= r.certified[1])


def test_target_hypotheses_reported():
    U0 = mfflow.gaussian_init(3, 5, seed=0)
    indefinite = check_theorem(mfflow.make_target([3.0, 1.0, -2.0], seed=1), U0, 1e-30, EPS)
    assert any("positive semidefinite" in m for m in indefinite.constants.failures)
    assert len(indefinite.rows) == 2 and all(r.measured is not None for r in indefinite.rows)
    repeated = theorem_constants(mfflow.make_target([2.0, 2.0, 1.0], seed=1), U0, 1e-30, EPS)
    assert any("repeated" in m for m in repeated.failures)
    assert repeated.alpha_max == 0.0
    none = check_theorem(mfflow.make_target([-2.0, -1.0], n=3, seed=1), U0, 1e-30, EPS)
    assert any("no positive eigenvalue" in m for m in none.constants.failures)
    assert none.rows == [] and none.constants.C_eps is None
    neg = mfflow.make_target([-1.0], n=3)
    assert theorem_intervals(neg, U0, 1e-30, EPS, check=False) == []
    with pytest.raises(ValueError, match=r"^Y: the theorem's hypotheses fail: Y: no positive"):
        theorem_intervals(neg, U0, 1e-30, EPS)


# ---- invalid inputs --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda Y, U0: theorem_constants(Y, U0, 0.0, EPS), "alpha"),
        (lambda Y, U0: theorem_intervals(Y, U0, -1e-3, EPS), "alpha"),
        (lambda Y, U0: theorem_intervals(Y, U0, 1e-30, EPS, endpoints="paper"), "endpoints"),
        (lambda Y, U0: check_theorem(Y, U0[:2], 1e-30, EPS), "U0"),
        (lambda Y, U0: check_theorem(Y + np.triu(Y, 1), U0, 1e-30, EPS), "Y"),
        (lambda Y, U0: measured_intervals(Y[:, :2], U0, 1e-30, EPS), "Y"),
        (lambda Y, U0: measured_intervals(Y, U0, 1e-30, -EPS), "eps"),
        (lambda Y, U0: measured_transition_times(Y, U0, 1e-30, fraction=1.0), "fraction"),
        (lambda Y, U0: measured_transition_times(Y, U0, 1e-30, fraction=0.0), "fraction"),
        (lambda Y, U0: transition_times(Y, math.inf), "alpha"),
        (lambda Y, U0: best_rank_k(Y, 4), "k"),
        (lambda Y, U0: best_rank_k(Y, -1), "k"),
    ],
)
def test_invalid_inputs_name_the_argument(call, match):
    Y, U0 = _problem(*CASES[0])
    with pytest.raises(ValueError, match=match):
        call(Y, U0)


def test_type_errors_name_the_argument():
    Y, U0 = _problem(*CASES[0])
    with pytest.raises(TypeError, match="k"):
        best_rank_k(Y, 1.5)
    with pytest.raises(TypeError, match="eps"):
        theorem_constants(Y, U0, 1e-30, "0.1")


# ---- theory on a built trajectory ---------------------------------------------------------------
def test_theory_accepts_a_built_trajectory_and_reuses_its_set_up(monkeypatch):
    """``check_theorem(traj, eps=...)`` equals ``check_theorem(Y, U0, alpha, eps)``, and the
    eigendecomposition runs once for all five functions (it ran once per call before)."""
    import mfflow.riccati.structure as structure

    Y = mfflow.make_target([4.0, 2.0, 1.0], seed=0)
    U0 = mfflow.gaussian_init(3, 6, seed=1)
    alpha, eps = 1e-30, 0.1
    want = mfflow.check_theorem(Y, U0, alpha, eps).as_dict()
    want_meas = mfflow.measured_intervals(Y, U0, alpha, eps)
    want_times = mfflow.measured_transition_times(Y, U0, alpha)
    calls = []
    original = structure.eigh_descending
    monkeypatch.setattr(structure, "eigh_descending", lambda y: calls.append(1) or original(y))
    traj = mfflow.closed_form(Y, U0, alpha)
    assert mfflow.check_theorem(traj, eps=eps).as_dict() == want
    assert mfflow.measured_intervals(traj, eps=eps) == want_meas
    np.testing.assert_array_equal(mfflow.measured_transition_times(traj), want_times)
    np.testing.assert_array_equal(mfflow.transition_times(traj), mfflow.transition_times(Y, alpha))
    assert mfflow.theorem_intervals(traj, eps=eps) == mfflow.theorem_intervals(Y, U0, alpha, eps)
    assert len(calls) == 2  # the trajectory, and transition_times(Y, alpha) itself


def test_theory_on_torch_and_jax_trajectories_equals_numpy():
    """A torch- or JAX-backed trajectory is checked on the host in float64: same numbers, no NaN
    (the theory used to evaluate NumPy functions on torch tensors)."""
    torch = pytest.importorskip("torch")
    Y = mfflow.make_target([4.0, 2.0, 1.0], seed=0)
    U0 = mfflow.gaussian_init(3, 6, seed=1)
    want = mfflow.check_theorem(Y, U0, 1e-30, 0.1).as_dict()
    traj = mfflow.closed_form(torch.asarray(Y), torch.asarray(U0), 1e-30)
    assert traj.backend == "torch"
    assert mfflow.check_theorem(traj, eps=0.1).as_dict() == want
    assert mfflow.check_theorem(torch.asarray(Y), torch.asarray(U0), 1e-30, 0.1).as_dict() == want


def test_theory_trajectory_form_refuses_mixed_arguments():
    Y = mfflow.make_target([4.0, 2.0], seed=0)
    U0 = mfflow.gaussian_init(2, 2, seed=1)
    traj = mfflow.closed_form(Y, U0, 1e-8)
    with pytest.raises(TypeError, match="U0, alpha"):
        mfflow.check_theorem(traj, U0, eps=0.1)
    with pytest.raises(TypeError, match="U0, alpha"):
        mfflow.measured_intervals(Y, eps=0.1)
    with pytest.raises(TypeError, match="eps"):
        mfflow.check_theorem(traj)
    with pytest.raises(TypeError, match="alpha"):
        mfflow.transition_times(Y)


def test_corrected_intervals_hold_on_random_instances(ledger):
    """The corrected theorem on random instances (the docstring's claim, reproduced here):
    n = 2..5 distinct positive eigenvalues in a random basis, Gaussian, scaled-orthogonal and
    ill-conditioned (singular values over 1.5 decades) inits, eps from 0.01 to 1 times
    min(sigma_K, 1), alpha from the largest admissible value down to 1e-300. Every certified
    interval holds; measured worst error / eps: 0.03 (docs/checks/check_04_theorem.py repeats
    the sweep without mfflow's code)."""
    rng = np.random.default_rng(11)
    worst, instances = 0.0, 0
    for inst in range(12):
        n = int(rng.integers(2, 6))
        sig = np.sort(rng.uniform(0.5, 4.0, n))[::-1]
        if np.min(-np.diff(sig)) < 0.2:
            continue
        Y = mfflow.make_target(sig, seed=inst)
        kind = ("gaussian", "orthogonal", "ill")[inst % 3]
        if kind == "gaussian":
            U0 = mfflow.gaussian_init(n, n + 1, seed=inst)
        elif kind == "orthogonal":
            U0 = 1.5 * mfflow.orthogonal_init(n, n, seed=inst)
        else:
            q1, q2 = mfflow.random_orthogonal(n, inst), mfflow.random_orthogonal(n, inst + 50)
            U0 = q1 @ np.diag(np.logspace(0, -1.5, n)) @ q2
        eps = float(rng.choice([0.01, 0.1, 1.0])) * min(float(sig[-1]), 1.0)
        alpha_max = mfflow.theorem_constants(Y, U0, 1e-300, eps).alpha_max
        for alpha in (alpha_max, 1e-60, 1e-300):
            if alpha > alpha_max or alpha <= 0:
                continue
            check = mfflow.check_theorem(Y, U0, alpha, eps)
            assert check.constants.hypotheses_hold, check.constants.failures
            for row in check.rows:
                assert row.holds and row.contained, (inst, alpha, row)
                worst = max(worst, row.max_error_on_certified / eps)
            instances += 1
    ledger.record("corrected theorem: max error / eps (random instances)", worst, f"{instances}")
    assert instances >= 20
    assert worst <= 0.25  # the proof's bound (docs/math.md §4) is eps / 4
