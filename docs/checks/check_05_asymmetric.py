"""docs/math.md section 5: asymmetric factorization U V^T and the symmetrization.

1. The imbalance U^T U - V^T V is conserved by the flow (ODE, unbalanced init) and changes by
   eta^2 (V^T R^T R V - U^T R R^T U) per gradient-descent step (exactly).
2. The identity [U V^T V; V U^T U] = 1/2 Z Z^T Z - 1/2 J Z D and Z D Z^T = W J W.
3. A lambda-balanced init: Z / sqrt(2) follows the symmetric flow with target Ybar + (lam/2) J;
   U V^T = 2 W'_12 against an ODE solve (m > n, m < n, lam > 0, lam < 0, lam = 0).
4. Eigenvalues of Ybar + (lam/2) J: +-sqrt(s_i^2 + lam^2/4), and sign(m - n) lam/2 on |m - n|.
5. The limit: U V^T -> Y (best rank-r approximation for r < rank Y).
6. A general imbalance: W = Z Z^T obeys W' = Ybar W + W Ybar - W^2 + 1/2 (J W J W + W J W J),
   which is not of Riccati form; the constructions of lambda-balanced shapes need r <= m (lam > 0).
7. The unbalanced family's transition shifts against -log(g_i(rho)/g_i(0)) / (2 sigma_i).
"""

from __future__ import annotations

import math

import numpy as np
from _common import Checks, echelon_factor, rel, stable_factor
from scipy.integrate import solve_ivp

ck = Checks("section 5: asymmetric factorization")
rng = np.random.default_rng(11)


def orth_cols(rows, cols):
    q, r = np.linalg.qr(rng.standard_normal((rows, cols)))
    return q * np.sign(np.diag(r))


def target(m, n, s):
    return (orth_cols(m, len(s)) * np.asarray(s)) @ orth_cols(n, len(s)).T


def sym_target(Y, lam):
    m, n = Y.shape
    out = np.zeros((m + n, m + n))
    out[:m, m:], out[m:, :m] = Y, Y.T
    out[np.arange(m + n), np.arange(m + n)] = np.where(np.arange(m + n) < m, lam / 2, -lam / 2)
    return out


def asym_ode(Y, U0, V0, alpha, ts, rtol=1e-12):
    m, r = U0.shape
    z0 = math.sqrt(alpha) * np.concatenate([U0.ravel(), V0.ravel()])
    atol = 1e-3 * rtol * float(np.max(np.abs(z0)))

    def rhs(_t, z):
        U, V = z[: m * r].reshape(m, r), z[m * r :].reshape(-1, r)
        R = Y - U @ V.T
        return np.concatenate([(R @ V).ravel(), (R.T @ U).ravel()])

    sol = solve_ivp(rhs, (0, ts[-1]), z0, method="DOP853", t_eval=ts, rtol=rtol, atol=atol)
    return sol.y.T[:, : m * r].reshape(-1, m, r), sol.y.T[:, m * r :].reshape(-1, Y.shape[1], r)


def lam_balanced(m, n, r, lam0):
    """V0 = Q C, U0 = P (C^T C + lam0 I)^{1/2} (lam0 >= 0; swap roles for lam0 < 0)."""
    big, small = (m, n) if lam0 >= 0 else (n, m)
    k = min(small, r)
    C = rng.standard_normal((k, r)) / math.sqrt(r)
    a_small = orth_cols(small, k) @ C
    w, q = np.linalg.eigh(C.T @ C + abs(lam0) * np.eye(r))
    a_big = (
        orth_cols(big, r) @ (q * np.sqrt(np.maximum(w, 0))) @ q.T
        if lam0 != 0
        else orth_cols(big, k) @ C
    )
    return (a_big, a_small) if lam0 >= 0 else (a_small, a_big)


def exact_product(Y, U0, V0, alpha, t):
    """U V^T = 2 W'_12 from the symmetric closed form (stable float64 evaluation)."""
    m = Y.shape[0]
    lam0 = float(np.trace(U0.T @ U0 - V0.T @ V0)) / U0.shape[1]
    Ys = sym_target(Y, alpha * lam0)
    ev, phi = np.linalg.eigh(Ys)
    o = np.argsort(-ev)
    ev, phi = ev[o], phi[:, o]
    L = echelon_factor(phi.T @ (np.concatenate([U0, V0]) / math.sqrt(2)))[0]
    F = phi @ stable_factor(ev, L, alpha, t)
    return 2 * (F @ F.T)[:m, m:]


