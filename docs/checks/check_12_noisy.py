"""docs/math.md section 12: learning from a noisy target, when to stop.

1. The exact rate d/dt ||W - Y*||^2 = 4 <(W - Y*) F, (Y - W) F> (W = F F^T) against central
   differences of the error, on the stable form of section 2.
2. The spiked-model predictions against Monte Carlo: outliers and overlaps (symmetric, n = 1000;
   rectangular 2000 x 400).
3. The per-spike errors: learned fully 2a + 3a^2/theta^2, at the best fraction 2a - a^2/theta^2,
   truncation helps iff theta^2 > 3a (a = s^2 n), against direct evaluation of the formulas.
4. The alpha -> 0 optimal early-stopping error and the best truncation error against the exact
   flow from W0 = alpha I (per-mode logistic curves, eq. 3.1, on the eigendecomposition of Y),
   n = 250 .. 1000, 3 seeds each: relative deviations against the stated 2/sqrt(n).
5. Finite alpha: the optimum approaches the alpha -> 0 value from below or above.
"""

from __future__ import annotations

import math

import numpy as np
from _common import Checks, echelon_factor, stable_factor
from scipy.optimize import brentq

ck = Checks("section 12: noisy targets")
rng = np.random.default_rng(12)


def frame(n, k):
    q, r = np.linalg.qr(rng.standard_normal((n, k)))
    return q * np.sign(np.diag(r))


def goe(n, s):
    G = rng.standard_normal((n, n))
    return s * (G + G.T) / math.sqrt(2)


def predict(theta, s, n):
    """Symmetric spiked model: outliers, overlaps, per-spike contributions (a = s^2 n)."""
    a = s * s * n
    x = theta / math.sqrt(a)
    det = x > 1
    y = np.where(det, math.sqrt(a) * (x + 1 / np.where(det, x, 1)), 2 * math.sqrt(a))
    c2 = np.where(det, 1 - 1 / np.where(det, x, 1) ** 2, 0.0)
    full = y * y + theta * theta - 2 * y * theta * c2
    part = theta * theta * (1 - c2 * c2)
    trunc = min(
        math.sqrt(sum(full[i] if i < j else theta[i] ** 2 for i in range(theta.size)))
        for j in range(int(det.sum()) + 1)
    )
    best = sum(theta**2)
    for j in np.flatnonzero(det):
        best = min(best, full[:j].sum() + part[j] + (theta[j + 1 :] ** 2).sum())
    return y, c2, full, part, trunc, math.sqrt(best)


# 1. the rate formula
n, k = 12, 2
B = frame(n, k)
theta = np.array([8.0, 5.0])
Ys = (B * theta) @ B.T
Y = Ys + goe(n, 0.5)
lam, phi = np.linalg.eigh(Y)
o = np.argsort(-lam)
lam, phi = lam[o], phi[:, o]
U0 = rng.standard_normal((n, 3))
L, _ = echelon_factor(phi.T @ U0)
C = phi.T @ B


def err2(t):
    F = stable_factor(lam, L, 1e-6, t)
    W = F @ F.T
    return float(np.sum((W - C @ np.diag(theta) @ C.T) ** 2))


def rate(t):
    F = stable_factor(lam, L, 1e-6, t)
    W = F @ F.T
    A = W - C @ np.diag(theta) @ C.T
    return 4.0 * float(np.sum((A @ F) * (lam[:, None] * F - W @ F)))


worst = 0.0
for t in np.linspace(0.3, 2.0, 9):
    h = 1e-5 * t
    fd = (err2(t + h) - err2(t - h)) / (2 * h)
    worst = max(worst, abs(fd - rate(t)) / max(abs(rate(t)), 1.0))
ck.le("exact rate vs central differences (relative)", worst, 1e-7)

# 2. outliers and overlaps, Monte Carlo
n, s = 1000, 1.0
xs = np.array([3.0, 2.0, 1.5, 0.6])
theta = xs * math.sqrt(n)
B = frame(n, 4)
lam, vec = np.linalg.eigh((B * theta) @ B.T + goe(n, s))
lam, vec = lam[::-1], vec[:, ::-1]
y, c2, *_ = predict(theta, s, n)
det = xs > 1
ck.le("symmetric outliers vs theta + a/theta (units of s)",
      float(np.max(np.abs(lam[:3] - y[:3]))), 3.0)  # fmt: skip
ck.le("symmetric overlaps vs 1 - a/theta^2",
      float(np.max(np.abs((vec[:, :3].T @ B[:, :3]).diagonal() ** 2 - c2[:3]))),
      3 / math.sqrt(n))  # fmt: skip
m, n = 2000, 400
beta = n / m
xr = np.array([3.0, 2.0, 1.4]) * beta**0.25
theta = xr * s * math.sqrt(m)
P, Q = frame(m, 3), frame(n, 3)
u, sv, vt = np.linalg.svd((P * theta) @ Q.T + s * rng.standard_normal((m, n)),
                          full_matrices=False)  # fmt: skip
x = theta / (s * math.sqrt(m))
ypred = s * math.sqrt(m) * np.sqrt((x + 1 / x) * (x + beta / x))
c_short = (x**4 - beta) / (x**4 + beta * x**2)  # the n-side (shorter)
c_long = (x**4 - beta) / (x**4 + x**2)  # the m-side (longer)
ck.le("rectangular outliers (units of s)", float(np.max(np.abs(sv[:3] - ypred))), 3.0)
dev_long = float(np.max(np.abs((u[:, :3].T @ P).diagonal() ** 2 - c_long)))
dev_short = float(np.max(np.abs((vt[:3] @ Q).diagonal() ** 2 - c_short)))
ck.le("rectangular overlaps, longer side", dev_long, 3 / math.sqrt(n))
ck.le("rectangular overlaps, shorter side", dev_short, 3 / math.sqrt(n))

