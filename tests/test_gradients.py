"""Gradients and jit through the exact trajectory (PyTorch autograd, JAX grad/jacfwd/vmap/jit).

Every gradient is checked against central finite differences of the float64 NumPy path (an
independent computation: no autograd), the time derivative of the loss also against the exact
identity ``dL/dt = -tr((Y - W)^2 W)`` of the symmetric flow (no differencing at all), torch
against JAX, jit against eager. Inputs that cannot be differentiated are refused before any
computation, naming the input.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import mfflow

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402

Y = mfflow.make_target([3.0, 2.0, 1.0], n=4, seed=0)
U0 = mfflow.gaussian_init(4, 5, seed=1)
TIMES = np.array([0.0, 2.5, 5.0, 9.0])
OUTPUTS = ["W", "eigvals", "loss", "mode_values"]
WEIGHTS = {  # a fixed random projection turns each output into one number
    "W": np.random.default_rng(0).standard_normal((TIMES.size, 4, 4)),
    "eigvals": np.random.default_rng(1).standard_normal((TIMES.size, 4)),
    "loss": np.random.default_rng(2).standard_normal(TIMES.size),
    "mode_values": np.random.default_rng(3).standard_normal((TIMES.size, 4)),
}


def _value(y, u0, alpha, times, output) -> float:
    """The projected output on the float64 NumPy path."""
    out = getattr(mfflow.closed_form(y, u0, alpha), output)(times)
    return float(np.sum(WEIGHTS[output] * out))


def _fd(fun, x: np.ndarray, h: float) -> np.ndarray:
    """Central finite differences of ``fun`` at ``x`` (every entry)."""
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        g[idx] = (fun(x + e) - fun(x - e)) / (2 * h)
    return g


def _torch_grads(output: str, alpha: float = 1e-6):
    y = torch.tensor(Y, requires_grad=True)
    u = torch.tensor(U0, requires_grad=True)
    a = torch.tensor(alpha, dtype=torch.float64, requires_grad=True)
    t = torch.tensor(TIMES, requires_grad=True)
    traj = mfflow.closed_form(y, u, a)
    val = (torch.tensor(WEIGHTS[output]) * getattr(traj, output)(t)).sum()
    val.backward()
    return {"Y": y.grad.numpy(), "U0": u.grad.numpy(), "alpha": a.grad.item(), "t": t.grad.numpy()}


@pytest.mark.parametrize("output", OUTPUTS)
def test_torch_gradients_match_finite_differences(output, ledger):
    """d/dU0, d/dY (symmetric directions), d/dlog(alpha), d/dt of every output, relative error
    <= 1e-6 of the gradient's size (finite differences are good to ~1e-9 here)."""
    alpha = 1e-6
    got = _torch_grads(output, alpha)
    want_u = _fd(lambda u: _value(Y, u, alpha, TIMES, output), U0, 1e-6)
    # Y is symmetric: compare the derivative along symmetric perturbations E_ij + E_ji
    sym = got["Y"] + got["Y"].T - np.diag(np.diag(got["Y"]))

    def along(i, j, h):
        e = np.zeros_like(Y)
        e[i, j] = e[j, i] = h
        return (
            _value(Y + e, U0, alpha, TIMES, output) - _value(Y - e, U0, alpha, TIMES, output)
        ) / (2 * h)

    want_y = np.array([[along(i, j, 1e-6) for j in range(4)] for i in range(4)])
    want_a = (
        _value(Y, U0, math.exp(math.log(alpha) + 1e-5), TIMES, output)
        - _value(Y, U0, math.exp(math.log(alpha) - 1e-5), TIMES, output)
    ) / 2e-5
    want_t = np.array(
        [
            (_value(Y, U0, alpha, TIMES + e, output) - _value(Y, U0, alpha, TIMES - e, output))
            / 2e-6
            for e in 1e-6 * np.eye(TIMES.size)[1:]
        ]
    )
    for name, g, w in [
        ("U0", got["U0"], want_u),
        ("Y", sym, want_y),
        ("log alpha", np.array(got["alpha"] * alpha), np.array(want_a)),
        ("t (t > 0)", got["t"][1:], want_t),
    ]:
        err = float(np.max(np.abs(g - w)) / max(np.max(np.abs(w)), 1e-300))
        ledger.record(f"torch d{output}/d{name} vs finite differences", err, "alpha=1e-6")
        assert err <= 1e-6, (output, name, err)


