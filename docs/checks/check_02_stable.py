"""docs/math.md section 2: evaluating eq. 6 stably in float64, and the limits of float64.

1. eq. 6 evaluated verbatim in float64 (full and push-through forms) loses everything;
2. the stable evaluation (log-space column scaling, one m x m Cholesky) against mpmath for
   r < n, r = n, r > n, rank-deficient inits, indefinite targets with a zero eigenvalue,
   alpha from 1 to 1e-300 and times up to 10x the last transition;
3. its structure: every exponent <= 0, exp(0) at each column's dominant term, diag(M) in
   [1, n + 1]; the row factor of a negative mode decays;
4. an init with an exactly zero component (or an exactly dependent row): plain QR breaks down
   (Cholesky failure, large errors); the echelon factor is exact, keeps the mode at zero and
   satisfies the uniform bound on cond(M);
5. flushing sub-normal exponentials changes nothing representable;
6. the low-rank target reduction to span(basis, U0) (n = 300) equals the full computation;
7. the limits: a 1e-16 component along an eigenvector grows like e^{2 lam t}; the float64
   ODE floor at tiny alpha, against the estimate delta * alpha^{-(1 - lam_k/lam_1)/2}.
"""

from __future__ import annotations

import math

import numpy as np
from _common import (
    Checks,
    echelon_factor,
    mp_push,
    ode_flow,
    orthogonal,
    qr_factor,
    rel,
    stable_factor,
    stable_parts,
    to_np,
    verbatim_full,
    verbatim_push,
)

ck = Checks("section 2: stable evaluation")
rng = np.random.default_rng(0)

# 1. verbatim evaluation --------------------------------------------------------------------
lam = np.array([4.0, 3.0, 2.0, 1.0])
Ut = rng.standard_normal((4, 4))
for alpha, f in [(1e-2, 4.0), (1e-8, 1.0), (1e-30, 1.0), (1e-30, 2.0)]:
    t = f * math.log(1 / alpha) / 2.0
    ref = to_np(mp_push(lam, Ut, alpha, t))
    errs = [rel(verbatim_full(lam, Ut, alpha, t), ref), rel(verbatim_push(lam, Ut, alpha, t), ref)]
    errs = [e if np.isfinite(e) else np.inf for e in errs]
    ck.ge(
        f"verbatim eq. 6 is wrong: alpha={alpha:g}, t={f:g} t_K "
        f"(full form {errs[0]:.1e}, push-through {errs[1]:.1e}); the better of the two",
        min(errs),
        1e-7,
    )

# 2. + 3. stable evaluation against mpmath, and its structure ---------------------------------
spectra = [np.array([4.0, 3.0, 2.0, 1.0]), np.array([4.0, 2.0, 0.0, -1.5, -3.0])]
worst = 0.0
max_exponent = -np.inf
diag_lo, diag_hi = np.inf, 0.0
dominant_gap = 0.0
for lam in spectra:
    n = lam.size
    t_last = math.log(1 / 1e-300) / (2 * min(lam[lam > 0]))
    for r in (2, n, n + 3, "zero columns", "dependent rows"):
        if r == "zero columns":  # W0 exactly singular: r = n + 1 columns, only 2 non-zero
            U = np.zeros((n, n + 1))
            U[:, :2] = rng.standard_normal((n, 2))
        elif r == "dependent rows":  # rows 2, 3 exact multiples of rows 0, 1 (rank 2)
            U = rng.standard_normal((n, n))
            U[2], U[3] = 2.0 * U[0], -0.5 * U[1]
        else:
            U = rng.standard_normal((n, r))
        L, _ = echelon_factor(U)
        for alpha in (1.0, 1e-8, 1e-30, 1e-100, 1e-300):
            tk = math.log(1 / alpha) / (2 * min(lam[lam > 0])) if alpha < 1 else 1.0
            for f in (0.1, 0.5, 1.0, 2.0, 10.0):
                t = f * tk
                if alpha == 1e-300 and f == 10.0:
                    t = 3.0 * t_last  # keeps mpmath under a second
                F = stable_factor(lam, L, alpha, t)
                worst = max(worst, rel(F @ F.T, to_np(mp_push(lam, U, alpha, t))))
                p = stable_parts(lam, L, alpha, t)
                max_exponent = max(max_exponent, float(np.max(p["xR"])), float(np.max(p["x0"])))
                d = np.diag(p["M"])
                diag_lo, diag_hi = min(diag_lo, d.min()), max(diag_hi, d.max() / (n + 1))
                top = np.maximum(np.max(p["R"] ** 2, axis=0), p["e0"])
                dominant_gap = max(dominant_gap, float(np.max(np.abs(top - 1.0))))