# 3. per-spike errors
a = 100.0
th = np.array([30.0, 15.0, 12.0])
y, c2, full, part, *_ = predict(th, 1.0, 100)
ck.le("learned fully: 2a + 3a^2/theta^2", float(np.max(np.abs(full - (2 * a + 3 * a**2 / th**2)))),
      1e-10)  # fmt: skip
ck.le("best fraction: 2a - a^2/theta^2", float(np.max(np.abs(part - (2 * a - a**2 / th**2)))),
      1e-10)  # fmt: skip
f = th * c2 / y
fgrid = np.linspace(0, 1, 100001)
num = np.array([np.min((fgrid * yy) ** 2 - 2 * fgrid * yy * tt * cc + tt**2)
                for yy, tt, cc in zip(y, th, c2, strict=True)])  # fmt: skip
ck.le("best fraction f* = theta c^2 / y vs a grid over f", float(np.max(np.abs(num - part))), 1e-6)
ck.le("f* = (x^2 - 1)/(x^2 + 1)", float(np.max(np.abs(f - ((th / 10) ** 2 - 1) /
      ((th / 10) ** 2 + 1)))), 1e-14)  # fmt: skip
ck.le("truncation helps iff theta^2 > 3a: sign check at theta^2 = 2.9a, 3.1a",
      float((2 * a + 3 * a**2 / (2.9 * a) < 2.9 * a) + (2 * a + 3 * a**2 / (3.1 * a) > 3.1 * a)),
      0.0)  # fmt: skip


# 4. the exact flow from W0 = alpha I (per-mode logistic curves) vs the predictions
def optimum(lam, cdiag, ynorm2, alpha):
    """min_t ||W(t) - Y*||_F for W~ = diag(sigma_i(t)), eq. 3.1 with s = 1, by a scan + brentq."""

    def sig(t):
        g = np.where(lam == 0, 2 * t, np.expm1(2 * lam * t) / np.where(lam == 0, 1, lam))
        with np.errstate(over="ignore", invalid="ignore"):
            out = alpha * np.exp(2 * lam * t) / (1 + alpha * g)
        return np.nan_to_num(out, nan=0.0, posinf=0.0)  # only far beyond the scan

    def e2(t):
        sg = sig(t)
        return float(sg @ sg - 2 * sg @ cdiag + ynorm2)

    def d(t):
        sg = sig(t)
        return float(np.sum(2 * (sg - cdiag) * 2 * sg * (lam - sg)))

    top = lam[0]
    grid = np.geomspace(0.2, 1.2, 3000) * math.log(1 / alpha) / (2 * top) * 2
    v = np.array([e2(t) for t in grid])
    j = int(np.argmin(v))
    tj = brentq(d, grid[j - 1], grid[j + 1], xtol=1e-15) if d(grid[j - 1]) < 0 < d(grid[j + 1]) \
        else grid[j]  # fmt: skip
    return math.sqrt(e2(tj))


xs = np.array([3.0, 2.0, 1.5, 0.6])
rows = []
for n in (250, 500, 1000):
    theta = xs * math.sqrt(n)
    *_, trunc_p, stop_p = predict(theta, 1.0, n)
    for _seed in range(3):
        B = frame(n, 4)
        lam, vec = np.linalg.eigh((B * theta) @ B.T + goe(n, 1.0))
        lam, vec = lam[::-1], vec[:, ::-1]
        cdiag = ((vec.T @ B) ** 2) @ theta
        stop = optimum(lam, cdiag, float(theta @ theta), 1e-40)
        proj = (vec[:, :8].T @ B) ** 2 @ theta
        e2k = float(theta @ theta) + np.concatenate([[0], np.cumsum(lam[:8] ** 2 - 2 * lam[:8]
                                                                     * proj)])  # fmt: skip
        trunc = math.sqrt(float(np.min(e2k)))
        rows.append((n, abs(stop / stop_p - 1), abs(trunc / trunc_p - 1)))
rows_a = np.array(rows)
for n in (250, 500, 1000):
    sel = rows_a[rows_a[:, 0] == n]
    print(f"  n = {n}: early stopping max dev {sel[:, 1].max():.4f}, truncation "
          f"{sel[:, 2].max():.4f}, 1/sqrt(n) = {1 / math.sqrt(n):.4f}")  # fmt: skip
ck.le("max over n, seeds of dev * sqrt(n), early stopping (alpha = 1e-40)",
      float(np.max(rows_a[:, 1] * np.sqrt(rows_a[:, 0]))), 2.0)  # fmt: skip
ck.le("max over n, seeds of dev * sqrt(n), truncation",
      float(np.max(rows_a[:, 2] * np.sqrt(rows_a[:, 0]))), 2.0)  # fmt: skip

# 5. finite alpha (n = 1000, one sample): the alpha -> 0 limit is approached, from either side
n = 1000
theta = xs * math.sqrt(n)
*_, stop_p = predict(theta, 1.0, n)
B = frame(n, 4)
lam, vec = np.linalg.eigh((B * theta) @ B.T + goe(n, 1.0))
lam, vec = lam[::-1], vec[:, ::-1]
cdiag = ((vec.T @ B) ** 2) @ theta
for alpha in (1e-4, 1e-10, 1e-40, 1e-100):
    print(f"  alpha = {alpha:g}: optimum / prediction = "
          f"{optimum(lam, cdiag, float(theta @ theta), alpha) / stop_p:.4f}")  # fmt: skip
ck.done()
