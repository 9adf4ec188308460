"""docs/math.md section 1: the Riccati flow, eq. 6, the push-through form and the factor.

Checks, on random problems of every init shape (r < n, r = n, r > n, singular W0) and for
PSD, rank-deficient and indefinite targets:

1. the gradient of L(U) = 1/4 ||Y - U U^T||_F^2 is -(Y - U U^T) U (finite differences);
2. eq. 6 (push-through form, mpmath) against a scipy ODE solve of dU/dt = (Y - U U^T) U;
3. the full n x n form of eq. 6 equals the push-through form (invertible W0, float64);
4. W~(t) satisfies the Riccati ODE (central differences in 60-digit arithmetic);
5. F = S U~0 C^{-T} (C C^T = alpha^{-1} I + U~0^T G U~0) reproduces W~ = F F^T;
6. the flow's own factor lies in range(S U~0): U~(t) = S U~0 M(t) (r <= n);
7. rank W(t) = rank W0 (singular W0).
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
from _common import Checks, g_of, mp_dps, mp_push, ode_flow, orthogonal, rel, to_np, verbatim_full

ck = Checks("section 1: Riccati flow and eq. 6")
rng = np.random.default_rng(1)
n = 4

# 1. gradient
Y = (lambda q: (q * np.array([3.0, 1.0, -0.5, -2.0])) @ q.T)(orthogonal(n, rng))
U = rng.standard_normal((n, 3))
D = rng.standard_normal((n, 3))
h = 1e-6
loss = lambda U: 0.25 * np.sum((Y - U @ U.T) ** 2)  # noqa: E731
fd = (loss(U + h * D) - loss(U - h * D)) / (2 * h)
ck.le(
    "gradient = -(Y - U U^T) U (central difference)", abs(fd + np.sum((Y - U @ U.T) @ U * D)), 1e-7
)

spectra = {
    "PSD full rank": np.array([3.0, 2.0, 1.0, 0.5]),
    "PSD rank 2": np.array([3.0, 1.0, 0.0, 0.0]),
    "indefinite": np.array([3.0, 1.0, -0.5, -2.0]),
}
inits = {"r=2<n": 2, "r=n": 4, "r=7>n": 7, "singular r=n, rank 2": "sing"}
alpha = 1e-3
worst_ode = worst_full = worst_ric = worst_fac = worst_m = 0.0
for sname, lam in spectra.items():
    phi = orthogonal(n, rng)
    Y = (phi * lam) @ phi.T
    for _iname, r in inits.items():
        U0 = (
            rng.standard_normal((n, 2)) @ rng.standard_normal((2, n))
            if r == "sing"
            else rng.standard_normal((n, r))
        )
        Ut = phi.T @ U0
        t_last = math.log(1 / alpha) / (2 * min(lam[lam > 0]))
        ts = np.array([0.3, 1.0, 2.0, 3.0]) * t_last
        # 2. closed form (exact arithmetic) against an ODE solve
        U_ode = ode_flow(Y, U0, alpha, ts, rtol=1e-12)
        for k, t in enumerate(ts):
            w_cf = phi @ to_np(mp_push(lam, Ut, alpha, t)) @ phi.T
            worst_ode = max(worst_ode, rel(U_ode[k] @ U_ode[k].T, w_cf))
        # 3. full form = push-through form, where W0 is invertible (moderate times, float64)
        if r != "sing" and r >= n:
            t = 0.5 * t_last
            worst_full = max(
                worst_full, rel(verbatim_full(lam, Ut, alpha, t), to_np(mp_push(lam, Ut, alpha, t)))
            )
        # 4. Riccati residual in the eigenbasis, 60 digits, central difference
        with mp.workdps(60):
            t = mp.mpf(float(t_last))
            hh = mp.mpf(10) ** -20
            wp = mp_push(lam, Ut, alpha, t + hh, dps=60)
            wm = mp_push(lam, Ut, alpha, t - hh, dps=60)
            w = mp_push(lam, Ut, alpha, t, dps=60)
            dw = (wp - wm) / (2 * hh)
            lm = mp.diag([mp.mpf(float(v)) for v in lam])
            rhs = (lm - w) * w + w * (lm - w)
            worst_ric = max(worst_ric, float(mp.mnorm(dw - rhs, "f") / mp.mnorm(w, "f")))
        # 5. the factor F = S U~0 C^{-T}
        t = 2.0 * t_last
        rr = Ut.shape[1]
        with mp.workdps(mp_dps(lam, Ut, alpha, t)):
            tm = mp.mpf(float(t))
            um = mp.matrix(Ut.tolist())
            lm = [mp.mpf(float(v)) for v in lam]
            gm = mp.diag([2 * tm if v == 0 else mp.expm1(2 * v * tm) / v for v in lm])
            C = mp.cholesky(mp.eye(rr) / mp.mpf(alpha) + um.T * gm * um)
            F = mp.diag([mp.exp(v * tm) for v in lm]) * um * mp.inverse(C.T)
            worst_fac = max(worst_fac, rel(to_np(F * F.T), to_np(mp_push(lam, Ut, alpha, t))))
        # 6. U~(t) = S U~0 M(t), M M^T = B^{-1}   (U~0 of full column rank: r <= n)
        if r != "sing" and r <= n:
            for k, t in enumerate(ts[:2]):
                scaled = np.exp(-lam * t)[:, None] * (phi.T @ U_ode[k])  # S^{-1} U~(t)
                Mt = np.linalg.lstsq(Ut, scaled, rcond=None)[0]
                worst_m = max(worst_m, rel(Ut @ Mt, scaled))  # U~(t) lies in range(S U~0)
        # 7. rank preserved
        if r == "sing":
            sv = np.linalg.svd(U_ode[0], compute_uv=False)
            ck.le(
                f"rank W(t) = rank W0 = 2 ({sname}): s_3/s_1 of U(0.3 t_K), ODE",
                sv[2] / sv[0],
                1e-10,
            )

ck.le("eq. 6 vs ODE solve, all shapes x targets (rel. Frobenius)", worst_ode, 1e-9)
ck.le("full n x n form = push-through form (float64, moderate t)", worst_full, 1e-12)
ck.le("Riccati residual ||W' - (Y-W)W - W(Y-W)|| / ||W||", worst_ric, 1e-25)
ck.le("F F^T = W~ with F = S U~0 C^{-T}", worst_fac, 1e-12)
ck.le("flow's factor U~(t) = S U~0 M(t): residual of the fit (ODE accuracy)", worst_m, 1e-8)

# push-through identity X (I + Y X)^{-1} = (I + X Y)^{-1} X, rectangular
X = rng.standard_normal((5, 3))
Z = rng.standard_normal((3, 5))
lhs = X @ np.linalg.inv(np.eye(3) + Z @ X)
ck.le(
    "push-through identity X (I + Z X)^{-1} = (I + X Z)^{-1} X",
    rel(lhs, np.linalg.solve(np.eye(5) + X @ Z, X)),
    1e-13,
)
# g >= 0 for every sign of lambda (so B >= alpha^{-1} I), and g = 2t at lambda = 0
tt = np.linspace(0.0, 5.0, 11)
gs = np.array([g_of(np.array([-3.0, -1e-9, 0.0, 1e-9, 2.0]), t) for t in tt])
ck.le(
    "min g_i(t) over lam in {-3, -1e-9, 0, 1e-9, 2}, t in [0, 5] is >= 0 (neg. of min)",
    -gs.min(),
    0.0,
)
ck.le(
    "g(t) at lam = +-1e-9 vs 2t (continuity at lam = 0)",
    float(np.max(np.abs(gs[:, [1, 3]] - gs[:, [2]]) / np.maximum(gs[:, [2]], 1e-300))),
    1e-7,
)
ck.done()
