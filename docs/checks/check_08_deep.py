"""docs/math.md section 8: deep factorization, exact per-mode curves.

1. G'(w) = L / (w^{L-1} (1 - w^L)) for the antiderivative over the L-th roots of unity;
2. t(s) = (G(w) - G(w0)) / (L sigma^p) against mpmath quadrature of int ds / (L s^p (sigma - s));
3. s(t) by inversion in the logit variable against an ODE solve (du/dt = L sigma s^{p-1});
4. the case s0 > sigma (quadrature in y = log(s - sigma)) and sigma = 0 (closed form);
5. L = 2 is eq. 7 with no time rescaling;
6. a balanced spectral init of W_3 W_2 W_1 (simulated) follows the per-mode curves and stays
   balanced;
7. large depth: t(sigma/2) ~ (s0/sigma)^{-(1-2/L)} / ((L-2) sigma^p), and the float64
   resolution limit s0/sigma < eps^{L/(L-2)}.
"""

from __future__ import annotations

import cmath
import math

import mpmath as mp
import numpy as np
from _common import Checks, orthogonal
from scipy.integrate import quad, solve_ivp
from scipy.optimize import brentq

ck = Checks("section 8: deep factorization")
EPS = float(np.finfo(float).eps)


def G_logv(logv: float, L: int) -> float:
    """Antiderivative G(w) of L / (w^{L-1} (1 - w^L)), 0 < w < 1, from log v = L log w.

    G(w) = L w^{2-L}/(2-L) (2 log w at L = 2) - log(1 - w) - sum_k Re(om_k^2 log(w - om_k)),
    om_k = e^{2 pi i k / L}, k = 1..L-1; log(1 - w) = log(-expm1(log v / L)) (no cancellation).
    """
    w = math.exp(logv / L)
    first = 2 * logv / L if L == 2 else L * math.exp((2 - L) * logv / L) / (2 - L)
    roots = [cmath.exp(2j * math.pi * k / L) for k in range(1, L)]
    tail = sum((om * om * cmath.log(w - om)).real for om in roots)
    return first - math.log(-math.expm1(logv / L)) - tail


def G(w: float, L: int) -> float:
    return G_logv(L * math.log(w), L)


def G_mp(w, L):
    """The same antiderivative in mpmath (for differentiation at high precision)."""
    first = 2 * mp.log(w) if L == 2 else L * w ** (2 - L) / (2 - L)
    roots = [mp.expjpi(mp.mpf(2 * k) / L) for k in range(1, L)]
    return first - mp.log(1 - w) - sum(mp.re(om**2 * mp.log(w - om)) for om in roots)


def t_of(s: float, sigma: float, s0: float, L: int) -> float:
    p = 2 - 2 / L
    return (G_logv(math.log(s / sigma), L) - G_logv(math.log(s0 / sigma), L)) / (L * sigma**p)


def t_of_u(u: float, sigma: float, s0: float, L: int) -> float:
    """t as a function of the logit u = log(s / (sigma - s)): log v = -log(1 + e^{-u})."""
    p = 2 - 2 / L
    logv = -(max(-u, 0.0) + math.log1p(math.exp(-abs(u))))
    return (G_logv(logv, L) - G_logv(math.log(s0 / sigma), L)) / (L * sigma**p)


def s_of(t: float, sigma: float, s0: float, L: int) -> float:
    """Inverse of t_of by brentq in u = logit(s/sigma) (only below sigma)."""
    u0 = math.log(s0 / (sigma - s0))

    def f(u):
        return t_of_u(u, sigma, s0, L) - t

    hi = u0 + 1
    while f(hi) < 0:
        if hi >= 700.0:  # s = sigma to far below float64 resolution
            return sigma
        hi = min(u0 + 2 * (hi - u0), 700.0)
    u = brentq(f, u0, hi, xtol=1e-14, rtol=4 * EPS)
    return sigma / (1 + math.exp(-u))


# 1. derivative of G
worst = 0.0
worst_f = 0.0
with mp.workdps(50):
    for L in range(2, 8):
        for w in ("0.05", "0.3", "0.7", "0.95", "0.999"):
            w = mp.mpf(w)
            d = mp.diff(lambda x, L=L: G_mp(x, L), w)
            worst = max(worst, float(abs(d / (L / (w ** (L - 1) * (1 - w**L))) - 1)))
            worst_f = max(worst_f, float(abs((G(float(w), L) - G_mp(w, L)) / G_mp(w, L))))
