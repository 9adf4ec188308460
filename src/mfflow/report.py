"""The paper's story as data: compute every curve and number, save it, write the report.

:func:`reproduce` is what ``mfflow reproduce`` runs: it computes six results (one per figure,
see :mod:`mfflow.plot`) into one :class:`xarray.Dataset` with named dimensions (``alpha``,
``mode``, ``time``, ``k``, ...), saves it as netCDF (``results.nc``), draws the figures from the
file's contents only and writes ``report.md`` and a self-contained ``index.html``.
:func:`run_experiment` does the same for one configured experiment (``mfflow run``).

Every file is written atomically (temporary file + rename), and each figure's results are cached
in ``OUT/.cache`` keyed by the configuration and the package version, so an interrupted
``reproduce`` resumes where it stopped.

Layout of the output folder::

    OUT/results.nc        every curve and number, plus the configuration (attrs["config"], JSON)
    OUT/report.md         the story, the tables, the configuration
    OUT/index.html        the same, figures embedded (base64 PNG)
    OUT/figures/*.png     one PNG and one PDF per figure
    OUT/figures/*.pdf
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from .closed_form import closed_form
from .linalg import eigh_descending
from .problems import gaussian_init, make_target, spectral_init

__all__ = [
    "ReproduceConfig",
    "atomic_write",
    "compute_results",
    "fmt",
    "load_results",
    "report_tables",
    "reproduce",
    "run_experiment",
    "save_results",
    "write_report",
]

FloatArray = NDArray[np.float64]

#: Names of the six reproduce steps (also the figure names), in the story's order.
STEPS = (
    "one_mode",
    "incremental",
    "general_init",
    "rank_k",
    "time_scales",
    "early_stopping",
)


# --------------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReproduceConfig:
    """Defaults of ``mfflow reproduce`` (``quick()`` for the reduced test version).

    The target is ``Y = Q diag(spectrum) Q^T`` in a random basis; "spectral" results use the
    spectral shape ``U0 = Phi`` (``W~0 = I``), "general" results a Gaussian ``(n, init_r)`` shape.
    """

    spectrum: tuple[float, ...] = (5.0, 3.0, 2.0, 1.0)
    n: int = 4
    target_seed: int = 0
    eps: float = 0.1
    init_r: int = 8
    init_seed: int = 1
    num_times: int = 5001
    t_max: float = 55.0
    # figure 1: one mode, spectral init
    one_mode: int = 1
    one_mode_alpha: float = 1e-6
    # figure 2: incremental learning emerges, spectral init
    panel_alphas: tuple[float, ...] = (1e-1, 1e-3, 1e-6, 1e-12)
    # figure 3: general init, closed form vs flow simulation vs gradient descent
    general_alpha: float = 1e-6
    general_t_max: float = 10.0
    num_sim: int = 81
    gd_etas: tuple[float, ...] = (1e-2, 1e-3)
    gd_markers: int = 41
    # figure 4: the theorem (general init)
    theorem_alpha: float = 1e-30
    # figure 5: time-scale separation (general init)
    sweep_alpha_max: float = 1e-1
    sweep_alpha_min: float = 1e-30
    sweep_num: int = 30
    slope_fit_alpha_max: float = 1e-4
    # figure 6: early stopping (general init)
    stop_alphas: tuple[float, ...] = (1e-2, 1e-4, 1e-8, 1e-16, 1e-30)
    quick: bool = False

    @classmethod
    def quick_config(cls) -> ReproduceConfig:
        """The reduced configuration behind ``--quick`` (same story, fewer points)."""
        return cls(num_times=1201, num_sim=31, gd_etas=(1e-3,), sweep_num=8, quick=True)

    def to_json(self) -> str:
        """The configuration as a JSON object (stored in the results file)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ReproduceConfig:
        data = json.loads(text)
        for key, value in data.items():
            if isinstance(value, list):
                data[key] = tuple(value)
        return cls(**data)


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------
def fmt(x: Any) -> str:
    """How every number appears in the report: 4 significant digits; ``inf``; ``-`` for NaN."""
    v = float(x)
    if math.isnan(v):
        return "-"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.4g}"


def _get(obj: Any, name: str) -> Any:
    """Attribute or key ``name`` of a theory result (dataclass, NamedTuple or dict)."""
    if isinstance(obj, dict):
        return obj[name]
    return getattr(obj, name)


def _interval(iv: Any) -> tuple[float, float]:
    """``(a, b)`` as floats; ``(nan, nan)`` for a missing (``None``) interval."""
    if iv is None:
        return math.nan, math.nan
    a, b = iv
    return float(a), float(b)


def _tri(flag: bool | None) -> int:
    """``True/False/None`` as ``1/0/-1`` (netCDF has no boolean or missing-boolean type)."""
    return -1 if flag is None else int(bool(flag))


def _yes(flag: Any) -> str:
    return {1: "yes", 0: "no"}.get(int(flag), "n/a (empty interval)")


def _positive_spectrum(Y: FloatArray) -> FloatArray:
    lam = eigh_descending(Y)[0]
    return lam[lam > 1e-12 * max(float(np.max(np.abs(lam))), 1e-300)]


def _pad(values: Any, n: int) -> FloatArray:
    out = np.full(n, np.nan)
    v = np.asarray(values, dtype=np.float64).ravel()
    out[: min(n, v.size)] = v[:n]
    return out


@contextlib.contextmanager
def atomic_write(path: Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=suffix or path.suffix, dir=str(path.parent)
    )
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def save_results(ds: xr.Dataset, path: str | Path) -> Path:
    """Write ``ds`` as netCDF (engine netcdf4), atomically."""
    p = Path(path)
    with atomic_write(p, ".nc") as tmp:
        ds.to_netcdf(tmp, engine="netcdf4")
    return p


def load_results(path: str | Path) -> xr.Dataset:
    """Load a results file fully into memory (the file is closed on return)."""
    with xr.open_dataset(Path(path), engine="netcdf4") as ds:
        return ds.load()


def _scalar(ds: xr.Dataset, name: str) -> float:
    return float(ds[name].values)


