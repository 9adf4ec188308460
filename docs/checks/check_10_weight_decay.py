"""docs/math.md section 10: weight decay.

1. U' = (Y - U U^T) U - gamma U is the flow with target Y - gamma I: the stable form of
   section 2 with lam - gamma against an ODE solve of the weight-decay flow (r < n, r > n, an
   indefinite target, sigma = gamma) and against mpmath at alpha = 1e-100.
2. A target given as a factor: the reduced problem with -gamma on span(basis, U0) minus the
   basis equals the full flow; with 0 there (the naive shift of the basis' values) it does not.
3. Modes with sigma_i <= gamma: sigma_i(t) <= alpha s_i e^{-2 (gamma - sigma_i) t} (spectral).
4. Transition times: slopes of the half-way times against log(1/alpha) are 1/(2 (sigma - gamma)).
5. The corrected theorem for Y - gamma I: on the intervals with sigma_k - gamma and
   C_eps = 16 (sigma_1 - gamma)^2 M^2 / eps the error stays below eps/4 (random instances);
   the slide's left ends and the intervals computed without weight decay fail.
6. U V^T with weight decay: D(t) = e^{-2 gamma t} D(0); a balanced init follows the symmetrized
   flow with Ybar - gamma I (ODE); the limit soft-thresholds the singular values.
"""

from __future__ import annotations

import math

import numpy as np
from _common import Checks, echelon_factor, mp_push, orthogonal, rel, stable_factor, to_np
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

ck = Checks("section 10: weight decay")
rng = np.random.default_rng(10)


def target(spec, n):
    q = orthogonal(n, rng)
    s = np.zeros(n)
    s[: len(spec)] = spec
    return (q * s) @ q.T


def ode_wd(Y, U0, alpha, gamma, ts):
    n, r = U0.shape
    u0 = math.sqrt(alpha) * U0

    def rhs(_t, x):
        U = x.reshape(n, r)
        return ((Y - U @ U.T) @ U - gamma * U).ravel()

    atol = 1e-15 * float(np.max(np.abs(u0)))
    sol = solve_ivp(rhs, (0, ts[-1]), u0.ravel(), "DOP853", t_eval=ts, rtol=1e-12, atol=atol)
    U = sol.y.T.reshape(-1, n, r)
    return U @ U.transpose(0, 2, 1)


def exact_wd(Y, U0, alpha, gamma, t):
    lam, phi = np.linalg.eigh(Y)
    o = np.argsort(-lam)
    lam, phi = lam[o] - gamma, phi[:, o]
    L, _ = echelon_factor(phi.T @ U0)
    F = phi @ stable_factor(lam, L, alpha, t)
    return F @ F.T


# 1. closed form with lam - gamma vs the weight-decay ODE, and vs mpmath
worst = 0.0
for spec, n, r, gamma in [
    ([3.0, 2.0, 1.0, 0.5], 4, 2, 0.7),
    ([3.0, 1.2, 0.3], 3, 5, 1.0),
    ([2.5, 1.0, -0.5, -2.0], 4, 4, 0.4),
    ([2.0, 1.0, 0.5], 3, 3, 1.0),
]:
    Y = target(spec, n)
    U0 = rng.standard_normal((n, r))
    for alpha in (1e-2, 1e-6):
        ts = np.linspace(0, 2.5 * math.log(1 / alpha) / (2 * 0.3) + 2, 7)
        W = ode_wd(Y, U0, alpha, gamma, ts)
        worst = max(worst, max(rel(exact_wd(Y, U0, alpha, gamma, t), W[i]) for i, t in
                               enumerate(ts) if i))  # fmt: skip
ck.le("stable form with lam - gamma vs the weight-decay ODE (relative Frobenius)", worst, 2e-9)

Y = target([4.0, 2.5, 1.0, 0.3], 4)
U0 = rng.standard_normal((4, 4))
gamma, alpha = 0.6, 1e-100
lam, phi = np.linalg.eigh(Y)
o = np.argsort(-lam)
lam, phi = lam[o] - gamma, phi[:, o]
Ut = phi.T @ U0
L, _ = echelon_factor(Ut)
worst = 0.0
for f in (0.5, 1.0, 1.5):
    t = f * math.log(1 / alpha) / (2 * (1.0 - gamma))
    ref = to_np(mp_push(lam, Ut, alpha, t))
    F = stable_factor(lam, L, alpha, t)
    worst = max(worst, rel(F @ F.T, ref))
ck.le("stable form vs mpmath at alpha = 1e-100 (relative Frobenius)", worst, 1e-12)