ck.le(
    "stable form vs mpmath: all shapes, alpha 1..1e-300, t up to 10 t_K (rel. Frobenius)",
    worst,
    1e-12,
)
ck.le("largest exponent evaluated (xR = (z - ref)/2, x0 = z0 - ref)", max_exponent, 0.0)
ck.le(
    "each column's dominant term is exactly exp(0): max |max(R_kj^2, e0_j) - 1|", dominant_gap, 0.0
)
ck.ge("min diag(M) (claim: >= 1)", diag_lo, 1.0)
ck.le("max diag(M) / (n + 1) (claim: <= 1)", diag_hi, 1.0)

# 4. exact zero component / exactly dependent row: plain QR versus the echelon factor ----------
lam = np.array([4.0, 3.0, 2.0, 1.0])
cases = {}
for zr in (0, 1):
    U = rng.standard_normal((4, 4))
    U[zr] = 0.0
    cases[f"row {zr} of U~0 = 0"] = U
U = rng.standard_normal((4, 4))
U[2] = 2.0 * U[0]
cases["row 2 = 2 * row 0"] = U
U = rng.standard_normal((4, 2))
U[0] = 0.0
cases["r = 2, row 0 = 0"] = U
U = rng.standard_normal((4, 2)) @ rng.standard_normal((2, 4))  # rank 2 only up to rounding
cases["U~0 = A B (rank 2 up to rounding)"] = U
for name, U in cases.items():
    Lq, Le = qr_factor(U), echelon_factor(U)[0]
    piv = echelon_factor(U)[1]
    qr_fail, qr_err, ech_err, ech_zero, ratio = 0, 0.0, 0.0, 0.0, 0.0
    for alpha in (1e-4, 1e-30):
        tk = math.log(1 / alpha) / 2
        for f in (0.25, 0.5, 1.0, 2.0, 4.0, 10.0):
            t = f * tk
            ref = to_np(mp_push(lam, U, alpha, t))
            try:
                F = stable_factor(lam, Lq, alpha, t)
                qr_err = max(qr_err, rel(F @ F.T, ref))
            except np.linalg.LinAlgError:
                qr_fail += 1
            F = stable_factor(lam, Le, alpha, t)
            ech_err = max(ech_err, rel(F @ F.T, ref))
            missing = [i for i in range(4) if not np.any(U[i])]
            if missing:
                ech_zero = max(ech_zero, float(np.max(np.abs(F[missing]))))
            # uniform bound: cond(M) <= m^3 (n+1) (1 + 1/g)^{2(m-1)} / g^2
            m = Le.shape[1]
            gam = min(abs(Le[p, j]) / np.max(np.abs(Le[:, j])) for j, p in enumerate(piv))
            bound = m**3 * 5 * (1 + 1 / gam) ** (2 * (m - 1)) / gam**2
            ratio = max(ratio, np.linalg.cond(stable_parts(lam, Le, alpha, t)["M"]) / bound)
    ck.ge(
        f"{name}: plain QR breaks (Cholesky failures {qr_fail}/12, worst error {qr_err:.1e})",
        qr_fail + qr_err,
        1e-6,
    )
    if "rounding" in name:  # the float64 data has rank 4: its exact flow learns 4 modes late
        ck.ge(
            f"{name}: echelon (pivots {piv}) drops the rounding-level rows; "
            "vs exact flow of the rounded data",
            ech_err,
            0.1,
        )
        continue
    ck.le(f"{name}: echelon factor (pivots {piv}) vs mpmath", ech_err, 1e-13)
    ck.le(f"{name}: echelon factor keeps untouched modes exactly 0 (max |F~_i.|)", ech_zero, 0.0)
    ck.le(f"{name}: cond(M) / uniform bound (echelon)", ratio, 1.0)

