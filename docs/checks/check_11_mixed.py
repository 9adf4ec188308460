"""docs/math.md section 11: the mixed lazy/active dynamics of Tu, Aranguri & Jacot.

1. From one SVD of B0: factors with U0 V0^T = B0, U0^T U0 - V0^T V0 = +-2c I, and the Grams
   U0 U0^T = sqrt(B0 B0^T + c^2) +- c, V0 V0^T = sqrt(B0^T B0 + c^2) -+ c (matrix square roots
   by scipy.linalg.sqrtm).
2. The self-consistent ODE B' = -(sqrt(B B^T + c^2) G + G sqrt(B^T B + c^2)) (DOP853) against
   2 W'_12 of the symmetric closed form with target Ybar +- c J (stable form of section 2), for
   square and rectangular B, small and large c; both signs of lambda give the same B(t).
3. mpmath: the push-through form of the symmetrized problem at a tiny init (B0 ~ 1e-40).
4. Their Euler scheme converges at order 1; the lazy limit c >> ||Y||: B ~ Y + e^{-2ct}(B0 - Y).
"""

from __future__ import annotations

import math

import numpy as np
from _common import Checks, echelon_factor, mp_push, rel, stable_factor, to_np
from scipy.integrate import solve_ivp
from scipy.linalg import sqrtm

ck = Checks("section 11: mixed dynamics")
rng = np.random.default_rng(11)


def psd_sqrt(S):
    return np.real(sqrtm(S))


def factors(B0, c, sign):
    """lambda = 2 sign c, r = m (sign +) or n (sign -): from the full SVD of B0."""
    m, n = B0.shape
    P, s, Qt = np.linalg.svd(B0)
    r = m if sign > 0 else n
    sv = np.zeros(r)
    sv[: s.size] = s
    big = np.sqrt(np.sqrt(sv**2 + c * c) + c)
    small = sv / big
    if sign > 0:  # U m x m, V n x m
        V = np.zeros((n, m))
        k = min(m, n)
        V[:, :k] = Qt.T[:, :k] * small[:k]
        return P * big, V
    U = np.zeros((m, n))
    k = min(m, n)
    U[:, :k] = P[:, :k] * small[:k]
    return U, Qt.T * big


def sym(Y, lam):
    m, n = Y.shape
    out = np.zeros((m + n, m + n))
    out[:m, m:], out[m:, :m] = Y, Y.T
    out[np.arange(m + n), np.arange(m + n)] = np.where(np.arange(m + n) < m, lam / 2, -lam / 2)
    return out


def closed(Y, B0, c, sign, ts):
    m = Y.shape[0]
    U0, V0 = factors(B0, c, sign)
    lam, phi = np.linalg.eigh(sym(Y, 2 * sign * c))
    o = np.argsort(-lam)
    lam, phi = lam[o], phi[:, o]
    L, _ = echelon_factor(phi.T @ (np.concatenate([U0, V0]) / math.sqrt(2)))
    out = []
    for t in ts:
        F = phi @ stable_factor(lam, L, 1.0, t)
        out.append(2 * (F @ F.T)[:m, m:])
    return np.array(out)


def sc_ode(Y, B0, c, ts):
    m, n = Y.shape

    def rhs(_t, b):
        B = b.reshape(m, n)
        G = B - Y
        return -(psd_sqrt(B @ B.T + c * c * np.eye(m)) @ G
                 + G @ psd_sqrt(B.T @ B + c * c * np.eye(n))).ravel()  # fmt: skip

    sol = solve_ivp(rhs, (0, ts[-1]), B0.ravel(), "DOP853", t_eval=ts, rtol=1e-13, atol=1e-14)
    return sol.y.T.reshape(-1, m, n)