# 1. conservation
Y = target(4, 3, [3.0, 2.0, 1.0])
U0, V0 = rng.standard_normal((4, 3)), 0.3 * rng.standard_normal((3, 3))
Us, Vs = asym_ode(Y, U0, V0, 1e-2, np.array([5.0, 20.0]))
D0 = 1e-2 * (U0.T @ U0 - V0.T @ V0)
drift = max(float(np.max(np.abs(U.T @ U - V.T @ V - D0))) for U, V in zip(Us, Vs, strict=True))
ck.le(
    "imbalance drift along an unbalanced ODE trajectory / ||D0||",
    drift / float(np.max(np.abs(D0))),
    1e-9,
)
U, V, eta = rng.standard_normal((4, 3)), rng.standard_normal((3, 3)), 0.1
R = Y - U @ V.T
U1, V1 = U + eta * R @ V, V + eta * R.T @ U
dD = (U1.T @ U1 - V1.T @ V1) - (U.T @ U - V.T @ V)
pred = eta**2 * (V.T @ R.T @ R @ V - U.T @ R @ R.T @ U)
ck.le("GD step: change of imbalance vs eta^2 (V^T R^T R V - U^T R R^T U)", rel(dD, pred), 1e-12)

# 2. symmetrization identity
Z = np.concatenate([U, V])
J = np.diag(np.r_[np.ones(4), -np.ones(3)])
D = U.T @ U - V.T @ V
lhs = np.concatenate([U @ V.T @ V, V @ U.T @ U])
ck.le(
    "[U V^T V; V U^T U] = 1/2 Z Z^T Z - 1/2 J Z D",
    rel(lhs, 0.5 * Z @ Z.T @ Z - 0.5 * J @ Z @ D),
    1e-14,
)
W = Z @ Z.T
ck.le("Z D Z^T = W J W", rel(Z @ D @ Z.T, W @ J @ W), 1e-14)

# 3. lambda-balanced: closed form through the symmetrized problem vs ODE
worst = worst_bal = 0.0
for m, n, r, lam0 in [
    (4, 3, 3, 1.5),
    (3, 4, 3, -0.8),
    (4, 3, 4, 0.7),
    (3, 3, 3, 0.0),
    (5, 2, 2, 0.0),
]:
    Y = target(m, n, [3.0, 2.0, 1.0][: min(m, n)])
    U0, V0 = lam_balanced(m, n, r, lam0)
    worst_bal = max(worst_bal, float(np.max(np.abs(U0.T @ U0 - V0.T @ V0 - lam0 * np.eye(r)))))
    ts = np.array([0.5, 3.0, 6.0, 12.0])
    Us, Vs = asym_ode(Y, U0, V0, 1e-4, ts)
    for k, t in enumerate(ts):
        worst = max(worst, rel(exact_product(Y, U0, V0, 1e-4, t), Us[k] @ Vs[k].T))
ck.le("constructed shapes: max |U0^T U0 - V0^T V0 - lam0 I|", worst_bal, 1e-13)
ck.le("U V^T = 2 W'_12 (symmetrized closed form) vs ODE, 5 shapes", worst, 1e-9)
# with the lambda term dropped the answer is wrong
Y = target(4, 3, [3.0, 2.0, 1.0])
U0, V0 = lam_balanced(4, 3, 3, 1.5)
ev, phi = np.linalg.eigh(sym_target(Y, 0.0))
o = np.argsort(-ev)
L = echelon_factor(phi[:, o].T @ (np.concatenate([U0, V0]) / math.sqrt(2)))[0]
F = phi[:, o] @ stable_factor(ev[o], L, 1.0, 2.0)
Us, Vs = asym_ode(Y, U0, V0, 1.0, np.array([2.0]))
ck.ge(
    "dropping (lam/2) J from the target (alpha = 1): error vs ODE",
    rel(2 * (F @ F.T)[:4, 4:], Us[0] @ Vs[0].T),
    1e-3,
)

# 4. eigenvalues of Ybar + (lam/2) J
worst = 0.0
for m, n, lam in [(4, 3, 1.3), (3, 5, -0.6), (3, 3, 2.0)]:
    Y = target(m, n, [3.0, 1.0, 0.5][: min(m, n)])
    s = np.linalg.svd(Y, compute_uv=False)
    mu = np.sqrt(s**2 + lam**2 / 4)
    pred = np.sort(np.r_[mu, -mu, np.full(abs(m - n), np.sign(m - n) * lam / 2)])
    worst = max(worst, float(np.max(np.abs(np.linalg.eigvalsh(sym_target(Y, lam)) - pred))))
