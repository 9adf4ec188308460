"""Lazy versus rich learning of a two-layer linear network, exactly: the ``(lambda, scale)``
phase diagram of the NTK's movement, its final alignment with the task and the time to learn,
with cells confirmed by gradient descent (Dominé et al., ICLR 2025)."""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from .... import lazy_rich_phase_diagram
from ...phase_figures import draw_phase_panels
from ...plotting import new_figure
from ..document import Table, fmt
from ..network_data import NETWORK_TIME as T
from ..network_data import NetworkDataConfig, inputs, teacher
from ..section import Section

ONE = "1"
FIELDS = (
    "kernel_distance",
    "representation_distance",
    "alignment_init",
    "alignment_final",
    "time_to_learn",
    "excess_final",
)
_LONG = {
    "kernel_distance": "NTK kernel distance 1 - cos(K(0), K(t_end)) on the training inputs",
    "representation_distance": "hidden representation distance 1 - cos(H(0), H(t_end)), "
    "H = X^T W1^T W1 X",
    "alignment_init": "NTK-task alignment y^T K y / (||K||_F ||y||^2) at t = 0",
    "alignment_final": "NTK-task alignment y^T K y / (||K||_F ||y||^2) at t_end",
    "time_to_learn": "first time the excess loss is tol times its initial value",
    "excess_final": "excess loss over the global minimum at t_end, relative to t = 0",
}
METHODS = ("closed_form", "gradient_descent")


class Config(NetworkDataConfig):
    task_seed: int = 1
    init_seed: int = 0
    lam_min: float = 0.1
    lam_max: float = 10.0
    num_lam: int = 5  # values of |lambda| per sign (plus lambda = 0)
    scale_min: float = 1e-4
    scale_max: float = 100.0
    num_scale: int = 13
    tol: float = 1e-2
    # (lambda, scale) of the GD checks; each is moved to the nearest cell of the grid
    checks: tuple[tuple[float, float], ...] = (
        (0.0, 1e-3),
        (10.0, 1e-3),
        (-10.0, 1e-3),
        (0.0, 10.0),
        (1.0, 0.1),
    )
    check_eta: float = 1e-3
    check_horizon: float = 3.0