# --------------------------------------------------------------------------------------------
# the problem shared by all figures
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Problem:
    cfg: ReproduceConfig
    Y: FloatArray
    sigma: FloatArray  # (K,) distinct positive eigenvalues, descending
    lam: FloatArray  # (n,) all eigenvalues, descending
    U0_spectral: FloatArray  # (n, n)
    U0_general: FloatArray  # (n, r)
    time: FloatArray = field(repr=False)

    @classmethod
    def build(cls, cfg: ReproduceConfig) -> _Problem:
        Y = make_target(list(cfg.spectrum), n=cfg.n, seed=cfg.target_seed)
        lam = eigh_descending(Y)[0]
        return cls(
            cfg=cfg,
            Y=Y,
            sigma=_positive_spectrum(Y),
            lam=lam,
            U0_spectral=spectral_init(Y, 1.0),
            U0_general=gaussian_init(cfg.n, cfg.init_r, seed=cfg.init_seed),
            time=np.linspace(0.0, cfg.t_max, cfg.num_times),
        )

    def base(self) -> xr.Dataset:
        n, _r = self.U0_general.shape
        return xr.Dataset(
            {
                "Y": (("row", "col"), self.Y, {"long_name": "target Y"}),
                "U0_spectral": (("row", "col"), self.U0_spectral, {"long_name": "spectral shape"}),
                "U0_general": (("row", "col_r"), self.U0_general, {"long_name": "Gaussian shape"}),
                "sigma_Y": (("mode",), self.lam, {"long_name": "eigenvalues of Y, descending"}),
                "eps": ((), self.cfg.eps),
            },
            coords={
                "mode": ("mode", np.arange(1, n + 1)),
                "k": ("k", np.arange(1, self.sigma.size + 1)),
                "time": ("time", self.time, {"units": "gradient-flow time"}),
            },
        )


# --------------------------------------------------------------------------------------------
# the six computations
# --------------------------------------------------------------------------------------------
def _step_one_mode(p: _Problem) -> xr.Dataset:
    from .theory import measured_transition_times, theorem_constants, transition_times

    cfg = p.cfg
    i = cfg.one_mode - 1
    alpha = cfg.one_mode_alpha
    traj = closed_form(p.Y, p.U0_spectral, alpha)
    values = traj.mode_values(p.time)[:, i]
    tc = theorem_constants(p.Y, p.U0_spectral, alpha, cfg.eps)
    c_eps, C_eps = float(_get(tc, "c_eps")), float(_get(tc, "C_eps"))
    sig = float(p.sigma[i])
    return xr.Dataset(
        {
            "one_mode_value": (("time",), values, {"long_name": "sigma_{i,W}(t)"}),
            "one_mode_index": ((), cfg.one_mode),
            "one_mode_alpha": ((), alpha),
            "one_mode_sigma": ((), sig),
            "one_mode_t_predicted": ((), float(transition_times(p.Y, alpha)[i])),
            "one_mode_t_measured": (
                (),
                float(measured_transition_times(p.Y, p.U0_spectral, alpha)[i]),
            ),
            "one_mode_c_eps": ((), c_eps),
            "one_mode_C_eps": ((), C_eps),
            "one_mode_M": ((), float(_get(tc, "M"))),
            "one_mode_t_lower": ((), math.log(c_eps / alpha) / (2 * sig)),
            "one_mode_t_upper": ((), math.log(C_eps / alpha) / (2 * sig)),
        }
    )


def _step_incremental(p: _Problem) -> xr.Dataset:
    from .theory import measured_transition_times, transition_times

    alphas = np.asarray(p.cfg.panel_alphas, dtype=np.float64)
    n = p.lam.size
    values = np.empty((alphas.size, p.time.size, n))
    pred = np.empty((alphas.size, n))
    meas = np.empty((alphas.size, n))
    for a, alpha in enumerate(alphas):
        traj = closed_form(p.Y, p.U0_spectral, float(alpha))
        values[a] = traj.mode_values(p.time)
        pred[a] = _pad(transition_times(p.Y, float(alpha)), n)
        meas[a] = _pad(measured_transition_times(p.Y, p.U0_spectral, float(alpha)), n)
    return xr.Dataset(
        {
            "incr_value": (("alpha", "time", "mode"), values, {"long_name": "sigma_{i,W}(t)"}),
            "incr_t_predicted": (("alpha", "mode"), pred),
            "incr_t_measured": (("alpha", "mode"), meas),
        },
        coords={"alpha": ("alpha", alphas)},
    )


