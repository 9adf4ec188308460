"""The closed form on PyTorch and JAX arrays against the NumPy path (the reference here).

Every path (spectral, dense with a batched and a per-time LAPACK kernel on the NumPy side,
low-rank reduced) and every evaluation runs on each backend in float64 and float32; results must
come back in the input's library, dtype and device. Tolerances (relative to the largest entry at
each time): float64 ``1e-12``; float32 ``FLOAT32_TOL`` (measured worst ~1e-5, relative to the
float32 resolution 6e-8 this is the growth of rounding in ``e^{lam t}`` exponents ~ lam t).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import mfflow

torch = pytest.importorskip("torch")
jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)  # float64 JAX arrays; float32 ones stay float32
import array_api_compat  # noqa: E402
import jax.numpy as jnp  # noqa: E402

FLOAT64_TOL = 1e-12
FLOAT32_TOL = 1e-4

BACKENDS = {
    "torch-float64": lambda a: torch.asarray(np.asarray(a), dtype=torch.float64),
    "torch-float32": lambda a: torch.asarray(np.asarray(a), dtype=torch.float32),
    "jax-float64": lambda a: jnp.asarray(np.asarray(a), dtype=jnp.float64),
    "jax-float32": lambda a: jnp.asarray(np.asarray(a), dtype=jnp.float32),
}


def _np(a) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy().astype(np.float64)
    return np.asarray(a, dtype=np.float64)


def _problem(case: str):
    """(Y or (basis, values), U0, expected path, expected reduced)."""
    if case == "spectral":
        y = mfflow.make_target([3.0, 1.0, -0.5], n=4, seed=1)
        return y, mfflow.spectral_init(y, [1.0, 0.5, 2.0, 0.3], seed=2), "spectral", False
    if case == "dense-small":  # NumPy: batched kernel (m < 24); indefinite, r > n
        y = mfflow.make_target([2.0, 1.2, 0.0, -0.7, -1.5], seed=3)
        return y, mfflow.gaussian_init(5, 7, seed=4), "dense", False
    if case == "dense-blas":  # NumPy: per-time LAPACK kernel (m >= 24), trapezoidal L
        y = mfflow.make_target(np.r_[np.linspace(2.0, 0.5, 28), -1.0, 0.0], seed=5)
        return y, mfflow.gaussian_init(30, 26, seed=6), "dense", False
    if case == "lowrank":  # target as a factor, dynamics in a (K + r)-dim subspace of R^200
        basis = np.linalg.qr(np.random.default_rng(7).standard_normal((200, 3)))[0]
        values = np.array([3.0, 2.0, 1.0])
        return (basis, values), mfflow.gaussian_init(200, 2, seed=8), "dense", True
    raise AssertionError(case)


CASES = ["spectral", "dense-small", "dense-blas", "lowrank"]


def _convert(target, u0, conv):
    if isinstance(target, tuple):
        return tuple(conv(x) for x in target), conv(u0)
    return conv(target), conv(u0)


def _times(alpha: float) -> np.ndarray:
    last = math.log(1 / alpha) / (2 * 0.5)
    return np.array([0.0, 0.1 * last, 0.5 * last, last, 2 * last])


def _rel(a, ref: np.ndarray) -> float:
    """Worst over the leading (time) axis of max|a - ref| / max|ref|."""
    a = _np(a)
    ref = np.asarray(ref, dtype=np.float64)
    if ref.ndim == 1:
        return float(np.max(np.abs(a - ref)) / max(np.max(np.abs(ref)), 1e-300))
    axes = tuple(range(1, ref.ndim))
    scale = np.maximum(np.max(np.abs(ref), axis=axes), 1e-300)
    return float(np.max(np.max(np.abs(a - ref), axis=axes) / scale))


# float32 is not paired with alpha = 1e-100: alpha W0 is below its normal range (1.2e-38)
_BACKEND_ALPHA = [
    (backend, alpha)
    for backend in BACKENDS
    for alpha in (1e-4, 1e-12, 1e-100)
    if not (backend.endswith("float32") and alpha < 1e-30)
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize(
    ("backend", "alpha"), _BACKEND_ALPHA, ids=[f"{b}-alpha={a:g}" for b, a in _BACKEND_ALPHA]
)
def test_backend_matches_numpy(backend, case, alpha, ledger):
    float32 = backend.endswith("float32")
    tol = FLOAT32_TOL if float32 else FLOAT64_TOL
    target, u0, path, reduced = _problem(case)
    y_x, u0_x = _convert(target, u0, BACKENDS[backend])
    traj = mfflow.closed_form(y_x, u0_x, alpha)
    # the reference: the exact flow of the problem as rounded to the backend's dtype (a spectral
    # init rounded to float32 is no longer spectral to 1e-12 and takes the dense path)
    # (a float32 basis is re-orthonormalized: the reference keeps the float64 one)
    rounded = target if reduced else _np(y_x)
    ref = mfflow.closed_form(rounded, _np(u0_x), alpha)
    assert (traj.path, traj.reduced, traj.backend) == (ref.path, reduced, backend.split("-")[0])
    assert traj.path == path or float32
    xp = array_api_compat.array_namespace(u0_x)
    ts = _times(alpha)
    k = min(traj.n, 6)
    results = {
        "W": (traj.W(ts), ref.W(ts)),
        "W_eig": (traj.W_eig(ts), ref.W_eig(ts)),
        "mode_values": (traj.mode_values(ts), ref.mode_values(ts)),
        "eigvals": (traj.eigvals(ts, k=k), ref.eigvals(ts, k=k)),
        "loss": (traj.loss(ts), ref.loss(ts)),
        "W(scalar t)": (traj.W(float(ts[2])), ref.W(float(ts[2]))[None]),
    }
    f = traj.factor(ts)
    results["factor F F^T"] = (f @ xp.matrix_transpose(f), ref.W(ts))
    if not reduced:
        results["distance"] = (traj.distance(ref.Y, ts), ref.distance(ref.Y, ts))
    for name, (got, want) in results.items():
        assert array_api_compat.array_namespace(got) is xp, name
        assert got.dtype == u0_x.dtype, name
        assert array_api_compat.device(got) == array_api_compat.device(u0_x), name
        assert tuple(got.shape) == tuple(np.shape(want[0] if name == "W(scalar t)" else want))
        err = _rel(got, want)
        ledger.record(f"{backend} vs numpy ({name})", err, f"{case} alpha={alpha:g}")
        assert err <= tol, (name, err)
    # a scalar time gives a 0-d array of the input's library (a Python float would cut the
    # autograd graph / JAX trace); NumPy gives a float
    scalar_loss = traj.loss(1.0)
    assert array_api_compat.array_namespace(scalar_loss) is xp and scalar_loss.ndim == 0
    assert isinstance(mfflow.closed_form(*_convert(target, u0, np.asarray), 1e-3).loss(1.0), float)


@pytest.mark.parametrize("backend", ["torch-float64", "jax-float64"])
def test_path_selection_and_describe(backend):
    conv = BACKENDS[backend]
    name = backend.split("-")[0]
    for case in CASES:
        target, u0, path, reduced = _problem(case)
        traj = mfflow.closed_form(*_convert(target, u0, conv), 1e-6)
        assert (traj.path, traj.reduced) == (path, reduced), case
        text = traj.describe()
        assert ("logistic" in text) == (path == "spectral"), text
        assert ("Cholesky" in text) == (path == "dense"), text
        assert ("subspace" in text) == reduced, text
        assert f"evaluated by {name} (float64" in text, text
    y, u0, _, _ = _problem("spectral")
    assert mfflow.closed_form(conv(y), conv(u0), 1e-6, spectral=False).path == "dense"


def test_numpy_path_reports_numpy():
    y, u0, _, _ = _problem("dense-small")
    traj = mfflow.closed_form(y, u0, 1e-6)
    assert traj.backend == "numpy" and "evaluated by" not in traj.describe()
    assert isinstance(traj.W(1.0), np.ndarray)


def test_numpy_init_with_torch_target_returns_torch():
    y, u0, _, _ = _problem("dense-small")
    traj = mfflow.closed_form(torch.asarray(y), u0, 1e-6)
    out = traj.W(np.array([0.0, 3.0]))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), mfflow.closed_form(y, u0, 1e-6).W([0.0, 3.0]))


def test_torch_and_jax_mixed_is_refused():
    y, u0, _, _ = _problem("dense-small")
    with pytest.raises(TypeError, match="one library"):
        mfflow.closed_form(torch.asarray(y), jnp.asarray(u0), 1e-6)


def test_backend_inputs_are_validated_like_numpy():
    y, u0, _, _ = _problem("dense-small")
    bad = y.copy()
    bad[0, 1] += 1.0
    with pytest.raises(ValueError, match="symmetric"):
        mfflow.closed_form(torch.asarray(bad), torch.asarray(u0), 1e-6)
    with pytest.raises(ValueError, match="rows"):
        mfflow.closed_form(jnp.asarray(y), jnp.asarray(u0[:3]), 1e-6)
