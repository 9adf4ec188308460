"""docs/math.md section 6: gradient descent versus the flow.

1. GD is explicit Euler: the gap max_k ||W_k - W(k eta)|| is first order in eta;
2. the leading-order transition delay of GD is eta log(lam/(alpha s))/4 (scalar mode), and the
   sup gap is about lam^2/2 times that delay;
3. the curvature (largest Hessian eigenvalue) at the limit: 2 sigma_1 (symmetric, PSD),
   max(2 sigma_1, sigma_1 + |lam_min|) (symmetric, indefinite), sqrt(lam^2 + 4 sigma_1^2)
   (asymmetric, lambda-balanced);
4. 1-D stability: eta < 1/sigma converges, 1/sigma < eta < 2/sigma stays bounded without
   converging, eta > 2/sigma blows up (the cubic map loses its invariant interval at c = 2).
"""

from __future__ import annotations

import math

import numpy as np
from _common import Checks, echelon_factor, orthogonal, stable_factor

ck = Checks("section 6: gradient descent vs the flow")
rng = np.random.default_rng(13)

# 1. first-order gap
lam = np.array([3.0, 2.0, 1.0])
phi = orthogonal(3, rng)
Y = (phi * lam) @ phi.T
U0 = rng.standard_normal((3, 3))
L = echelon_factor(phi.T @ U0)[0]
alpha = 1e-4
T = 1.5 * math.log(1 / alpha) / 2
gaps = []
for eta in (0.02, 0.01, 0.005):
    U = math.sqrt(alpha) * U0
    g = 0.0
    for k in range(1, round(T / eta) + 1):
        U = U + eta * (Y - U @ U.T) @ U
        if k % round(0.1 / eta) == 0:
            F = phi @ stable_factor(lam, L, alpha, k * eta)
            g = max(g, float(np.linalg.norm(U @ U.T - F @ F.T)) / float(np.linalg.norm(Y)))
    gaps.append(g)
orders = [math.log2(gaps[i] / gaps[i + 1]) for i in range(2)]
print(f"  info: gaps {np.array(gaps)}, observed orders {np.round(orders, 3)}")
ck.le(
    "observed order of the GD-flow gap: |order - 1| (max over two halvings)",
    max(abs(o - 1) for o in orders),
    0.05,
)


# 2. scalar mode: delay of GD's transition ~ eta log(lam/(alpha s)) / 4
def gd_half_time(lm, a, eta):
    s, k = a, 0
    while s < lm / 2:
        prev = s
        s = s * (1 + eta * (lm - s)) ** 2  # u <- u (1 + eta (lam - u^2)), s = u^2
        k += 1
    return eta * (k - 1 + (lm / 2 - prev) / (s - prev))


def delay(lm, a, eta):
    return gd_half_time(lm, a, eta) - math.log((lm - a) / a) / (2 * lm)  # eq. 7, f = 1/2, s = 1


worst = 0.0
eta = 1e-3
for lm in (0.5, 1.0, 2.0):
    slope = (delay(lm, 1e-80, eta) - delay(lm, 1e-20, eta)) / (60 * math.log(10))
    worst = max(worst, abs(slope / (eta / 4) - 1))
    print(
        f"  info: lam = {lm}: delay at alpha = 1e-20: {delay(lm, 1e-20, eta):.5f}, "
        f"d delay / d log(1/alpha) = {slope:.4e}"
    )
ck.le("GD delay: d(delay)/d log(1/alpha) vs eta/4 (independent of lam), relative", worst, 1e-2)
lm, a, eta = 1.0, 1e-30, 1e-3
ts = np.arange(0, int(40 / eta) + 1) * eta
s = np.empty(ts.size)
s[0] = a
for k in range(1, ts.size):
    s[k] = s[k - 1] * (1 + eta * (lm - s[k - 1])) ** 2
sig = a * np.exp(2 * lm * ts) / (1 + a * np.expm1(2 * lm * ts) / lm)
gap = float(np.max(np.abs(s - sig)))
ck.le(
    "sup gap / (lam^2/2 x predicted delay) - 1 (scalar mode)",
    abs(gap / (lm**2 / 2 * eta * math.log(lm / a) / 4) - 1),
    0.05,
)