def _step_general_init(p: _Problem) -> xr.Dataset:
    from .simulate import simulate_gd, simulate_gf

    cfg = p.cfg
    alpha = cfg.general_alpha
    n = p.lam.size
    traj = closed_form(p.Y, p.U0_general, alpha)
    t_curve = np.linspace(0.0, cfg.general_t_max, 1001 if not cfg.quick else 401)
    t_sim = np.linspace(0.0, cfg.general_t_max, cfg.num_sim)
    sim = simulate_gf(p.Y, p.U0_general, alpha, t_sim)
    w_sim = np.asarray(sim.W)
    w_cf = traj.W(t_sim)
    gf_err = np.linalg.norm(w_sim - w_cf, ord=2, axis=(1, 2))

    etas = np.asarray(cfg.gd_etas, dtype=np.float64)
    gd_max = np.empty(etas.size)
    gd_diverged = np.zeros(etas.size, dtype=np.int8)
    marker_eta = float(etas.min())
    gd_t = gd_eig = gd_err = None
    for e, eta in enumerate(etas):
        last = math.ceil(cfg.general_t_max / eta)
        # every iterate is computed; the error is measured on (at most) 2001 of them
        record = np.unique(np.linspace(0, last, min(last + 1, 2001)).round().astype(np.int64))
        gd = simulate_gd(p.Y, p.U0_general, alpha, float(eta), steps=record)
        w_gd = np.asarray(gd.W)
        t_gd = np.asarray(gd.t, dtype=np.float64)
        gd_diverged[e] = bool(gd.diverged)
        finite = np.all(np.isfinite(w_gd), axis=(1, 2))
        err = np.full(t_gd.size, np.inf)
        err[finite] = np.linalg.norm(w_gd[finite] - traj.W(t_gd[finite]), ord=2, axis=(1, 2))
        gd_max[e] = float(np.max(err))
        if eta == marker_eta:
            pick = np.unique(np.linspace(0, t_gd.size - 1, cfg.gd_markers).round().astype(int))
            gd_t = t_gd[pick]
            gd_eig = np.full((pick.size, n), np.nan)
            ok = finite[pick]
            gd_eig[ok] = np.linalg.eigvalsh(w_gd[pick][ok])[:, ::-1]
            gd_err = err[pick]
    assert gd_t is not None and gd_eig is not None and gd_err is not None
    return xr.Dataset(
        {
            "general_alpha": ((), alpha),
            "general_cf": (("time_general", "mode"), traj.eigvals(t_curve)),
            "general_gf": (("t_sim", "mode"), np.linalg.eigvalsh(w_sim)[:, ::-1]),
            "general_gf_error": (("t_sim",), gf_err, {"long_name": "||W_GF - W_closed||_2"}),
            "general_gd": (("gd_step", "mode"), gd_eig),
            "general_gd_error": (("gd_step",), gd_err, {"long_name": "||W_GD - W_closed||_2"}),
            "gd_max_error": (("eta",), gd_max),
            "gd_diverged": (("eta",), gd_diverged),
            "gf_max_error": ((), float(np.max(gf_err))),
            "gd_marker_eta": ((), marker_eta),
        },
        coords={
            "time_general": ("time_general", t_curve),
            "t_sim": ("t_sim", t_sim),
            "gd_time": ("gd_step", gd_t),
            "eta": ("eta", etas),
            "mode": ("mode", np.arange(1, n + 1)),
        },
    )


def theorem_dataset(
    Y: FloatArray, U0: FloatArray, alpha: float, eps: float, time: FloatArray
) -> xr.Dataset:
    """Distances ``||W(t) - Yhat_k||_2`` ``(k, time)`` and the theorem's intervals, per k.

    Variables ``rank_*`` (shared by ``mfflow reproduce`` and ``mfflow run``): certified intervals
    with the corrected endpoints (``rank_cert_lo/hi``) and, where the theory module provides
    them, with the endpoints as transcribed from the paper (``rank_paper_lo/hi``); measured
    intervals (``rank_meas_lo/hi``, NaN where the error never drops below eps); the constants.
    """
    from .theory import best_rank_k, check_theorem, theorem_intervals

    traj = closed_form(Y, U0, alpha)
    sigma = _positive_spectrum(Y)
    K = sigma.size
    dist = np.stack([traj.distance(best_rank_k(Y, k), time) for k in range(1, K + 1)])
    check = check_theorem(Y, U0, alpha, eps)
    tc = _get(check, "constants")
    rows = list(_get(check, "rows"))
    cert = np.array([_interval(_get(r, "certified")) for r in rows])
    try:
        paper = np.array(
            [_interval(iv) for iv in theorem_intervals(Y, U0, alpha, eps, endpoints="slide")]
        )
    except (ValueError, TypeError):
        paper = np.full((K, 2), np.nan)
    meas = np.array([_interval(_get(r, "measured")) for r in rows])
    max_err = np.array([float(_get(r, "max_error_on_certified")) for r in rows])
    holds = np.array([_tri(_get(r, "holds")) for r in rows], dtype=np.int8)
    contained = np.array([_tri(_get(r, "contained")) for r in rows], dtype=np.int8)
    failures = _get(tc, "failures")
    return xr.Dataset(
        {
            "rank_distance": (("k", "time"), dist, {"long_name": "||W(t) - Yhat_k||_2"}),
            "rank_cert_lo": (("k",), cert[:, 0]),
            "rank_cert_hi": (("k",), cert[:, 1]),
            "rank_paper_lo": (("k",), paper[:, 0]),
            "rank_paper_hi": (("k",), paper[:, 1]),
            "rank_meas_lo": (("k",), meas[:, 0]),
            "rank_meas_hi": (("k",), meas[:, 1]),
            "rank_max_error_on_certified": (("k",), max_err),
            "rank_holds": (("k",), holds),
            "rank_contained": (("k",), contained),
            "theorem_alpha": ((), float(alpha)),
            "theorem_eps": ((), float(eps)),
            "theorem_M": ((), float(_get(tc, "M"))),
            "theorem_c_eps": ((), float(_get(tc, "c_eps"))),
            "theorem_C_eps": ((), float(_get(tc, "C_eps"))),
            "theorem_hypotheses_hold": ((), np.int8(bool(_get(tc, "hypotheses_hold")))),
        },
        coords={"k": ("k", np.arange(1, K + 1)), "time": ("time", time)},
        attrs={"theorem_failures": "; ".join(str(f) for f in failures) if failures else ""},
    )


def _step_rank_k(p: _Problem) -> xr.Dataset:
    return theorem_dataset(p.Y, p.U0_general, p.cfg.theorem_alpha, p.cfg.eps, p.time)


def _step_time_scales(p: _Problem) -> xr.Dataset:
    from .theory import measured_transition_times, transition_times

    cfg = p.cfg
    alphas = np.geomspace(cfg.sweep_alpha_max, cfg.sweep_alpha_min, cfg.sweep_num)
    K = p.sigma.size
    meas = np.array([measured_transition_times(p.Y, p.U0_general, a) for a in alphas])
    pred = np.array([transition_times(p.Y, a) for a in alphas])
    x = np.log(1.0 / alphas)
    fit = alphas <= cfg.slope_fit_alpha_max
    slope = np.full(K, np.nan)
    intercept = np.full(K, np.nan)
    for i in range(K):
        ok = fit & np.isfinite(meas[:, i])
        if np.count_nonzero(ok) >= 2:
            slope[i], intercept[i] = np.polyfit(x[ok], meas[ok, i], 1)
    return xr.Dataset(
        {
            "sweep_t_measured": (("alpha_sweep", "k"), meas),
            "sweep_t_predicted": (("alpha_sweep", "k"), pred),
            "sweep_slope_fit": (("k",), slope),
            "sweep_intercept_fit": (("k",), intercept),
            "sweep_slope_theory": (("k",), 1.0 / (2.0 * p.sigma)),
            "sweep_fit_alpha_max": ((), cfg.slope_fit_alpha_max),
        },
        coords={"alpha_sweep": ("alpha_sweep", alphas), "k": ("k", np.arange(1, K + 1))},
    )


