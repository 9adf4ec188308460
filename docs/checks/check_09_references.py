"""docs/math.md section 9: the numerical references.

1. ODE tolerances: at small alpha a fixed atol accepts wrong answers for the unlearned
   components; atol = 1e-3 rtol sqrt(alpha) max|U0| does not.
2. Gradient descent's divergence detection: once eta ||U||_2^2 > 2 + eta ||Y||_2 the spectral
   norm grows monotonically (so an iterate past the blow-up level never comes back).
3. mpmath guard digits: the push-through form of eq. 6 needs about
   17 + log10(1 + alpha g_1(t) ||U~0||_2^2) digits for float64 accuracy (measured both ways),
   and the working precision of the references (30 + log10(1/alpha) + log10 cond(W0)
   + 2 max|lam| t / ln 10 + log10(t + 1)) exceeds that.
"""

from __future__ import annotations

import math

import numpy as np
from _common import (
    Checks,
    echelon_factor,
    mp_dps,
    mp_push,
    ode_flow,
    orthogonal,
    rel,
    stable_factor,
    to_np,
)

ck = Checks("section 9: numerical references")
rng = np.random.default_rng(23)

# 1. atol policy
lam = np.array([3.0, 2.0, 1.0])
phi = orthogonal(3, rng)
Y = (phi * lam) @ phi.T
U0 = rng.standard_normal((3, 3))
L = echelon_factor(phi.T @ U0)[0]
for alpha in (1e-8, 1e-16):
    tk = math.log(1 / alpha) / 2
    ts = np.linspace(0.1, 1.5, 30) * tk
    refs = [phi @ (lambda F: F @ F.T)(stable_factor(lam, L, alpha, t)) @ phi.T for t in ts]
    errs = {}
    for name, atol in (("scaled", None), ("fixed 1e-11", 1e-11)):
        Us = ode_flow(Y, U0, alpha, ts, rtol=1e-11, atol=atol)
        errs[name] = max(rel(Us[k] @ Us[k].T, refs[k]) for k in range(ts.size))
    ck.le(
        f"alpha={alpha:g}, rtol 1e-11: error with atol = 1e-3 rtol sqrt(alpha) max|U0|",
        errs["scaled"],
        1e-9,
    )
    ck.ge(
        f"alpha={alpha:g}, rtol 1e-11: error with a fixed atol = 1e-11 (claim: much worse)",
        errs["fixed 1e-11"],
        100 * errs["scaled"],
    )

# 2. monotone growth beyond the blow-up level
worst = np.inf
for _ in range(300):
    eta = float(10 ** rng.uniform(-4, 0.5))
    Ys = (lambda q: (q * rng.uniform(-3, 3, 4)) @ q.T)(orthogonal(4, rng))
    U = rng.standard_normal((4, int(rng.integers(1, 6))))
    U *= math.sqrt((2 + eta * np.linalg.norm(Ys, 2)) / eta) * 1.0001 / np.linalg.norm(U, 2)
    for _ in range(3):
        with np.errstate(over="ignore", invalid="ignore"):
            U1 = U + eta * (Ys - U @ U.T) @ U
        if not np.all(np.isfinite(U1)):
            break
        worst = min(worst, np.linalg.norm(U1, 2) / np.linalg.norm(U, 2))
        U = U1
ck.ge(
    "min ||U_{k+1}||_2 / ||U_k||_2 - 1 once eta ||U_k||_2^2 > 2 + eta ||Y||_2 (claim > 0)",
    worst - 1.0,
    1e-6,
)


# 3. guard digits of the mpmath reference (push-through form)
def accurate(lam, Ut, alpha, t, dps, ref):
    try:
        return rel(to_np(mp_push(lam, Ut, alpha, t, dps=dps)), ref) <= 1.2e-16
    except ZeroDivisionError:  # mpmath: "matrix is numerically singular" at too few digits
        return False


lam = np.array([3.0, 2.0, 1.0, 0.5])
over_law = over_policy = -np.inf
rows = []
for cond in (1.0, 1e4):
    Ut = orthogonal(4, rng) @ np.diag(np.logspace(0, -math.log10(cond) / 2, 4)) @ orthogonal(4, rng)
    for alpha in (1e-2, 1e-30, 1e-100):
        tk = math.log(1 / alpha) / (2 * 0.5)
        for f in (0.5, 1.0, 3.0):
            t = f * tk
            x = (
                math.log10(alpha)
                + 2 * lam[0] * t / math.log(10)
                - math.log10(lam[0])
                + 2 * math.log10(np.linalg.norm(Ut, 2))
            )
            law = 17 + (
                x if x > 20 else math.log10(1 + 10**x)
            )  # 17 + log10(1 + alpha g_1 ||U~0||^2)
            policy = mp_dps(lam, Ut, alpha, t)
            ref = to_np(mp_push(lam, Ut, alpha, t, dps=policy + 60))
            lo, hi = 10, policy  # smallest dps with float64 accuracy, by bisection
            assert accurate(lam, Ut, alpha, t, hi, ref)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if accurate(lam, Ut, alpha, t, mid, ref):
                    hi = mid
                else:
                    lo = mid
            rows.append((cond, alpha, f, hi, law, policy))
            over_law = max(over_law, hi - law)
            over_policy = max(over_policy, hi - policy)
for cond, alpha, f, need, law, policy in rows:
    print(
        f"  info: cond(W0) {cond:g}, alpha {alpha:g}, t = {f} t_K: digits needed {need}, "
        f"17 + log10(1 + alpha g_1 |U~0|^2) = {law:.0f}, policy {policy}"
    )
ck.le(
    "digits needed - (17 + log10(1 + alpha g_1 ||U~0||^2)) (max; the law is an upper bound)",
    over_law,
    3.0,
)
ck.le("digits needed - reference working precision (max; the policy is safe)", over_policy, -10.0)
ck.done()
