"""The paper's story as data: compute every curve and number, save it, write the report.

:func:`reproduce` is what ``mfflow reproduce`` runs: it computes ten results (one per figure,
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

from .linalg import eigh_descending
from .problems import gaussian_init, make_target, rectangular_target, spectral_init
from .riccati import closed_form

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

#: Names of the reproduce steps (also the figure names), in the story's order.
STEPS = (
    "one_mode",
    "incremental",
    "general_init",
    "rank_k",
    "time_scales",
    "early_stopping",
    "gd_vs_gf",
    "asymmetric",
    "deep",
    "sensing",
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
    # figure 7: gradient descent versus the flow (symmetric: general init; asymmetric: balanced
    # init on the rectangular target of figure 8)
    gap_alpha: float = 1e-6
    gap_eta_min: float = 1e-3
    gap_eta_max: float = 0.5
    gap_num: int = 13
    gap_fit_eta_max: float = 1.2e-2
    gap_t_max: float = 15.0
    gap_num_times: int = 121
    gap_scan: int = 12
    gap_bisect: int = 5
    # figure 8: asymmetric incremental learning, Y (asym_rows, asym_cols) with singular values
    # `spectrum`
    asym_rows: int = 6
    asym_cols: int = 4
    asym_seed: int = 1
    asym_alpha: float = 1e-6
    asym_lam: float = 1.0
    asym_rho: float = 0.9
    asym_study_rhos: tuple[float, ...] = (0.0, 0.5, 0.9, 0.99)
    asym_num_times: int = 401
    # figure 9: deep factorization, gradient descent on Gaussian sensing, small random init
    deep_n: int = 8
    deep_spectrum: tuple[float, ...] = (5.0, 3.0, 2.0)
    deep_depths: tuple[int, ...] = (2, 3, 4)
    deep_alpha: float = 1e-4
    deep_measurements: int = 5  # m = deep_measurements * n * rank(Y)
    deep_seed: int = 2
    deep_step: float = 0.5  # eta = deep_step / (L sigma_1^{2 - 2/L})
    deep_horizon: float = 3.0  # run to deep_horizon x the slowest exact transition
    deep_records: int = 300
    # figure 10: matrix sensing approaches the closed form
    sense_n: int = 10
    sense_spectrum: tuple[float, ...] = (3.0, 2.0, 1.0)
    sense_alpha: float = 1e-3
    sense_target_seed: int = 3
    sense_init_seed: int = 4
    sense_ratios: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
    sense_seeds: int = 4
    sense_t_max: float = 10.0
    sense_num_times: int = 201
    quick: bool = False

    @classmethod
    def quick_config(cls) -> ReproduceConfig:
        """The reduced configuration behind ``--quick`` (same story, fewer points)."""
        return cls(
            num_times=1201,
            num_sim=31,
            gd_etas=(1e-3,),
            sweep_num=8,
            gap_num=7,
            gap_num_times=61,
            gap_scan=8,
            gap_bisect=3,
            asym_study_rhos=(0.0, 0.9),
            asym_num_times=201,
            deep_records=150,
            sense_ratios=(1.0, 4.0, 16.0, 64.0),
            sense_seeds=2,
            sense_num_times=101,
            quick=True,
        )

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
    return f"{v + 0.0:.4g}" if v != 0 else "0"


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


def _asym_problem(cfg: ReproduceConfig) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The rectangular target of figures 7-8 and its balanced shapes ``(Y, U0, V0)``."""
    from .asymmetric import balanced_init

    m, n = cfg.asym_rows, cfg.asym_cols
    Y = rectangular_target(cfg.spectrum, m, n, seed=cfg.target_seed)
    U0, V0 = balanced_init(m, n, min(m, n), cfg.asym_seed, Y=Y)
    return Y, U0, V0


