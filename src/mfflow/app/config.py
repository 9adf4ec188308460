"""The one configuration schema: problem (target), initialization, times, methods, operator.

``mfflow run CONFIG.toml`` reads a :class:`RunConfig`; a sweep spec (``mfflow sweep``) is the
same configuration plus a grid over its dotted field paths (:mod:`mfflow.app.sweep.spec`).
Every table is a pydantic model with ``extra="forbid"`` and strict types; :func:`validate`
lists **every** problem at once, one line each naming the field
(``config field 'init.alpha': expected a number > 0, got -1``): wrong types and unknown fields
from pydantic, then the rules that relate fields (:func:`_rules`), which run on every field
that is itself valid.

Example (``examples/general_init.toml``)::

    name = "general-init"
    methods = ["closed_form", "gradient_flow", "gradient_descent"]
    eta = 1e-3
    eps = 0.1

    [target]
    spectrum = [5.0, 3.0, 2.0, 1.0]
    n = 6
    seed = 0

    [init]
    kind = "gaussian"
    r = 10
    seed = 1
    alpha = 1e-6

    [times]          # optional: t_max defaults to a horizon past the last transition
    t_max = 12.0
    num = 300

The target is one of ``spectrum`` (eigenvalues, or singular values for the asymmetric and deep
factorizations), ``file`` (a ``.npy``/``.txt`` spectrum or matrix, relative to the
configuration's folder) or the geometric spectrum ``sigma1 * gap^-(i-1)``, ``i = 1..K``
(``K = 3``, ``sigma1 = 1``, ``gap = 2`` unless given), which is also the default.
"""

from __future__ import annotations

import itertools
import math
import re
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import ConfigError

__all__ = [
    "INIT_KINDS",
    "InitConfig",
    "OperatorConfig",
    "RunConfig",
    "TargetConfig",
    "TimesConfig",
    "field_paths",
    "format_problems",
    "load_config",
    "pydantic_problems",
    "read_toml",
    "validate",
]

Method = Literal["closed_form", "gradient_flow", "gradient_descent"]
#: A problem: ``(field path, message)``.
Problem = tuple[str, str]

#: Init kinds each factorization accepts.
INIT_KINDS = {
    "symmetric": ("gaussian", "orthogonal", "spectral", "low_rank"),
    "asymmetric": ("balanced", "lambda_balanced", "gaussian"),
    "deep": ("gaussian", "spectral"),
    "linear_network": ("lambda_balanced",),
}

