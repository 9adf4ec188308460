"""docs/math.md section 4: the incremental-learning theorem, corrected.

1. On the corrected intervals I_k = [log(C_eps/alpha)/(2 sigma_k), log(c_eps/alpha)/(2 sigma_{k+1})]
   the error ||W(t) - Yhat_k||_2 stays below the bound of the proof sketch, itself below eps
   (random instances: Gaussian, orthogonal and ill-conditioned inits; eps from 0.01 to 1 times
   min(sigma_K, 1); alpha from the largest admissible value down to 1e-300).
2. At the slide's left ends log(c_eps/alpha)/(2 sigma_k) the error is >= sigma_k - eps/(16 M) > eps.
3. Transition times: slope of the measured half-way times in log(1/alpha) is 1/(2 sigma_i), and
   shrinking alpha by e^{-m} delays transition i by m/(2 sigma_i) (not m/sigma_i).
4. Eckart-Young: the eigen-truncation is the best rank-k approximation of a PSD Y.
"""

from __future__ import annotations

import math

import numpy as np
from _common import Checks, echelon_factor, orthogonal, stable_factor
from scipy.optimize import brentq

ck = Checks("section 4: incremental learning theorem")
rng = np.random.default_rng(7)


def err_to_Yk(lam, L, alpha, t, k):
    """||W~(t) - diag(sigma_1..sigma_k, 0, ...)||_2 in the eigenbasis."""
    F = stable_factor(lam, L, alpha, t)
    d = F @ F.T
    d[np.arange(k), np.arange(k)] -= lam[:k]
    return float(np.max(np.abs(np.linalg.eigvalsh(d))))


def proof_bound(sig, k, eps, M, alpha, t):
    """The bound of the proof sketch at time t in I_k (section 4)."""
    q = math.exp(-2 * sig[k - 1] * t)  # >= e^{-2 sigma_i t} for i <= k
    a = eps / (16 * M * (1 - q) ** 2) + sig[0] * q / (1 - q)
    c = eps / (16 * M)
    b = eps / (16 * (1 - q))
    return max(a, c) + b


worst_ratio = worst_bound = 0.0
n_inst = 0
slide = []
for inst in range(30):
    n = int(rng.integers(2, 5))
    sig = np.sort(rng.uniform(0.5, 4.0, n))[::-1]
    if np.min(-np.diff(sig)) < 0.2:
        continue
    lam = sig.copy()  # PSD, K = n distinct positive eigenvalues (the eigenbasis is the frame)
    kind = ("gaussian", "orthogonal", "ill")[inst % 3]
    if kind == "gaussian":
        U0 = rng.standard_normal((n, n + 1))
    elif kind == "orthogonal":
        U0 = 1.5 * orthogonal(n, rng)
    else:
        U0 = orthogonal(n, rng) @ np.diag(np.logspace(0, -1.5, n)) @ orthogonal(n, rng)
    sv = np.linalg.svd(U0, compute_uv=False)
    M = max(1 / sv[-1] ** 2, sv[0] ** 2)
    eps = float(rng.choice([0.01, 0.1, 1.0])) * min(sig[-1], 1.0)
    c_eps, C_eps = eps / (16 * M**2), 16 * sig[0] ** 2 * M**2 / eps
    # largest admissible alpha: alpha <= c/M and every corrected interval non-empty
    log_a = math.log(c_eps / M)
    for k in range(n - 1):
        log_a = min(
            log_a, (sig[k] * math.log(c_eps) - sig[k + 1] * math.log(C_eps)) / (sig[k] - sig[k + 1])
        )
    L = echelon_factor(U0)[0]
    for alpha in (math.exp(log_a) * (1 - 1e-9), 1e-60, 1e-300):
        if alpha > math.exp(log_a):
            continue
        n_inst += 1
        for k in range(1, n + 1):
            left = (math.log(C_eps) - math.log(alpha)) / (2 * sig[k - 1])
            right = (math.log(c_eps) - math.log(alpha)) / (2 * sig[k]) if k < n else 50 * left
            assert left <= right
            for t in np.concatenate([np.linspace(left, right, 60), np.geomspace(left, right, 30)]):
                e = err_to_Yk(lam, L, alpha, t, k)
                b = proof_bound(sig, k, eps, M, alpha, t)
                worst_ratio = max(worst_ratio, e / eps)
                worst_bound = max(worst_bound, e / b, b / eps / 0.2)  # e <= b, and b <= 0.2 eps
            if alpha == 1e-60:
                t_slide = (math.log(c_eps) - math.log(alpha)) / (2 * sig[k - 1])
                e = err_to_Yk(lam, L, alpha, t_slide, k)
                # the claim "error <= eps" there fails whenever sigma_k > eps (1 + 1/(16 M))
                strict = sig[k - 1] > eps * (1 + 1 / (16 * M))
                slide.append(
                    (e / eps if strict else np.inf, (e - (sig[k - 1] - eps / (16 * M))) / eps)
                )
