"""Validated configuration of one ``mfflow run`` experiment (a TOML file).

A configuration names a target, an initialization shape and scale, a time grid and the methods
to run. Every table is a pydantic model with ``extra="forbid"`` and strict types, so a typo or a
wrong type is refused with a message naming the field (:func:`format_validation_error`).

Example (``examples/general_init.toml``)::

    name = "general-init"
    methods = ["closed_form", "gradient_flow", "gradient_descent"]
    eta = 1e-3
    eps = 0.1

    [target]
    spectrum = [5.0, 3.0, 2.0, 1.0]
    seed = 0

    [init]
    kind = "gaussian"
    r = 8
    seed = 1
    alpha = 1e-6

    [times]
    t_max = 10.0
    num = 400

Relative target file paths are resolved against the configuration file's folder.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = [
    "ConfigError",
    "InitConfig",
    "OperatorConfig",
    "RunConfig",
    "TargetConfig",
    "TimesConfig",
    "format_validation_error",
    "load_config",
]

Method = Literal["closed_form", "gradient_flow", "gradient_descent"]


class ConfigError(ValueError):
    """A configuration that cannot be used; the message is one line naming the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class TargetConfig(_Strict):
    """The target ``Y``: an eigenvalue list (random eigenbasis) or a ``.npy``/``.txt`` file.

    A file holds either a 1-D spectrum or a 2-D matrix: symmetric ``(n, n)`` for the symmetric
    factorization, square for the deep one, any shape for the asymmetric one. For the asymmetric
    factorization ``spectrum`` lists singular values and ``Y`` is ``n x cols`` (``cols``
    defaults to ``n``).
    """

    spectrum: list[float] | None = Field(default=None, min_length=1)
    file: str | None = None
    n: int | None = Field(default=None, ge=1)
    cols: int | None = Field(default=None, ge=1)
    seed: int = 0

    @model_validator(mode="after")
    def _one_source(self) -> TargetConfig:
        if (self.spectrum is None) == (self.file is None):
            raise ValueError("give exactly one of 'spectrum' or 'file'")
        return self

    @field_validator("spectrum")
    @classmethod
    def _finite(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and not all(math.isfinite(x) for x in v):
            raise ValueError("expected finite numbers")
        return v


class InitConfig(_Strict):
    """The initialization ``U(0) = sqrt(alpha) U0``: shape kind, width ``r`` and scale."""

    kind: Literal[
        "gaussian", "orthogonal", "spectral", "low_rank", "balanced", "lambda_balanced"
    ] = "gaussian"
    r: int | None = Field(default=None, ge=1)
    alpha: float = Field(gt=0, allow_inf_nan=False)
    seed: int = 1
    scales: float | list[float] = 1.0
    rank: int | None = Field(default=None, ge=1)
    lam: float | None = Field(default=None, allow_inf_nan=False)
    scale_u: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    scale_v: float | None = Field(default=None, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _kind_fields(self) -> InitConfig:
        if self.kind == "low_rank" and self.rank is None:
            raise ValueError("kind 'low_rank' needs 'rank'")
        if self.kind != "low_rank" and self.rank is not None:
            raise ValueError(f"'rank' is only used with kind 'low_rank', got kind {self.kind!r}")
        if self.kind == "lambda_balanced" and self.lam is None:
            raise ValueError("kind 'lambda_balanced' needs 'lam' (U0^T U0 - V0^T V0 = lam I)")
        if self.kind != "lambda_balanced" and self.lam is not None:
            raise ValueError(
                f"'lam' is only used with kind 'lambda_balanced', got kind {self.kind!r}"
            )
        return self


class OperatorConfig(_Strict):
    """The measurement operator: the identity (the paper), Gaussian sensing or completion."""

    kind: Literal["identity", "gaussian", "completion"] = "identity"
    m: int | None = Field(default=None, ge=1)
    fraction: float | None = Field(default=None, gt=0, le=1, allow_inf_nan=False)
    seed: int = 0

    @model_validator(mode="after")
    def _kind_fields(self) -> OperatorConfig:
        if self.kind == "gaussian" and self.m is None:
            raise ValueError("kind 'gaussian' needs 'm' (the number of measurements)")
        if self.kind == "completion" and self.fraction is None:
            raise ValueError("kind 'completion' needs 'fraction' (of observed entries, in (0, 1])")
        if self.kind != "gaussian" and self.m is not None:
            raise ValueError(f"'m' is only used with kind 'gaussian', got kind {self.kind!r}")
        if self.kind != "completion" and self.fraction is not None:
            raise ValueError(
                f"'fraction' is only used with kind 'completion', got kind {self.kind!r}"
            )
        return self

    def build(self, shape: tuple[int, int], symmetric: bool) -> Any:
        """The operator on ``shape`` matrices (``symmetric``: the symmetric variants)."""
        from .sensing import EntrySampling, GaussianSensing, IdentityOperator

        n, cols = shape
        c = None if symmetric else cols
        if self.kind == "gaussian":
            assert self.m is not None
            return GaussianSensing(n, self.m, seed=self.seed, cols=c)
        if self.kind == "completion":
            assert self.fraction is not None
            return EntrySampling(n, self.fraction, seed=self.seed, cols=c)
        return IdentityOperator(n, cols=cols)


#: Init kinds each factorization accepts.
INIT_KINDS = {
    "symmetric": ("gaussian", "orthogonal", "spectral", "low_rank"),
    "asymmetric": ("balanced", "lambda_balanced", "gaussian"),
    "deep": ("gaussian", "spectral"),
}


class TimesConfig(_Strict):
    """The evaluation times: ``num`` points on ``[0, t_max]``, or an explicit list ``values``."""

    t_max: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    num: int = Field(default=400, ge=2)
    values: list[float] | None = Field(default=None, min_length=2)

    @model_validator(mode="after")
    def _one_grid(self) -> TimesConfig:
        if (self.t_max is None) == (self.values is None):
            raise ValueError("give exactly one of 't_max' (with 'num') or 'values'")
        if self.values is not None:
            v = np.asarray(self.values)
            if not np.all(np.isfinite(v)) or np.any(v < 0) or np.any(np.diff(v) <= 0):
                raise ValueError("'values' must be finite, >= 0 and strictly increasing")
        return self

    def grid(self) -> NDArray[np.float64]:
        """The times ``(T,)``."""
        if self.values is not None:
            return np.asarray(self.values, dtype=np.float64)
        assert self.t_max is not None
        return np.linspace(0.0, self.t_max, self.num)


class RunConfig(_Strict):
    """One experiment: target, init, times, methods (and ``eta`` for gradient descent)."""

    name: str = "run"
    factorization: Literal["symmetric", "asymmetric", "deep"] = "symmetric"
    depth: int | None = Field(default=None, ge=2)
    methods: list[Method] = Field(default_factory=lambda: ["closed_form"], min_length=1)
    eta: float = Field(default=1e-3, gt=0, allow_inf_nan=False)
    eps: float = Field(default=0.1, gt=0, allow_inf_nan=False)
    target: TargetConfig
    init: InitConfig
    times: TimesConfig
    operator: OperatorConfig = Field(default_factory=OperatorConfig)

    @property
    def is_paper_setting(self) -> bool:
        """Symmetric factorization with the identity operator (the closed-form path)."""
        return self.factorization == "symmetric" and self.operator.kind == "identity"

    def check(self) -> RunConfig:
        """Refuse combinations that make no sense; :class:`ConfigError` names the field."""
        f, kind = self.factorization, self.init.kind

        def fail(field: str, msg: str) -> None:
            raise ConfigError(f"config field '{field}': {msg}")

        if f == "deep" and self.depth is None:
            fail("depth", "factorization 'deep' needs 'depth' (an integer >= 2)")
        if f != "deep" and self.depth is not None:
            fail("depth", f"only used with factorization 'deep', got factorization {f!r}")
        if f != "asymmetric" and self.target.cols is not None:
            fail(
                "target.cols",
                f"only used with factorization 'asymmetric' (rectangular targets), got {f!r}",
            )
        if kind not in INIT_KINDS[f]:
            allowed = ", ".join(repr(k) for k in INIT_KINDS[f])
            fail("init.kind", f"{kind!r} does not apply to factorization {f!r}; use {allowed}")
        if (self.init.scale_u is not None or self.init.scale_v is not None) and not (
            f == "asymmetric" and kind == "gaussian"
        ):
            fail("init.scale_u", "only used with factorization 'asymmetric' and kind 'gaussian'")
        if f == "deep" and self.init.r is not None:
            fail("init.r", "deep factors are square (n x n); remove 'r'")
        if "closed_form" in self.methods:
            op = self.operator.kind
            if op != "identity":
                fail(
                    "methods",
                    f"'closed_form' does not exist with a {op} operator (there is no closed form "
                    "for matrix sensing or completion); use 'gradient_flow' or "
                    "'gradient_descent' (the report compares them with the identity-operator "
                    "closed form)",
                )
            if f == "asymmetric" and kind == "gaussian":
                fail(
                    "methods",
                    "'closed_form' needs a lambda-balanced init (U0^T U0 - V0^T V0 = lam I); "
                    "use init.kind 'balanced' or 'lambda_balanced', or 'gradient_flow' for an "
                    "unbalanced init",
                )
            if f == "deep" and kind != "spectral":
                fail(
                    "methods",
                    "'closed_form' of the deep factorization needs a balanced spectral init; use "
                    "init.kind 'spectral', or 'gradient_flow' / 'gradient_descent'",
                )
        return self

    @field_validator("methods")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("expected each method at most once")
        return v

    def build_target(self, base: Path | None = None) -> NDArray[np.float64]:
        """The target ``Y`` ``(n, n)``; raises :class:`ConfigError` naming ``target.*``."""
        from .problems import make_target
        from .validation import as_symmetric

        t = self.target
        if self.factorization != "symmetric":
            return self._build_general_target(base)
        if t.spectrum is not None:
            try:
                return make_target(t.spectrum, n=t.n, seed=t.seed)
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"config field 'target': {exc}") from None
        assert t.file is not None
        path = Path(t.file)
        if base is not None and not path.is_absolute():
            path = base / path
        data = _read_array(path)
        if data.ndim == 1:
            try:
                return make_target(data, n=t.n, seed=t.seed)
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"config field 'target.file': {exc}") from None
        if data.ndim != 2:
            raise ConfigError(
                f"config field 'target.file': expected a 1-D spectrum or a 2-D symmetric matrix "
                f"in '{path}', got an array of shape {data.shape}"
            )
        try:
            y = as_symmetric(data, "Y")
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"config field 'target.file': {exc}") from None
        if t.n is not None and t.n != y.shape[0]:
            raise ConfigError(
                f"config field 'target.n': expected {y.shape[0]} (the size of the matrix in "
                f"'{path}'), got {t.n}"
            )
        return y

    def _build_general_target(self, base: Path | None) -> NDArray[np.float64]:
        """Asymmetric (any shape) or deep (square) targets from singular values or a file."""
        from .problems import rectangular_target

        t = self.target
        spec: Any = t.spectrum
        if t.file is not None:
            path = Path(t.file)
            if base is not None and not path.is_absolute():
                path = base / path
            data = _read_array(path)
            if data.ndim == 2:
                if self.factorization == "deep" and data.shape[0] != data.shape[1]:
                    raise ConfigError(
                        f"config field 'target.file': expected a square matrix for the deep "
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
        rows = t.n if t.n is not None else len(spec)
        cols = t.cols if t.cols is not None else rows
        try:
            return rectangular_target(spec, rows, cols, seed=t.seed)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"config field 'target': {exc}") from None

    def build_factors(self, Y: NDArray[np.float64]) -> tuple[NDArray[np.float64], Any]:
        """Shapes of the factorization: ``(U0, V0)`` asymmetric, ``(F, None)`` deep
        (``F`` ``(L, n, n)``), ``(U0, None)`` symmetric."""
        i = self.init
        try:
            if self.factorization == "asymmetric":
                from .asymmetric import balanced_init, gaussian_pair_init, lambda_balanced_init

                m, n = Y.shape
                r = min(m, n) if i.r is None else i.r
                if i.kind == "balanced":
                    return balanced_init(m, n, r, i.seed, Y=Y)
                if i.kind == "lambda_balanced":
                    assert i.lam is not None
                    return lambda_balanced_init(m, n, r, i.lam, i.seed)
                return gaussian_pair_init(
                    m, n, r, scale_u=i.scale_u or 1.0, scale_v=i.scale_v or 1.0, seed=i.seed
                )
            if self.factorization == "deep":
                from .deep import deep_random_init, deep_spectral_init

                assert self.depth is not None
                if i.kind == "spectral":
                    scales = i.scales
                    if isinstance(scales, list) and len(scales) != Y.shape[0]:
                        raise ValueError(
                            f"scales: expected a number or a list of n = {Y.shape[0]} numbers"
                        )
                    return deep_spectral_init(Y, self.depth, scales), None
                return deep_random_init(Y.shape[0], self.depth, seed=i.seed), None
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"config field 'init': {exc}") from None
        return self.build_init(Y), None

    def build_init(self, Y: NDArray[np.float64]) -> NDArray[np.float64]:
        """The shape ``U0`` ``(n, r)``; raises :class:`ConfigError` naming ``init.*``."""
        from .problems import gaussian_init, low_rank_init, orthogonal_init, spectral_init

        n = Y.shape[0]
        i = self.init
        r = n if i.r is None else i.r
        try:
            if i.kind == "gaussian":
                return gaussian_init(n, r, seed=i.seed)
            if i.kind == "orthogonal":
                return orthogonal_init(n, r, seed=i.seed)
            if i.kind == "low_rank":
                assert i.rank is not None
                return low_rank_init(n, r, i.rank, seed=i.seed)
            scales = i.scales
            if isinstance(scales, list) and len(scales) != n:
                raise ValueError(f"scales: expected a number or a list of n = {n} numbers")
            return spectral_init(Y, scales, r=r, seed=i.seed)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"config field 'init': {exc}") from None