#: Defaults of the geometric target spectrum ``sigma1 * gap^-(i-1)``, ``i = 1..K``.
GEOMETRIC_DEFAULTS = {"K": 3, "sigma1": 1.0, "gap": 2.0}

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=-]{0,99}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class TargetConfig(_Strict):
    """The target ``Y``: a spectrum in a random basis, a file, or a geometric spectrum.

    For the asymmetric factorization the values are singular values and ``Y`` is ``n x cols``
    (``cols`` defaults to ``n``); ``n`` defaults to the number of values.

    For ``factorization = "linear_network"`` the data are ``P`` whitened inputs ``X``
    ``(cols, P)`` (``cols`` = d_in, default ``n``; ``P`` default ``4 * cols``) and the targets
    ``Y`` ``(n, P)`` of a teacher with singular values ``spectrum`` (``n`` = d_out), both drawn
    with ``seed``; or ``file``: a ``.npz`` holding arrays ``X`` ``(d_in, P)`` and ``Y``
    ``(d_out, P)``.
    """

    spectrum: list[float] | None = Field(default=None, min_length=1)
    file: str | None = None
    K: int | None = Field(default=None, ge=1)
    sigma1: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    gap: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    n: int | None = Field(default=None, ge=1)
    cols: int | None = Field(default=None, ge=1)
    P: int | None = Field(default=None, ge=1)
    seed: int = Field(default=0, ge=0)

    @field_validator("spectrum")
    @classmethod
    def _finite(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and not all(math.isfinite(x) for x in v):
            raise ValueError("expected finite numbers")
        return v

    def values(self) -> list[float] | None:
        """The spectrum (given or geometric); ``None`` for a file."""
        if self.file is not None:
            return None
        if self.spectrum is not None:
            return list(self.spectrum)
        K = self.K if self.K is not None else GEOMETRIC_DEFAULTS["K"]
        s1 = self.sigma1 if self.sigma1 is not None else GEOMETRIC_DEFAULTS["sigma1"]
        gap = self.gap if self.gap is not None else GEOMETRIC_DEFAULTS["gap"]
        return [s1 * gap**-i for i in range(int(K))]


class InitConfig(_Strict):
    """The initialization ``U(0) = sqrt(alpha) U0``: shape kind, width ``r``, seed and scale.

    For ``factorization = "linear_network"``: ``kind = "lambda_balanced"`` weights
    (:func:`mfflow.lambda_balanced_weights`) with relative scale ``lam``
    (``W2^T W2 - W1 W1^T = lam I``), absolute scale ``alpha`` (the singular values of
    ``W2 W1`` at ``t = 0``) and hidden width ``r`` (default ``min(d_in, d_out)``).
    """

    kind: Literal[
        "gaussian", "orthogonal", "spectral", "low_rank", "balanced", "lambda_balanced"
    ] = "gaussian"
    alpha: float = Field(gt=0, allow_inf_nan=False)
    r: int | None = Field(default=None, ge=1)
    seed: int = Field(default=1, ge=0)
    scales: float | list[float] = 1.0
    rank: int | None = Field(default=None, ge=1)
    lam: float | None = Field(default=None, allow_inf_nan=False)
    scale_u: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    scale_v: float | None = Field(default=None, gt=0, allow_inf_nan=False)


class OperatorConfig(_Strict):
    """The measurement operator: the identity (the paper), Gaussian sensing or completion."""

    kind: Literal["identity", "gaussian", "completion"] = "identity"
    m: int | None = Field(default=None, ge=1)
    fraction: float | None = Field(default=None, gt=0, le=1, allow_inf_nan=False)
    seed: int = Field(default=0, ge=0)


class TimesConfig(_Strict):
    """Evaluation times: ``num`` points on ``[0, t_max]``, or an explicit list ``values``.

    Without either, ``t_max`` is a horizon past the last transition, computed from the target
    and ``alpha`` (:func:`mfflow.app.problem.default_t_max`).
    """

    t_max: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    num: int = Field(default=400, ge=2)
    values: list[float] | None = Field(default=None, min_length=2)


class RunConfig(_Strict):
    """One experiment: target, init, times, methods, operator (``eta`` for gradient descent).

    ``name`` names the default output folder, so it must be a plain name (letters, digits,
    ``. _ - + =``, no path separator, not ``..``).
    """

    name: str = "run"
    factorization: Literal["symmetric", "asymmetric", "deep", "linear_network"] = "symmetric"
    depth: int | None = Field(default=None, ge=2)
    methods: list[Method] = Field(
        default_factory=lambda: list[Method](["closed_form"]), min_length=1
    )
    eta: float = Field(default=1e-3, gt=0, allow_inf_nan=False)
    eps: float = Field(default=0.1, gt=0, allow_inf_nan=False)
    transition_fraction: float = Field(default=0.5, gt=0, lt=1, allow_inf_nan=False)
    target: TargetConfig = Field(default_factory=TargetConfig)
    init: InitConfig
    times: TimesConfig = Field(default_factory=TimesConfig)
    operator: OperatorConfig = Field(default_factory=OperatorConfig)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        if not _SAFE_NAME.fullmatch(v) or v in (".", ".."):
            raise ValueError(
                "expected a plain name of at most 100 letters, digits or . _ - + = (it names "
                f"the default output folder: no path separators, no '..'), got {_short(v)}"
            )
        return v

    @field_validator("methods")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("expected each method at most once")
        return v

    @property
    def is_paper_setting(self) -> bool:
        """Symmetric factorization with the identity operator (the closed-form path)."""
        return self.factorization == "symmetric" and self.operator.kind == "identity"


# ---- field paths ------------------------------------------------------------------------------
def _tables() -> dict[str, type[_Strict]]:
    return {
        "target": TargetConfig,
        "init": InitConfig,
        "times": TimesConfig,
        "operator": OperatorConfig,
    }


def field_paths() -> list[str]:
    """Every settable field as a dotted path (``name``, ..., ``init.alpha``, ``times.num``)."""
    tables = _tables()
    out: list[str] = []
    for name in RunConfig.model_fields:
        if name in tables:
            out += [f"{name}.{sub}" for sub in tables[name].model_fields]
        else:
            out.append(name)
    return out


_UNKNOWN = object()


def _getter(data: Any, bad: set[str]) -> Callable[[str], Any]:
    """``get(path)``: the raw value or the field's default; ``_UNKNOWN`` where it is invalid."""
    tables = _tables()

    def get(path: str) -> Any:
        head, _, leaf = path.partition(".")
        if path in bad or head in bad or not isinstance(data, dict):
            return _UNKNOWN
        model: type[_Strict] = tables[head] if leaf else RunConfig
        key = leaf or head
        source = data.get(head, {}) if leaf else data
        if not isinstance(source, dict):
            return _UNKNOWN
        if key in source:
            return source[key]
        field = model.model_fields[key]
        if field.default_factory is not None:
            return field.default_factory()  # type: ignore[call-arg]
        return None if field.is_required() else field.default

    return get


def _rules(get: Callable[[str], Any]) -> Iterator[Problem]:
    """Problems between fields; a rule involving an invalid field is skipped."""

    def known(*paths: str) -> bool:
        return all(get(p) is not _UNKNOWN for p in paths)

    if known("target.spectrum", "target.file"):
        src = [k for k in ("spectrum", "file") if get(f"target.{k}") is not None]
        if len(src) == 2:
            yield "target", "give one of 'spectrum' or 'file', not both"
        for geo in GEOMETRIC_DEFAULTS:
            if src and known(f"target.{geo}") and get(f"target.{geo}") is not None:
                yield f"target.{geo}", f"only used without 'spectrum' or 'file' (given: {src[0]!r})"

    # fields that only one kind of init or operator uses: needed by it, refused by the others
    for group, rules in (
        (
            "init",
            (("rank", "low_rank", ""), ("lam", "lambda_balanced", " (U0^T U0 - V0^T V0 = lam I)")),
        ),
        (
            "operator",
            (
                ("m", "gaussian", " (the number of measurements)"),
                ("fraction", "completion", " (of observed entries, in (0, 1])"),
            ),
        ),
    ):
        kind = get(f"{group}.kind")
        for field, needed_by, what in rules:
            if known(f"{group}.kind", f"{group}.{field}"):
                value = get(f"{group}.{field}")
                if kind == needed_by and value is None:
                    yield f"{group}.{field}", f"kind {needed_by!r} needs {field!r}{what}"
                if kind != needed_by and value is not None:
                    yield (
                        f"{group}.{field}",
                        f"only used with kind {needed_by!r}, got kind {kind!r}",
                    )
    kind, op = get("init.kind"), get("operator.kind")

    if known("times.t_max", "times.values"):
        values = get("times.values")
        if get("times.t_max") is not None and values is not None:
            yield "times", "give one of 't_max' (with 'num') or 'values', not both"
        if values is not None:
            if any(v < 0 for v in values) or any(b <= a for a, b in itertools.pairwise(values)):
                yield "times.values", "expected times >= 0, strictly increasing"
            raw = get("times")
            if isinstance(raw, dict) and "num" in raw:
                yield "times.num", "only used with 't_max' (the grid is 'values')"

    f = get("factorization")
    if known("factorization", "depth"):
        if f == "deep" and get("depth") is None:
            yield "depth", "factorization 'deep' needs 'depth' (an integer >= 2)"
        if f != "deep" and get("depth") is not None:
            yield "depth", f"only used with factorization 'deep', got factorization {f!r}"
    if known("factorization", "target.cols") and f not in ("asymmetric", "linear_network"):
        if get("target.cols") is not None:
            yield (
                "target.cols",
                "only used with factorization 'asymmetric' (rectangular) or 'linear_network' "
                f"(d_in), got {f!r}",
            )
    if known("factorization", "target.P") and f != "linear_network":
        if get("target.P") is not None:
            yield "target.P", f"only used with factorization 'linear_network', got {f!r}"
    if known("factorization", "operator.kind") and f == "linear_network" and op != "identity":
        yield "operator.kind", "factorization 'linear_network' trains on data (X, Y): 'identity'"
    if known("factorization", "init.kind") and kind not in INIT_KINDS[f]:
        allowed = ", ".join(repr(k) for k in INIT_KINDS[f])
        yield "init.kind", f"{kind!r} does not apply to factorization {f!r}; use {allowed}"
    for field in ("scale_u", "scale_v"):
        if (
            known("factorization", "init.kind", f"init.{field}")
            and get(f"init.{field}") is not None
        ):
            if not (f == "asymmetric" and kind == "gaussian"):
                yield f"init.{field}", "only used with factorization 'asymmetric', kind 'gaussian'"
    if known("factorization", "init.r") and f == "deep" and get("init.r") is not None:
        yield "init.r", "deep factors are square (n x n); remove 'r'"
    methods = get("methods")
    if known("methods", "operator.kind", "factorization", "init.kind") and "closed_form" in methods:
        if op != "identity":
            yield (
                "methods",
                f"'closed_form' does not exist with a {op} operator (there is no closed form for "
                "matrix sensing or completion); use 'gradient_flow' or 'gradient_descent' (the "
                "report compares them with the identity-operator closed form)",
            )
        if f == "asymmetric" and kind == "gaussian":
            yield (
                "methods",
                "'closed_form' needs a lambda-balanced init (U0^T U0 - V0^T V0 = lam I); use "
                "init.kind 'balanced' or 'lambda_balanced', or 'gradient_flow' for an "
                "unbalanced init",
            )
        if f == "deep" and kind != "spectral":
            yield (
                "methods",
                "'closed_form' of the deep factorization needs a balanced spectral init; use "
                "init.kind 'spectral', or 'gradient_flow' / 'gradient_descent'",
            )


# ---- pydantic errors, one line each -------------------------------------------------------------
_EXPECTED = {
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "int_from_float": "expected an integer",
    "string_type": "expected a string",
    "list_type": "expected a list",
    "dict_type": "expected a table",
    "model_type": "expected a table",
    "bool_type": "expected true or false",
    "finite_number": "expected a finite number",
    "missing": "required field is missing",
}
_TYPE_TAGS = {"float", "int", "str", "bool", "function-after", "list"}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _describe(err: Any) -> str:
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


def pydantic_problems(exc: ValidationError) -> list[Problem]:
    """One problem per field; a union's member errors are merged into one line."""
    by_loc: dict[str, list[Any]] = {}
    for err in exc.errors():
        loc = ""
        for p in err["loc"]:
            if isinstance(p, int):
                loc += f"[{p}]"
            elif not any(c in p for c in "[]") and p not in _TYPE_TAGS:
                loc += f".{p}" if loc else p
        by_loc.setdefault(loc, []).append(err)
    out: list[Problem] = []
    for loc, errs in by_loc.items():
        preferred = [e for e in errs if e["type"] not in ("float_type", "list_type", "int_type")]
        if len(errs) > 1 and not preferred:
            members = " or ".join(
                _EXPECTED.get(e["type"], e["type"]).removeprefix("expected ") for e in errs
            )
            out.append((loc, f"expected {members}, got {_short(errs[0].get('input'))}"))
        else:
            out.append((loc, _describe(preferred[0] if preferred else errs[0])))
    return out


def validate(data: Any) -> tuple[RunConfig | None, list[Problem]]:
    """Validate a configuration given as a dict (as read from TOML).

    Returns the configuration (``None`` if any problem) and every problem found, as
    ``(field path, message)`` pairs, in the order of the file's fields then the rules.
    """
    problems: list[Problem] = []
    cfg: RunConfig | None = None
    try:
        cfg = RunConfig.model_validate(data)
    except ValidationError as exc:
        problems += pydantic_problems(exc)
    bad = {loc.split("[")[0] for loc, _ in problems}
    problems += [p for p in _rules(_getter(data, bad)) if p not in problems]
    return (cfg if not problems else None), problems


def format_problems(problems: list[Problem], what: str = "config field") -> list[str]:
    """``config field 'init.alpha': expected a number > 0, got -1``, one line per problem."""
    return [
        f"{what} '{loc}': {msg}" if loc else f"{what.split()[0]}: {msg}" for loc, msg in problems
    ]


def read_toml(
    path: str | Path, what: str = "config file", error: type[ConfigError] = ConfigError
) -> dict[str, Any]:
    """Read a TOML file; an unreadable or invalid one raises ``error`` (one line)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise error(
            f"{what} '{p}': expected a readable TOML file ({exc.strerror or exc})"
        ) from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{what} '{p}': not valid TOML ({exc})") from None


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a TOML configuration; :class:`ConfigError` lists every problem."""
    cfg, problems = validate(read_toml(path))
    if cfg is None:
        raise ConfigError(format_problems(problems))
    return cfg