def _step_early_stopping(p: _Problem) -> xr.Dataset:
    from .theory import best_rank_k, transition_times

    alphas = np.asarray(p.cfg.stop_alphas, dtype=np.float64)
    K = p.sigma.size
    lam = p.lam
    tails = np.abs(lam)
    ey2 = np.array([tails[k] if k < tails.size else 0.0 for k in range(1, K + 1)])
    eyf = np.array([math.sqrt(float(np.sum(tails[k:] ** 2))) for k in range(1, K + 1)])
    stop = np.empty((alphas.size, K))
    err2 = np.empty((alphas.size, K))
    errf = np.empty((alphas.size, K))
    errhat = np.empty((alphas.size, K))
    hats = [best_rank_k(p.Y, k) for k in range(1, K + 1)]
    for a, alpha in enumerate(alphas):
        tau = np.maximum(np.asarray(transition_times(p.Y, float(alpha)), dtype=np.float64), 0.0)
        # halfway, in log time, between transitions k and k+1 (twice tau_K after the last one)
        ts = np.array([math.sqrt(tau[k] * tau[k + 1]) for k in range(K - 1)] + [2 * tau[-1]])
        traj = closed_form(p.Y, p.U0_general, float(alpha))
        stop[a] = ts
        for k in range(K):
            w = traj.W(float(ts[k]))
            err2[a, k] = np.linalg.norm(w - p.Y, ord=2)
            errf[a, k] = np.linalg.norm(w - p.Y)
            errhat[a, k] = np.linalg.norm(w - hats[k], ord=2)
    return xr.Dataset(
        {
            "stop_time": (("alpha_stop", "k"), stop),
            "stop_error": (("alpha_stop", "k"), err2, {"long_name": "||W(t_k) - Y||_2"}),
            "stop_error_fro": (("alpha_stop", "k"), errf, {"long_name": "||W(t_k) - Y||_F"}),
            "stop_error_hat": (("alpha_stop", "k"), errhat, {"long_name": "||W(t_k) - Yhat_k||_2"}),
            "eckart_young": (("k",), ey2, {"long_name": "min_rank k ||Z - Y||_2 = sigma_{k+1}"}),
            "eckart_young_fro": (("k",), eyf),
        },
        coords={"alpha_stop": ("alpha_stop", alphas), "k": ("k", np.arange(1, K + 1))},
    )


_STEP_FUNCS: dict[str, Callable[[_Problem], xr.Dataset]] = {
    "one_mode": _step_one_mode,
    "incremental": _step_incremental,
    "general_init": _step_general_init,
    "rank_k": _step_rank_k,
    "time_scales": _step_time_scales,
    "early_stopping": _step_early_stopping,
}

STEP_TITLES = {
    "one_mode": "One mode",
    "incremental": "Incremental learning emerges",
    "general_init": "General initialization",
    "rank_k": "Rank-k approximation",
    "time_scales": "Time-scale separation",
    "early_stopping": "Low-rank approximation by early stopping",
}


def _version() -> str:
    from . import __version__

    return __version__