def _read_array(path: Path) -> NDArray[np.float64]:
    try:
        if path.suffix == ".npy":
            data = np.load(path, allow_pickle=False)
        else:
            data = np.loadtxt(path, dtype=np.float64, ndmin=1)
    except FileNotFoundError:
        raise ConfigError(
            f"config field 'target.file': expected a readable .npy or .txt file, "
            f"'{path}' does not exist"
        ) from None
    except (OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"config field 'target.file': expected a readable .npy or .txt file of numbers, "
            f"could not read '{path}' ({reason})"
        ) from None
    data = np.asarray(data)
    if data.dtype.kind not in "biuf":
        raise ConfigError(
            f"config field 'target.file': expected real numbers in '{path}', got dtype {data.dtype}"
        )
    return np.asarray(data, dtype=np.float64)


_EXPECTED = {
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "int_from_float": "expected an integer",
    "string_type": "expected a string",
    "list_type": "expected a list",
    "bool_type": "expected true or false",
    "finite_number": "expected a finite number",
    "missing": "required field is missing",
}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _describe_error(err: dict[str, Any]) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    got = err.get("input")
    if kind == "extra_forbidden":
        return "unknown field (remove it or check its spelling)"
    if kind == "missing":
        return _EXPECTED["missing"]
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<"}.get(kind, "<=")
        bound = next(iter(ctx.values())) if ctx else "?"
        noun = "an integer" if isinstance(bound, int) else "a number"
        shown = f"{bound:g}" if isinstance(bound, float) else str(bound)
        return f"expected {noun} {op} {shown}, got {_short(got)}"
    if kind == "literal_error":
        return f"expected {ctx.get('expected', 'one of the allowed values')}, got {_short(got)}"
    if kind in ("too_short", "too_long"):
        size = ctx.get("min_length" if kind == "too_short" else "max_length", "?")
        word = "at least" if kind == "too_short" else "at most"
        return f"expected a list of {word} {size} item(s), got {_short(got)}"
    if kind in _EXPECTED:
        return f"{_EXPECTED[kind]}, got {_short(got)}"
    msg = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    return msg