@pytest.mark.parametrize("t", [0.0, 1.0, 4.6, 20.0])
def test_time_derivative_of_the_loss_is_the_exact_identity(t, ledger):
    """dL/dt = -tr((Y - W)^2 W) for the symmetric flow, W from the closed form; t = 0 included
    (the kernel's first-order start there is exact in value and first derivative)."""
    tt = torch.tensor(t, dtype=torch.float64, requires_grad=True)
    traj = mfflow.closed_form(torch.tensor(Y), torch.tensor(U0), 1e-4)
    traj.loss(tt).backward()
    W = mfflow.closed_form(Y, U0, 1e-4).W(t)
    R = Y - W
    want = -np.trace(R @ R @ W)
    # relative, with an absolute floor: once converged (t = 20) both sides are ~1e-15 and the
    # identity itself is evaluated with absolute error ~eps ||Y||^2 ||Y - W||
    err = abs(tt.grad.item() - want) / max(abs(want), 1e-300)
    ledger.record("dL/dt vs -tr((Y - W)^2 W)", err, f"t={t}")
    assert abs(tt.grad.item() - want) <= 1e-10 * abs(want) + 1e-16 * np.linalg.norm(Y) ** 2 * (
        np.linalg.norm(R) + 1e-12
    ), (t, tt.grad.item(), want)