# 4b. what the installed mfflow does on an exact zero component (information only)
try:
    import mfflow  # type: ignore[import-not-found]
except Exception as exc:
    print(f"  info: mfflow not importable ({type(exc).__name__}); skipping its zero-row probe")
else:
    lam = np.array([4.0, 3.0, 2.0, 1.0])
    U = np.random.default_rng(0).standard_normal((4, 4))
    U[0] = 0.0
    alpha = 1e-4
    tk = math.log(1 / alpha) / 2
    got = []
    for f in (1.0, 2.0):
        try:
            w = mfflow.closed_form(np.diag(lam), U, alpha).W(f * tk)
            got.append(f"{rel(w, to_np(mp_push(lam, U, alpha, f * tk))):.1e}")
        except Exception as exc:
            got.append(type(exc).__name__)
    print(f"  info: mfflow.closed_form, zero row 0, alpha 1e-4, t = t_K, 2 t_K: {got}")

# 5. flushing sub-normals --------------------------------------------------------------------
lam = np.array([4.0, 3.0, 1.0, -60.0])
U = rng.standard_normal((4, 4))
L = echelon_factor(U)[0]
t = 12.0  # e^{-60 t} = e^{-720}: sub-normal without the flush
p = stable_parts(lam, L, 1e-6, t, flush=False)
with np.errstate(under="ignore"):
    sub = int(np.sum((np.abs(p["row"]) > 0) & (np.abs(p["row"]) < 2.2250738585072014e-308)))
Ff = stable_factor(lam, L, 1e-6, t, flush=True)
Fn = stable_factor(lam, L, 1e-6, t, flush=False)
ck.ge("sub-normal row factors present without the flush (count)", sub, 1)
ck.le("flushed vs unflushed W~ (rel. Frobenius)", rel(Ff @ Ff.T, Fn @ Fn.T), 1e-290)

# 6. low-rank target reduction -----------------------------------------------------------------
n, K, r = 300, 3, 2
B = np.linalg.qr(rng.standard_normal((n, K)))[0]
vals = np.array([3.0, 1.5, -0.5])
U0 = rng.standard_normal((n, r))
Y = (B * vals) @ B.T
lam_f, phi_f = np.linalg.eigh(Y)
order = np.argsort(-lam_f)
lam_f, phi_f = lam_f[order], phi_f[:, order]
lam_f[np.abs(lam_f) < 1e-13] = 0.0
Lf = echelon_factor(phi_f.T @ U0)[0]
perp = U0 - B @ (B.T @ U0)
Q2 = np.linalg.qr(perp)[0]
Q2 = np.linalg.qr(Q2 - B @ (B.T @ Q2))[0]
Q = np.concatenate([B, Q2], axis=1)
lam_d = np.concatenate([vals, np.zeros(r)])
o = np.argsort(-lam_d, kind="stable")
lam_d, Q = lam_d[o], Q[:, o]
Ld = echelon_factor(Q.T @ U0)[0]
ck.le("U0 lies in span(basis, Q2): ||U0 - Q Q^T U0|| / ||U0||", rel(Q @ (Q.T @ U0), U0), 1e-14)
worst = 0.0
for t in (0.5, 3.0, 8.0, 40.0):
    Fd = Q @ stable_factor(lam_d, Ld, 1e-8, t)
    Ff = phi_f @ stable_factor(lam_f, Lf, 1e-8, t)
    worst = max(worst, rel(Fd @ Fd.T, Ff @ Ff.T))
ck.le("reduced (d = K + r = 5) vs full (n = 300) evaluation", worst, 1e-12)