def format_validation_error(exc: ValidationError) -> str:
    """One line for a pydantic error: ``config field 'init.alpha': expected a number > 0, got -1``.

    Union types report one error per member; the most specific one is kept. Further errors are
    counted, not listed.
    """
    errors = exc.errors()
    by_loc: dict[str, list[dict[str, Any]]] = {}
    for err in errors:
        # drop union-member tags such as 'float' or 'list[float]' from the location
        parts = [
            p
            for p in err["loc"]
            if isinstance(p, int) or (not any(c in p for c in "[]") and p not in _TYPE_TAGS)
        ]
        loc = ""
        for p in parts:
            loc += f"[{p}]" if isinstance(p, int) else (f".{p}" if loc else p)
        by_loc.setdefault(loc, []).append(err)
    loc, errs = next(iter(by_loc.items()))
    preferred = [e for e in errs if e["type"] not in ("float_type", "list_type", "int_type")]
    err = preferred[0] if preferred else errs[0]
    if len(errs) > 1 and not preferred:
        got = _short(errs[0].get("input"))
        members = " or ".join(
            _EXPECTED.get(e["type"], e["type"]).removeprefix("expected ") for e in errs
        )
        text = f"expected {members}, got {got}"
    else:
        text = _describe_error(err)
    where = f"config field '{loc}'" if loc else "config"
    more = len(by_loc) - 1
    return f"{where}: {text}" + (f" (and {more} more problem{'s' * (more > 1)})" if more else "")


_TYPE_TAGS = {"float", "int", "str", "bool", "function-after", "list"}


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a TOML configuration; :class:`ConfigError` (one line) on any problem."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"config file '{p}': expected a readable TOML file ({exc.strerror or exc})"
        ) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file '{p}': not valid TOML ({exc})") from None
    try:
        cfg = RunConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None
    return cfg.check()
