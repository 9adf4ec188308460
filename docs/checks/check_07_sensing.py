"""docs/math.md section 7: matrix sensing and completion.

1. Symmetric Gaussian ensemble A = (G + G^T)/2 stored as upper triangles: the packed inner
   product equals <A, X>; Var <A, X> = ||X||_F^2 for symmetric X; E[A* A](X) = sym(X) (exact
   covariance and Monte Carlo); the general ensemble has E[A* A] = I.
2. Entry sampling: A* A (X) = P_Omega(X) / p exactly (symmetric X), its average over masks is
   X, and 1/4 ||A(W) - A(Y)||^2 = 1/(4p) ||P_Omega(W - Y)||_F^2.
3. The sensing gradient: -grad L = sym(A*(y - A(U U^T))) U (finite differences).
4. The identity operator reproduces the paper's flow (ODE of the sensing flow vs eq. 6).
5. Sampled RIP constants are lower bounds (grow with the sample) and shrink like m^{-1/2}.
6. Gaussian sensing flows approach the identity-operator closed form as m grows.
7. (If mfflow is importable) its operators satisfy the same identities.
"""

from __future__ import annotations

import math

import numpy as np
from _common import Checks, echelon_factor, orthogonal, rel, stable_factor
from scipy.integrate import solve_ivp

ck = Checks("section 7: sensing and completion")
rng = np.random.default_rng(17)
n = 4
iu = np.triu_indices(n)
off = iu[0] != iu[1]


def sym_gauss(m):
    """Packed upper triangles of A_i = (G_i + G_i^T)/2 (diag N(0,1), off-diagonal N(0,1/2))."""
    rows = rng.standard_normal((m, iu[0].size))
    rows[:, off] *= math.sqrt(0.5)
    return rows


def packed_inner(rows, X):
    w = np.where(off, 1.0, 0.5)
    return rows @ ((X[iu] + X.T[iu]) * w)


def unpack(v):
    A = np.zeros((n, n))
    A[iu] = v
    A.T[iu] = v
    return A


# 1. Gaussian ensemble
rows = sym_gauss(5)
X = rng.standard_normal((n, n))
full = np.array([np.sum(unpack(v) * X) for v in rows])
ck.le(
    "packed upper-triangle inner product = <A_i, X> (non-symmetric X)",
    rel(packed_inner(rows, X), full),
    1e-14,
)
# exact covariance of the packed coordinates: Var <A, X> = sum_c coef_c^2 var_c
Xs = X + X.T
coef = np.where(off, 2.0, 1.0) * Xs[iu]
var = np.sum(coef**2 * np.where(off, 0.5, 1.0))
ck.le("Var <A, X> = ||X||_F^2 (exact, symmetric X)", abs(var / np.sum(Xs**2) - 1), 1e-14)
m = 40000
rows = sym_gauss(m)
est = sum(unpack(v) * c for v, c in zip(rows, packed_inner(rows, X), strict=True)) / m
ck.le(
    f"E[A* A](X) = sym(X), Monte Carlo m = {m}: rel. deviation "
    f"(expected ~{math.sqrt(n * n / m):.3f})",
    rel(est, 0.5 * Xs),
    0.05,
)
G = rng.standard_normal((m, n, 3))
Xg = rng.standard_normal((n, 3))
est = np.einsum("mij,m->ij", G, np.einsum("mij,ij->m", G, Xg)) / m
ck.le("general Gaussian ensemble: E[A* A](X) = X (Monte Carlo)", rel(est, Xg), 0.05)

# 2. entry sampling (symmetric)
p = 0.4


def completion(mask_up):
    """Coefficient of y_k in A* (symmetric, upper-triangle mask): 1/sqrt(p) (diag), 1/sqrt(2p)."""
    i, j = iu[0][mask_up], iu[1][mask_up]
    c = np.where(i == j, 1 / math.sqrt(p), 1 / math.sqrt(2 * p))
    ca = np.where(i == j, 0.5 / math.sqrt(p), 1 / math.sqrt(2 * p))

    def apply(X):
        return (X[i, j] + X[j, i]) * ca

    def adjoint(y):
        out = np.zeros((n, n))
        out[i, j] = y * c
        out[j, i] = y * c
        return out

    return apply, adjoint, i, j