# 7a. a component 1e-16 along an eigenvector grows like e^{2 lam t} ------------------------------
lam = np.array([4.0, 3.0, 2.0, 1.0])
U = rng.standard_normal((4, 4))
U[0] = 0.0
Ud = U.copy()
Ud[0] = 1e-16 * rng.standard_normal(4)
alpha = 1e-4
w1 = to_np(mp_push(lam, Ud, alpha, 0.3))[0, 0]
w2 = to_np(mp_push(lam, Ud, alpha, 0.6))[0, 0]
ck.le(
    "1e-16 component: W~_11(0.6)/W~_11(0.3) vs e^{2 lam_1 0.3}: |ratio - 1|",
    abs(w2 / w1 / math.exp(2 * 4.0 * 0.3) - 1),
    1e-2,
)
# learned when alpha d^2 e^{2 lam_1 t} ~ lam_1, d = distance of row 0 to span(rows 1..3)
q_perp = np.linalg.svd(Ud[1:])[2][-1]
d_perp = abs(float(Ud[0] @ q_perp))
t_star = math.log(lam[0] / (alpha * d_perp**2)) / (2 * lam[0])
early = to_np(mp_push(lam, Ud, alpha, 0.8 * t_star))[0, 0] / lam[0]
late = to_np(mp_push(lam, Ud, alpha, 1.2 * t_star))[0, 0] / lam[0]
ck.le(f"W~_11/lam_1 at 0.8 t* (t* = {t_star:.2f}: predicted leak transition)", early, 0.1)
ck.ge("W~_11/lam_1 at 1.2 t* (an exact zero stays 0 for ever)", late, 0.9)

# 7b. float64 ODE floor at tiny alpha ----------------------------------------------------------
rng3 = np.random.default_rng(3)
lam = np.array([3.0, 1.0])
phi = orthogonal(2, rng3)
Y = (phi * lam) @ phi.T
U0 = rng3.standard_normal((2, 2))
L = echelon_factor(phi.T @ U0)[0]
floor = {}
for alpha in (1e-30, 1e-40):
    tk = math.log(1 / alpha) / 2
    ts = np.linspace(0.05, 1.5, 60) * tk
    refs = [phi @ (lambda F: F @ F.T)(stable_factor(lam, L, alpha, t)) @ phi.T for t in ts]
    for rtol in (1e-10, 1e-13):
        Us = ode_flow(Y, U0, alpha, ts, rtol=rtol)
        floor[alpha, rtol] = max(rel(Us[k] @ Us[k].T, refs[k]) for k in range(ts.size))
    est = 1e-16 * alpha ** (-(1 - lam[1] / lam[0]) / 2)
    ck.le(
        f"ODE floor alpha={alpha:g}: measured {floor[alpha, 1e-13]:.1e} / estimate {est:.1e}",
        floor[alpha, 1e-13] / est,
        1.0,
    )
ck.le(
    "ODE floor at alpha=1e-40 independent of rtol: |log10(err(1e-10)/err(1e-13))|",
    abs(math.log10(floor[1e-40, 1e-10] / floor[1e-40, 1e-13])),
    1.0,
)
ck.ge(
    "ODE floor grows as alpha shrinks: err(1e-40)/err(1e-30)",
    floor[1e-40, 1e-13] / floor[1e-30, 1e-13],
    10.0,
)
floors = []
for seed in (3, 4, 5):  # 3 x 3, spectrum 3, 2, 1, alpha = 1e-40
    rs = np.random.default_rng(seed)
    lam3 = np.array([3.0, 2.0, 1.0])
    phi3 = orthogonal(3, rs)
    U3 = rs.standard_normal((3, 3))
    L3 = echelon_factor(phi3.T @ U3)[0]
    ts = np.linspace(0.05, 1.5, 60) * math.log(1e40) / 2
    Us = ode_flow((phi3 * lam3) @ phi3.T, U3, 1e-40, ts, rtol=1e-13)
    floors.append(
        max(
            rel(
                Us[k] @ Us[k].T,
                phi3 @ (lambda F: F @ F.T)(stable_factor(lam3, L3, 1e-40, t)) @ phi3.T,
            )
            for k, t in enumerate(ts)
        )
    )
est3 = 1e-16 * 1e-40 ** (-(1 - 1 / 3) / 2)
print(
    f"  info: 3 x 3 (spectrum 3, 2, 1) ODE floors at alpha = 1e-40: {np.array(floors)}, "
    f"estimate {est3:.1e}"
)
ck.le("3 x 3 ODE floors at alpha = 1e-40 / estimate (max over 3 problems)", max(floors) / est3, 1.0)
ck.done()