# 2. factored target: the complement of the basis inside span(basis, U0) carries -gamma
n, gamma, alpha = 30, 0.5, 1e-4
B = orthogonal(n, rng)[:, :3]
vals = np.array([3.0, 1.5, 0.4])
U0 = rng.standard_normal((n, 2))
Yfull = (B * vals) @ B.T
perp = U0 - B @ (B.T @ U0)
Q2 = np.linalg.qr(perp)[0]
Q = np.concatenate([B, Q2], axis=1)
ts = np.linspace(0, 40, 5)


def reduced(comp):
    lam_r = np.concatenate([vals - gamma, [comp, comp]])
    o = np.argsort(-lam_r)
    L, _ = echelon_factor((Q[:, o]).T @ U0)
    return [Q[:, o] @ (lambda F: F @ F.T)(stable_factor(lam_r[o], L, alpha, t)) @ Q[:, o].T
            for t in ts[1:]]  # fmt: skip


full = ode_wd(Yfull, U0, alpha, gamma, ts)[1:]
ck.le("factored target, complement -gamma vs the full ODE",
      max(rel(a, b) for a, b in zip(reduced(-gamma), full, strict=True)), 2e-9)  # fmt: skip
ck.ge("factored target, complement 0 (naive) vs the full ODE",
      max(rel(a, b) for a, b in zip(reduced(0.0), full, strict=True)), 1e-3)  # fmt: skip

# 3. never-learned modes (spectral, eq. 3.1 with mu = sigma - gamma < 0)
worst = 0.0
for mu in (-0.1, -1.0, -3.0):
    for s in (0.5, 2.0):
        for a in (1e-2, 1e-8):
            t = np.linspace(0, 50, 200)
            g = np.expm1(2 * mu * t) / mu
            sig = a * s * np.exp(2 * mu * t) / (1 + a * s * g)
            worst = max(worst, float(np.max(sig / (a * s * np.exp(2 * mu * t)))))
ck.le("sigma_i(t) / (alpha s e^{-2 (gamma - sigma_i) t}) for sigma_i < gamma", worst, 1.0)

# 4. transition slopes 1 / (2 (sigma - gamma)), general init
spec, gamma = np.array([4.0, 2.0, 1.0, 0.5]), 0.8
Y = target(spec, 4)
U0 = rng.standard_normal((4, 4))
lam, phi = np.linalg.eigh(Y)
o = np.argsort(-lam)
lam, phi = lam[o] - gamma, phi[:, o]
L, _ = echelon_factor(phi.T @ U0)
logs = np.array([20.0, 40.0, 60.0])
times = np.zeros((3, 3))
for a_i, x in enumerate(logs):
    for k in range(3):

        def mode(t, k=k, x=x):
            F = stable_factor(lam, L, math.exp(-x), t)
            return float(F[k] @ F[k]) - 0.5 * lam[k]

        times[a_i, k] = brentq(mode, 1e-6, 10 * x / lam[k], xtol=1e-14, rtol=1e-14)
slopes = np.polyfit(logs, times, 1)[0]
ck.le("slope of half-way times vs 1/(2(sigma - gamma)) (relative)",
      float(np.max(np.abs(slopes * 2 * lam[:3] - 1))), 1e-6)  # fmt: skip
ck.ge("the unshifted constant 1/(2 sigma) is off by (relative)",
      float(np.min(np.abs(slopes * 2 * (lam[:3] + gamma) - 1))), 0.1)  # fmt: skip