Xs = rng.standard_normal((n, n))
Xs = Xs + Xs.T
mask_up = rng.random(iu[0].size) < p
apply, adjoint, i, j = completion(mask_up)
P = np.zeros((n, n))
P[i, j] = Xs[i, j]
P[j, i] = Xs[j, i]
ck.le("entry sampling: A* A (X) = P_Omega(X) / p (exact)", rel(adjoint(apply(Xs)), P / p), 1e-15)
W = rng.standard_normal((n, n))
W = W + W.T
lhs = 0.25 * np.sum((apply(W) - apply(Xs)) ** 2)
Pd = np.zeros((n, n))
Pd[i, j] = (W - Xs)[i, j]
Pd[j, i] = (W - Xs)[j, i]
ck.le(
    "1/4 ||A(W) - A(Y)||^2 = 1/(4p) ||P_Omega(W - Y)||_F^2",
    abs(lhs / (0.25 / p * np.sum(Pd**2)) - 1),
    1e-14,
)
avg = np.zeros((n, n))
N = 20000
for _ in range(N):
    a, b, _, _ = completion(rng.random(iu[0].size) < p)
    avg += b(a(Xs))
ck.le(f"E over masks of A* A (X) = X (Monte Carlo, {N} masks)", rel(avg / N, Xs), 0.03)

# 3. gradient of the sensing loss
rows = sym_gauss(60) / math.sqrt(60)
Y = (lambda q: (q * np.array([2.0, 1.0, 0.0, 0.0])) @ q.T)(orthogonal(n, rng))
yv = packed_inner(rows, Y)


def loss(U):
    return 0.25 * np.sum((packed_inner(rows, U @ U.T) - yv) ** 2)


U = rng.standard_normal((n, 3))
D = rng.standard_normal((n, 3))
Gm = unpack(rows.T @ (yv - packed_inner(rows, U @ U.T)))  # A*(y - A(U U^T)), symmetric here
fd = (loss(U + 1e-6 * D) - loss(U - 1e-6 * D)) / 2e-6
ck.le(
    "sensing gradient: -grad L = sym(A*(y - A(U U^T))) U (central difference, rel.)",
    abs(fd + np.sum(Gm @ U * D)) / abs(fd),
    1e-8,
)

# 4. identity operator: the sensing flow is the paper's flow
lam = np.array([2.0, 1.0, 0.5, -0.5])
phi = orthogonal(n, rng)
Y = (phi * lam) @ phi.T
U0 = rng.standard_normal((n, n))
alpha = 1e-4
ts = np.array([2.0, 5.0, 10.0, 20.0])


def sensing_ode(apply, adjoint, U0):
    y = apply(Y)

    def rhs(_t, x):
        U = x.reshape(n, -1)
        g = adjoint(y - apply(U @ U.T))
        return (0.5 * (g + g.T) @ U).ravel()

    u0 = math.sqrt(alpha) * U0
    sol = solve_ivp(
        rhs,
        (0, ts[-1]),
        u0.ravel(),
        method="DOP853",
        t_eval=ts,
        rtol=1e-11,
        atol=1e-14 * np.abs(u0).max(),
    )
    return sol.y.T.reshape(-1, n, U0.shape[1])


Us = sensing_ode(lambda X: X.ravel().copy(), lambda v: v.reshape(n, n).copy(), U0)
L = echelon_factor(phi.T @ U0)[0]
worst = max(
    rel(Us[k] @ Us[k].T, (lambda F: F @ F.T)(phi @ stable_factor(lam, L, alpha, t)))
    for k, t in enumerate(ts)
)
ck.le("identity operator: sensing flow (ODE) vs eq. 6", worst, 1e-9)


# 5. sampled RIP: a lower bound, shrinking like m^{-1/2}
def rip_hat(rows, trials):
    d = 0.0
    for _ in range(trials):
        B = rng.standard_normal((n, 2))
        X = (B * rng.standard_normal(2)) @ B.T
        d = max(d, abs(np.sum(packed_inner(rows, X) ** 2) / np.sum(X**2) - 1))
    return d