ck.le("G'(w) = L / (w^{L-1}(1 - w^L)), L = 2..7 (mpmath derivative, rel.)", worst, 1e-40)
ck.le("float64 G(w) vs mpmath G(w) (rel.)", worst_f, 1e-13)

# 2. t(s) against quadrature
worst = 0.0
for L in (2, 3, 5):
    p = 2 - 2 / L
    for sigma, s0, s in [(1.0, 1e-3, 0.5), (2.5, 1e-10, 2.0), (0.7, 1e-6, 0.01)]:
        with mp.workdps(40):
            pts = sorted({s0, *[x for x in np.geomspace(s0, s, 8)], s})
            ref = mp.quad(
                lambda x, L=L, p=p, sg=sigma: 1 / (L * x**p * (sg - x)),
                [mp.mpf(float(x)) for x in pts],
            )
        worst = max(worst, abs(t_of(s, sigma, s0, L) / float(ref) - 1))
ck.le("t(s) from G vs mpmath quadrature (rel.)", worst, 1e-12)

# 3. s(t) by inversion against an ODE in the logit variable
worst = 0.0
for L in (2, 3, 4):
    p = 2 - 2 / L
    sigma, s0 = 1.5, 1e-4
    t_end = 2 * t_of(0.99 * sigma, sigma, s0, L)
    ts = np.linspace(0.05, 1.0, 12) * t_end

    def rhs(_t, u, L=L, p=p, sigma=sigma):
        s = sigma / (1 + math.exp(-u[0]))
        return [L * sigma * s ** (p - 1)]

    sol = solve_ivp(
        rhs,
        (0, t_end),
        [math.log(s0 / (sigma - s0))],
        method="DOP853",
        t_eval=ts,
        rtol=1e-13,
        atol=1e-13,
    )
    for t, u in zip(ts, sol.y[0], strict=True):
        s = s_of(t, sigma, s0, L)
        s_ode = sigma / (1 + math.exp(-u))
        gap_ode = sigma / (1 + math.exp(u))  # sigma - s without cancellation
        worst = max(
            worst,
            abs(s / s_ode - 1),
            abs((sigma - s) / gap_ode - 1) if sigma - s > 1e-3 * sigma else 0.0,
        )
ck.le("s(t) (inversion) vs ODE: rel. error in s and in sigma - s", worst, 1e-9)

# 4. s0 > sigma and sigma = 0
worst = 0.0
for L in (2, 3):
    p = 2 - 2 / L
    sigma, s0 = 0.5, 3.0
    sol = solve_ivp(
        lambda _t, s, L=L, p=p, sg=sigma: [L * s[0] ** p * (sg - s[0])],
        (0, 4),
        [s0],
        method="DOP853",
        t_eval=[0.5, 2.0, 4.0],
        rtol=1e-13,
        atol=1e-15,
    )
    for t, s_ode in zip(sol.t, sol.y[0], strict=True):
        tq = (
            quad(
                lambda y, p=p, sg=sigma: (sg + math.exp(y)) ** -p,
                math.log(s_ode - sigma),
                math.log(s0 - sigma),
                epsabs=0,
                epsrel=1e-13,
            )[0]
            / L
        )
        worst = max(worst, abs(tq / t - 1))
    sol = solve_ivp(
        lambda _t, s, L=L, p=p: [-L * s[0] ** (p + 1)],
        (0, 4),
        [2.0],
        method="DOP853",
        t_eval=[4.0],
        rtol=1e-13,
        atol=1e-15,
    )
    worst = max(worst, abs(2.0 * (1 + p * L * 4.0 * 2.0**p) ** (-1 / p) / sol.y[0][-1] - 1))
ck.le(
    "s0 > sigma: t = (1/L) int (sigma + e^y)^{-p} dy; sigma = 0: s0 (1 + pLt s0^p)^{-1/p} (vs ODE)",
    worst,
    1e-9,
)

# 5. L = 2 is eq. 7
worst = 0.0
for sigma, s0 in [(1.0, 1e-6), (3.0, 1e-30), (0.4, 0.2)]:
    for frac in (0.1, 0.6, 0.9):
        s = frac * sigma
        lg = (math.log(s / (sigma - s)) - math.log(s0 / (sigma - s0))) / (2 * sigma)
        worst = max(worst, abs(t_of(s, sigma, s0, 2) / lg - 1))
    t = 5.0
    eq7 = s0 * math.exp(2 * sigma * t) / (1 + s0 * math.expm1(2 * sigma * t) / sigma)
    worst = max(worst, abs(s_of(t, sigma, s0, 2) / eq7 - 1))