def _step_gd_vs_gf(p: _Problem) -> xr.Dataset:
    from .gd_vs_gf import critical_step_sizes, gd_flow_gap

    cfg = p.cfg
    alpha = cfg.gap_alpha
    Ya, Ua, Va = _asym_problem(cfg)
    cases = [(p.Y, p.U0_general, None), (Ya, Ua, Va)]
    etas = np.geomspace(cfg.gap_eta_min, cfg.gap_eta_max, cfg.gap_num)
    fit = etas <= cfg.gap_fit_eta_max
    t = np.linspace(0.0, cfg.gap_t_max, cfg.gap_num_times)
    k = min(p.sigma.size, Ya.shape[1])
    gap = np.empty((2, etas.size))
    diverged = np.empty((2, etas.size), dtype=np.int8)
    order = np.empty(2)
    const = np.empty(2)
    crit = np.empty((2, 6))
    show = np.empty((2, 3))
    flow = np.empty((2, t.size, k))
    gd_t = np.empty((2, 3, t.size))
    gd_v = np.empty((2, 3, t.size, k))
    for i, (Y, U0, V0) in enumerate(cases):
        small = gd_flow_gap(Y, U0, alpha, etas[fit], V0=V0, t=t)
        large = gd_flow_gap(Y, U0, alpha, etas[~fit], V0=V0, t=t)
        gap[i] = np.concatenate([small.gap, large.gap])
        diverged[i] = np.concatenate([small.diverged, large.diverged])
        order[i], const[i] = small.order, small.constant
        c = critical_step_sizes(Y, U0, alpha, V0=V0, n_scan=cfg.gap_scan, n_bisect=cfg.gap_bisect)
        crit[i] = [
            c.curvature,
            c.eta_stability,
            c.eta_match,
            c.eta_incremental,
            c.eta_converge,
            c.eta_blowup,
        ]
        # three regimes: close to the flow, just inside incremental learning, past convergence
        blow = c.eta_blowup if math.isfinite(c.eta_blowup) else 2 * c.eta_converge
        show[i] = [0.1 * c.eta_stability, 0.9 * c.eta_incremental, math.sqrt(c.eta_converge * blow)]
        curves = gd_flow_gap(Y, U0, alpha, show[i], V0=V0, t=t)
        flow[i] = curves.flow_values[:, :k]
        gd_t[i] = curves.gd_t
        gd_v[i] = curves.gd_values[..., :k]
    problem = ["symmetric", "asymmetric"]
    return xr.Dataset(
        {
            "gap": (
                ("problem", "eta_gap"),
                gap,
                {"long_name": "max_k ||W_k - W(k eta)||_F / ||Y||_F (inf: diverged)"},
            ),
            "gap_diverged": (("problem", "eta_gap"), diverged),
            "gap_order": (("problem",), order, {"long_name": "fitted order of the gap in eta"}),
            "gap_constant": (("problem",), const),
            "gap_fit_eta_max": ((), cfg.gap_fit_eta_max),
            "gap_alpha": ((), alpha),
            "gap_curvature": (("problem",), crit[:, 0], {"long_name": "lambda_max(Hessian)"}),
            "eta_stability": (("problem",), crit[:, 1], {"long_name": "2 / curvature"}),
            "eta_match": (("problem",), crit[:, 2]),
            "eta_incremental": (("problem",), crit[:, 3]),
            "eta_converge": (("problem",), crit[:, 4]),
            "eta_blowup": (("problem",), crit[:, 5]),
            "gap_show_eta": (("problem", "regime"), show),
            "gap_flow_values": (("problem", "gap_time", "gap_k"), flow),
            "gap_gd_time": (("problem", "regime", "gap_time"), gd_t),
            "gap_gd_values": (("problem", "regime", "gap_time", "gap_k"), gd_v),
            "gap_sigma": (("problem", "gap_k"), np.stack([p.sigma[:k], p.sigma[:k]])),
        },
        coords={
            "problem": ("problem", problem),
            "eta_gap": ("eta_gap", etas),
            "gap_time": ("gap_time", t),
            "gap_k": ("gap_k", np.arange(1, k + 1)),
            "regime": ("regime", ["near the flow", "incremental limit", "past convergence"]),
        },
    )


def _step_asymmetric(p: _Problem) -> xr.Dataset:
    from .asymmetric import (
        asymmetric_learning_curves,
        balanced_init,
        imbalance,
        imbalance_study,
        lambda_balanced_init,
    )
    from .curves import crossing_times

    cfg = p.cfg
    Y, _, _ = _asym_problem(cfg)
    m, n = Y.shape
    r = min(m, n)
    alpha = cfg.asym_alpha
    sig = np.linalg.svd(Y, compute_uv=False)[:r]
    t_end = 1.6 * float(np.max(np.log(1.0 / alpha) / (2 * sig))) + 4.0 / float(sig.min())
    t = np.linspace(0.0, t_end, cfg.asym_num_times)
    lc = asymmetric_learning_curves(
        Y, alpha, lam=cfg.asym_lam, rho=cfg.asym_rho, r=r, seed=cfg.asym_seed, t=t
    )
    labels = list(lc.curves)
    values = np.stack([lc.curves[label] for label in labels])
    exact = np.array([int(lc.exact[label]) for label in labels], dtype=np.int8)
    trans = np.stack([crossing_times(t, v, 0.5 * sig) for v in values])
    # the same three inits, rebuilt to report their imbalance alpha ||U0^T U0 - V0^T V0||_2
    ub, vb = balanced_init(m, n, r, cfg.asym_seed, Y=Y)
    ul, vl = lambda_balanced_init(m, n, r, cfg.asym_lam, cfg.asym_seed)
    s = 0.5 * math.atanh(cfg.asym_rho)
    shapes = [(ub, vb), (ul, vl), (math.exp(s) * ub, math.exp(-s) * vb)]
    imb = np.array([alpha * float(np.linalg.norm(imbalance(u, v), 2)) for u, v in shapes])
    rhos = np.asarray(cfg.asym_study_rhos, dtype=np.float64)
    st = imbalance_study(Y, alpha, rhos, r=r, seed=cfg.asym_seed, t=t)
    return xr.Dataset(
        {
            "asym_Y": (("asym_row", "asym_col"), Y),
            "asym_sigma": (("asym_k",), sig, {"long_name": "singular values of Y"}),
            "asym_alpha": ((), alpha),
            "asym_values": (
                ("init", "asym_time", "asym_k"),
                values,
                {"long_name": "singular values of U V^T"},
            ),
            "asym_exact": (("init",), exact, {"long_name": "1: closed form, 0: ODE solve"}),
            "asym_imbalance": (("init",), imb, {"long_name": "alpha ||U0^T U0 - V0^T V0||_2"}),
            "asym_transition": (("init", "asym_k"), trans),
            "asym_t_predicted": (("asym_k",), np.log(1.0 / alpha) / (2 * sig)),
            "asym_study_distance": (
                ("rho",),
                st.distance,
                {"long_name": "max_t ||W_rho - W_balanced||_F / ||Y||_F"},
            ),
            "asym_study_imbalance": (("rho",), st.imbalance_norm),
            "asym_study_shift": (("rho", "asym_k"), st.shift),
            "asym_study_predicted_shift": (("rho", "asym_k"), st.predicted_shift),
        },
        coords={
            "init": ("init", labels),
            "asym_time": ("asym_time", t),
            "asym_k": ("asym_k", np.arange(1, r + 1)),
            "rho": ("rho", rhos),
        },
    )