# 1. the construction
worst = 0.0
for m, n in [(5, 5), (3, 5), (5, 3)]:
    B0 = rng.standard_normal((m, n))
    c = 0.8
    for sign in (1, -1):
        U0, V0 = factors(B0, c, sign)
        L = psd_sqrt(B0 @ B0.T + c * c * np.eye(m))
        R = psd_sqrt(B0.T @ B0 + c * c * np.eye(n))
        errs = [
            np.abs(U0 @ V0.T - B0).max(),
            np.abs(U0.T @ U0 - V0.T @ V0 - 2 * sign * c * np.eye(U0.shape[1])).max(),
            np.abs(U0 @ U0.T - (L + sign * c * np.eye(m))).max(),
            np.abs(V0 @ V0.T - (R - sign * c * np.eye(n))).max(),
        ]
        worst = max(worst, max(errs))
ck.le("factor identities (U V^T, imbalance, both Grams), both signs", worst, 1e-12)

# 2. the self-consistent ODE vs the closed form; both signs
worst, worst_sign = 0.0, 0.0
ts = np.linspace(0, 4, 9)
for m, n in [(5, 5), (3, 5), (5, 3)]:
    for c in (0.3, 5.0):
        Y = 2 * rng.standard_normal((m, n))
        B0 = 0.1 * rng.standard_normal((m, n))
        ode = sc_ode(Y, B0, c, ts)
        plus, minus = closed(Y, B0, c, 1, ts), closed(Y, B0, c, -1, ts)
        worst = max(worst, max(rel(plus[i], ode[i]) for i in range(1, ts.size)))
        worst_sign = max(worst_sign, max(rel(plus[i], minus[i]) for i in range(1, ts.size)))
ck.le("closed form vs DOP853 on the self-consistent ODE (relative)", worst, 1e-10)
ck.le("lambda = +2c vs lambda = -2c (relative)", worst_sign, 1e-12)

# 3. mpmath at a tiny init
m, n, c = 3, 4, 1e-3
Y = rng.standard_normal((m, n)) * 2
B0 = 1e-40 * rng.standard_normal((m, n))
U0, V0 = factors(B0, c, 1)
z0 = np.concatenate([U0, V0]) / math.sqrt(2)
lam, phi = np.linalg.eigh(sym(Y, 2 * c))
o = np.argsort(-lam)
lam, phi = lam[o], phi[:, o]
Ut = phi.T @ z0
L, _ = echelon_factor(Ut)
worst = 0.0
for t in (10.0, 25.0, 45.0):
    ref = phi @ to_np(mp_push(lam, Ut, 1.0, t, dps=200)) @ phi.T
    F = phi @ stable_factor(lam, L, 1.0, t)
    worst = max(worst, rel(2 * (F @ F.T)[:m, m:], 2 * ref[:m, m:]))
ck.le("closed form vs mpmath, B0 ~ 1e-40, c = 1e-3 (relative)", worst, 1e-12)

# 4. Euler order and the lazy limit
Y = rng.standard_normal((4, 5))
B0 = 0.1 * rng.standard_normal((4, 5))
c = 0.5
exact = closed(Y, B0, c, 1, [2.0])[0]
gaps = []
for eta in (4e-3, 2e-3):
    B = B0.copy()
    for _ in range(round(2.0 / eta)):
        G = B - Y
        B = B - eta * (psd_sqrt(B @ B.T + c * c * np.eye(4)) @ G
                       + G @ psd_sqrt(B.T @ B + c * c * np.eye(5)))  # fmt: skip
    gaps.append(float(np.abs(B - exact).max()))
ck.le("Euler: |log2(gap(eta) / gap(eta/2)) - 1|", abs(math.log2(gaps[0] / gaps[1]) - 1), 0.05)
c = 1e4
ts = np.array([0.1, 0.5, 1.0]) / (2 * c)
lazy = Y[None] + np.exp(-2 * c * ts)[:, None, None] * (B0 - Y)[None]
dev = float(np.abs(closed(Y, B0, c, 1, ts) - lazy).max())
ck.le("lazy limit c = 1e4: |B - (Y + e^{-2ct}(B0 - Y))| * c / ||Y||^2", dev * c /
      float(np.linalg.norm(Y, 2)) ** 2, 1.0)  # fmt: skip
ck.done()
