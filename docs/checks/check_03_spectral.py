"""docs/math.md section 3: spectral initialization, the logistic curves and the limit W(inf).

1. eq. 7 is eq. 6 with a diagonal W~0 (60-digit arithmetic);
2. the log-space form sigma = 1 / (e^{-2 lam t}/(alpha s) + h) in float64 against eq. 7 in
   mpmath, for lam of every sign, alpha down to 1e-300 and lam t up to 1e4;
3. the residual lam - sigma = (lam - alpha s) / (1 + alpha s g) against mpmath (relative);
4. the exact crossing time of f lam;
5. the limit W(inf): generic inits (r >= n and r < n), an init missing an eigen-direction,
   an exactly dependent row, repeated eigenvalues, zero and negative eigenvalues.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
from _common import Checks, echelon_factor, mp_push, rel, stable_factor, to_np

ck = Checks("section 3: spectral init, logistic curves, W(inf)")


def eq7_mp(lam: float, s: float, alpha: float, t: float, dps: int = 40) -> mp.mpf:
    """Eq. 7 as printed (alpha s / (1 + 2 alpha s t) at lam = 0), in enough digits."""
    extra = int(2 * abs(lam) * t / math.log(10) + math.log10(1 / alpha) + 10)
    with mp.workdps(dps + extra):
        lam_, s_, a_, t_ = (mp.mpf(float(v)) for v in (lam, s, alpha, t))
        if lam_ == 0:
            return a_ * s_ / (1 + 2 * a_ * s_ * t_)
        e = mp.exp(2 * lam_ * t_)
        return a_ * lam_ * s_ * e / (lam_ + a_ * s_ * (e - 1))


def sigma_log(lam: float, s: float, alpha: float, t: float) -> float:
    """The stable form: log sigma = -logaddexp(-2 lam t - log(alpha s), log h)."""
    if t == 0.0:
        return alpha * s
    a = abs(lam)
    frac = 2.0 * t if lam == 0 else -math.expm1(-2.0 * a * t) / a
    log_h = 2.0 * max(-lam, 0.0) * t + math.log(frac)
    x = -2.0 * lam * t - (math.log(alpha) + math.log(s))
    return math.exp(-np.logaddexp(x, log_h))


def resid_log(lam: float, s: float, alpha: float, t: float) -> float:
    """lam - sigma = (lam - alpha s) / (1 + alpha s g), g = e^{2 lam t} h (log space)."""
    if t == 0.0:
        return lam - alpha * s
    a = abs(lam)
    frac = 2.0 * t if lam == 0 else -math.expm1(-2.0 * a * t) / a
    log_q = math.log(alpha) + math.log(s) + 2.0 * max(lam, 0.0) * t + math.log(frac)
    d = lam - alpha * s  # lam > 0 here; the denominator 1 + e^{log_q} in log space (no clipping)
    x = math.log(abs(d)) - float(np.logaddexp(0.0, log_q))
    return math.copysign(math.exp(x), d) if x > -708.0 else 0.0


# 1. eq. 7 = eq. 6 with diagonal W~0
lam = np.array([3.0, 1.0, 0.0, -2.0])
root_s = np.array([0.5, 2.0, 1.0, 0.25])  # s = root_s^2 exactly in float64
s = root_s**2
worst = 0.0
for alpha in (1e-2, 1e-50):
    for t in (0.5, 5.0, 40.0):
        w = mp_push(lam, np.diag(root_s), alpha, t, dps=60 + int(2 * 3 * t / math.log(10)) + 50)
        for i in range(4):
            v = eq7_mp(lam[i], s[i], alpha, t)
            worst = max(worst, float(abs(w[i, i] - v) / v))
            for j in range(4):
                if i != j:
                    worst = max(worst, float(abs(w[i, j])))
ck.le("eq. 7 = eq. 6 at diagonal W~0 (60+ digits; rel. diagonal, abs. off-diagonal)", worst, 1e-40)

# 2. + 3. stable float forms against mpmath
worst_s = worst_r = 0.0
worst_where = ""
for lm in (4.0, 1.0, 0.25, 0.0, -1.0, -4.0):
    for sc in (1e-3, 1.0, 10.0):
        for alpha in (1e-2, 1e-30, 1e-100, 1e-300):
            tk = math.log(1 / alpha) / (2 * max(abs(lm), 0.25))
            for t in (0.0, 0.01, 0.3 * tk, tk, 1.2 * tk, 3 * tk, 1e4 / max(abs(lm), 1.0)):
                ref = eq7_mp(lm, sc, alpha, t)
                got = sigma_log(lm, sc, alpha, t)
                if ref < mp.mpf(2.3e-308):  # below float64's normal range: flushed to 0
                    e = got / 1e-300
                else:
                    e = float(abs(mp.mpf(got) - ref) / ref)
                # rounding of the exponent: eps (2 |lam| t + |log(alpha s)|); the first part is
                # inherent (d log sigma / d log t <= 2 |lam| t), the second the price of log space
                budget = 1 + 2 * abs(lm) * t + abs(math.log(alpha * sc))
                if e / budget > worst_s:
                    worst_s, worst_where = (
                        e / budget,
                        f"lam={lm}, s={sc}, alpha={alpha:g}, t={t:.3g}",
                    )
                if lm > 0:
                    with mp.workdps(60 + int(2 * lm * t / math.log(10) + math.log10(1 / alpha))):
                        r_ref = mp.mpf(lm) - ref
                    r_got = resid_log(lm, sc, alpha, t)
                    if abs(r_ref) >= mp.mpf(2.3e-308):
                        worst_r = max(
                            worst_r, float(abs(mp.mpf(r_got) - r_ref) / abs(r_ref)) / budget
                        )
                    else:  # true residual below the float64 range: must come out (nearly) 0
                        worst_r = max(worst_r, abs(r_got) / 1e-300)
ck.le(
    "log-space sigma vs eq. 7 (mpmath), rel. error / (1 + 2|lam| t + |log(alpha s)|); "
    f"worst at {worst_where}",
    worst_s,
    1e-15,
)
ck.le("residual (lam - a)/(1 + a g) vs lam - sigma (mpmath), same scale, lam > 0", worst_r, 1e-15)
naive = abs(
    (4.0 - sigma_log(4.0, 1.0, 1e-30, 30.0)) - float(4 - eq7_mp(4.0, 1.0, 1e-30, 30.0))
) / float(4 - eq7_mp(4.0, 1.0, 1e-30, 30.0))
ck.ge("...whereas lam - sigma by subtraction at lam t = 120 has rel. error", naive, 0.5)

# 4. crossing time
worst = 0.0
for lm, sc, alpha, f in [(2.0, 0.7, 1e-10, 0.5), (0.5, 3.0, 1e-100, 0.1), (5.0, 1.0, 1e-300, 0.99)]:
    t_f = (math.log(1 / alpha) + math.log(f * (lm - alpha * sc) / ((1 - f) * sc))) / (2 * lm)
    worst = max(worst, float(abs(eq7_mp(lm, sc, alpha, t_f) / lm - f)))
ck.le(
    "sigma(t_f) = f lam at t_f = [log(1/alpha) + log(f(lam - alpha s)/((1-f)s))]/(2 lam)",
    worst,
    1e-14,
)


# 5. the limit W(inf)
def limit_formula(lam: np.ndarray, Ut: np.ndarray) -> np.ndarray:
    """Clusters of positive eigenvalues, descending: lam_c times the projector onto the part of
    the cluster's rows of U~0 outside the row space of the rows of larger eigenvalues."""
    n, r = Ut.shape
    w = np.zeros((n, n))
    used = np.zeros((r, 0))
    i = 0
    while i < n and lam[i] > 0:
        j = i
        while j < n and lam[j] == lam[i]:
            j += 1
        block = Ut[i:j] - (Ut[i:j] @ used) @ used.T
        a, sv, vt = np.linalg.svd(block, full_matrices=False)
        k = int(np.sum(sv > 1e-12 * max(1.0, float(np.abs(Ut).max()))))
        w[i:j, i:j] = lam[i] * a[:, :k] @ a[:, :k].T
        used = np.linalg.qr(np.concatenate([used, vt[:k].T], axis=1))[0] if k else used
        i = j
    return w