ck.le(
    "L = 2: t(s) = (logit(s/sigma) - logit(s0/sigma))/(2 sigma) and s(t) = eq. 7 (alpha s_i = s0)",
    worst,
    1e-12,
)

# 6. balanced spectral init of a depth-3 network, simulated
rng = np.random.default_rng(19)
nn, L = 3, 3
P, Q = orthogonal(nn, rng), orthogonal(nn, rng)
sig = np.array([2.0, 1.0, 0.5])
Y = (P * sig) @ Q.T
c = np.array([1.0, 0.5, 2.0])
alpha = 1e-3
Rs = [Q] + [orthogonal(nn, rng) for _ in range(L - 1)] + [P]  # R_0 = Q, R_L = P
F = [Rs[j + 1] @ np.diag(c ** (1 / L)) @ Rs[j].T for j in range(L)]  # F_1 ... F_L


def deep_rhs(_t, x):
    """W_j' = (W_L ... W_{j+1})^T R (W_{j-1} ... W_1)^T, R = Y - W_3 W_2 W_1 (L = 3)."""
    W1, W2, W3 = (x[k * 9 : (k + 1) * 9].reshape(3, 3) for k in range(L))
    R = Y - W3 @ W2 @ W1
    d1 = (W3 @ W2).T @ R
    d2 = W3.T @ R @ W1.T
    d3 = R @ (W2 @ W1).T
    return np.concatenate([d1.ravel(), d2.ravel(), d3.ravel()])


x0 = np.concatenate([(alpha ** (1 / L) * f).ravel() for f in F])
ts = np.array([5.0, 20.0, 60.0, 200.0])
sol = solve_ivp(deep_rhs, (0, ts[-1]), x0, method="DOP853", t_eval=ts, rtol=1e-12, atol=1e-15)
worst = bal = 0.0
for k, t in enumerate(ts):
    Ws = [sol.y[:, k][j * 9 : (j + 1) * 9].reshape(3, 3) for j in range(L)]
    sv = np.linalg.svd(Ws[2] @ Ws[1] @ Ws[0], compute_uv=False)
    exact = np.sort([s_of(t, sg, alpha * ci, L) for sg, ci in zip(sig, c, strict=True)])[::-1]
    worst = max(worst, float(np.max(np.abs(sv - exact) / exact)))
    bal = max(
        bal,
        max(float(np.max(np.abs(Ws[j + 1].T @ Ws[j + 1] - Ws[j] @ Ws[j].T))) for j in range(L - 1)),
    )
ck.le(
    "depth-3 balanced spectral init: singular values of W_3 W_2 W_1 (ODE) vs per-mode curves",
    worst,
    1e-8,
)
ck.le("...and the factors stay balanced: max |W_{j+1}^T W_{j+1} - W_j W_j^T|", bal, 1e-9)

# 7. large depth: transition time and the float64 resolution limit
worst = 0.0
for L in (3, 4, 6):
    p = 2 - 2 / L
    sigma, v0 = 1.3, 1e-12
    approx = v0 ** (-(1 - 2 / L)) / ((L - 2) * sigma**p)
    worst = max(worst, abs(t_of(0.5 * sigma, sigma, v0 * sigma, L) / approx - 1))
ck.le(
    "t(sigma/2) vs (s0/sigma)^{-(1-2/L)} / ((L-2) sigma^p) at s0/sigma = 1e-12, L = 3, 4, 6",
    worst,
    2e-3,
)
L, sigma = 3, 1.0
width = t_of(0.9, sigma, 0.1, L)  # t(0.9 sigma) - t(0.1 sigma): independent of s0
for v0, expect_resolved in ((1e-30, True), (1e-60, False)):
    t_half = v0 ** (-1 / 3) / (1 * sigma ** (4 / 3))
    resolved = width > t_half * EPS
    ck.le(
        f"L = 3, s0/sigma = {v0:g}: width / (t eps) = {width / (t_half * EPS):.2g} "
        f"(resolved: {expect_resolved})",
        0.0 if resolved == expect_resolved else 1.0,
        0.0,
    )
ck.done()
