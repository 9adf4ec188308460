"""Build what a configuration describes: the target, the initial factors, the operator, the times.

:func:`build_problem` runs every builder of the core library once, when the configuration is
loaded, and turns the library's ``ValueError`` into a :class:`~mfflow.app.errors.ConfigError`
naming the configuration field; what is built is then valid input for the computations, which
run without any ``except``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from .. import (
    EntrySampling,
    GaussianSensing,
    IdentityOperator,
    balanced_init,
    deep_random_init,
    deep_spectral_init,
    deep_transition_time,
    gaussian_init,
    gaussian_pair_init,
    lambda_balanced_init,
    lambda_balanced_weights,
    linear_network,
    low_rank_init,
    make_target,
    orthogonal_init,
    rectangular_target,
    spectral_init,
    teacher_task,
    whitened_inputs,
)
from ..validation import as_symmetric
from .config import RunConfig
from .errors import ConfigError, InputFileError

__all__ = ["Problem", "build_problem", "default_t_max", "learned_values", "read_array"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Problem:
    """A configuration and everything built from it.

    Attributes
    ----------
    config : RunConfig
        The configuration, with ``times.t_max`` filled in when it was left to its default.
    Y : (n, n) or (n, cols) array
        The target.
    U0 : (n, r) array, or (L, n, n) array for the deep factorization
        The initial shape (factors); the scale ``alpha`` is kept apart.
    V0 : (cols, r) array or None
        The second factor of the asymmetric factorization.
    operator : MeasurementOperator
        :class:`~mfflow.IdentityOperator` for the paper's setting.
    t : (T,) array
        The evaluation times.
    X : (d_in, P) array or None
        The inputs of a two-layer linear network (``factorization = "linear_network"``); then
        ``Y`` is ``(d_out, P)``, ``U0`` the second layer ``W2`` ``(d_out, h)`` and ``V0``
        ``W1^T`` ``(d_in, h)`` (mfflow's ``U = W2``, ``V = W1^T``), at their full scale.
    """

    config: RunConfig
    Y: FloatArray
    U0: FloatArray
    V0: FloatArray | None
    operator: Any
    t: FloatArray
    X: FloatArray | None = None


def read_array(path: Path) -> FloatArray:
    """A ``.npy`` or text file of real numbers; :class:`ConfigError` names ``target.file``."""
    where = "config field 'target.file'"
    try:
        if path.suffix == ".npy":
            data = np.load(path, allow_pickle=False)
        else:
            data = np.loadtxt(path, dtype=np.float64, ndmin=1)
    except FileNotFoundError:
        raise InputFileError(
            f"{where}: expected a readable .npy or .txt file, '{path}' does not exist"
        ) from None
    except (OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputFileError(
            f"{where}: expected a readable .npy or .txt file of numbers, could not read "
            f"'{path}' ({reason})"
        ) from None
    data = np.asarray(data)
    if data.dtype.kind not in "biuf":
        raise InputFileError(f"{where}: expected real numbers in '{path}', got dtype {data.dtype}")
    return np.asarray(data, dtype=np.float64)


def _fail(field: str, exc: ValueError) -> ConfigError:
    """The library's message, prefixed with the field (raise it ``from exc``)."""
    return ConfigError(f"config field '{field}': {exc}")


def _target(cfg: RunConfig, base: Path | None) -> FloatArray:
    t = cfg.target
    f = cfg.factorization
    spec: Any = t.values()
    field = "target"
    if t.file is not None:
        field = "target.file"
        path = Path(t.file)
        if base is not None and not path.is_absolute():
            path = base / path
        data = read_array(path)
        if data.ndim == 2:
            if f == "symmetric":
                try:
                    y = as_symmetric(data, "Y")
                except ValueError as exc:
                    raise _fail(field, exc) from exc
                if t.n is not None and t.n != y.shape[0]:
                    raise ConfigError(
                        f"config field 'target.n': expected {y.shape[0]} (the size of the "
                        f"matrix in '{path}'), got {t.n}"
                    )
                return y
            if f == "deep" and data.shape[0] != data.shape[1]:
                raise ConfigError(
                    "config field 'target.file': expected a square matrix for the deep "
                    f"factorization (n x n factors), got shape {data.shape}"
                )
            if not np.all(np.isfinite(data)):
                raise ConfigError("config field 'target.file': expected finite entries")
            return data
        if data.ndim != 1:
            raise ConfigError(
                f"config field 'target.file': expected a 1-D spectrum or a 2-D matrix in "
                f"'{path}', got an array of shape {data.shape}"
            )
        spec = data
    try:
        if f == "symmetric":
            return make_target(spec, n=t.n, seed=t.seed)
        rows = t.n if t.n is not None else len(spec)
        cols = t.cols if t.cols is not None else rows
        return rectangular_target(spec, rows, cols, seed=t.seed)
    except ValueError as exc:
        raise _fail(field, exc) from exc


def _factors(cfg: RunConfig, Y: FloatArray) -> tuple[FloatArray, FloatArray | None]:
    i = cfg.init
    f = cfg.factorization
    n = Y.shape[0]
    if i.kind == "spectral" and isinstance(i.scales, list) and len(i.scales) != n:
        raise ConfigError(
            f"config field 'init.scales': expected a number or a list of n = {n} numbers, "
            f"got {len(i.scales)} numbers"
        )
    try:
        if f == "asymmetric":
            m, c = Y.shape
            r = min(m, c) if i.r is None else i.r
            if i.kind == "balanced":
                return balanced_init(m, c, r, i.seed, Y=Y)
            if i.kind == "lambda_balanced":
                assert i.lam is not None  # the configuration's rules
                return lambda_balanced_init(m, c, r, i.lam, i.seed)
            return gaussian_pair_init(
                m, c, r, scale_u=i.scale_u or 1.0, scale_v=i.scale_v or 1.0, seed=i.seed
            )
        if f == "deep":
            assert cfg.depth is not None  # the configuration's rules
            if i.kind == "spectral":
                return deep_spectral_init(Y, cfg.depth, i.scales), None
            return deep_random_init(n, cfg.depth, seed=i.seed), None
        r = n if i.r is None else i.r
        if i.kind == "gaussian":
            return gaussian_init(n, r, seed=i.seed), None
        if i.kind == "orthogonal":
            return orthogonal_init(n, r, seed=i.seed), None
        if i.kind == "low_rank":
            assert i.rank is not None  # the configuration's rules
            return low_rank_init(n, r, i.rank, seed=i.seed), None
        return spectral_init(Y, i.scales, r=r, seed=i.seed), None
    except ValueError as exc:
        raise _fail("init", exc) from exc


def _operator(cfg: RunConfig, Y: FloatArray) -> Any:
    o = cfg.operator
    n, cols = Y.shape
    c = None if cfg.factorization == "symmetric" else cols
    try:
        if o.kind == "gaussian":
            assert o.m is not None  # the configuration's rules
            return GaussianSensing(n, o.m, seed=o.seed, cols=c)
        if o.kind == "completion":
            assert o.fraction is not None  # the configuration's rules
            return EntrySampling(n, o.fraction, seed=o.seed, cols=c)
    except ValueError as exc:
        raise _fail("operator", exc) from exc
    return IdentityOperator(n, cols=cols)


def learned_values(Y: FloatArray, factorization: str) -> FloatArray:
    """The values a flow learns, descending: positive eigenvalues (symmetric) or positive
    singular values (asymmetric, deep)."""
    if factorization == "symmetric":
        s = np.linalg.eigvalsh(Y)[::-1]
    else:
        s = np.linalg.svd(Y, compute_uv=False)
    top = float(np.max(np.abs(s))) if s.size else 0.0
    return cast(FloatArray, s[s > 1e-12 * max(top, 1e-300)])


def default_t_max(sigma: FloatArray, alpha: float, factorization: str, depth: int | None) -> float:
    """A horizon past the last transition: ``1.5 t_K + 5 w_K``.

    ``t_K`` is the predicted transition time of the smallest learned value ``sigma_K``
    (``log(1/alpha) / (2 sigma_K)``, or the deep per-mode half time) and ``w_K`` its time
    constant (``1 / sigma_K``, or ``1 / (L sigma_K^{2 - 2/L})``). ``10`` without any value.
    """
    if sigma.size == 0:
        return 10.0
    s = float(np.min(sigma))
    if factorization == "deep":
        assert depth is not None
        t_k = float(np.max(deep_transition_time(sigma, alpha, depth)))
        width = 1.0 / (depth * s ** (2.0 - 2.0 / depth))
    else:
        t_k = -math.log(alpha) / (2.0 * s)
        width = 1.0 / s
    return 1.5 * max(t_k, 0.0) + 5.0 * width


def _network_data(cfg: RunConfig, base: Path | None) -> tuple[FloatArray, FloatArray]:
    """``(X, Y)`` of a linear network: a teacher on whitened inputs, or a ``.npz`` file."""
    t = cfg.target
    if t.file is None:
        spec = t.values()
        assert spec is not None
        d_out = t.n if t.n is not None else len(spec)
        d_in = t.cols if t.cols is not None else d_out
        P = t.P if t.P is not None else 4 * d_in
        try:
            X = whitened_inputs(d_in, P, seed=t.seed)
        except ValueError as exc:
            raise _fail("target.P", exc) from exc
        try:
            return X, teacher_task(X, d_out, spec, seed=t.seed)
        except ValueError as exc:
            raise _fail("target", exc) from exc
    for name in ("n", "cols", "P"):
        if getattr(t, name) is not None:
            raise ConfigError(
                f"config field 'target.{name}': only used without 'file' (the sizes are the file's)"
            )
    path = Path(t.file)
    if base is not None and not path.is_absolute():
        path = base / path
    where = "config field 'target.file'"
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: np.asarray(z[k]) for k in ("X", "Y") if k in z.files}
    except (OSError, ValueError) as exc:
        raise InputFileError(
            f"{where}: expected a readable .npz file with arrays X and Y, could not read "
            f"'{path}' ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
        ) from None
    missing = [k for k in ("X", "Y") if k not in arrays]
    if missing:
        raise InputFileError(f"{where}: '{path}' has no array {' or '.join(missing)}")
    X, Y = arrays["X"], arrays["Y"]
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1]:
        raise ConfigError(
            f"{where}: expected X (d_in, P) and Y (d_out, P) with the same P, got shapes "
            f"{X.shape} and {Y.shape}"
        )
    if X.dtype.kind not in "biuf" or Y.dtype.kind not in "biuf":
        raise ConfigError(f"{where}: expected real numbers in X and Y")
    X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(Y))):
        raise ConfigError(f"{where}: expected finite entries in X and Y")
    return X, Y


