"""Declarative parameter sweeps on Dask: resumable, loss-free, with one labelled result store.

A sweep is a TOML spec: fixed parameters, a grid (lists or ranges per parameter, combined by
product; ``zip`` groups vary together along one dimension), the methods and the measurements::

    name = "time-scales"
    methods = ["closed_form"]
    measurements = ["transition_times", "theorem"]

    [fixed]
    spectrum = [5.0, 3.0, 2.0, 1.0]
    init = "gaussian"

    [grid]
    alpha = { geomspace = [1e-1, 1e-30, 12] }
    seed = { range = [0, 5] }

Every cell gets a deterministic name from its grid parameters, benchopt style
(``time-scales[alpha=0.1,seed=0]``). The store is a folder::

    STORE/sweep.json      the spec, its hash, package version, environment
    STORE/cells/*.npz     one file per finished cell (written atomically by the client)
    STORE/computed.log    one JSON line per computation (to count recomputations)
    STORE/results.zarr    the consolidated xarray view (rewritten after each complete pass)

Killing the client loses no finished cell; re-running skips every cell already in ``cells/``;
a cell that raises is stored with its error (and retried on the next run); a spec whose
result-defining parts changed is refused (:class:`SpecError`). Extending the grid's values
is allowed: each cell's result does not depend on the others.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import sys
import time
import tomllib
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "PARAMETERS",
    "SpecError",
    "SweepSpec",
    "SweepSummary",
    "cell_name",
    "compute_cell",
    "expand_grid",
    "load_spec",
    "open_sweep",
    "run_sweep",
]

SweepMethod = Literal["closed_form", "gradient_flow", "gradient_descent"]
Measurement = Literal["curves", "transition_times", "theorem", "final_error"]
_SIM_METHODS = ("gradient_flow", "gradient_descent")
_SHORT = {"closed_form": "cf", "gradient_flow": "gf", "gradient_descent": "gd"}


class SpecError(ValueError):
    """A sweep spec that cannot be used; the message is one line naming the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Params(_Strict):
    """One cell's parameters (the fixed ones, overridden by the grid's)."""

    alpha: float = Field(default=1e-6, gt=0, allow_inf_nan=False)
    seed: int = 0
    target_seed: int = 0
    spectrum: list[float] | None = Field(default=None, min_length=1)
    K: int = Field(default=3, ge=1)
    sigma1: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    gap: float = Field(default=2.0, gt=0, allow_inf_nan=False)
    n: int | None = Field(default=None, ge=1)
    r: int | None = Field(default=None, ge=1)
    init: Literal["gaussian", "orthogonal", "spectral"] = "gaussian"
    eta: float = Field(default=1e-2, gt=0, allow_inf_nan=False)
    eps: float = Field(default=0.1, gt=0, allow_inf_nan=False)
    fraction: float = Field(default=0.5, gt=0, lt=1, allow_inf_nan=False)

    def target_spectrum(self) -> np.ndarray:
        """``spectrum`` if given, else ``sigma1 * gap^-(i-1)``, ``i = 1..K`` (ratio ``gap``)."""
        if self.spectrum is not None:
            return np.asarray(self.spectrum, dtype=np.float64)
        return self.sigma1 * self.gap ** -np.arange(self.K, dtype=np.float64)


#: Parameters a spec may fix or sweep.
PARAMETERS = tuple(Params.model_fields)


class TimesSpec(_Strict):
    """The shared time grid ``linspace(0, t_max, num)`` of curves and simulations."""

    t_max: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    num: int = Field(default=101, ge=2)

    def grid(self) -> np.ndarray:
        return np.linspace(0.0, self.t_max, self.num)