rng = np.random.default_rng(5)
cases = {}
cases["distinct, r = n (W(inf) = Y_+)"] = (
    np.array([3.0, 2.0, 1.0, -1.0]),
    rng.standard_normal((4, 4)),
)
cases["distinct, r = 2 < K (best rank-2 of Y_+)"] = (
    np.array([3.0, 2.0, 1.0, -1.0]),
    rng.standard_normal((4, 2)),
)
U = rng.standard_normal((4, 4))
U[1] = 0.0
cases["row 1 of U~0 = 0 (mode 2 never learned)"] = (np.array([3.0, 2.0, 1.0, -1.0]), U)
U = rng.standard_normal((4, 3))
U[2] = 2.0 * U[0]
cases["row 2 = 2 row 0 (mode 3 never learned)"] = (np.array([3.0, 2.0, 1.0, -1.0]), U)
cases["repeated lam = 2 (x2), r = 1"] = (
    np.array([2.0, 2.0, 1.0, -1.0]),
    rng.standard_normal((4, 1)),
)
cases["repeated lam = 2 (x3), r = 2"] = (
    np.array([2.0, 2.0, 2.0, 1.0]),
    rng.standard_normal((4, 2)),
)
for name, (lam, U) in cases.items():
    wl = limit_formula(lam, U)
    t = 80.0  # e^{-2 (gap) t} < 1e-34 for the gaps above
    w = to_np(mp_push(lam, U, 1e-6, t))
    ck.le(f"W(inf) formula vs eq. 6 at t = 80 (mpmath): {name}", rel(w, wl), 1e-14)
# zero eigenvalues: zero modes decay like 1/(2t); the stable float64 form reaches t = 1e12
lam = np.array([3.0, 1.0, 0.0, 0.0, -2.0])
U = rng.standard_normal((5, 5))
L = echelon_factor(U)[0]
F = stable_factor(lam, L, 1e-6, 1e12)
ck.le(
    "W(inf) with zero and negative modes: stable form at t = 1e12 vs formula",
    rel(F @ F.T, limit_formula(lam, U)),
    1e-11,
)
ck.done()
