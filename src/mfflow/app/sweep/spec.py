"""A sweep spec: a run configuration plus a grid over its dotted field paths.

Everything a ``mfflow run`` configuration holds (:mod:`mfflow.app.config`) sets the fixed
parameters; ``grid`` gives values for dotted field paths (lists, or ``range``, ``linspace``,
``geomspace`` generators), combined by product; ``zip`` groups vary together along one
dimension; ``measurements`` say what each cell records::

    name = "time-scales"
    methods = ["closed_form"]
    measurements = ["transition_times", "theorem", "final_error"]
    eps = 0.1

    [target]
    spectrum = [5.0, 3.0, 2.0, 1.0]

    [grid]
    "init.alpha" = { geomspace = [1e-1, 1e-30, 12] }
    "init.seed" = { range = [0, 5] }

(TOML's dotted keys ``init.alpha = ...`` inside ``[grid]`` mean the same.) A grid dimension is
named after its field (``alpha``, ``seed``), or its dotted path where two fields share a name;
a cell is named benchopt style, ``time-scales[alpha=0.1,seed=0]``. Without ``times.t_max`` the
sweep's shared time grid reaches past the last transition of its slowest cell.

A linear network (``factorization = "linear_network"``) is swept with
``measurements = ["lazy_rich"]`` and ``methods = ["closed_form"]``: each cell is
:func:`mfflow.lazy_rich_cell` at ``(init.lam, init.alpha)``, exact at ``t = inf``
(``examples/sweeps/lazy_rich.toml``).

Every problem of a spec is listed at once, one line each naming the field
(``sweep field 'grid.init.alpha[3]': expected a number > 0, got -1``).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..config import RunConfig, field_paths, pydantic_problems, read_toml, validate
from ..errors import ConfigError
from ..problem import default_t_max, learned_values, read_array

__all__ = ["MEASUREMENTS", "SpecError", "SweepSpec", "load_spec", "spec_from_dict"]

Measurement = Literal["curves", "transition_times", "theorem", "final_error", "lazy_rich"]
MEASUREMENTS = ("curves", "transition_times", "theorem", "final_error", "lazy_rich")
_GENERATORS = ("range", "linspace", "geomspace")
_NOT_GRIDDED = {"name", "methods", "factorization", "depth"}


class SpecError(ConfigError):
    """A sweep spec that cannot be used; one line per problem, each naming the field."""


class _SweepPart(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    grid: dict[str, Any] = Field(default_factory=dict)
    zip: list[list[str]] = Field(default_factory=list)
    measurements: list[Measurement] = Field(
        default_factory=lambda: list[Measurement](["transition_times", "final_error"]), min_length=1
    )


def _is_generator(v: Any) -> bool:
    return isinstance(v, dict) and len(v) == 1 and next(iter(v)) in _GENERATORS


def _flatten(grid: dict[str, Any], known: set[str], prefix: str = "") -> dict[str, Any]:
    """``{"init": {"alpha": [...]}}`` and ``{"init.alpha": [...]}`` -> ``{"init.alpha": [...]}``."""
    out: dict[str, Any] = {}
    for key, v in grid.items():
        path = f"{prefix}{key}"
        if isinstance(v, dict) and not _is_generator(v) and path not in known:
            out.update(_flatten(v, known, path + "."))
        else:
            out[path] = v
    return out


def _expand(path: str, v: Any) -> tuple[list[Any] | None, list[str]]:
    """A grid entry's values, or the problems with it."""
    where = f"sweep field 'grid.{path}'"
    if isinstance(v, list):
        vals = v
    elif isinstance(v, dict):
        if not _is_generator(v):
            return None, [f"{where}: expected a list or one of range, linspace, geomspace"]
        ((kind, args),) = v.items()
        if not isinstance(args, list) or not all(
            isinstance(a, int | float) and not isinstance(a, bool) for a in args
        ):
            return None, [f"{where}: expected {kind} = [numbers], got {args!r}"]
        if kind == "range":
            if not all(isinstance(a, int) for a in args) or not 1 <= len(args) <= 3:
                return None, [f"{where}: expected range = [start, stop(, step)] integers"]
            if len(args) == 3 and args[2] == 0:
                return None, [f"{where}: expected a range step != 0"]
            vals = list(range(*args))
        else:
            if len(args) != 3 or not isinstance(args[2], int) or args[2] < 1:
                return None, [f"{where}: expected {kind} = [start, stop, num >= 1]"]
            if kind == "geomspace" and (args[0] <= 0 or args[1] <= 0):
                return None, [f"{where}: expected geomspace bounds > 0"]
            fn = np.linspace if kind == "linspace" else np.geomspace
            vals = [float(x) for x in fn(args[0], args[1], args[2])]
    else:
        return None, [f"{where}: expected a list of values or a range, got {v!r}"]
    if not vals:
        return None, [f"{where}: empty grid (expected at least one value)"]
    if len({json.dumps(x, default=repr) for x in vals}) != len(vals):
        return None, [f"{where}: repeated values"]
    return vals, []


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    head, _, leaf = path.partition(".")
    if not leaf:
        data[head] = value
    elif isinstance(data.setdefault(head, {}), dict):
        data[head][leaf] = value