# 3. curvature at the limit
def hess_sym(Y, U):
    n, r = U.shape

    def grad(x):
        V = x.reshape(n, r)
        return (-(Y - V @ V.T) @ V).ravel()

    h, x0 = 1e-6, U.ravel()
    H = np.array([(grad(x0 + h * e) - grad(x0 - h * e)) / (2 * h) for e in np.eye(n * r)])
    return 0.5 * (H + H.T)


for spec in ([3.0, 1.0, 0.5], [3.0, 1.0, -1.0], [1.0, 0.5, -3.0]):
    lamv = np.array(spec)
    q = orthogonal(3, rng)
    Yv = (q * lamv) @ q.T
    Uinf = (q * np.sqrt(np.maximum(lamv, 0))) @ orthogonal(3, rng)  # U U^T = Y_+
    got = float(np.linalg.eigvalsh(hess_sym(Yv, Uinf))[-1])
    pred = max(2 * lamv[0], lamv[0] + max(0.0, -lamv.min()))
    ck.le(
        f"symmetric curvature at the limit, spectrum {spec}: "
        "|lambda_max - max(2 s1, s1 + |lam_min|)|",
        abs(got - pred),
        1e-6,
    )

for lm in (0.0, 1.5, -2.0):
    Pq, Qq, O = orthogonal(3, rng), orthogonal(3, rng), orthogonal(3, rng)
    sv = np.array([3.0, 2.0, 1.0])
    b2 = (-lm + np.sqrt(lm**2 + 4 * sv**2)) / 2
    a_, b_ = np.sqrt(b2 + lm), np.sqrt(b2)
    Ya = (Pq * sv) @ Qq.T
    Ui, Vi = (Pq * a_) @ O, (Qq * b_) @ O  # U V^T = Y, U^T U - V^T V = lam I

    def grad_a(x, Ya=Ya):
        Uu, Vv = x[:9].reshape(3, 3), x[9:].reshape(3, 3)
        R = Ya - Uu @ Vv.T
        return np.concatenate([(-R @ Vv).ravel(), (-R.T @ Uu).ravel()])

    x0 = np.concatenate([Ui.ravel(), Vi.ravel()])
    H = np.array([(grad_a(x0 + 1e-6 * e) - grad_a(x0 - 1e-6 * e)) / 2e-6 for e in np.eye(18)])
    got = float(np.linalg.eigvalsh(0.5 * (H + H.T))[-1])
    ck.le(
        f"asymmetric lambda-balanced curvature, lam = {lm}: |lambda_max - sqrt(lam^2 + 4 s1^2)|",
        abs(got - math.sqrt(lm**2 + 36)),
        1e-6,
    )


# 4. 1-D stability and blow-up thresholds (sigma = 1)
def run1d(eta, steps=20000, u=1e-3):
    tail = []
    for k in range(steps):
        u = u + eta * (1.0 - u * u) * u
        if not math.isfinite(u) or abs(u) > 1e50:
            return "blow-up", k
        if k > steps - 200:
            tail.append(u * u)
    return "converged" if max(abs(v - 1) for v in tail) < 1e-12 else "bounded", max(
        abs(v) for v in tail
    )


ck.le("eta = 0.95/sigma converges (0 = yes)", 0.0 if run1d(0.95)[0] == "converged" else 1.0, 0.0)
ck.le(
    "eta = 1.05/sigma and 1.95/sigma bounded, not converging (0 = yes)",
    0.0 if run1d(1.05)[0] == run1d(1.95)[0] == "bounded" else 1.0,
    0.0,
)
ck.le(
    "eta = 2.05/sigma blows up from u0 = 1e-3 (0 = yes)",
    0.0 if run1d(2.05)[0] == "blow-up" else 1.0,
    0.0,
)
x = np.linspace(-2, 2, 400001)
ck.le(
    "cubic map x -> 3x - x^3 (c = 2) maps [-2, 2] into itself: max|f| - 2",
    float(np.max(np.abs(3 * x - x**3))) - 2.0,
    1e-9,
)
c = 2.01
a_inv = math.sqrt(2 + c)
ck.ge(
    "c = 2.01: max f on [-a, a] exceeds a = sqrt(2 + c) (interval lost)",
    2 / 3 * (1 + c) * math.sqrt((1 + c) / 3) - a_inv,
    1e-4,
)

ck.done()