ck.le("spectrum of Ybar + (lam/2) J", worst, 1e-13)

# 5. limit U V^T -> Y, and best rank-r for r < rank
Y = target(4, 3, [3.0, 2.0, 1.0])
U0, V0 = lam_balanced(4, 3, 3, 0.9)
ck.le(
    "U V^T at t = 60 (lambda-balanced, r = 3) vs Y",
    rel(exact_product(Y, U0, V0, 1e-6, 60.0), Y),
    1e-12,
)
U0, V0 = lam_balanced(4, 3, 2, 0.9)
u, s, vt = np.linalg.svd(Y)
ck.le(
    "U V^T at t = 60 (r = 2) vs best rank-2 approximation",
    rel(exact_product(Y, U0, V0, 1e-6, 60.0), (u[:, :2] * s[:2]) @ vt[:2]),
    1e-12,
)

# 6. general imbalance: the quadratic ODE of W = Z Z^T (not Riccati)
Y = target(4, 3, [3.0, 2.0, 1.0])
Ybar = sym_target(Y, 0.0)
U, V = rng.standard_normal((4, 3)), rng.standard_normal((3, 3))
Z = np.concatenate([U, V])
R = Y - U @ V.T
Zdot = np.concatenate([R @ V, R.T @ U])
W = Z @ Z.T
Wdot = Zdot @ Z.T + Z @ Zdot.T
pred = Ybar @ W + W @ Ybar - W @ W + 0.5 * (J @ W @ J @ W + W @ J @ W @ J)
ck.le(
    "W' = Ybar W + W Ybar - W^2 + (JWJW + WJWJ)/2 at a random unbalanced Z", rel(Wdot, pred), 1e-13
)
U0 = rng.standard_normal((3, 4))  # r = 4 > m = 3: U0^T U0 has rank 3, so cannot be V0^T V0 + lam I
ck.le(
    "r > m: smallest eigenvalue of U0^T U0 (so U0^T U0 = V0^T V0 + lam I, lam > 0, is impossible)",
    float(np.linalg.eigvalsh(U0.T @ U0)[0]),
    1e-13,
)

# 7. unbalanced family: transition shifts vs the linear-phase prediction
Y = target(4, 3, [3.0, 2.0, 1.0])
pu, sig, pvt = np.linalg.svd(Y)
k = 3
C = rng.standard_normal((3, 3)) / math.sqrt(3)
Ub, Vb = orth_cols(4, 3) @ C, orth_cols(3, 3) @ C
alpha = 1e-6
ts = np.linspace(0.0, 40.0, 4001)


def half_times(U0, V0):
    Us, Vs = asym_ode(Y, U0, V0, alpha, ts, rtol=1e-11)
    sv = np.linalg.svd(Us @ np.swapaxes(Vs, 1, 2), compute_uv=False)
    out = []
    for i in range(k):
        j = int(np.argmax(sv[:, i] >= sig[i] / 2))
        f0, f1 = sv[j - 1, i] - sig[i] / 2, sv[j, i] - sig[i] / 2
        out.append(ts[j - 1] + (ts[j] - ts[j - 1]) * f0 / (f0 - f1))
    return np.array(out)


def weights(U0, V0):
    B = pu[:, :k].T @ U0 + pvt[:k] @ V0
    return np.diag(np.linalg.qr(B.T, mode="r")) ** 2


t0, g0 = half_times(Ub, Vb), weights(Ub, Vb)
worst = 0.0
for rho in (0.5, 0.9, 0.99):
    sh = 0.5 * math.atanh(rho)
    U0, V0 = math.exp(sh) * Ub, math.exp(-sh) * Vb
    D = U0.T @ U0 - V0.T @ V0
    assert abs(np.linalg.norm(D, 2) / np.linalg.norm(U0.T @ U0 + V0.T @ V0, 2) - rho) < 1e-12
    shift = half_times(U0, V0) - t0
    pred = -np.log(weights(U0, V0) / g0) / (2 * sig)
    print(
        f"  info: rho = {rho}: measured shifts {np.round(shift, 4)}, predicted {np.round(pred, 4)}"
    )
    worst = max(worst, float(np.max(np.abs(shift - pred))))
ck.le("unbalanced transition shift - prediction (time units, max over rho, modes)", worst, 0.01)
ck.done()