def _has(data: dict[str, Any], path: str) -> bool:
    head, _, leaf = path.partition(".")
    if not leaf:
        return head in data
    return isinstance(data.get(head), dict) and leaf in data[head]


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep spec (build it with :func:`spec_from_dict` or :func:`load_spec`).

    Attributes
    ----------
    base : dict
        The run configuration every cell starts from (times resolved, target files absolute).
    grid : dict of str to list
        Each gridded field path's values, in the spec's order.
    zip : tuple of tuples of str
        Field paths that vary together (one dimension each).
    measurements : tuple of str
    raw : dict
        The spec as given (recorded in the store).
    folder : str or None
        The spec file's folder (relative target files are read from there).
    """

    base: dict[str, Any]
    grid: dict[str, list[Any]]
    zip: tuple[tuple[str, ...], ...]
    measurements: tuple[str, ...]
    raw: dict[str, Any]
    folder: str | None

    @functools.cached_property
    def reference(self) -> RunConfig:
        """The configuration of the first cell."""
        cfg, _ = validate(self.cell_config({p: v[0] for p, v in self.grid.items()}))
        assert cfg is not None  # validated by spec_from_dict
        return cfg

    @property
    def name(self) -> str:
        return self.reference.name

    @property
    def methods(self) -> list[str]:
        return list(self.reference.methods)

    def times(self) -> np.ndarray:
        """The time grid every cell shares ``(T,)``."""
        t = self.reference.times
        if t.values is not None:
            return np.asarray(t.values, dtype=np.float64)
        assert t.t_max is not None  # resolved by spec_from_dict
        return np.linspace(0.0, t.t_max, t.num)

    def dims(self) -> list[list[str]]:
        """The grid dimensions: each is a list of field paths (one, or a zip group)."""
        out: list[list[str]] = []
        for path in self.grid:
            group = next((list(g) for g in self.zip if path in g), [path])
            if group not in out:
                out.append(group)
        return out

    def labels(self) -> dict[str, str]:
        """Each gridded path's short name: its field name, or the path where names clash."""
        leaves = [p.rpartition(".")[2] for p in self.grid]
        return {
            p: (leaf if leaves.count(leaf) == 1 else p)
            for p, leaf in zip(self.grid, leaves, strict=True)
        }

    def cells(self) -> list[tuple[tuple[int, ...], dict[str, Any]]]:
        """Every cell as ``(index along each dimension, {path: value})``, product order."""
        dims = self.dims()
        sizes = [len(self.grid[d[0]]) for d in dims]
        out = []
        for idx in product(*(range(s) for s in sizes)):
            params = {p: self.grid[p][i] for d, i in zip(dims, idx, strict=True) for p in d}
            out.append((idx, params))
        return out

    def cell_name(self, params: dict[str, Any]) -> str:
        """``name[label=value,...]`` over the gridded fields, in the spec's order."""
        labels = self.labels()
        inner = ",".join(f"{labels[p]}={_fmt_value(params[p])}" for p in self.grid)
        return f"{self.name}[{inner}]"

    def cell_config(self, params: dict[str, Any]) -> dict[str, Any]:
        """The run configuration (a dict) of the cell with gridded values ``params``."""
        data = copy.deepcopy(self.base)
        for path, value in params.items():
            _set(data, path, value)
        target = data.get("target")
        if self.folder is not None and isinstance(target, dict) and "file" in target:
            if isinstance(target["file"], str) and not Path(target["file"]).is_absolute():
                target["file"] = str(Path(self.folder) / target["file"])
        return data

    def result_hash(self) -> str:
        """Hash of everything a cell's numbers depend on, except the grid's values.

        Computed from the *validated* configuration (defaults filled in), so writing a default
        explicitly, or the same fields as dotted keys or tables, gives the same hash.
        Re-running with another hash is refused; extending the grid's values is not.
        """
        config = self.reference.model_dump(mode="json")
        config.pop("name", None)
        for path in self.grid:
            _set(config, path, None)  # the grid's values are not part of the hash
        key = {"config": config, "dims": self.dims(), "measurements": sorted(self.measurements)}
        text = json.dumps(key, sort_keys=True, default=repr)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def legacy_result_hash(self) -> str:
        """The hash stores written before :meth:`result_hash` normalized the configuration
        recorded (from the spec as written); such a store is accepted, its cells recomputed."""
        base = {k: v for k, v in self.base.items() if k != "name"}
        key = {"base": base, "dims": self.dims(), "measurements": sorted(self.measurements)}
        text = json.dumps(key, sort_keys=True, default=repr)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return repr(v)
    return json.dumps(v) if isinstance(v, list) else str(v)