ck.le(f"max error / eps on the corrected intervals ({n_inst} instance-alphas)", worst_ratio, 1.0)
ck.le("max of (error / proof bound) and (proof bound / (0.2 eps))", worst_bound, 1.0)
ck.ge(
    "slide's left end, sigma_k > eps (1 + 1/(16M)): min error / eps", min(s[0] for s in slide), 1.0
)
ck.ge(
    "slide's left end: min (error - (sigma_k - eps/(16 M))) / eps (lower bound holds)",
    min(s[1] for s in slide),
    0.0,
)

# the talk's example: spectrum [4, 2, 1], eps = 0.1, alpha = 1e-30
lam = np.array([4.0, 2.0, 1.0])
U0 = rng.standard_normal((3, 5))
sv = np.linalg.svd(U0, compute_uv=False)
M = max(1 / sv[-1] ** 2, sv[0] ** 2)
eps, alpha = 0.1, 1e-30
c_eps = eps / (16 * M**2)
L = echelon_factor(U0)[0]
errs = [err_to_Yk(lam, L, alpha, math.log(c_eps / alpha) / (2 * lam[k - 1]), k) for k in (1, 2, 3)]
print(
    "  info: errors at the slide's left ends, spectrum [4, 2, 1], eps 0.1, alpha 1e-30:",
    np.round(errs, 4),
)
ck.ge(
    "spectrum [4,2,1]: error at slide's left ends / sigma_k (min)",
    min(e / s for e, s in zip(errs, lam, strict=True)),
    0.99,
)

# 3. transition times and delays
lam = np.array([3.0, 2.0, 1.0])
phi_U0 = rng.standard_normal((3, 4))
L = echelon_factor(phi_U0)[0]


def half_time(alpha, i):
    """First time the i-th eigenvalue of W(t) reaches lam_i / 2 (brentq on a bracket)."""

    def f(t):
        F = stable_factor(lam, L, alpha, t)
        return np.linalg.svd(F, compute_uv=False)[i] ** 2 - lam[i] / 2

    guess = math.log(1 / alpha) / (2 * lam[i])
    return brentq(f, 0.3 * guess, 3 * guess + 10, xtol=1e-13)


alphas = np.array([1e-8, 1e-16, 1e-24, 1e-32, 1e-40])
worst = 0.0
for i in range(3):
    times = np.array([half_time(a, i) for a in alphas])
    slope = np.polyfit(np.log(1 / alphas), times, 1)[0]
    worst = max(worst, abs(slope * 2 * lam[i] - 1))
ck.le("fitted d t_i / d log(1/alpha) vs 1/(2 sigma_i), relative (general init)", worst, 1e-3)
m = 10.0
shift = [half_time(1e-30 * math.exp(-m), i) - half_time(1e-30, i) for i in range(3)]
ck.le(
    "delay for alpha -> e^{-10} alpha vs 10/(2 sigma_i): max relative deviation",
    max(abs(s * 2 * lam[i] / m - 1) for i, s in enumerate(shift)),
    1e-3,
)
ck.ge(
    "...vs the talk's 10/sigma_i: min relative deviation",
    min(abs(s * lam[i] / m - 1) for i, s in enumerate(shift)),
    0.4,
)

# 4. Eckart-Young for a PSD Y: truncation beats random rank-k matrices and SVD truncation agrees
Y = (lambda q: (q * np.array([4.0, 2.0, 1.0, 0.5])) @ q.T)(orthogonal(4, rng))
w, v = np.linalg.eigh(Y)
Yk = (v[:, -2:] * w[-2:]) @ v[:, -2:].T
u, s, vt = np.linalg.svd(Y)
ck.le(
    "eigen-truncation = SVD truncation (k = 2)",
    float(np.max(np.abs(Yk - (u[:, :2] * s[:2]) @ vt[:2]))),
    1e-13,
)
best = np.linalg.norm(Y - Yk)
others = min(
    np.linalg.norm(
        Y - (lambda a, b: a @ b)(rng.standard_normal((4, 2)), rng.standard_normal((2, 4)))
    )
    for _ in range(2000)
)
ck.ge("||Y - Z||_F for 2000 random rank-2 Z minus ||Y - Yhat_2||_F", others - best, 0.0)
ck.done()