@pytest.mark.parametrize("output", OUTPUTS)
def test_jax_gradients_equal_torch(output):
    alpha = 1e-6

    def f(y, u, la, t):
        traj = mfflow.closed_form(y, u, jnp.exp(la))
        return jnp.sum(jnp.asarray(WEIGHTS[output]) * getattr(traj, output)(t))

    g = jax.grad(f, argnums=(0, 1, 2, 3))(
        jnp.asarray(Y), jnp.asarray(U0), jnp.asarray(math.log(alpha)), jnp.asarray(TIMES)
    )
    want = _torch_grads(output, alpha)
    np.testing.assert_allclose(np.asarray(g[1]), want["U0"], rtol=1e-9, atol=1e-12)
    # through eigh's backward (eigenvector derivatives) torch and JAX round differently: the
    # Y-gradient is good to ~1e-6 relative (both against 60-digit finite differences)
    scale = np.abs(want["Y"]).max()
    np.testing.assert_allclose(np.asarray(g[0]), want["Y"], rtol=0, atol=1e-5 * scale)
    np.testing.assert_allclose(float(g[2]), want["alpha"] * alpha, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(np.asarray(g[3]), want["t"], rtol=1e-9, atol=1e-12)


def test_jit_equals_eager_and_vmap_over_t_and_alpha():
    """jit gives the eager numbers; vmap over t and over alpha, jacfwd == grad. (Each JAX
    transformation compiles the kernel anew, seconds each: the test keeps to W and the loss.)"""
    traj = mfflow.closed_form(jnp.asarray(Y), jnp.asarray(U0), 1e-6)
    t = jnp.asarray(TIMES)
    for name in ("W", "loss"):
        eager = getattr(traj, name)(t)
        jitted = jax.jit(getattr(traj, name))(t)
        np.testing.assert_allclose(np.asarray(jitted), np.asarray(eager), rtol=1e-13, atol=1e-15)
    vm = jax.vmap(traj.loss)(t)
    np.testing.assert_allclose(np.asarray(vm), np.asarray(traj.loss(t)), rtol=1e-13)
    np.testing.assert_allclose(
        float(jax.jacfwd(traj.loss)(jnp.asarray(5.0))),
        float(jax.grad(traj.loss)(jnp.asarray(5.0))),
        rtol=1e-12,
    )

    def curve(la):
        return mfflow.closed_form(jnp.asarray(Y), jnp.asarray(U0), jnp.exp(la)).loss(5.0)

    las = jnp.log(jnp.asarray([1e-4, 1e-30]))
    vg = np.asarray(jax.vmap(jax.grad(curve))(las))
    want = [
        (
            mfflow.closed_form(Y, U0, a * math.exp(1e-5)).loss(5.0)
            - mfflow.closed_form(Y, U0, a * math.exp(-1e-5)).loss(5.0)
        )
        / 2e-5
        for a in (1e-4, 1e-30)
    ]
    np.testing.assert_allclose(vg, want, rtol=1e-6, atol=1e-10)  # at 1e-30: ~1e-18, FD gives 0


def test_build_under_jit_with_a_static_structure():
    """Under jax.jit Y and U0 have no values: the structure is computed outside (static) and
    only the numbers are traced; the result and its gradient equal the eager ones."""
    structure = mfflow.riccati.analyze(Y, U0, spectral=False)

    @jax.jit
    def loss(u, la):
        return mfflow.closed_form(jnp.asarray(Y), u, jnp.exp(la), structure=structure).loss(5.0)

    la = math.log(1e-6)
    assert float(loss(jnp.asarray(U0), la)) == pytest.approx(
        mfflow.closed_form(Y, U0, 1e-6).loss(5.0), rel=1e-13
    )
    g = jax.grad(loss)(jnp.asarray(U0), la)
    want = _fd(lambda u: mfflow.closed_form(Y, u, 1e-6).loss(5.0), U0, 1e-6)
    np.testing.assert_allclose(np.asarray(g), want, rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match="structure"):
        jax.jit(lambda u: mfflow.closed_form(jnp.asarray(Y), u, 1e-6).loss(5.0))(jnp.asarray(U0))


@pytest.mark.parametrize("alpha", [1e-30, 1e-120])
def test_gradients_at_tiny_alpha_are_finite_and_match_log_space_differences(alpha, ledger):
    la = torch.tensor(math.log(alpha), dtype=torch.float64, requires_grad=True)
    u = torch.tensor(U0, requires_grad=True)
    t_end = math.log(1 / alpha) / 2.0  # through the transitions
    times = torch.tensor(np.linspace(0.0, t_end, 9))
    traj = mfflow.closed_form(torch.tensor(Y), u, torch.exp(la))
    traj.eigvals(times).sum().backward()
    assert np.isfinite(la.grad.item()) and torch.isfinite(u.grad).all()

    def f(log_a):
        return float(mfflow.closed_form(Y, U0, math.exp(log_a)).eigvals(times.numpy()).sum())

    h = 1e-5
    want = (f(math.log(alpha) + h) - f(math.log(alpha) - h)) / (2 * h)
    err = abs(la.grad.item() - want) / abs(want)
    ledger.record("d eigvals / d log alpha vs finite differences", err, f"alpha={alpha:g}")
    assert err <= 1e-6


def test_repeated_eigenvalue_gradients_with_respect_to_u0_alpha_t_are_defined():
    """Y with a repeated eigenvalue: W(t) is smooth in U0, alpha and t (eigh of Y is not in the
    graph), and matches finite differences; a gradient on Y itself is refused."""
    y = np.diag([2.0, 1.0, 1.0, 0.5])
    u = torch.tensor(U0, requires_grad=True)
    mfflow.closed_form(torch.tensor(y), u, 1e-3).loss(torch.tensor(6.0)).backward()
    want = _fd(lambda x: mfflow.closed_form(y, x, 1e-3).loss(6.0), U0, 1e-6)
    np.testing.assert_allclose(u.grad.numpy(), want, rtol=1e-6, atol=1e-10)
    with pytest.raises(ValueError, match="Y: gradient with respect to a target with a repeated"):
        mfflow.closed_form(torch.tensor(y, requires_grad=True), torch.tensor(U0), 1e-3)


def test_refusals_name_the_input_before_computing():
    u_grad = torch.tensor(U0, requires_grad=True)
    missing = U0.copy()
    missing[0] = 0.0  # Y = diag: an exact zero component along the top eigenvector
    with pytest.raises(ValueError, match="U0: the init has an exactly zero"):
        mfflow.closed_form(
            torch.tensor(np.diag([3.0, 2.0, 1.0, 0.5])),
            torch.tensor(missing, requires_grad=True),
            1e-3,
        )
    basis = np.eye(4)[:, :2]
    with pytest.raises(ValueError, match="U0: gradients through a target given as a low-rank"):
        mfflow.closed_form((torch.tensor(basis), torch.tensor([2.0, 1.0])), u_grad, 1e-3)
    with pytest.raises(ValueError, match="spectral"):
        mfflow.closed_form(torch.tensor(Y), u_grad, 1e-3, spectral=True)
    traj = mfflow.closed_form(torch.tensor(Y), u_grad, 1e-3)
    with pytest.raises(ValueError, match="U0: limit"):
        traj.limit()
    with pytest.raises(ValueError, match="U0: carry gradients"):
        mfflow.check_theorem(traj, eps=0.1)
    with pytest.raises(ValueError, match="algorithm"):
        traj.eigvals(1.0, algorithm="jacobi")


def test_spectral_init_differentiated_in_u0_uses_the_dense_formula():
    """At a spectral init the spectral formula's derivative misses the off-diagonal directions;
    with U0 carrying a gradient the dense path is used and matches finite differences."""
    us = mfflow.spectral_init(Y, [1.0, 0.5, 0.3, 2.0])
    u = torch.tensor(us, requires_grad=True)
    traj = mfflow.closed_form(torch.tensor(Y), u, 1e-3)
    assert traj.path == "dense"
    traj.loss(torch.tensor(3.0)).backward()
    want = _fd(lambda x: mfflow.closed_form(Y, x, 1e-3, spectral=False).loss(3.0), us, 1e-6)
    np.testing.assert_allclose(u.grad.numpy(), want, rtol=1e-6, atol=1e-10)
    # alpha and t alone keep the spectral path, with finite gradients (untouched mode included)
    a = torch.tensor(1e-3, dtype=torch.float64, requires_grad=True)
    spec = mfflow.closed_form(
        torch.tensor(Y), torch.tensor(mfflow.spectral_init(Y, [1, 0, 1, 1])), a
    )
    assert spec.path == "spectral"
    spec.W(torch.tensor([0.0, 3.0])).sum().backward()
    assert np.isfinite(a.grad.item())


# ---- the asymmetric closed form (through the symmetrized problem) --------------------------------
def test_asymmetric_gradients_in_y_alpha_t_match_finite_differences():
    """Square full-rank Y, lambda-balanced init: d/dY, d/dlog(alpha), d/dt of the loss."""
    y = np.array([[3.0, 0.5], [0.2, 1.0]])
    u0, v0 = mfflow.lambda_balanced_init(2, 2, 2, lam=0.5, seed=0)

    def f(yy, alpha, t):
        return mfflow.closed_form_asymmetric(yy, u0, v0, alpha).loss(t)

    yt = torch.tensor(y, requires_grad=True)
    a = torch.tensor(1e-4, dtype=torch.float64, requires_grad=True)
    t = torch.tensor(6.0, dtype=torch.float64, requires_grad=True)
    mfflow.closed_form_asymmetric(yt, u0, v0, a).loss(t).backward()
    want_y = _fd(lambda yy: f(yy, 1e-4, 6.0), y, 1e-6)
    np.testing.assert_allclose(yt.grad.numpy(), want_y, rtol=1e-6, atol=1e-9)
    la = math.log(1e-4)
    want_a = (f(y, math.exp(la + 1e-5), 6.0) - f(y, math.exp(la - 1e-5), 6.0)) / 2e-5
    assert a.grad.item() * 1e-4 == pytest.approx(want_a, rel=1e-7)
    want_t = (f(y, 1e-4, 6.0 + 1e-6) - f(y, 1e-4, 6.0 - 1e-6)) / 2e-6
    assert t.grad.item() == pytest.approx(want_t, rel=1e-7)


def test_asymmetric_gradients_in_the_init_are_refused():
    y = np.array([[3.0, 0.5], [0.2, 1.0]])
    u0, v0 = mfflow.balanced_init(2, 2, 2, seed=0)
    with pytest.raises(ValueError, match="U0: gradients with respect to the init"):
        mfflow.closed_form_asymmetric(y, torch.tensor(u0, requires_grad=True), v0, 1e-4)
    # |m - n| >= 2: the symmetrized target repeats the eigenvalue 0, Y-gradients are refused
    y3 = np.array([[3.0, 0.5, 0.1, 0.0], [0.2, 1.0, 0.3, 0.4]])
    u, v = mfflow.balanced_init(2, 4, 2, seed=1)
    with pytest.raises(ValueError, match="repeated eigenvalue"):
        mfflow.closed_form_asymmetric(torch.tensor(y3, requires_grad=True), u, v, 1e-4)
    # ... but alpha and t still differentiate on it
    a = torch.tensor(1e-4, dtype=torch.float64, requires_grad=True)
    mfflow.closed_form_asymmetric(y3, u, v, a).loss(torch.tensor(5.0)).backward()
    assert np.isfinite(a.grad.item())


# ---- the exact deep per-mode curves (implicit function theorem) ---------------------------------
@pytest.mark.parametrize(
    ("sigma", "s0", "L"),
    [
        ([2.0, 1.0], [1e-3, 1e-4], 2),
        ([1.5, 0.5], [1e-4, 2.0], 3),  # the second mode starts above its target and decays
        ([1.0, 0.8], [1e-6, 0.3], 4),
    ],
)
def test_deep_mode_curve_gradients_match_finite_differences(sigma, s0, L, ledger):
    sigma, s0 = np.array(sigma), np.array(s0)
    t = np.array([0.5, 3.0, 10.0, 40.0])
    w = np.random.default_rng(L).standard_normal((t.size, sigma.size))

    def f(sg, z, tt):
        return float(np.sum(w * mfflow.deep_mode_curve(sg, z, L, tt)))

    st, zt, tt = (torch.tensor(x, requires_grad=True) for x in (sigma, s0, t))
    (torch.tensor(w) * mfflow.deep_mode_curve(st, zt, L, tt)).sum().backward()
    h = 1e-7
    fd = {
        "sigma": [(f(sigma + h * e, s0, t) - f(sigma - h * e, s0, t)) / (2 * h) for e in np.eye(2)],
        "s0": [  # a relative step 1e-5: s(t) is a steep function of s0 at small s0
            (f(sigma, s0 + 1e-5 * z * e, t) - f(sigma, s0 - 1e-5 * z * e, t)) / (2e-5 * z)
            for z, e in zip(s0, np.eye(2), strict=True)
        ],
        "t": [(f(sigma, s0, t + h * e) - f(sigma, s0, t - h * e)) / (2 * h) for e in np.eye(4)],
    }
    for name, got in (("sigma", st.grad), ("s0", zt.grad), ("t", tt.grad)):
        want = np.array(fd[name])
        err = float(np.max(np.abs(got.numpy() - want)) / np.abs(want).max())
        ledger.record(f"deep_mode_curve d/d{name} vs finite differences", err, f"L={L}")
        assert err <= 1e-6, (name, err)
    g = jax.grad(
        lambda a, b, c: jnp.sum(jnp.asarray(w) * mfflow.deep_mode_curve(a, b, L, c)),
        argnums=(0, 1, 2),
    )(jnp.asarray(sigma), jnp.asarray(s0), jnp.asarray(t))
    for got, want in zip(g, (st.grad, zt.grad, tt.grad), strict=True):
        np.testing.assert_allclose(np.asarray(got), want.numpy(), rtol=1e-12, atol=0)