def _values_of(cfg: RunConfig, folder: str | None) -> np.ndarray:
    """The values the flow learns (positive), for the default horizon."""
    vals = cfg.target.values()
    if vals is not None:
        v = np.asarray(vals, dtype=np.float64)
        return v[v > 0]
    assert cfg.target.file is not None
    path = Path(cfg.target.file)
    data = read_array(path if folder is None or path.is_absolute() else Path(folder) / path)
    if data.ndim == 1:
        return data[data > 0]
    return learned_values(data, "symmetric")


def _unsupported(base: dict[str, Any], measurements: list[Measurement], bad: set[str]) -> list[str]:
    """What sweeps do not run: other factorizations and operators; the theorem without the
    closed form. Fields in ``bad`` (already reported invalid) are not checked."""
    out = []
    f = base.get("factorization", "symmetric")
    if f not in ("symmetric", "linear_network") and "factorization" not in bad:
        out.append(
            "sweep field 'factorization': sweeps run the symmetric factorization, or "
            f"'linear_network' with measurement 'lazy_rich'; got {f!r}"
        )
    if "factorization" not in bad and (f == "linear_network") != ("lazy_rich" in measurements):
        out.append(
            "sweep field 'measurements': factorization 'linear_network' measures ['lazy_rich'] "
            "(the lazy/rich quantities of mfflow.lazy_rich_cell), which no other factorization "
            "does"
        )
    elif f == "linear_network" and measurements != ["lazy_rich"]:
        out.append(
            "sweep field 'measurements': factorization 'linear_network' measures only ['lazy_rich']"
        )
    if f == "linear_network" and "methods" not in bad:
        if base.get("methods", ["closed_form"]) != ["closed_form"]:
            out.append(
                "sweep field 'methods': a 'lazy_rich' sweep runs ['closed_form'] (each cell "
                "exact at t = inf)"
            )
    op = base.get("operator", {})
    kind = op.get("kind", "identity") if isinstance(op, dict) else "identity"
    if kind != "identity" and not {"operator", "operator.kind"} & bad:
        out.append(
            "sweep field 'operator.kind': sweeps run the identity operator (the paper's "
            f"setting); got {kind!r}"
        )
    methods = base.get("methods", ["closed_form"])
    if "theorem" in measurements and "methods" not in bad and "closed_form" not in methods:
        out.append("sweep field 'measurements': 'theorem' needs method 'closed_form'")
    return out