class SweepSpec(_Strict):
    """A validated sweep spec (see the module docstring)."""

    name: str = "sweep"
    methods: list[SweepMethod] = Field(default_factory=lambda: ["closed_form"], min_length=1)
    measurements: list[Measurement] = Field(
        default_factory=lambda: ["transition_times", "final_error"], min_length=1
    )
    fixed: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, Any] = Field(default_factory=dict)
    zip: list[list[str]] = Field(default_factory=list)
    times: TimesSpec = Field(default_factory=TimesSpec)

    @model_validator(mode="after")
    def _check(self) -> SweepSpec:
        if len(set(self.methods)) != len(self.methods):
            raise ValueError("methods: expected each method at most once")
        return self

    # ---- grid -------------------------------------------------------------------------------
    def values(self) -> dict[str, list[Any]]:
        """Each grid parameter's values, in order (ranges expanded)."""
        return {k: _expand_values(k, v) for k, v in self.grid.items()}

    def dims(self) -> list[list[str]]:
        """The grid dimensions: each is a list of parameters (one, or a zip group)."""
        zipped = {p for g in self.zip for p in g}
        out: list[list[str]] = []
        for key in self.grid:
            if key in zipped:
                group = next(list(g) for g in self.zip if key in g)
                if group not in out:
                    out.append(group)
            else:
                out.append([key])
        return out

    def result_hash(self) -> str:
        """Hash of everything a cell's numbers depend on, except the grid's values.

        Re-running with another hash is refused; extending the grid's values is not.
        """
        key = {
            "methods": sorted(self.methods),
            "measurements": sorted(self.measurements),
            "fixed": self.fixed,
            "dims": self.dims(),
            "times": self.times.model_dump(),
        }
        text = json.dumps(key, sort_keys=True, default=repr)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _expand_values(key: str, v: Any) -> list[Any]:
    where = f"sweep field 'grid.{key}'"
    if isinstance(v, list):
        vals = v
    elif isinstance(v, dict):
        if len(v) != 1:
            raise SpecError(f"{where}: expected a list or one of range/linspace/geomspace")
        ((kind, args),) = v.items()
        if kind not in ("range", "linspace", "geomspace"):
            raise SpecError(f"{where}: unknown generator {kind!r}; use range, linspace, geomspace")
        if not isinstance(args, list) or not all(
            isinstance(a, int | float) and not isinstance(a, bool) for a in args
        ):
            raise SpecError(f"{where}: expected {kind} = [numbers], got {args!r}")
        if kind == "range":
            if not all(isinstance(a, int) for a in args) or not 1 <= len(args) <= 3:
                raise SpecError(f"{where}: expected range = [start, stop(, step)] integers")
            vals = list(range(*args))
        else:
            if len(args) != 3 or not isinstance(args[2], int) or args[2] < 1:
                raise SpecError(f"{where}: expected {kind} = [start, stop, num >= 1]")
            if kind == "geomspace" and (args[0] <= 0 or args[1] <= 0):
                raise SpecError(f"{where}: expected geomspace bounds > 0")
            fn = np.linspace if kind == "linspace" else np.geomspace
            vals = [float(x) for x in fn(args[0], args[1], args[2])]
    else:
        raise SpecError(f"{where}: expected a list of values or a range, got {v!r}")
    if not vals:
        raise SpecError(f"{where}: empty grid (expected at least one value)")
    if len({json.dumps(x, default=repr) for x in vals}) != len(vals):
        raise SpecError(f"{where}: repeated values")
    return vals


def _check_params(data: dict[str, Any], where: str) -> Params:
    from .config import format_validation_error

    try:
        return Params.model_validate(data)
    except ValidationError as exc:
        msg = format_validation_error(exc).removeprefix("config field '")
        raise SpecError(f"sweep field '{where}.{msg}") from None