def _step_deep(p: _Problem) -> xr.Dataset:
    from .curves import crossing_times
    from .deep import deep_descent, deep_mode_curve, deep_random_init, deep_transition_time
    from .sensing import GaussianSensing

    cfg = p.cfg
    n = cfg.deep_n
    spec = np.asarray(cfg.deep_spectrum, dtype=np.float64)
    K = spec.size
    Y = make_target(spec, n=n, seed=cfg.target_seed)
    sig = np.linalg.svd(Y, compute_uv=False)
    m = cfg.deep_measurements * n * K
    op = GaussianSensing(n, m, seed=cfg.deep_seed, cols=n)
    depths = np.asarray(cfg.deep_depths, dtype=np.int64)
    alpha = cfg.deep_alpha
    R = cfg.deep_records
    u = np.linspace(0.0, 2.0, 401)
    out = {
        name: np.empty(shape)
        for name, shape in [
            ("gd_t", (depths.size, R)),
            ("gd_v", (depths.size, R, n)),
            ("ex_v", (depths.size, R, K)),
            ("eta", (depths.size,)),
            ("ex_half", (depths.size, K)),
            ("ex_width", (depths.size, K)),
            ("gd_half", (depths.size, K)),
            ("gd_width", (depths.size, K)),
            ("rec", (depths.size,)),
            ("norm", (depths.size, u.size)),
        ]
    }
    s1 = float(sig[0])
    for j, L in enumerate(depths):
        L = int(L)
        eta = cfg.deep_step / (L * s1 ** (2.0 - 2.0 / L))
        half = np.asarray(deep_transition_time(spec, alpha, L))
        t10 = np.asarray(deep_transition_time(spec, alpha, L, 0.1))
        t90 = np.asarray(deep_transition_time(spec, alpha, L, 0.9))
        last = math.ceil(cfg.deep_horizon * float(half.max()) / eta)
        steps = np.linspace(0, last, R).round().astype(np.int64)
        res = deep_descent(
            Y, deep_random_init(n, L, seed=cfg.deep_seed), alpha, eta, steps, operator=op
        )
        sv = res.singular_values
        out["gd_t"][j] = res.t
        out["gd_v"][j] = sv
        out["ex_v"][j] = deep_mode_curve(spec, alpha, L, res.t)
        out["eta"][j] = eta
        out["ex_half"][j] = half
        out["ex_width"][j] = t90 - t10
        g10 = crossing_times(res.t, sv[:, :K], 0.1 * spec)
        g50 = crossing_times(res.t, sv[:, :K], 0.5 * spec)
        g90 = crossing_times(res.t, sv[:, :K], 0.9 * spec)
        out["gd_half"][j] = g50
        out["gd_width"][j] = g90 - g10
        out["rec"][j] = float(res.recovery_error[-1])
        out["norm"][j] = deep_mode_curve(spec[0], alpha, L, u * float(half[0])) / spec[0]
    return xr.Dataset(
        {
            "deep_Y_sigma": (("deep_sv",), sig, {"long_name": "singular values of Y"}),
            "deep_alpha": ((), alpha),
            "deep_m": ((), m),
            "deep_eta": (("depth",), out["eta"]),
            "deep_gd_time": (("depth", "deep_rec"), out["gd_t"]),
            "deep_gd_values": (
                ("depth", "deep_rec", "deep_sv"),
                out["gd_v"],
                {"long_name": "singular values of W_L ... W_1 (GD, Gaussian sensing)"},
            ),
            "deep_exact_values": (
                ("depth", "deep_rec", "deep_k"),
                out["ex_v"],
                {"long_name": "exact per-mode curves, balanced spectral init, s0 = alpha"},
            ),
            "deep_exact_half": (("depth", "deep_k"), out["ex_half"]),
            "deep_exact_width": (("depth", "deep_k"), out["ex_width"]),
            "deep_gd_half": (("depth", "deep_k"), out["gd_half"]),
            "deep_gd_width": (("depth", "deep_k"), out["gd_width"]),
            "deep_gd_recovery": (("depth",), out["rec"], {"long_name": "||W - Y||_F / ||Y||_F"}),
            "deep_normalized": (
                ("depth", "deep_u"),
                out["norm"],
                {"long_name": "s_1(u t_1/2) / sigma_1, exact"},
            ),
        },
        coords={
            "depth": ("depth", depths),
            "deep_sv": ("deep_sv", np.arange(1, n + 1)),
            "deep_k": ("deep_k", np.arange(1, K + 1)),
            "deep_u": ("deep_u", u, {"long_name": "t / t_1/2 of mode 1"}),
        },
    )