def _network(
    cfg: RunConfig, base: Path | None
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``(X, Y)`` and ``W1, W2`` lambda-balanced; the closed form's refusals name the field."""
    X, Y = _network_data(cfg, base)
    i = cfg.init
    d_in, d_out = X.shape[0], Y.shape[0]
    h = i.r if i.r is not None else min(d_in, d_out)
    assert i.lam is not None  # the configuration's rules
    try:
        W1, W2 = lambda_balanced_weights(d_in, h, d_out, i.lam, i.alpha, i.seed)
    except ValueError as exc:
        raise _fail("init", exc) from exc
    if "closed_form" in cfg.methods:
        try:
            linear_network(X, Y, W1, W2)
        except ValueError as exc:
            field = "target.file" if cfg.target.file is not None else "init"
            raise ConfigError(
                f"config field '{field}': {exc} (or use methods 'gradient_flow' / "
                "'gradient_descent', which train on any X)"
            ) from exc
    return X, Y, W1, W2


def build_problem(cfg: RunConfig, base: Path | None = None) -> Problem:
    """Build target, factors, operator and times; :class:`ConfigError` names the field.

    ``base`` is the folder relative target files are read from (the configuration's folder).
    """
    X = None
    V0: FloatArray | None
    if cfg.factorization == "linear_network":
        X, Y, W1, W2 = _network(cfg, base)
        U0, V0 = W2, W1.T
        op = None
    else:
        Y = _target(cfg, base)
        U0, V0 = _factors(cfg, Y)
        op = _operator(cfg, Y)
    times = cfg.times
    if times.values is not None:
        t = np.asarray(times.values, dtype=np.float64)
    else:
        if times.t_max is None:
            if X is None:
                sig = learned_values(Y, cfg.factorization)
                horizon = default_t_max(sig, cfg.init.alpha, cfg.factorization, cfg.depth)
            else:  # the product starts with singular values alpha, like the asymmetric flow
                sig = learned_values(Y @ X.T / X.shape[1], "asymmetric")
                horizon = default_t_max(sig, cfg.init.alpha, "asymmetric", None)
            times = times.model_copy(update={"t_max": float(f"{horizon:.6g}")})
            cfg = cfg.model_copy(update={"times": times})
        assert times.t_max is not None
        t = np.linspace(0.0, times.t_max, times.num)
    return Problem(config=cfg, Y=Y, U0=U0, V0=V0, operator=op, t=t, X=X)