def grid(cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    """``(lams, scales)``: ``-lam_max .. -lam_min, 0, lam_min .. lam_max`` and a geometric grid."""
    side = np.geomspace(cfg.lam_min, cfg.lam_max, cfg.num_lam)
    lams = np.concatenate([-side[::-1], [0.0], side])
    return lams, np.geomspace(cfg.scale_min, cfg.scale_max, cfg.num_scale)


def on_grid(
    checks: tuple[tuple[float, float], ...], lams: np.ndarray, scales: np.ndarray
) -> tuple[tuple[float, float], ...]:
    """Each ``(lambda, scale)`` moved to the nearest grid cell (lambda in symlog, scale in log
    distance), so a numbered circle of the figure sits on the cell it checks."""
    lin = float(np.min(np.abs(lams[lams != 0]))) if np.any(lams != 0) else 1.0

    def sym(v: np.ndarray) -> np.ndarray:
        a = np.abs(v)
        return np.sign(v) * np.where(a <= lin, a / lin, 1.0 + np.log10(np.maximum(a, lin) / lin))

    out = []
    for lam, s in checks:
        i = int(np.argmin(np.abs(sym(lams) - sym(np.array(lam)))))
        j = int(np.argmin(np.abs(np.log(scales) - math.log(s))))
        out.append((float(lams[i]), float(scales[j])))
    return tuple(dict.fromkeys(out))


def compute(_: object, cfg: Config) -> xr.Dataset:
    X = inputs(cfg)
    Y = teacher(cfg, X, cfg.task_seed)
    lams, scales = grid(cfg)
    pd = lazy_rich_phase_diagram(
        X,
        Y,
        lams,
        scales,
        h=cfg.h,
        seed=cfg.init_seed,
        tol=cfg.tol,
        checks=on_grid(cfg.checks, lams, scales),
        check_eta=cfg.check_eta,
        check_horizon=cfg.check_horizon,
    )
    C = len(pd.checks)
    per_check = {f"check_{name}": np.empty((C, 2)) for name in FIELDS if name != "alignment_init"}
    seconds = np.empty((C, 2))
    horizon = np.empty(C)
    for i, c in enumerate(pd.checks):
        for j, cell in enumerate((c.exact, c.descent)):
            for key in per_check:
                per_check[key][i, j] = getattr(cell, key.removeprefix("check_"))
        seconds[i] = (c.seconds_exact, c.seconds_descent)
        horizon[i] = c.exact.t_end
    checks = np.array([(c.exact.lam, c.exact.scale) for c in pd.checks]).reshape(C, 2)
    data: dict[str, tuple] = {
        name: (("lam", "scale"), getattr(pd, name), _attrs(name)) for name in FIELDS
    }
    data.update(
        {
            key: (("check", "method"), val, _attrs(key.removeprefix("check_"), "GD check: "))
            for key, val in per_check.items()
        }
    )
    spectrum = np.asarray(cfg.spectrum, dtype=np.float64)
    step = "gradient-flow time per step"
    data.update(
        {
            "spectrum": _var(("mode",), spectrum, "teacher singular values"),
            "tol": _var((), cfg.tol, "relative excess loss that counts as learned"),
            "t_end": _var((), pd.t_end, "time of the final quantities (inf: the limit)", T),
            "grid_seconds": _var((), pd.seconds, "wall-clock time of the exact grid", "s"),
            "grid_cpu_seconds": _var((), pd.cpu_seconds, "CPU time of the exact grid", "s"),
            "check_lam": _var(("check",), checks[:, 0], "lambda of the GD check"),
            "check_scale": _var(("check",), checks[:, 1], "scale of the GD check"),
            "check_horizon": _var(
                ("check",),
                horizon,
                "horizon of the GD check (check_horizon x the exact time to learn)",
                T,
            ),
            "check_eta": _var((), cfg.check_eta, "step size of the GD checks", step),
            "check_seconds": _var(
                ("check", "method"), seconds, "wall-clock time of the check", "s"
            ),
            "widths": _var(
                ("layer",), np.array([cfg.d_in, cfg.h, cfg.d_out]), "widths d_in, h, d_out"
            ),
            "P": _var((), cfg.P, "number of training examples P"),
        }
    )
    coords = {
        "lam": _var("lam", lams, "relative scale lambda (W2^T W2 - W1 W1^T = lambda I)"),
        "scale": _var("scale", scales, "absolute scale s (singular values of W2 W1 at t = 0)"),
        "check": _var("check", np.arange(1, C + 1), "GD check number"),
        "method": ("method", list(METHODS), {"long_name": "method"}),
        "mode": _var("mode", np.arange(1, spectrum.size + 1), "teacher mode index"),
        "layer": ("layer", ["d_in", "h", "d_out"], {"long_name": "layer"}),
    }
    return xr.Dataset(data, coords=coords)


def _var(dims: object, values: object, long_name: str, units: str = ONE) -> tuple:
    """``(dims, values, attrs)`` with ``long_name`` and ``units``."""
    return (dims, values, {"long_name": long_name, "units": units})


def _attrs(name: str, prefix: str = "") -> dict[str, str]:
    return {
        "long_name": prefix + _LONG[name],
        "units": T if name == "time_to_learn" else ONE,
    }


def _checks(ds: xr.Dataset) -> list[tuple[float, float]]:
    return [
        (float(a), float(b))
        for a, b in zip(ds["check_lam"].values, ds["check_scale"].values, strict=True)
    ]


def _net(ds: xr.Dataset) -> str:
    d_in, h, d_out = (int(v) for v in ds["widths"].values)
    return f"{d_in} -> {h} -> {d_out}"


def figure(ds: xr.Dataset) -> Figure:
    fig, axes = new_figure(SECTION.figsize, nrows=2, ncols=2, sharex=True, sharey=True)
    names = ["kernel_distance", "representation_distance", "alignment_final", "time_to_learn"]
    draw_phase_panels(
        fig,
        axes,
        ds["lam"].values,
        ds["scale"].values,
        {n: ds[n].values for n in names},
        tol=float(ds["tol"]),
        checks=_checks(ds),
    )
    for ax in axes[2:]:
        ax.set_xlabel(r"absolute scale $s$ (singular values of $W_2 W_1(0)$)")
    for ax in axes[::2]:
        ax.set_ylabel(r"relative scale $\lambda$ ($W_2^T W_2 - W_1 W_1^T = \lambda I$)")
    sig = ", ".join(f"{v:g}" for v in ds["spectrum"].values)
    t_end = float(ds["t_end"])
    when = r"$t_{end} = \infty$ (the exact limit)" if math.isinf(t_end) else f"t = {t_end:g}"
    bad = not np.all(np.isfinite(ds["time_to_learn"].values))
    fig.suptitle(
        f"Lazy vs rich: network {_net(ds).replace('->', '→')} on P = {int(ds['P'])} whitened "
        f"examples, teacher singular values {sig}; "
        f"{ds.sizes['lam']} × {ds.sizes['scale']} cells, each exact at {when}.\n"
        "Numbered circles: cells re-run by gradient descent (table below)"
        + ("; white: not learned by the horizon." if bad else "."),
        fontsize=11,
    )
    return fig


def corners(ds: xr.Dataset) -> list[tuple[str, float, float]]:
    """The regimes the text and table quote: ``(label, lambda, scale)`` on the grid."""
    lams, scales = ds["lam"].values, ds["scale"].values
    zero = float(lams[np.argmin(np.abs(lams))])
    return [
        ("rich (lambda = 0, smallest scale)", zero, float(scales.min())),
        ("lazy, lambda >> 0 (large W2)", float(lams.max()), float(scales.min())),
        ("lambda << 0 (large W1)", float(lams.min()), float(scales.min())),
        ("large scale, lambda = 0", zero, float(scales.max())),
    ]


def tables(ds: xr.Dataset) -> list[Table]:
    rows = []
    for label, lam, s in corners(ds):
        sel = ds.sel(lam=lam, scale=s)
        rows.append(
            [label, fmt(lam), fmt(s)]
            + [fmt(sel[n]) for n in ("kernel_distance", "representation_distance")]
            + [fmt(sel["alignment_init"]), fmt(sel["alignment_final"]), fmt(sel["time_to_learn"])]
        )
    regimes = Table(
        "Corners of the phase diagram (exact, final quantities at t_end)",
        [
            "regime",
            "lambda",
            "scale",
            "kernel distance",
            "representation distance",
            "alignment t = 0",
            "alignment t_end",
            "time to learn",
        ],
        rows,
    )
    rows = []
    for c in ds["check"].values:
        sel = ds.sel(check=c)

        def pair(name: str, sel: xr.Dataset = sel) -> list[str]:
            v = sel[f"check_{name}"].values
            return [fmt(v[0]), fmt(v[1])]

        t_ex, t_gd = sel["check_time_to_learn"].values
        sec = sel["check_seconds"].values
        rows.append(
            [
                str(int(c)),
                fmt(sel["check_lam"]),
                fmt(sel["check_scale"]),
                fmt(sel["check_horizon"]),
                *pair("kernel_distance"),
                *pair("alignment_final"),
                *pair("time_to_learn"),
                fmt(abs(t_gd - t_ex) / t_ex),
                fmt(sec[1] / sec[0]),
            ]
        )
    checks = Table(
        f"Cells re-run by gradient descent (eta = {fmt(ds['check_eta'])}) against the exact "
        "flow at the same horizon",
        [
            "check",
            "lambda",
            "scale",
            "horizon",
            "kernel distance exact",
            "kernel distance GD",
            "alignment exact",
            "alignment GD",
            "time to learn exact",
            "time to learn GD",
            "relative difference",
            "GD time / exact time",
        ],
        rows,
    )
    return [regimes, checks]


def text(ds: xr.Dataset) -> list[str]:
    (_, rlam, rs), (_, llam, ls_), (_, nlam, ns), (_, blam, bs) = corners(ds)

    def at(name: str, lam: float, s: float) -> str:
        return fmt(ds[name].sel(lam=lam, scale=s))

    kd = ds["check_kernel_distance"].values
    al = ds["check_alignment_final"].values
    tt = ds["check_time_to_learn"].values
    sec = ds["check_seconds"].values
    worst_kd = fmt(np.max(np.abs(kd[:, 1] - kd[:, 0])))
    worst_al = fmt(np.max(np.abs(al[:, 1] - al[:, 0])))
    worst_t_val = float(np.max(np.abs(tt[:, 1] - tt[:, 0]) / tt[:, 0]))
    worst_t = fmt(worst_t_val)
    worst_t_eta = worst_t_val / float(ds["check_eta"])
    ratio = sec[:, 1] / sec[:, 0]
    tol = fmt(ds["tol"])
    sig = ", ".join(fmt(v) for v in ds["spectrum"].values)
    kd_rich = float(ds["kernel_distance"].sel(lam=rlam, scale=rs))
    kd_lazy = float(ds["kernel_distance"].sel(lam=llam, scale=ls_))
    kd_big = float(ds["kernel_distance"].sel(lam=blam, scale=bs))
    rd_rich = float(ds["representation_distance"].sel(lam=rlam, scale=rs))
    neg_word = (
        "less" if float(ds["representation_distance"].sel(lam=nlam, scale=ns)) < rd_rich else "more"
    )
    if kd_big > 0.5 * kd_rich:
        big_sentence = (
            f"but its NTK moves about as much (kernel distance {fmt(kd_big)} against "
            f"{fmt(kd_rich)}): the initial product has singular values s in every direction, "
            f"far from the task's ({sig}) when s is large, so a large scale is not lazy here; "
            "with these inits laziness comes from |lambda|."
        )
    else:
        big_sentence = (
            f"and its NTK moves less (kernel distance {fmt(kd_big)}, "
            f"{fmt(kd_rich / kd_big)} times less than the rich corner)."
        )
    return [
        f"A two-layer linear network {_net(ds)} is trained by gradient flow on "
        f"L = 1/(2P) ||Y - W2 W1 X||_F^2 with P = {int(ds['P'])} whitened inputs and a "
        f"teacher with singular values {sig}, from lambda-balanced weights "
        "(W2^T W2 - W1 W1^T = lambda I, the initial product's singular values all equal "
        "to the scale s, the same random frames in every cell). Each cell is the closed form "
        "at t_end, exactly; the kernel is the NTK on the training inputs.",
        f"Rich corner (lambda = {fmt(rlam)}, s = {fmt(rs)}): the NTK moves (kernel distance "
        f"{at('kernel_distance', rlam, rs)}), its alignment with the task rises from "
        f"{at('alignment_init', rlam, rs)} to {at('alignment_final', rlam, rs)}, and learning "
        f"takes {at('time_to_learn', rlam, rs)} time units (excess loss down to {tol} of its "
        f"start). With lambda = {fmt(llam)} at the same s the NTK barely moves (kernel "
        f"distance {at('kernel_distance', llam, ls_)}, {fmt(kd_rich / kd_lazy)} times less) "
        f"and learning takes {at('time_to_learn', llam, ls_)}: lazy, although the small first "
        f"layer is rewritten (representation distance "
        f"{at('representation_distance', llam, ls_)}). At lambda = {fmt(nlam)} (large first "
        f"layer) the hidden representation moves {neg_word} than in the rich corner "
        f"(representation distance {at('representation_distance', nlam, ns)} against "
        f"{at('representation_distance', rlam, rs)}), the NTK still moves (kernel distance "
        f"{at('kernel_distance', nlam, ns)}) and learning takes "
        f"{at('time_to_learn', nlam, ns)}. At lambda = {fmt(blam)} a large scale "
        f"(s = {fmt(bs)}) learns in {at('time_to_learn', blam, bs)} instead of "
        f"{at('time_to_learn', rlam, rs)}, {big_sentence}",
        f"Gradient descent (eta = {fmt(ds['check_eta'])}) re-ran {ds.sizes['check']} cells "
        f"to the same horizons: worst differences to the closed form {worst_kd} in kernel "
        f"distance, {worst_al} in alignment, {worst_t} relative in the time to learn "
        f"({fmt(worst_t_eta)} eta: first order in the step); descent took "
        f"{fmt(ratio.min())} to {fmt(ratio.max())} times as long "
        "as the closed form per cell. "
        f"The whole exact grid of {ds.sizes['lam'] * ds.sizes['scale']} cells took "
        f"{fmt(ds['grid_seconds'])} s ({fmt(ds['grid_cpu_seconds'])} s CPU).",
    ]


SECTION = Section(
    name="lazy_rich",
    title="Lazy versus rich learning in a linear network",
    config=Config,
    compute=compute,
    figure=figure,
    tables=tables,
    text=text,
    figsize=(12.0, 9.0),
    quick={"num_lam": 3, "num_scale": 7, "checks": ((0.0, 1e-3), (10.0, 1e-3)), "check_eta": 4e-3},
)