def _step_sensing(p: _Problem) -> xr.Dataset:
    from .curves import crossing_times
    from .sensing import GaussianSensing, curve_distance, sensing_flow

    cfg = p.cfg
    n = cfg.sense_n
    spec = np.asarray(cfg.sense_spectrum, dtype=np.float64)
    K = spec.size
    alpha = cfg.sense_alpha
    Y = make_target(spec, n=n, seed=cfg.sense_target_seed)
    U0 = gaussian_init(n, n, seed=cfg.sense_init_seed)
    t = np.linspace(0.0, cfg.sense_t_max, cfg.sense_num_times)
    traj = closed_form(Y, U0, alpha)
    cf_values = traj.eigvals(t)[:, :K]
    levels = 0.5 * spec
    ratios = np.asarray(cfg.sense_ratios, dtype=np.float64)
    ms = np.array([max(1, round(c * n * K)) for c in ratios], dtype=np.int64)
    seeds = np.arange(cfg.sense_seeds)
    dist = np.empty((ratios.size, seeds.size))
    dist_mean = np.empty((ratios.size, seeds.size))
    trans = np.empty((ratios.size, seeds.size, K))
    recovery = np.empty((ratios.size, seeds.size))
    curves = np.empty((ratios.size, t.size, K))
    for a, m in enumerate(ms):
        for s in seeds:
            res = sensing_flow(GaussianSensing(n, int(m), seed=int(s)), Y, U0, alpha, t, rtol=1e-8)
            d = curve_distance(res, traj)
            dist[a, s], dist_mean[a, s] = float(d.max()), float(d.mean())
            trans[a, s] = res.transition_times(levels)
            recovery[a, s] = float(res.recovery_error[-1])
            if s == 0:
                curves[a] = res.singular_values[:, :K]
    mean = dist.mean(axis=1)
    slope, icpt = np.polyfit(np.log(ratios), np.log(mean), 1)
    return xr.Dataset(
        {
            "sense_sigma": (("sense_k",), spec),
            "sense_alpha": ((), alpha),
            "sense_n": ((), n),
            "sense_m": (("ratio",), ms),
            "sense_distance": (
                ("ratio", "seed"),
                dist,
                {"long_name": "max_t ||s(t) - s_closed(t)||_2 / ||sigma||_2"},
            ),
            "sense_distance_mean_t": (("ratio", "seed"), dist_mean),
            "sense_distance_slope": ((), float(slope)),
            "sense_distance_constant": ((), float(np.exp(icpt))),
            "sense_transition": (("ratio", "seed", "sense_k"), trans),
            "sense_recovery": (
                ("ratio", "seed"),
                recovery,
                {"long_name": "||W(T) - Y||_F/||Y||_F"},
            ),
            "sense_cf_transition": (("sense_k",), crossing_times(t, cf_values, levels)),
            "sense_t_predicted": (("sense_k",), np.log(1.0 / alpha) / (2 * spec)),
            "sense_values": (("ratio", "sense_time", "sense_k"), curves),
            "sense_cf_values": (("sense_time", "sense_k"), cf_values),
        },
        coords={
            "ratio": ("ratio", ratios, {"long_name": "m / (n rank(Y))"}),
            "seed": ("seed", seeds),
            "sense_k": ("sense_k", np.arange(1, K + 1)),
            "sense_time": ("sense_time", t),
        },
    )


_STEP_FUNCS: dict[str, Callable[[_Problem], xr.Dataset]] = {
    "one_mode": _step_one_mode,
    "incremental": _step_incremental,
    "general_init": _step_general_init,
    "rank_k": _step_rank_k,
    "time_scales": _step_time_scales,
    "early_stopping": _step_early_stopping,
    "gd_vs_gf": _step_gd_vs_gf,
    "asymmetric": _step_asymmetric,
    "deep": _step_deep,
    "sensing": _step_sensing,
}