def spec_from_dict(data: dict[str, Any], folder: str | Path | None = None) -> SweepSpec:
    """Validate a spec given as a dict (as read from TOML); :class:`SpecError` lists every
    problem. ``folder`` is where relative target files are read from."""
    folder = None if folder is None else str(folder)
    problems: list[str] = []
    if not isinstance(data, dict):
        raise SpecError("sweep spec: expected a table of fields")
    part_keys = set(_SweepPart.model_fields)
    try:
        part = _SweepPart.model_validate({k: v for k, v in data.items() if k in part_keys})
    except ValidationError as exc:
        problems += [f"sweep field '{loc}': {msg}" for loc, msg in pydantic_problems(exc)]
        part = _SweepPart()
    base = {k: copy.deepcopy(v) for k, v in data.items() if k not in part_keys}

    known = set(field_paths())
    grid: dict[str, list[Any]] = {}
    for path, v in _flatten(part.grid, known).items():
        if path not in known or path in _NOT_GRIDDED:
            problems.append(
                f"sweep field 'grid.{path}': unknown parameter; use a configuration field such "
                "as init.alpha, init.seed, target.gap, target.K, target.n, init.r, eta"
            )
            continue
        if _has(base, path):
            problems.append(f"sweep field 'grid.{path}': also given outside the grid ('{path}')")
            continue
        vals, bad = _expand(path, v)
        problems += bad
        if vals is not None:
            grid[path] = vals
    seen: set[str] = set()
    zips: list[tuple[str, ...]] = []
    for gi, group in enumerate(part.zip):
        where = f"sweep field 'zip[{gi}]'"
        ok = len(group) >= 2
        if not ok:
            problems.append(f"{where}: expected at least two parameters")
        for p in group:
            if p not in grid:
                problems.append(f"{where}: {p!r} is not a grid parameter")
                ok = False
            elif p in seen:
                problems.append(f"{where}: {p!r} is in two zip groups")
                ok = False
            seen.add(p)
        if ok and len({len(grid[p]) for p in group}) != 1:
            problems.append(f"{where}: expected lists of equal length")
            ok = False
        if ok:
            zips.append(tuple(group))

    spec = SweepSpec(base, grid, tuple(zips), tuple(part.measurements), data, folder)
    first = {p: vals[0] for p, vals in grid.items()}
    cfg, ref_problems = validate(spec.cell_config(first))
    for loc, msg in ref_problems:
        at = loc.split("[")[0]
        problems.append(f"sweep field '{f'grid.{at}[0]' if at in grid else loc}': {msg}")
    for dim in spec.dims():
        for i in range(1, len(grid[dim[0]])):
            _, found = validate(spec.cell_config({**first, **{p: grid[p][i] for p in dim}}))
            for loc, msg in found:
                at = loc.split("[")[0]
                if at in dim:
                    problems.append(f"sweep field 'grid.{at}[{i}]': {msg}")
                elif (loc, msg) not in ref_problems:
                    problems.append(
                        f"sweep field 'grid.{dim[0]}[{i}]': with this value, field '{loc}': {msg}"
                    )
    bad_fields = {loc.split("[")[0] for loc, _ in ref_problems}
    problems += _unsupported(base, part.measurements, bad_fields)
    if problems:
        raise SpecError(list(dict.fromkeys(problems)))
    if cfg is not None and cfg.factorization == "linear_network":
        if cfg.times.t_max is None and cfg.times.values is None:  # unused: cells end at t = inf
            spec = SweepSpec(
                {**base, "times": {**base.get("times", {}), "t_max": 1.0, "num": 2}},
                grid,
                spec.zip,
                spec.measurements,
                data,
                folder,
            )
    elif cfg is not None and cfg.times.t_max is None and cfg.times.values is None:
        horizon = 0.0
        for _, params in spec.cells():
            c = RunConfig.model_validate(spec.cell_config(params))
            sig = _values_of(c, folder)
            horizon = max(horizon, default_t_max(sig, c.init.alpha, "symmetric", None))
        times = dict(base.get("times", {}))
        times["t_max"] = float(f"{horizon:.6g}")
        spec = SweepSpec({**base, "times": times}, grid, spec.zip, spec.measurements, data, folder)
    return spec


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep spec (TOML); :class:`SpecError` lists every problem."""
    p = Path(path)
    return spec_from_dict(read_toml(p, "sweep spec", SpecError), p.resolve().parent)