ds = {}
for m in (100, 400, 1600):
    ds[m] = float(np.median([rip_hat(sym_gauss(m) / math.sqrt(m), 200) for _ in range(5)]))
print(
    "  info: sampled delta_2 for m = 100, 400, 1600:",
    {k: round(v, 3) for k, v in ds.items()},
    "x sqrt(m):",
    {k: round(v * math.sqrt(k), 2) for k, v in ds.items()},
)
ck.ge(
    "sampled delta_2 (median of 5 operators) decreases with m: delta(100)/delta(1600)",
    ds[100] / ds[1600],
    2.0,
)
ops = sym_gauss(400) / math.sqrt(400)
state = rng.bit_generator.state
d_small = rip_hat(ops, 100)
rng.bit_generator.state = state
d_large = rip_hat(ops, 1000)  # the same first 100 test matrices, and 900 more
ck.ge(
    "sampled delta is a lower bound: more test matrices never decrease it (large - small)",
    d_large - d_small,
    0.0,
)
ck.le(
    "delta(m) sqrt(m) roughly constant: max/min over m",
    max(v * math.sqrt(k) for k, v in ds.items()) / min(v * math.sqrt(k) for k, v in ds.items()),
    2.0,
)

# 6. Gaussian sensing approaches the closed form as m grows
lam = np.array([2.0, 1.0, 0.0, 0.0])
Y = (phi * lam) @ phi.T
U0 = rng.standard_normal((n, 2))
L = echelon_factor(phi.T @ U0)[0]
ts = np.linspace(1.0, 15.0, 8)
ref = [phi @ (lambda F: F @ F.T)(stable_factor(lam, L, alpha, t)) @ phi.T for t in ts]
dist = {}
for m in (50, 5000):
    ds_m = []
    for _ in range(3):
        rows_m = sym_gauss(m) / math.sqrt(m)
        Us = sensing_ode(
            lambda X, r=rows_m: packed_inner(r, X), lambda v, r=rows_m: unpack(r.T @ v), U0
        )
        ds_m.append(
            max(
                np.linalg.norm(np.linalg.eigvalsh(Us[k] @ Us[k].T) - np.linalg.eigvalsh(ref[k]))
                for k in range(ts.size)
            )
            / np.linalg.norm(lam)
        )
    dist[m] = float(np.median(ds_m))
print(
    "  info: max curve distance to the closed form (median of 3), m = 50, 5000:",
    {k: float(f"{v:.3g}") for k, v in dist.items()},
)
ck.ge(
    "curve distance decreases with m: dist(50)/dist(5000) (~10 expected)",
    dist[50] / dist[5000],
    3.0,
)

# 7. mfflow's operators (public API), if importable
try:
    from mfflow import EntrySampling, GaussianSensing  # type: ignore[import-not-found]
except Exception as exc:
    print(f"  info: mfflow not importable ({type(exc).__name__}); skipping its operators")
else:
    op = GaussianSensing(n, 30000, seed=0)
    Xs = rng.standard_normal((n, n))
    Xs = Xs + Xs.T
    yv = rng.standard_normal(30000)
    ck.le(
        "mfflow GaussianSensing: <A(X), y> = <X, A*(y)>",
        abs(op.apply(Xs) @ yv - np.sum(Xs * op.adjoint(yv))) / abs(op.apply(Xs) @ yv),
        1e-12,
    )
    ck.le(
        "mfflow GaussianSensing: A* A (X) ~ X for symmetric X (m = 30000)",
        rel(op.adjoint(op.apply(Xs)), Xs),
        0.05,
    )
    op = EntrySampling(n, 0.4, seed=0)
    P = np.where(op.mask, Xs, 0.0)
    ck.le(
        "mfflow EntrySampling: A* A (X) = P_Omega(X) / p",
        rel(op.adjoint(op.apply(Xs)), P / 0.4),
        1e-15,
    )
ck.done()