# 5. the corrected theorem with weight decay
worst_ratio, slide_fail, naive_fail, cases, total = 0.0, 0, 0, 0, 0
for _inst in range(24):
    n = int(rng.integers(2, 5))
    spec = np.sort(rng.uniform(0.3, 4.0, n))[::-1]
    gamma = float(rng.uniform(0.0, 0.8 * spec[0]))
    Y = target(spec, n)
    U0 = rng.standard_normal((n, n + 1))
    lam, phi = np.linalg.eigh(Y)
    o = np.argsort(-lam)
    lam, phi = lam[o], phi[:, o]
    mu = lam - gamma
    K = int(np.sum(mu > 0))
    if K == 0 or np.min(np.diff(-mu[:K]), initial=1.0) < 0.05:
        continue
    Ut = phi.T @ U0
    sv = np.linalg.svd(Ut, compute_uv=False)
    M = max(1 / sv[-1] ** 2, sv[0] ** 2)
    eps = min(mu[K - 1], 1.0) * float(rng.choice([0.05, 0.3, 1.0]))
    c, C = eps / (16 * M**2), 16 * mu[0] ** 2 * M**2 / eps
    L, _ = echelon_factor(Ut)
    for alpha in (c / M * 1e-3, 1e-40):
        ends = [(math.log(C / alpha) / (2 * mu[k]),
                 math.log(c / alpha) / (2 * mu[k + 1]) if k + 1 < K else math.inf)
                for k in range(K)]  # fmt: skip
        if any(a > b for a, b in ends):
            continue
        cases += 1
        total += K
        for k, (a, b) in enumerate(ends):
            target_k = np.where(np.arange(n) <= k, np.maximum(mu, 0), 0.0)
            hi = b if math.isfinite(b) else 4 * a
            for t in np.linspace(a, hi, 25):
                F = stable_factor(mu, L, alpha, t)
                err = float(np.max(np.abs(np.linalg.eigvalsh(F @ F.T - np.diag(target_k)))))
                worst_ratio = max(worst_ratio, err / eps)
            F = stable_factor(mu, L, alpha, math.log(c / alpha) / (2 * mu[k]))  # slide
            slide = float(np.max(np.abs(np.linalg.eigvalsh(F @ F.T - np.diag(target_k)))))
            slide_fail += slide > eps
            naive = math.log(C / alpha) / (2 * lam[k])  # no weight decay in the interval
            F = stable_factor(mu, L, alpha, naive)
            err = float(np.max(np.abs(np.linalg.eigvalsh(F @ F.T - np.diag(target_k)))))
            naive_fail += err > eps
print(f"  ({cases} admissible (instance, alpha) pairs, {total} intervals)")
ck.le("max error / eps on the corrected intervals with sigma - gamma", worst_ratio, 0.25)
ck.ge("left ends of the slide with sigma - gamma where the error exceeds eps", slide_fail, 1)
ck.ge("left ends computed without weight decay where the error exceeds eps", naive_fail, 1)

# 6. U V^T with weight decay
m, n, gamma = 4, 3, 0.5
Yr = orthogonal(m, rng)[:, :3] @ np.diag([3.0, 1.5, 0.3]) @ orthogonal(n, rng).T


def asym_ode(U0, V0, alpha, ts):
    r = U0.shape[1]

    def rhs(_t, z):
        U, V = z[: m * r].reshape(m, r), z[m * r :].reshape(n, r)
        R = Yr - U @ V.T
        return np.concatenate([(R @ V - gamma * U).ravel(), (R.T @ U - gamma * V).ravel()])

    z0 = math.sqrt(alpha) * np.concatenate([U0.ravel(), V0.ravel()])
    sol = solve_ivp(rhs, (0, ts[-1]), z0, "DOP853", t_eval=ts, rtol=1e-12, atol=1e-16)
    return sol.y.T[:, : m * r].reshape(-1, m, r), sol.y.T[:, m * r :].reshape(-1, n, r)


ts = np.linspace(0, 12, 7)
U0, V0 = rng.standard_normal((m, 3)), rng.standard_normal((n, 3))  # any imbalance
U, V = asym_ode(U0, V0, 1.0, ts)
D = U.transpose(0, 2, 1) @ U - V.transpose(0, 2, 1) @ V
ck.le("imbalance vs e^{-2 gamma t} D(0) (absolute)",
      float(np.max(np.abs(D - np.exp(-2 * gamma * ts)[:, None, None] * D[0]))), 1e-11)  # fmt: skip
C0 = rng.standard_normal((3, 3))
Ub, Vb = orthogonal(m, rng)[:, :3] @ C0, orthogonal(n, rng)[:, :3] @ C0  # balanced
alpha = 1e-6
ts = np.linspace(0, 40, 9)
U, V = asym_ode(Ub, Vb, alpha, ts)
Ys = np.zeros((m + n, m + n))
Ys[:m, m:], Ys[m:, :m] = Yr, Yr.T
z0 = np.concatenate([Ub, Vb]) / math.sqrt(2)
prods = [2 * exact_wd(Ys, z0, alpha, gamma, t)[:m, m:] for t in ts[1:]]
ck.le("balanced U V^T vs symmetrized flow with Ybar - gamma I (relative)",
      max(rel(p, U[i + 1] @ V[i + 1].T) for i, p in enumerate(prods)), 2e-9)  # fmt: skip
p_, s_, qt_ = np.linalg.svd(Yr, full_matrices=False)
soft = (p_ * np.maximum(s_ - gamma, 0)) @ qt_
ck.le("U V^T at t = 40 vs soft-thresholded Y (absolute)",
      float(np.max(np.abs(U[-1] @ V[-1].T - soft))), 1e-8)  # fmt: skip
ck.done()