STEP_TITLES = {
    "one_mode": "One mode",
    "incremental": "Incremental learning emerges",
    "general_init": "General initialization",
    "rank_k": "Rank-k approximation",
    "time_scales": "Time-scale separation",
    "early_stopping": "Low-rank approximation by early stopping",
    "gd_vs_gf": "Gradient descent versus the flow",
    "asymmetric": "Asymmetric incremental learning",
    "deep": "Deep factorization (talk figure 2)",
    "sensing": "Matrix sensing approaches the closed form",
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
    tables["theorem_constants"] = _theorem_constants_table(ds, "Theorem constants (general init)")
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
    if "gap" in ds:
        tables.update(_beyond_tables(ds))
    return tables


def _nanmean(values: Any, axis: int) -> FloatArray:
    """Mean over ``axis`` ignoring NaN; NaN where every value is NaN (no warning)."""
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    count = ok.sum(axis=axis)
    total = np.where(ok, v, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _beyond_tables(ds: xr.Dataset) -> dict[str, Table]:
    """Tables of the four sections beyond the paper (GD vs flow, asymmetric, deep, sensing)."""
    tables: dict[str, Table] = {}
    rows = []
    for prob in ds["problem"].values:
        sel = {"problem": prob}
        rows.append(
            [str(prob)]
            + [
                fmt(ds[v].sel(sel))
                for v in (
                    "gap_order",
                    "gap_curvature",
                    "eta_stability",
                    "eta_match",
                    "eta_incremental",
                    "eta_converge",
                    "eta_blowup",
                )
            ]
        )
    tables["gd_vs_gf_critical"] = Table(
        f"Fitted order of the gap (eta <= {fmt(_scalar(ds, 'gap_fit_eta_max'))}) and critical "
        "step sizes",
        [
            "problem",
            "order",
            "curvature lambda_max",
            "2 / lambda_max",
            "transitions within 10%",
            "incremental learning",
            "converges",
            "blows up",
        ],
        rows,
    )
    rows = []
    for e, eta in enumerate(ds["eta_gap"].values):
        rows.append(
            [fmt(eta)]
            + [
                "diverged" if int(ds["gap_diverged"].values[j, e]) else fmt(ds["gap"].values[j, e])
                for j in range(ds.sizes["problem"])
            ]
        )
    tables["gd_vs_gf_gap"] = Table(
        "max_k ||W_k - W(k eta)||_F / ||Y||_F by step size",
        ["eta", *[f"{p}" for p in ds["problem"].values]],
        rows,
    )

    sig = ds["asym_sigma"].values
    mode_cols = [f"t_{k} (sigma = {fmt(sig[k - 1])})" for k in ds["asym_k"].values]
    rows = []
    for init in ds["init"].values:
        sel = {"init": init}
        rows.append(
            [
                str(init),
                "closed form" if int(ds["asym_exact"].sel(sel)) else "ODE solve",
                fmt(ds["asym_imbalance"].sel(sel)),
                *[fmt(x) for x in ds["asym_transition"].sel(sel).values],
            ]
        )
    rows.append(
        ["log(1/alpha) / (2 sigma_i)", "-", "-", *[fmt(x) for x in ds["asym_t_predicted"].values]]
    )
    tables["asymmetric"] = Table(
        "Transition times (first crossing of sigma_i / 2) of U V^T by init",
        ["init", "method", "imbalance alpha ||U0^T U0 - V0^T V0||_2", *mode_cols],
        rows,
    )
    rows = []
    for j, rho in enumerate(ds["rho"].values):
        rows.append(
            [
                fmt(rho),
                fmt(ds["asym_study_imbalance"].values[j]),
                fmt(ds["asym_study_distance"].values[j]),
                *[
                    f"{fmt(ds['asym_study_shift'].values[j, k])} / "
                    f"{fmt(ds['asym_study_predicted_shift'].values[j, k])}"
                    for k in range(ds.sizes["asym_k"])
                ],
            ]
        )
    tables["asymmetric_study"] = Table(
        "Unbalanced inits (same initial product): distance to the balanced flow and transition "
        "shifts, measured / predicted",
        [
            "rho",
            "imbalance",
            "max_t ||W - W_bal||_F / ||Y||_F",
            *[f"shift t_{k}" for k in ds["asym_k"].values],
        ],
        rows,
    )

    rows = []
    dsig = ds["deep_Y_sigma"].values
    for L in ds["depth"].values:
        for k in ds["deep_k"].values:
            sel = {"depth": L, "deep_k": k}
            half = float(ds["deep_exact_half"].sel(sel))
            width = float(ds["deep_exact_width"].sel(sel))
            rows.append(
                [
                    str(int(L)),
                    str(int(k)),
                    fmt(dsig[k - 1]),
                    fmt(half),
                    fmt(width),
                    fmt(width / half),
                    fmt(ds["deep_gd_half"].sel(sel)),
                    fmt(ds["deep_gd_width"].sel(sel)),
                ]
            )
    tables["deep"] = Table(
        "Transition times t_1/2 and widths t_0.9 - t_0.1: exact (balanced spectral init, "
        "s0 = alpha) and gradient descent (Gaussian sensing, random init)",
        [
            "L",
            "mode i",
            "sigma_i",
            "exact t_1/2",
            "exact width",
            "exact width / t_1/2",
            "GD t_1/2",
            "GD width",
        ],
        rows,
    )
    rows = [
        [
            str(int(L)),
            fmt(ds["deep_eta"].sel(depth=L)),
            fmt(ds["deep_gd_time"].sel(depth=L).values[-1]),
            fmt(ds["deep_gd_recovery"].sel(depth=L)),
        ]
        for L in ds["depth"].values
    ]
    tables["deep_runs"] = Table(
        f"Gradient descent runs (m = {int(_scalar(ds, 'deep_m'))} Gaussian measurements)",
        ["L", "eta", "t at the last step", "final ||W - Y||_F / ||Y||_F"],
        rows,
    )

    ssig = ds["sense_sigma"].values
    dist = ds["sense_distance"].values
    trans = _nanmean(ds["sense_transition"].values, axis=1)
    rec = ds["sense_recovery"].values
    rows = []
    for a, ratio in enumerate(ds["ratio"].values):
        rows.append(
            [
                fmt(ratio),
                str(int(ds["sense_m"].values[a])),
                fmt(dist[a].mean()),
                f"[{fmt(dist[a].min())}, {fmt(dist[a].max())}]",
                *[fmt(x) for x in trans[a]],
                fmt(rec[a].mean()),
            ]
        )
    n = int(_scalar(ds, "sense_n"))
    rows.append(
        [
            "closed form",
            str(n * n),
            "0",
            "-",
            *[fmt(x) for x in ds["sense_cf_transition"].values],
            "-",
        ]
    )
    rows.append(
        [
            "log(1/alpha)/(2 sigma_i)",
            "-",
            "-",
            "-",
            *[fmt(x) for x in ds["sense_t_predicted"].values],
            "-",
        ]
    )
    tables["sensing"] = Table(
        "Gaussian sensing vs the identity-operator closed form (mean over seeds; fitted slope of "
        f"the distance against m/(n r): {fmt(_scalar(ds, 'sense_distance_slope'))})",
        [
            "m / (n r)",
            "m",
            "distance",
            "distance [min, max] over seeds",
            *[f"t_{k} (sigma = {fmt(ssig[k - 1])})" for k in ds["sense_k"].values],
            "final recovery error",
        ],
        rows,
    )
    return tables


def _theorem_constants_table(ds: xr.Dataset, title: str) -> Table:
    """The theorem's constants and whether its hypotheses hold, from the dataset."""
    keys = ("theorem_alpha", "theorem_eps", "theorem_M", "theorem_c_eps", "theorem_C_eps")
    row = [fmt(_scalar(ds, key)) for key in keys]
    row.append("yes" if int(ds["theorem_hypotheses_hold"]) else "no")
    return Table(title, ["alpha", "eps", "M", "c_eps", "C_eps", "hypotheses hold"], [row])


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
        *(_beyond_story(ds) if "gap" in ds else []),
    ]


def _beyond_story(ds: xr.Dataset) -> list[tuple[str, list[str], list[str], str | None]]:
    """Sections 8-11: gradient descent vs the flow, asymmetric, deep, sensing."""

    def per_problem(var: str) -> str:
        return ", ".join(f"{fmt(ds[var].sel(problem=p))} ({p})" for p in ds["problem"].values)

    s1 = float(ds["gap_sigma"].values[0, 0])
    sig = ds["asym_sigma"].values
    m, n = ds.sizes["asym_row"], ds.sizes["asym_col"]
    shift = ds["asym_study_shift"].values
    rho_max = float(ds["rho"].values[-1])
    deep_rel = ds["deep_exact_width"].values[:, 0] / ds["deep_exact_half"].values[:, 0]
    depths = ds["depth"].values
    rel_text = ", ".join(f"{fmt(r)} (L = {int(L)})" for r, L in zip(deep_rel, depths, strict=True))
    ratios = ds["ratio"].values
    dist = ds["sense_distance"].values.mean(axis=1)
    return [
        (
            STEP_TITLES["gd_vs_gf"],
            [
                "Gradient descent is the explicit Euler method of the flow: iterate k is compared "
                "with the exact flow at t = k eta, for the symmetric problem (general init) and "
                f"the asymmetric one (balanced init, {m} x {n} target with the same singular "
                "values). The gap is first order in eta, fitted order "
                f"{per_problem('gap_order')}.",
                "Incremental learning (ordered transitions, a plateau at each partial solution) "
                f"survives up to eta = {per_problem('eta_incremental')}, just below the "
                f"linear-stability limit 2 / lambda_max = {per_problem('eta_stability')} = "
                f"1 / sigma_1 (sigma_1 = {fmt(s1)}); past it GD oscillates around the solution "
                f"without converging, and it blows up from eta = {per_problem('eta_blowup')}. "
                "The right panels show GD in the three regimes.",
            ],
            ["gd_vs_gf_critical", "gd_vs_gf_gap"],
            "gd_vs_gf",
        ),
        (
            STEP_TITLES["asymmetric"],
            [
                f"Y ~ U V^T for a rectangular {m} x {n} target with singular values "
                f"{', '.join(fmt(x) for x in sig)}: balanced and lambda-balanced inits are exact "
                "(the symmetrized flow's closed form), the unbalanced one is an ODE solve. All "
                "three learn the singular values one at a time, largest first, near "
                "log(1/alpha) / (2 sigma_i).",
                "Unbalancing the factors while keeping the initial product (relative imbalance "
                "rho) shifts the transitions exactly as the linear phase predicts (second table, "
                f"measured / predicted); at rho = {fmt(rho_max)} every transition comes earlier, "
                f"the last one by {fmt(-shift[-1, -1])} time units.",
            ],
            ["asymmetric", "asymmetric_study"],
            "asymmetric",
        ),
        (
            STEP_TITLES["deep"],
            [
                "Gradient descent on deep matrix sensing, W = W_L ... W_1 (n x n factors), from a "
                "small random init: the singular values of the product are learned one by one, "
                "largest first, and the jumps get sharper with depth (solid). Dashed: the exact "
                "per-mode curves ds/dt = L s^{2-2/L} (sigma - s) of a balanced spectral init "
                "from s0 = alpha.",
                "At the same alpha the transitions come later with depth and are sharper: the "
                "width of a transition stays O(1 / (L sigma^{2-2/L})) while its time grows like "
                "a power of 1/alpha instead of log(1/alpha); relative width of mode 1: "
                f"{rel_text}. The zero singular values of Y stay near zero (the low-rank "
                f"implicit bias). With only m = {int(_scalar(ds, 'deep_m'))} measurements the "
                "partial fits overshoot their singular values until the next one is learned "
                "(with the identity operator, or 10x more measurements, they do not).",
            ],
            ["deep", "deep_runs"],
            "deep",
        ),
        (
            STEP_TITLES["sensing"],
            [
                "Symmetric Gaussian sensing with m measurements (E[A* A] = I) against the "
                "identity-operator closed form, same target and init: the distance between the "
                f"learning curves falls from {fmt(dist[0])} at m / (n r) = {fmt(ratios[0])} to "
                f"{fmt(dist[-1])} at {fmt(ratios[-1])}, with fitted slope "
                f"{fmt(_scalar(ds, 'sense_distance_slope'))} (about m^{{-1/2}}, the RIP scaling).",
                "The transition times converge to the closed form's: the identity operator's exact "
                "solution is the large-m limit of matrix sensing.",
            ],
            ["sensing"],
            "sensing",
        ),
    ]


def _run_tables(ds: xr.Dataset) -> dict[str, Table]:
    tables: dict[str, Table] = {}
    if "transition_t_predicted" in ds:
        columns = [
            (label, name)
            for label, name in (
                ("measured", "transition_t_measured"),
                ("closed form", "cf_transition"),
                ("gradient flow", "gf_transition"),
                ("gradient descent", "gd_transition"),
            )
            if name in ds
        ]
        rows = []
        for k in ds["k"].values:
            rows.append(
                [
                    str(int(k)),
                    fmt(ds["sigma_Y"].values[k - 1]),
                    fmt(ds["transition_t_predicted"].sel(k=k)),
                    *[fmt(ds[name].sel(k=k)) for _, name in columns],
                ]
            )
        predicted = ds.attrs.get("prediction_label", "")
        tables["transitions"] = Table(
            "Predicted vs measured transition times"
            + (
                f" (predicted: {predicted}; measured: first crossing of sigma_i / 2)"
                if predicted
                else ""
            ),
            ["mode i", "sigma_i", "predicted", *[label for label, _ in columns]],
            rows,
        )
    rows = []
    if "gf_max_error" in ds:
        rows.append(["gradient flow", "-", fmt(_scalar(ds, "gf_max_error"))])
    if "gd_max_error" in ds:
        rows.append(["gradient descent", fmt(_scalar(ds, "eta")), fmt(_scalar(ds, "gd_max_error"))])
    if rows:
        label = ds.attrs.get("error_label", "||W_sim(t) - W_closed(t)||_2")
        tables["errors"] = Table(f"Max over t of {label}", ["method", "eta", "max error"], rows)
    rows = []
    for label, prefix in (("gradient flow", "gf"), ("gradient descent", "gd")):
        if f"{prefix}_recovery" in ds:
            rows.append(
                [
                    label,
                    fmt(ds[f"{prefix}_loss"].values[-1]),
                    fmt(ds[f"{prefix}_recovery"].values[-1]),
                ]
            )
    if rows:
        tables["recovery"] = Table(
            "At the last time: training loss and recovery error ||W - Y||_F / ||Y||_F",
            ["method", "loss", "recovery error"],
            rows,
        )
    if "rank_distance" in ds:
        tables["theorem_constants"] = _theorem_constants_table(ds, "Theorem constants")
        tables["rank_k"] = _rank_table(ds)
    return tables


def _run_story(ds: xr.Dataset) -> list[tuple[str, list[str], list[str], str | None]]:
    tables = _run_tables(ds)
    cfg = json.loads(ds.attrs["config"])
    methods = ", ".join(cfg["methods"])
    f = cfg.get("factorization", "symmetric")
    op = cfg.get("operator", {"kind": "identity"})
    if f == "symmetric" and op["kind"] == "identity":
        what = "Eigenvalues of W(t)"
        loss = "The loss 1/4 ||Y - W(t)||_F^2."
    else:
        shape = "x".join(str(d) for d in ds["Y"].shape)
        label = ds.attrs["curve_label"]
        what = f"{label[0].upper()}{label[1:]} ({f} factorization"
        what += f", depth L = {cfg['depth']}" if f == "deep" else ""
        what += f", {shape} target"
        if op["kind"] == "gaussian":
            what += f", Gaussian sensing with m = {op['m']} measurements"
        elif op["kind"] == "completion":
            what += f", matrix completion observing a fraction {fmt(op['fraction'])} of entries"
        what += ")"
        loss = "The training loss " + (
            "1/4 ||A(W) - A(Y)||^2" if f == "symmetric" else "1/2 ||A(W) - A(Y)||^2"
        )
        loss += " (A the identity)." if op["kind"] == "identity" else "."
        if "ref_values" in ds:
            what += "; thin grey: the identity operator's closed form, for comparison"
    out: list[tuple[str, list[str], list[str], str | None]] = [
        (
            "Learning curves",
            [
                f"{what}, for init '{cfg['init']['kind']}' at alpha = "
                f"{fmt(cfg['init']['alpha'])}; methods: {methods}.",
            ],
            [k for k in ("transitions", "errors", "recovery") if k in tables],
            "learning_curves",
        ),
        ("Loss", [loss], [], "loss"),
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


def _general_dataset(cfg: Any, base: Path | None) -> xr.Dataset:
    """``mfflow run`` beyond the paper's setting: asymmetric or deep factorizations, or a
    measurement operator (sensing, completion). Curves are singular values of the product."""
    from .curves import crossing_times

    f = cfg.factorization
    Y = cfg.build_target(base)
    A, B = cfg.build_factors(Y)
    alpha = float(cfg.init.alpha)
    t = cfg.times.grid()
    sig = np.linalg.svd(Y, compute_uv=False)
    q = sig.size
    op = cfg.operator.build(Y.shape, symmetric=f == "symmetric")
    sensing = cfg.operator.kind != "identity"
    K = int(np.count_nonzero(sig > 1e-12 * max(float(sig[0]), 1e-300)))
    L = int(cfg.depth) if f == "deep" else 2
    data: dict[str, Any] = {
        "Y": (("row", "col"), Y),
        "sigma_Y": (("mode",), sig, {"long_name": "singular values of Y"}),
        "alpha": ((), alpha),
    }
    if f == "deep":
        data["factors0"] = (("layer", "row", "col"), A)
    else:
        data["U0"] = (("row", "col_r"), A)
        if B is not None:
            data["V0"] = (("row_v", "col_r"), B)
    coords: dict[str, Any] = {"time": ("time", t), "mode": ("mode", np.arange(1, q + 1))}
    product = {"symmetric": "U U^T", "asymmetric": "U V^T", "deep": f"W_{L} ... W_1"}[f]
    attrs: dict[str, Any] = {
        "curve_label": f"singular values of {product}",
        "curve_label_tex": "singular values of $"
        + {"symmetric": "U U^T", "asymmetric": "U V^T", "deep": rf"W_{L} \cdots W_1"}[f]
        + "$",
        "loss_label": "training loss" + (" (measurements)" if sensing else ""),
    }

    # the exact curves of the identity operator (closed form), where they exist
    exact_values = exact_w = None
    if f == "symmetric":
        traj = closed_form(Y, A, alpha)
        exact_w = traj.W(t)
    elif f == "asymmetric" and cfg.init.kind != "gaussian":
        from .asymmetric import closed_form_asymmetric

        exact_w = closed_form_asymmetric(Y, A, B, alpha).W(t)
    elif f == "deep" and cfg.init.kind == "spectral":
        from .deep import deep_mode_curve

        scales = np.broadcast_to(np.asarray(cfg.init.scales, dtype=np.float64), (q,))
        exact_values = np.asarray(deep_mode_curve(sig, alpha * scales, L, t))
    if exact_w is not None:
        exact_values = np.linalg.svd(exact_w, compute_uv=False)
    if exact_values is not None:
        name = "cf" if "closed_form" in cfg.methods else "ref"
        data[f"{name}_values"] = (("time", "mode"), exact_values)
        if name == "cf" and exact_w is not None:
            loss_factor = 0.25 if f == "symmetric" else 0.5
            data["cf_loss"] = (("time",), loss_factor * np.sum((exact_w - Y) ** 2, axis=(1, 2)))
        if name == "ref":
            attrs["ref_label"] = "closed form, identity operator"
    attrs["error_label"] = (
        "||W_sim(t) - W_closed(t)||_2"
        if exact_w is not None
        else "||s_sim(t) - s_closed(t)||_2 (singular values)"
    )

    def record(prefix: str, res: Any, tt: FloatArray, dim: str) -> None:
        data[f"{prefix}_values"] = ((dim, "mode"), res.singular_values)
        data[f"{prefix}_loss"] = ((dim,), res.loss)
        data[f"{prefix}_recovery"] = ((dim,), res.recovery_error)
        data[f"{prefix}_transition"] = (
            ("k",),
            crossing_times(tt, res.singular_values[:, :K], 0.5 * sig[:K]),
        )
        if exact_values is not None and not sensing:
            if exact_w is not None:
                ref = exact_w if dim == "time" else _exact_w_at(cfg, Y, A, B, alpha, tt)
                err = np.linalg.norm(res.W - ref, ord=2, axis=(1, 2))
            else:
                ref_v = exact_values if dim == "time" else _deep_mode_values(cfg, sig, alpha, L, tt)
                err = np.linalg.norm(res.singular_values - ref_v, axis=1)
            data[f"{prefix}_error"] = ((dim,), err)
            data[f"{prefix}_max_error"] = ((), float(np.max(err)))

    if "gradient_flow" in cfg.methods:
        if f == "deep":
            from .deep import deep_flow

            res = deep_flow(Y, A, alpha, t, operator=op if sensing else None)
        else:
            from .sensing import sensing_flow

            res = sensing_flow(op, Y, A, alpha, t, V0=B)
        record("gf", res, t, "time")
    if "gradient_descent" in cfg.methods:
        eta = float(cfg.eta)
        last = math.ceil(float(t[-1]) / eta)
        steps = np.unique(np.linspace(0, last, min(last + 1, 2001)).round().astype(np.int64))
        if f == "deep":
            from .deep import deep_descent

            res = deep_descent(Y, A, alpha, eta, steps, operator=op if sensing else None)
        else:
            from .sensing import sensing_descent

            res = sensing_descent(op, Y, A, alpha, eta, steps, V0=B)
        t_gd = np.asarray(res.t, dtype=np.float64)
        coords["gd_time"] = ("gd_step", t_gd)
        data["eta"] = ((), eta)
        record("gd", res, t_gd, "gd_step")
    if exact_values is not None and "closed_form" in cfg.methods:
        data["cf_transition"] = (("k",), crossing_times(t, exact_values[:, :K], 0.5 * sig[:K]))
    if K >= 1:
        coords["k"] = ("k", np.arange(1, K + 1))
        if f == "deep":
            from .deep import deep_transition_time

            pred = np.asarray(deep_transition_time(sig[:K], alpha, L), dtype=np.float64)
            attrs["prediction_label"] = "exact, balanced spectral init, s0 = alpha"
        else:
            pred = np.log(1.0 / alpha) / (2.0 * sig[:K])
            attrs["prediction_label"] = "log(1/alpha) / (2 sigma_i)"
        data["transition_t_predicted"] = (("k",), pred)
    if sensing:
        data["m"] = ((), int(op.m))
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    ds.attrs.update(
        {
            "title": f"mfflow run: {cfg.name}",
            "kind": "run",
            "factorization": f,
            "config": cfg.model_dump_json(),
            "mfflow_version": _version(),
        }
    )
    return ds


def _exact_w_at(
    cfg: Any, Y: FloatArray, U0: FloatArray, V0: Any, alpha: float, t: FloatArray
) -> FloatArray:
    """The exact product (identity operator) at times ``t``: symmetric or lambda-balanced."""
    if cfg.factorization == "symmetric":
        return closed_form(Y, U0, alpha).W(t)
    from .asymmetric import closed_form_asymmetric

    return closed_form_asymmetric(Y, U0, V0, alpha).W(t)


def _deep_mode_values(cfg: Any, sig: FloatArray, alpha: float, L: int, t: FloatArray) -> FloatArray:
    """Exact deep per-mode curves ``(T, q)`` of a balanced spectral init at times ``t``."""
    from .deep import deep_mode_curve

    scales = np.broadcast_to(np.asarray(cfg.init.scales, dtype=np.float64), (sig.size,))
    return np.asarray(deep_mode_curve(sig, alpha * scales, L, t))


def run_dataset(cfg: Any, base: Path | None = None) -> xr.Dataset:
    """Compute one configured experiment (a :class:`mfflow.config.RunConfig`) into a dataset."""
    if not getattr(cfg, "is_paper_setting", True):
        return _general_dataset(cfg, base)
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