def validate_spec(spec: SweepSpec) -> SweepSpec:
    """Refuse unknown parameters, empty grids, wrong types; :class:`SpecError` names the field."""
    for table in ("fixed", "grid"):
        for key in getattr(spec, table):
            if key not in PARAMETERS:
                raise SpecError(
                    f"sweep field '{table}.{key}': unknown parameter; use one of "
                    + ", ".join(PARAMETERS)
                )
    both = set(spec.fixed) & set(spec.grid)
    if both:
        raise SpecError(f"sweep field 'grid.{sorted(both)[0]}': also given in 'fixed'")
    _check_params(spec.fixed, "fixed")
    values = spec.values()
    for key, vals in values.items():
        for i, v in enumerate(vals):
            try:
                Params.model_validate({**spec.fixed, key: v})
            except ValidationError as exc:
                from .config import format_validation_error

                text = format_validation_error(exc).split("': ", 1)[-1]
                raise SpecError(f"sweep field 'grid.{key}[{i}]': {text}") from None
    seen: set[str] = set()
    for gi, group in enumerate(spec.zip):
        if len(group) < 2:
            raise SpecError(f"sweep field 'zip[{gi}]': expected at least two parameters")
        for p in group:
            if p not in spec.grid:
                raise SpecError(f"sweep field 'zip[{gi}]': {p!r} is not a grid parameter")
            if p in seen:
                raise SpecError(f"sweep field 'zip[{gi}]': {p!r} is in two zip groups")
            seen.add(p)
        sizes = {len(values[p]) for p in group}
        if len(sizes) != 1:
            raise SpecError(f"sweep field 'zip[{gi}]': expected lists of equal length")
    if any(p in spec.grid for p in ("spectrum",)):
        raise SpecError("sweep field 'grid.spectrum': sweep 'gap', 'K' or 'sigma1' instead")
    if "spectrum" in spec.fixed and set(spec.grid) & {"gap", "K", "sigma1"}:
        raise SpecError("sweep field 'fixed.spectrum': cannot be combined with gap, K, sigma1")
    if "theorem" in spec.measurements and "closed_form" not in spec.methods:
        raise SpecError("sweep field 'measurements': 'theorem' needs method 'closed_form'")
    return spec


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep spec (TOML); :class:`SpecError` (one line) on any problem."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text("utf-8"))
    except OSError as exc:
        raise SpecError(
            f"sweep spec '{p}': expected a readable TOML file ({exc.strerror})"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(f"sweep spec '{p}': not valid TOML ({exc})") from None
    return spec_from_dict(data)


def spec_from_dict(data: dict[str, Any]) -> SweepSpec:
    """Validate a spec given as a dict (as read from TOML)."""
    from .config import format_validation_error

    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(
            format_validation_error(exc).replace("config field", "sweep field", 1)
        ) from None
    return validate_spec(spec)


# ---- cells ----------------------------------------------------------------------------------
def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return repr(v)
    return json.dumps(v) if isinstance(v, list) else str(v)


def cell_name(spec: SweepSpec, params: dict[str, Any]) -> str:
    """``name[k=v,...]`` over the grid parameters, in the spec's order (deterministic)."""
    inner = ",".join(f"{k}={_fmt_value(params[k])}" for k in spec.grid)
    return f"{spec.name}[{inner}]"


def expand_grid(spec: SweepSpec) -> list[tuple[tuple[int, ...], dict[str, Any]]]:
    """Every cell as ``(index along each dimension, grid parameters)``, product order."""
    values = spec.values()
    dims = spec.dims()
    sizes = [len(values[d[0]]) for d in dims]
    cells = []
    for idx in product(*(range(s) for s in sizes)):
        params: dict[str, Any] = {}
        for d, i in zip(dims, idx, strict=True):
            for p in d:
                params[p] = values[p][i]
        cells.append((idx, params))
    return cells


def compute_cell(spec_dict: dict[str, Any], grid_params: dict[str, Any]) -> dict[str, Any]:
    """Compute one cell; never raises (an error is returned under ``"error"``).

    Returns plain arrays: ``sigma`` ``(K,)``, and per measurement ``t_predicted`` ``(K,)``,
    ``t_measured`` ``(M, K)``, ``curves`` ``(M, T, K)``, ``loss`` ``(M, T)``,
    ``final_error`` ``(M,)``, ``cf_distance`` ``(M,)``, theorem rows ``(K,)``, with ``M`` the
    number of methods in the spec's order.
    """
    t0 = time.time()
    out: dict[str, Any] = {"computed_at": t0, "pid": os.getpid()}
    try:
        spec = SweepSpec.model_validate(spec_dict)
        out.update(_compute(spec, Params.model_validate({**spec.fixed, **grid_params})))
        out["error"] = ""
    except Exception as exc:  # recorded, never stops the sweep
        out["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
        out["traceback"] = traceback.format_exc(limit=6)
    out["seconds"] = time.time() - t0
    return out


def _compute(spec: SweepSpec, p: Params) -> dict[str, np.ndarray]:
    from .curves import crossing_times
    from .linalg import eigh_descending
    from .problems import gaussian_init, make_target, orthogonal_init, spectral_init
    from .riccati import closed_form
    from .simulate import simulate_gd, simulate_gf
    from .theory import check_theorem, measured_transition_times, transition_times

    sigma = p.target_spectrum()
    K = sigma.size
    Y = make_target(sigma, n=p.n, seed=p.target_seed)
    n = Y.shape[0]
    r = n if p.r is None else p.r
    if p.init == "gaussian":
        U0 = gaussian_init(n, r, seed=p.seed)
    elif p.init == "orthogonal":
        U0 = orthogonal_init(n, r, seed=p.seed)
    else:
        U0 = spectral_init(Y, 1.0, r=r, seed=p.seed)
    sig_sorted = np.sort(sigma)[::-1]
    res: dict[str, np.ndarray] = {"sigma": sig_sorted}
    meas = set(spec.measurements)
    t = spec.times.grid()
    Phi = eigh_descending(Y)[1][:, :K]
    traj = closed_form(Y, U0, p.alpha)
    M = len(spec.methods)
    curves = np.full((M, t.size, K), np.nan)
    loss = np.full((M, t.size), np.nan)
    t_meas = np.full((M, K), np.nan)
    final = np.full(M, np.nan)
    dist = np.full(M, np.nan)
    need_w = bool({"curves", "final_error"} & meas) or any(m in _SIM_METHODS for m in spec.methods)
    W_cf = traj.W(t) if need_w and any(m in _SIM_METHODS for m in spec.methods) else None
    for j, method in enumerate(spec.methods):
        if method == "closed_form":
            if "curves" in meas or "transition_times" in meas:
                curves[j] = traj.mode_values(t)[:, :K]
                loss[j] = traj.loss(t)
            if "transition_times" in meas:
                t_meas[j] = measured_transition_times(Y, U0, p.alpha, p.fraction)[:K]
            final[j] = float(traj.distance(Y, t[-1], "fro"))
            dist[j] = 0.0
            continue
        if method == "gradient_flow":
            W = simulate_gf(Y, U0, p.alpha, t).W
        else:
            gd = simulate_gd(Y, U0, p.alpha, p.eta, t=t)
            W = gd.U @ np.swapaxes(gd.U, -1, -2)
        curves[j] = np.einsum("ik,tij,jk->tk", Phi, W, Phi)
        loss[j] = 0.25 * np.sum((Y - W) ** 2, axis=(1, 2))
        final[j] = float(np.linalg.norm(Y - W[-1]))
        if W_cf is not None:
            dist[j] = float(np.max(np.linalg.norm(W - W_cf, axis=(1, 2))))
        if "transition_times" in meas:
            t_meas[j] = crossing_times(t, curves[j], p.fraction * sig_sorted)
    if "curves" in meas:
        res["curves"], res["loss"] = curves, loss
    if "transition_times" in meas:
        res["t_predicted"] = transition_times(Y, p.alpha)[:K]
        res["t_measured"] = t_meas
    if "final_error" in meas:
        res["final_error"] = final
        if any(m in _SIM_METHODS for m in spec.methods):
            res["cf_distance"] = dist
    if "theorem" in meas:
        chk = check_theorem(Y, U0, p.alpha, p.eps)
        rows = chk.rows

        def col(f: Callable[[Any], Any]) -> np.ndarray:
            return np.array([np.nan if f(r_) is None else float(f(r_)) for r_ in rows])

        res["theorem_holds"] = col(lambda r_: r_.holds)
        res["theorem_contained"] = col(lambda r_: r_.contained)
        res["certified_lo"] = col(lambda r_: r_.certified[0])
        res["certified_hi"] = col(lambda r_: r_.certified[1])
        res["measured_lo"] = col(lambda r_: None if r_.measured is None else r_.measured[0])
        res["measured_hi"] = col(lambda r_: None if r_.measured is None else r_.measured[1])
        res["max_error_on_certified"] = col(lambda r_: r_.max_error_on_certified)
        res["hypotheses_hold"] = np.array(float(chk.constants.hypotheses_hold))
    return res


# ---- the store ------------------------------------------------------------------------------
def _environment() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    env = {"python": sys.version.split()[0], "platform": platform.platform()}
    for pkg in ("mfflow", "numpy", "scipy", "xarray", "dask", "distributed", "zarr"):
        try:
            env[pkg] = version(pkg)
        except PackageNotFoundError:
            env[pkg] = "missing"
    return env


def _cell_file(store: Path, name: str) -> Path:
    safe = name.replace("/", "_").replace(os.sep, "_")
    if len(safe) > 200:
        safe = safe[:150] + "-" + hashlib.sha256(name.encode()).hexdigest()[:16]
    return store / "cells" / f"{safe}.npz"


def _write_cell(store: Path, name: str, result: dict[str, Any]) -> None:
    from .report import atomic_write

    arrays = {k: np.asarray(v) for k, v in result.items() if k not in ("error", "traceback")}
    meta = {"name": name, "error": result.get("error", ""), "tb": result.get("traceback", "")}
    arrays["meta"] = np.array(json.dumps(meta))
    path = _cell_file(store, name)
    with atomic_write(path, ".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
    with open(store / "computed.log", "a", encoding="utf-8") as fh:
        status = "failed" if meta["error"] else "ok"
        fh.write(json.dumps({"cell": name, "status": status, "at": time.time()}) + "\n")


def _read_cell(path: Path) -> dict[str, Any] | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError):
        return None  # a torn file can only come from outside; treated as not computed
    data.update(json.loads(str(data.pop("meta"))))
    return data


def _init_store(store: Path, spec: SweepSpec, raw: dict[str, Any]) -> None:
    from .report import atomic_write

    meta_path = store / "sweep.json"
    h = spec.result_hash()
    if meta_path.exists():
        try:
            old = json.loads(meta_path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise SpecError(f"store '{store}': unreadable sweep.json ({exc})") from None
        if old.get("result_hash") != h:
            raise SpecError(
                f"store '{store}': the spec changed incompatibly (methods, measurements, fixed "
                f"parameters, grid dimensions or times differ from the stored spec "
                f"{old.get('spec', {}).get('name', '?')!r}); use another --out or the old spec"
            )
    (store / "cells").mkdir(parents=True, exist_ok=True)
    from . import __version__

    meta = {
        "kind": "sweep",
        "result_hash": h,
        "spec": raw,
        "mfflow_version": __version__,
        "environment": _environment(),
        "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    with atomic_write(meta_path, ".json") as tmp:
        tmp.write_text(json.dumps(meta, indent=2, default=repr), "utf-8")


@dataclass
class SweepSummary:
    """Outcome of :func:`run_sweep`."""

    store: Path
    total: int
    skipped: int
    done: int = 0
    failed: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def throughput(self) -> float:
        """Cells computed per second (wall clock, cluster start excluded)."""
        n = self.done + self.failed
        return n / self.seconds if self.seconds > 0 else math.nan


Progress = Callable[[dict[str, int]], None]


def run_sweep(
    spec: SweepSpec,
    store: str | Path,
    *,
    raw: dict[str, Any] | None = None,
    client: Any = None,
    sequential: bool = False,
    on_progress: Progress | None = None,
    consolidate: bool = True,
) -> SweepSummary:
    """Compute every cell not yet in ``store``, on a dask ``client`` (or in-process).

    Results are written by the caller's process as each cell finishes, so stopping it at any
    moment loses no finished cell. Cells that previously failed are retried.
    """
    store = Path(store)
    _init_store(store, spec, raw if raw is not None else spec.model_dump())
    cells = expand_grid(spec)
    todo: list[tuple[str, dict[str, Any]]] = []
    for _, params in cells:
        name = cell_name(spec, params)
        old = _read_cell(_cell_file(store, name)) if _cell_file(store, name).exists() else None
        if old is None or old.get("error"):
            todo.append((name, params))
    summary = SweepSummary(store, total=len(cells), skipped=len(cells) - len(todo))
    spec_dict = spec.model_dump()
    state = {"done": 0, "failed": 0, "running": 0, "total": len(todo)}

    def finished(name: str, result: dict[str, Any]) -> None:
        _write_cell(store, name, result)
        if result.get("error"):
            summary.failed += 1
            summary.errors[name] = result["error"]
            state["failed"] += 1
        else:
            summary.done += 1
            state["done"] += 1

    t0 = time.perf_counter()
    if sequential or client is None:
        for name, params in todo:
            state["running"] = 1
            if on_progress:
                on_progress(dict(state))
            finished(name, compute_cell(spec_dict, params))
        state["running"] = 0
    else:
        from distributed import as_completed

        futures = {
            client.submit(compute_cell, spec_dict, params, key=f"mfflow-cell-{name}", pure=False): (
                name
            )
            for name, params in todo
        }
        for fut in as_completed(list(futures)):
            name = futures[fut]
            try:
                result = fut.result()
            except Exception as exc:  # a worker died or the task was lost
                result = {"error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
            finished(name, result)
            if on_progress:
                left = state["total"] - state["done"] - state["failed"]
                state["running"] = min(left, _n_threads(client))
                on_progress(dict(state))
    summary.seconds = time.perf_counter() - t0
    if on_progress:
        state["running"] = 0
        on_progress(dict(state))
    if consolidate:
        write_consolidated(store)
    return summary


def _n_threads(client: Any) -> int:
    try:
        return max(1, sum(client.nthreads().values()))
    except Exception:
        return 1


# ---- the labelled view ----------------------------------------------------------------------
def _iter_cells(store: Path, spec: SweepSpec) -> Iterator[tuple[tuple[int, ...], dict | None]]:
    for idx, params in expand_grid(spec):
        path = _cell_file(store, cell_name(spec, params))
        yield idx, (_read_cell(path) if path.exists() else None)


def stored_spec(store: str | Path) -> tuple[SweepSpec, dict[str, Any]]:
    """The spec and metadata recorded in ``store``."""
    store = Path(store)
    try:
        meta = json.loads((store / "sweep.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise SpecError(
            f"store '{store}': not a sweep store (no readable sweep.json: {exc})"
        ) from None
    return spec_from_dict(meta["spec"]), meta


def open_sweep(store: str | Path) -> xr.Dataset:
    """The store as one :class:`xarray.Dataset`, read from the cell files alone.

    One dimension per grid dimension (a zip group is one dimension named after its first
    parameter, the others are coordinates along it), plus ``method``, ``k`` (modes, padded with
    NaN to the largest K) and ``t``. ``status`` is ``"ok"``, ``"failed"`` or ``"missing"``.
    """
    store = Path(store)
    spec, meta = stored_spec(store)
    values = spec.values()
    dims = spec.dims()
    dnames = [d[0] for d in dims]
    shape = tuple(len(values[d[0]]) for d in dims)
    cells = list(_iter_cells(store, spec))
    K = max((c["sigma"].size for _, c in cells if c is not None and "sigma" in c), default=1)
    M = len(spec.methods)
    T = spec.times.num
    extra_dims = {
        "sigma": ("k",),
        "t_predicted": ("k",),
        "t_measured": ("method", "k"),
        "curves": ("method", "t", "k"),
        "loss": ("method", "t"),
        "final_error": ("method",),
        "cf_distance": ("method",),
        "hypotheses_hold": (),
        "seconds": (),
        "computed_at": (),
    }
    sizes = {"k": K, "method": M, "t": T}
    arrays: dict[str, np.ndarray] = {}
    status = np.full(shape, "missing", dtype=object)
    error = np.full(shape, "", dtype=object)
    for idx, c in cells:
        if c is None:
            continue
        status[idx] = "failed" if c.get("error") else "ok"
        error[idx] = c.get("error", "")
        for key, val in c.items():
            if key in ("name", "error", "tb", "pid"):
                continue
            vd = extra_dims.get(key, ("k",))
            if key not in arrays:
                arrays[key] = np.full(shape + tuple(sizes[d] for d in vd), np.nan)
            val = np.asarray(val, dtype=np.float64)
            sl = tuple(slice(0, s) for s in val.shape)
            arrays[key][idx + sl] = val
    data_vars: dict[str, Any] = {
        "status": (dnames, status.astype(str)),
        "error": (dnames, error.astype(str)),
    }
    for key, arr in arrays.items():
        data_vars[key] = (dnames + list(extra_dims.get(key, ("k",))), arr)
    coords: dict[str, Any] = {}
    for d in dims:
        for p in d:
            vals = values[p]
            coords[p] = (
                d[0],
                np.asarray(
                    vals if not isinstance(vals[0], list) else [json.dumps(v) for v in vals]
                ),
            )
    coords["method"] = ("method", np.asarray(spec.methods))
    coords["k"] = ("k", np.arange(1, K + 1))
    coords["t"] = ("t", spec.times.grid())
    ds = xr.Dataset(data_vars, coords=coords)
    ds.attrs.update(
        kind="sweep",
        name=spec.name,
        result_hash=meta["result_hash"],
        mfflow_version=meta.get("mfflow_version", ""),
        spec=json.dumps(meta["spec"], default=repr),
        environment=json.dumps(meta.get("environment", {})),
        fixed=json.dumps(spec.fixed, default=repr),
    )
    return ds


def write_consolidated(store: str | Path) -> Path:
    """Write ``STORE/results.zarr`` from the cell files (atomically replaced)."""
    import shutil
    import warnings

    store = Path(store)
    ds = open_sweep(store)
    for v in ("status", "error"):
        ds[v] = ds[v].astype("U")
    target = store / "results.zarr"
    tmp = store / ".results.zarr.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.to_zarr(tmp, mode="w", consolidated=True, zarr_format=2)
    old = store / ".results.zarr.old"
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        os.replace(target, old)
    os.replace(tmp, target)
    if old.exists():
        shutil.rmtree(old)
    return target


def computations(store: str | Path) -> dict[str, int]:
    """How many times each cell was computed and written (from ``computed.log``)."""
    counts: dict[str, int] = {}
    path = Path(store) / "computed.log"
    if path.exists():
        for line in path.read_text("utf-8").splitlines():
            try:
                name = json.loads(line)["cell"]
            except (ValueError, KeyError):
                continue  # a torn last line after a kill
            counts[name] = counts.get(name, 0) + 1
    return counts