def _cache_key(cfg: ReproduceConfig, step: str) -> str:
    text = f"{cfg.to_json()}|{step}|{_version()}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def compute_results(
    cfg: ReproduceConfig | None = None,
    *,
    cache_dir: str | Path | None = None,
    on_step: Callable[[str, str], None] | None = None,
) -> xr.Dataset:
    """Compute every curve and number of ``mfflow reproduce`` into one dataset.

    Parameters
    ----------
    cfg : ReproduceConfig, optional
        Defaults to ``ReproduceConfig()``.
    cache_dir : path, optional
        Each step's results are saved there (atomically) and reused when the configuration and
        package version match, so an interrupted run loses nothing already computed.
    on_step : callable(step, state), optional
        Called with ``state`` "start", "cached" or "done" around each step (progress display).

    Returns
    -------
    xarray.Dataset
        Dimensions ``mode`` (n), ``k`` (K), ``time``, ``alpha`` (panels), ``alpha_sweep``,
        ``alpha_stop``, ``t_sim``, ``gd_step``, ``eta``, ... ; ``attrs["config"]`` holds the
        configuration as JSON and ``attrs["mfflow_version"]`` the package version.
    """
    cfg = ReproduceConfig() if cfg is None else cfg
    problem = _Problem.build(cfg)
    parts = [problem.base()]
    cache = Path(cache_dir) if cache_dir is not None else None
    for step in STEPS:
        key = _cache_key(cfg, step)
        cached = cache / f"{step}.nc" if cache is not None else None
        part = None
        if cached is not None and cached.exists():
            try:
                part = load_results(cached)
                if part.attrs.get("cache_key") != key:
                    part = None
            except (OSError, ValueError):
                part = None
        if part is not None:
            if on_step:
                on_step(step, "cached")
        else:
            if on_step:
                on_step(step, "start")
            part = _STEP_FUNCS[step](problem)
            part.attrs["cache_key"] = key
            if cached is not None:
                save_results(part, cached)
            if on_step:
                on_step(step, "done")
        part.attrs.pop("cache_key", None)
        parts.append(part)
    ds = xr.merge(parts, combine_attrs="drop_conflicts", compat="override", join="outer")
    ds.attrs.update(
        {
            "title": "mfflow reproduce: incremental learning in symmetric matrix factorization",
            "kind": "reproduce",
            "config": cfg.to_json(),
            "mfflow_version": _version(),
            "reference": "H. Min and R. Vidal, arXiv:2508.20344",
        }
    )
    return ds


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------
@dataclass
class Table:
    """A report table: a caption, a header and rows of already formatted cells."""

    caption: str
    header: list[str]
    rows: list[list[str]]

    def markdown(self) -> str:
        lines = [f"*{self.caption}*", ""]

        def row(cells: list[str]) -> str:
            return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

        lines.append(row(self.header))
        lines.append("|" + "|".join(" --- " for _ in self.header) + "|")
        lines += [row(r) for r in self.rows]
        return "\n".join(lines)

    def html(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.header)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in self.rows
        )
        return (
            f"<table><caption>{html.escape(self.caption)}</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )


def _interval_cells(lo: float, hi: float) -> str:
    if math.isnan(lo):
        return "none"
    if not lo <= hi or math.isinf(lo):
        return "empty" if math.isinf(lo) or math.isinf(hi) else f"empty [{fmt(lo)}, {fmt(hi)}]"
    return f"[{fmt(lo)}, {fmt(hi)}]"


def report_tables(ds: xr.Dataset) -> dict[str, Table]:
    """The report's tables, built from the results dataset only (keys name the figure)."""
    tables: dict[str, Table] = {}
    if ds.attrs.get("kind") == "run":
        return _run_tables(ds)
    sig = ds["sigma_Y"].values
    tables["setup"] = Table(
        "Target and initializations",
        ["quantity", "value"],
        [
            ["n", str(ds.sizes["mode"])],
            ["eigenvalues of Y", ", ".join(fmt(s) for s in sig)],
            ["eps", fmt(_scalar(ds, "eps"))],
            ["spectral shape", "U0 = Phi (W~0 = I)"],
            ["general shape", f"Gaussian, r = {ds.sizes['col_r']}"],
        ],
    )
    tables["one_mode"] = Table(
        "One mode: transition time and the per-mode bounds",
        ["quantity", "value"],
        [
            ["mode i", str(int(_scalar(ds, "one_mode_index")))],
            ["sigma_i", fmt(_scalar(ds, "one_mode_sigma"))],
            ["alpha", fmt(_scalar(ds, "one_mode_alpha"))],
            ["predicted transition time", fmt(_scalar(ds, "one_mode_t_predicted"))],
            ["measured transition time (half of sigma_i)", fmt(_scalar(ds, "one_mode_t_measured"))],
            ["sigma_{i,W} <= eps certified until", fmt(_scalar(ds, "one_mode_t_lower"))],
            ["sigma_{i,W} >= sigma_i - eps certified from", fmt(_scalar(ds, "one_mode_t_upper"))],
        ],
    )
    rows = []
    for a in ds["alpha"].values:
        for m in ds["mode"].values:
            pr = float(ds["incr_t_predicted"].sel(alpha=a, mode=m))
            me = float(ds["incr_t_measured"].sel(alpha=a, mode=m))
            if math.isnan(pr) and math.isnan(me):
                continue
            rows.append([fmt(a), str(int(m)), fmt(sig[m - 1]), fmt(pr), fmt(me), fmt(me - pr)])
    tables["incremental"] = Table(
        "Predicted log(1/alpha)/(2 sigma_i) vs measured transition times (spectral init)",
        ["alpha", "mode i", "sigma_i", "predicted", "measured", "measured - predicted"],
        rows,
    )
    rows = [["gradient flow (DOP853)", "-", fmt(_scalar(ds, "gf_max_error"))]]
    for e, eta in enumerate(ds["eta"].values):
        diverged = " (diverged)" if int(ds["gd_diverged"].values[e]) else ""
        rows.append(
            ["gradient descent, t = step x eta", fmt(eta), fmt(ds["gd_max_error"].values[e])]
        )
        rows[-1][0] += diverged
    tables["general_init"] = Table(
        f"Max over t of ||W_sim(t) - W_closed(t)||_2 (general init, alpha = "
        f"{fmt(_scalar(ds, 'general_alpha'))})",
        ["method", "eta", "max error"],
        rows,
    )
    tables["theorem_constants"] = Table(
        "Theorem constants (general init)",
        ["alpha", "eps", "M", "c_eps", "C_eps", "hypotheses hold"],
        [
            [
                fmt(_scalar(ds, "theorem_alpha")),
                fmt(_scalar(ds, "theorem_eps")),
                fmt(_scalar(ds, "theorem_M")),
                fmt(_scalar(ds, "theorem_c_eps")),
                fmt(_scalar(ds, "theorem_C_eps")),
                "yes" if int(ds["theorem_hypotheses_hold"]) else "no",
            ]
        ],
    )
    tables["rank_k"] = _rank_table(ds)
    rows = []
    for k in ds["k"].values:
        rows.append(
            [
                str(int(k)),
                fmt(sig[k - 1]),
                fmt(ds["sweep_slope_theory"].sel(k=k)),
                fmt(ds["sweep_slope_fit"].sel(k=k)),
            ]
        )
    tables["time_scales"] = Table(
        f"Delay per unit of log(1/alpha): fitted slope (alpha <= "
        f"{fmt(_scalar(ds, 'sweep_fit_alpha_max'))}) vs 1/(2 sigma_i)",
        ["mode i", "sigma_i", "1/(2 sigma_i)", "fitted slope"],
        rows,
    )
    rows = []
    for a in ds["alpha_stop"].values:
        for k in ds["k"].values:
            sel = {"alpha_stop": a, "k": k}
            rows.append(
                [
                    fmt(a),
                    str(int(k)),
                    fmt(ds["stop_time"].sel(sel)),
                    fmt(ds["stop_error"].sel(sel)),
                    fmt(ds["eckart_young"].sel(k=k)),
                    fmt(ds["stop_error_hat"].sel(sel)),
                ]
            )
    tables["early_stopping"] = Table(
        "Early stopping at t_k (halfway in log time between transitions k and k+1)",
        [
            "alpha",
            "k",
            "t_k",
            "||W(t_k) - Y||_2",
            "Eckart-Young sigma_{k+1}",
            "||W(t_k) - Yhat_k||_2",
        ],
        rows,
    )
    return tables


def _rank_table(ds: xr.Dataset) -> Table:
    rows = []
    has_paper = not bool(np.all(np.isnan(ds["rank_paper_lo"].values)))
    for k in ds["k"].values:
        row = [str(int(k))]
        if has_paper:
            row.append(
                _interval_cells(
                    float(ds["rank_paper_lo"].sel(k=k)), float(ds["rank_paper_hi"].sel(k=k))
                )
            )
        row += [
            _interval_cells(float(ds["rank_cert_lo"].sel(k=k)), float(ds["rank_cert_hi"].sel(k=k))),
            _interval_cells(float(ds["rank_meas_lo"].sel(k=k)), float(ds["rank_meas_hi"].sel(k=k))),
            fmt(ds["rank_max_error_on_certified"].sel(k=k)),
            _yes(ds["rank_holds"].sel(k=k)),
            _yes(ds["rank_contained"].sel(k=k)),
        ]
        rows.append(row)
    header = ["k"]
    if has_paper:
        header.append("I_k as transcribed")
    header += [
        "certified I_k",
        "measured {t: error <= eps}",
        "max error on certified",
        "bound holds",
        "certified inside measured",
    ]
    return Table("Certified vs measured intervals for ||W(t) - Yhat_k||_2 <= eps", header, rows)


def _story(ds: xr.Dataset) -> list[tuple[str, list[str], list[str], str | None]]:
    """Sections: (title, paragraphs, table keys, figure name)."""
    sig = ds["sigma_Y"].values
    spec = ", ".join(fmt(s) for s in sig)
    i = int(_scalar(ds, "one_mode_index"))
    a_one = fmt(_scalar(ds, "one_mode_alpha"))
    hyp = "hold" if int(ds["theorem_hypotheses_hold"]) else "do not hold"
    contained = int(np.sum(ds["rank_contained"].values == 1))
    K = ds.sizes["k"]
    slopes = ", ".join(
        f"{fmt(ds['sweep_slope_fit'].values[k])} vs {fmt(ds['sweep_slope_theory'].values[k])}"
        for k in range(K)
    )
    failures = ds.attrs.get("theorem_failures", "")
    return [
        (
            "Setup",
            [
                "Gradient flow dU/dt = (Y - U U^T) U from U(0) = sqrt(alpha) U0 on the loss "
                "1/4 ||Y - U U^T||_F^2; W = U U^T follows a matrix Riccati equation whose closed "
                "form (Min & Vidal, eq. 6) mfflow evaluates exactly. Every curve below is that "
                "closed form unless it says simulation.",
                f"The target Y has eigenvalues {spec} in a random orthonormal basis. Time is in "
                "gradient-flow units.",
            ],
            ["setup"],
            None,
        ),
        (
            STEP_TITLES["one_mode"],
            [
                f"Under a spectral initialization the modes decouple: mode {i} "
                f"(sigma_i = {fmt(_scalar(ds, 'one_mode_sigma'))}, alpha = {a_one}) stays on a "
                "plateau near alpha, grows exponentially, and learns sigma_i in a sharp "
                "transition near log(1/alpha)/(2 sigma_i).",
                "The shaded regions are where the per-mode result certifies sigma_{i,W} <= eps "
                "(left) and sigma_{i,W} >= sigma_i - eps (right); the curve obeys both, with room "
                "to spare.",
            ],
            ["one_mode"],
            "one_mode",
        ),
        (
            STEP_TITLES["incremental"],
            [
                "The same spectral initialization, all modes, alpha shrinking panel by panel. At "
                "large alpha the transitions overlap; as alpha shrinks they move right in "
                "proportion to log(1/alpha) / sigma_i and separate: the eigenvalues are learned "
                "one at a time, largest first.",
                "The measured transition time (first crossing of sigma_i / 2) approaches the "
                "prediction log(1/alpha)/(2 sigma_i) up to an offset that does not grow with "
                "log(1/alpha).",
            ],
            ["incremental"],
            "incremental",
        ),
        (
            STEP_TITLES["general_init"],
            [
                "A Gaussian (non-spectral, r >= n) initialization: the eigenvalues of W(t) from "
                "the closed form (lines), a scipy ODE solve of the flow on U (circles) and "
                "gradient descent iterates at t = step x eta (crosses). Flow and closed form "
                "agree to the solver tolerance; gradient descent differs by O(eta).",
            ],
            ["general_init"],
            "general_init",
        ),
        (
            STEP_TITLES["rank_k"],
            [
                "The theorem: for small alpha, W(t) is within eps (spectral norm) of the best "
                "rank-k approximation Yhat_k on an interval I_k, for every k. The curves are "
                "||W(t) - Yhat_k||_2; the lower panel shows, per k, the certified interval (dark) "
                "inside the measured one (light).",
                f"At alpha = {fmt(_scalar(ds, 'theorem_alpha'))} the hypotheses {hyp}"
                + (f" ({failures})" if failures else "")
                + f"; the certified interval lies inside the measured one for {contained} of "
                f"{K} ranks. The bound is conservative: compare the interval lengths.",
            ],
            ["theorem_constants", "rank_k"],
            "rank_k",
        ),
        (
            STEP_TITLES["time_scales"],
            [
                "Measured transition times (general init) against log(1/alpha): straight lines of "
                "slope 1/(2 sigma_i). Shrinking alpha by a factor e^{-m} delays transition i by "
                "m/(2 sigma_i) (the talk's informal 'M/sigma_i' is off by the factor 2).",
                f"Fitted slopes vs 1/(2 sigma_i): {slopes}.",
            ],
            ["time_scales"],
            "time_scales",
        ),
        (
            STEP_TITLES["early_stopping"],
            [
                "Stopping the flow between transitions k and k+1 returns a rank-k approximation "
                "of Y. Its error approaches the Eckart-Young optimum sigma_{k+1} as alpha shrinks, "
                "and its distance to Yhat_k itself goes to zero.",
            ],
            ["early_stopping"],
            "early_stopping",
        ),
    ]


def _run_tables(ds: xr.Dataset) -> dict[str, Table]:
    tables: dict[str, Table] = {}
    if "transition_t_predicted" in ds:
        rows = []
        for k in ds["k"].values:
            rows.append(
                [
                    str(int(k)),
                    fmt(ds["sigma_Y"].values[k - 1]),
                    fmt(ds["transition_t_predicted"].sel(k=k)),
                    fmt(ds["transition_t_measured"].sel(k=k))
                    if "transition_t_measured" in ds
                    else "-",
                ]
            )
        tables["transitions"] = Table(
            "Predicted vs measured transition times",
            ["mode i", "sigma_i", "predicted", "measured"],
            rows,
        )
    rows = []
    if "gf_max_error" in ds:
        rows.append(["gradient flow", "-", fmt(_scalar(ds, "gf_max_error"))])
    if "gd_max_error" in ds:
        rows.append(["gradient descent", fmt(_scalar(ds, "eta")), fmt(_scalar(ds, "gd_max_error"))])
    if rows:
        tables["errors"] = Table(
            "Max over t of ||W_sim(t) - W_closed(t)||_2", ["method", "eta", "max error"], rows
        )
    if "rank_distance" in ds:
        tables["theorem_constants"] = Table(
            "Theorem constants",
            ["alpha", "eps", "M", "c_eps", "C_eps", "hypotheses hold"],
            [
                [
                    fmt(_scalar(ds, "theorem_alpha")),
                    fmt(_scalar(ds, "theorem_eps")),
                    fmt(_scalar(ds, "theorem_M")),
                    fmt(_scalar(ds, "theorem_c_eps")),
                    fmt(_scalar(ds, "theorem_C_eps")),
                    "yes" if int(ds["theorem_hypotheses_hold"]) else "no",
                ]
            ],
        )
        tables["rank_k"] = _rank_table(ds)
    return tables


def _run_story(ds: xr.Dataset) -> list[tuple[str, list[str], list[str], str | None]]:
    tables = _run_tables(ds)
    cfg = json.loads(ds.attrs["config"])
    methods = ", ".join(cfg["methods"])
    out: list[tuple[str, list[str], list[str], str | None]] = [
        (
            "Learning curves",
            [
                f"Eigenvalues of W(t) for init '{cfg['init']['kind']}' at alpha = "
                f"{fmt(cfg['init']['alpha'])}; methods: {methods}.",
            ],
            [k for k in ("transitions", "errors") if k in tables],
            "learning_curves",
        ),
        ("Loss", ["The loss 1/4 ||Y - W(t)||_F^2."], [], "loss"),
    ]
    if "rank_distance" in ds:
        out.append(
            (
                "Rank-k approximation",
                [
                    "||W(t) - Yhat_k||_2 with the certified and measured intervals.",
                    "Hypotheses of the theorem: "
                    + (ds.attrs.get("theorem_failures") or "all hold")
                    + ".",
                ],
                ["theorem_constants", "rank_k"],
                "rank_k",
            )
        )
    note = ds.attrs.get("theorem_note", "")
    if note:
        out.append(("Theorem", [note], [], None))
    return out


def write_report(
    ds: xr.Dataset,
    out: str | Path,
    figures_dir: str | Path,
    *,
    runtime_s: float | None = None,
) -> tuple[Path, Path]:
    """Write ``report.md`` and a self-contained ``index.html`` into ``out`` from ``ds`` only."""
    out = Path(out)
    fig_dir = Path(figures_dir)
    kind = ds.attrs.get("kind", "reproduce")
    tables = report_tables(ds)
    story = _run_story(ds) if kind == "run" else _story(ds)
    title = (
        "mfflow reproduce: incremental learning in overparameterized matrix factorization"
        if kind == "reproduce"
        else f"mfflow run: {json.loads(ds.attrs['config']).get('name', 'run')}"
    )
    config = json.dumps(json.loads(ds.attrs["config"]), indent=2, sort_keys=True)
    meta = f"mfflow {ds.attrs.get('mfflow_version', '?')}"
    if runtime_s is not None:
        meta += f", computed in {runtime_s:.1f} s"
    ref = "Min & Vidal, *Understanding incremental learning with closed-form solution to gradient "
    ref += "flow on overparameterized matrix factorization*, arXiv:2508.20344."

    md = [f"# {title}", "", f"{meta}. Reference: {ref}", ""]
    body = [f"<h1>{html.escape(title)}</h1>", f"<p>{html.escape(meta)}. Reference: "]
    body[-1] += html.escape(ref.replace("*", "")) + "</p>"
    for n, (sec, paragraphs, keys, fig) in enumerate(story, start=1):
        md += [f"## {n}. {sec}", ""]
        body.append(f"<h2>{n}. {html.escape(sec)}</h2>")
        if fig is not None:
            rel = os.path.relpath(fig_dir / f"{fig}.png", out)
            md += [f"![{sec}]({rel})", ""]
            png = fig_dir / f"{fig}.png"
            if png.exists():
                data = base64.b64encode(png.read_bytes()).decode("ascii")
                body.append(
                    f'<figure><img alt="{html.escape(sec)}" src="data:image/png;base64,{data}">'
                    f'<figcaption><a href="{html.escape(rel[:-4])}.pdf">PDF</a></figcaption>'
                    "</figure>"
                )
        for p in paragraphs:
            md += [p, ""]
            body.append(f"<p>{html.escape(p)}</p>")
        for key in keys:
            if key in tables:
                md += [tables[key].markdown(), ""]
                body.append(tables[key].html())
    md += ["## Configuration", "", "```json", config, "```", ""]
    body += ["<h2>Configuration</h2>", f"<pre>{html.escape(config)}</pre>"]
    page = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
    md_path, html_path = out / "report.md", out / "index.html"
    with atomic_write(md_path) as tmp:
        tmp.write_text("\n".join(md), encoding="utf-8")
    with atomic_write(html_path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return md_path, html_path


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;"
    "line-height:1.5;color:#222}img{max-width:100%}table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#f3f3f3}"
    "caption{font-style:italic;text-align:left;padding:.3em 0}pre{background:#f6f6f6;"
    "padding:1em;overflow-x:auto}figure{margin:1em 0}figcaption{font-size:.9em}"
)


# --------------------------------------------------------------------------------------------
# the two pipelines
# --------------------------------------------------------------------------------------------
def reproduce(
    out: str | Path = "mfflow-report",
    *,
    quick: bool = False,
    config: ReproduceConfig | None = None,
    on_step: Callable[[str, str], None] | None = None,
) -> dict[str, Any]:
    """Compute, save, draw and write the whole report into ``out``.

    Returns
    -------
    dict
        ``results`` (path of results.nc), ``report`` (report.md), ``html`` (index.html),
        ``figures`` (list of paths), ``seconds`` (wall time).
    """
    from .plot import plot_all

    start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = config or (ReproduceConfig.quick_config() if quick else ReproduceConfig())
    ds = compute_results(cfg, cache_dir=out / ".cache", on_step=on_step)
    results = save_results(ds, out / "results.nc")
    if on_step:
        on_step("figures", "start")
    figures = plot_all(load_results(results), out / "figures")
    if on_step:
        on_step("figures", "done")
    seconds = time.perf_counter() - start
    md, page = write_report(ds, out, out / "figures", runtime_s=seconds)
    return {"results": results, "report": md, "html": page, "figures": figures, "seconds": seconds}


def run_dataset(cfg: Any, base: Path | None = None) -> xr.Dataset:
    """Compute one configured experiment (a :class:`mfflow.config.RunConfig`) into a dataset."""
    Y = cfg.build_target(base)
    U0 = cfg.build_init(Y)
    alpha = float(cfg.init.alpha)
    t = cfg.times.grid()
    lam = eigh_descending(Y)[0]
    n = lam.size
    sigma = _positive_spectrum(Y)
    K = sigma.size
    data: dict[str, Any] = {
        "Y": (("row", "col"), Y),
        "U0": (("row", "col_r"), U0),
        "sigma_Y": (("mode",), lam),
        "alpha": ((), alpha),
        "eps": ((), float(cfg.eps)),
    }
    coords: dict[str, Any] = {"time": ("time", t), "mode": ("mode", np.arange(1, n + 1))}
    attrs: dict[str, Any] = {}
    traj = closed_form(Y, U0, alpha)
    w_cf = traj.W(t) if {"gradient_flow", "gradient_descent"} & set(cfg.methods) else None
    if "closed_form" in cfg.methods:
        data["cf_eigvals"] = (("time", "mode"), traj.eigvals(t))
        data["cf_mode_values"] = (("time", "mode"), traj.mode_values(t))
        data["cf_loss"] = (("time",), np.asarray(traj.loss(t)))
    if "gradient_flow" in cfg.methods:
        from .simulate import simulate_gf

        sim = simulate_gf(Y, U0, alpha, t)
        w = np.asarray(sim.W)
        data["gf_eigvals"] = (("time", "mode"), np.linalg.eigvalsh(w)[:, ::-1])
        data["gf_loss"] = (("time",), 0.25 * np.sum((w - Y) ** 2, axis=(1, 2)))
        assert w_cf is not None
        err = np.linalg.norm(w - w_cf, ord=2, axis=(1, 2))
        data["gf_error"] = (("time",), err)
        data["gf_max_error"] = ((), float(np.max(err)))
    if "gradient_descent" in cfg.methods:
        from .simulate import simulate_gd

        eta = float(cfg.eta)
        last = math.ceil(float(t[-1]) / eta)
        record = np.unique(np.linspace(0, last, min(last + 1, 2001)).round().astype(np.int64))
        gd = simulate_gd(Y, U0, alpha, eta, steps=record)
        w = np.asarray(gd.W)
        t_gd = np.asarray(gd.t, dtype=np.float64)
        finite = np.all(np.isfinite(w), axis=(1, 2))
        eig = np.full((t_gd.size, n), np.nan)
        eig[finite] = np.linalg.eigvalsh(w[finite])[:, ::-1]
        err = np.full(t_gd.size, np.nan)
        err[finite] = np.linalg.norm(w[finite] - traj.W(t_gd[finite]), ord=2, axis=(1, 2))
        data["gd_eigvals"] = (("gd_step", "mode"), eig)
        data["gd_loss"] = (("gd_step",), 0.25 * np.sum((w - Y) ** 2, axis=(1, 2)))
        data["gd_error"] = (("gd_step",), err)
        data["gd_max_error"] = ((), float(np.nanmax(err)) if np.any(finite) else math.nan)
        data["eta"] = ((), eta)
        coords["gd_time"] = ("gd_step", t_gd)
        attrs["gd_diverged"] = int(gd.diverged)
        attrs["gd_diverged_at"] = -1 if gd.diverged_at is None else int(gd.diverged_at)
    if K >= 1:
        from .theory import measured_transition_times, transition_times

        coords["k"] = ("k", np.arange(1, K + 1))
        data["transition_t_predicted"] = (("k",), np.asarray(transition_times(Y, alpha))[:K])
        try:
            meas = measured_transition_times(Y, U0, alpha)
            data["transition_t_measured"] = (("k",), _pad(meas, K))
        except (ValueError, ArithmeticError) as exc:
            attrs["transition_note"] = str(exc)
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    try:
        th = theorem_dataset(Y, U0, alpha, float(cfg.eps), t)
        ds = xr.merge([ds, th], combine_attrs="no_conflicts", compat="override")
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
        ds.attrs["theorem_note"] = f"The theorem check does not apply: {exc}"
    ds.attrs.update(
        {
            "title": f"mfflow run: {cfg.name}",
            "kind": "run",
            "config": cfg.model_dump_json(),
            "mfflow_version": _version(),
        }
    )
    return ds


def run_experiment(cfg: Any, out: str | Path, *, base: Path | None = None) -> dict[str, Any]:
    """``mfflow run``: compute one configured experiment, save it, draw it, write its report."""
    from .plot import plot_all

    start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ds = run_dataset(cfg, base)
    results = save_results(ds, out / "results.nc")
    figures = plot_all(load_results(results), out / "figures")
    seconds = time.perf_counter() - start
    md, page = write_report(ds, out, out / "figures", runtime_s=seconds)
    return {"results": results, "report": md, "html": page, "figures": figures, "seconds": seconds}
