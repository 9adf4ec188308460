"""Weight decay: learning curves with and without it, the learned values soft-thresholded to
``(sigma_i - gamma)_+``, which modes are ever learned and when; closed form against a simulation
of the :class:`~mfflow.simulate.WeightDecay` model (docs/math.md §10)."""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure

from .... import (
    balanced_init,
    closed_form,
    closed_form_asymmetric,
    gaussian_init,
    make_target,
    measured_transition_times,
    rectangular_target,
    simulate_gf,
    spectral_init,
    transition_times,
)
from ...plotting import TIME_LABEL, alpha_label, mode_color
from ..document import Table, fmt
from ..section import Section, SectionConfig
from ..setup import Setup

T = "gradient-flow time"
ONE = "1"


class Config(SectionConfig):
    spectrum: tuple[float, ...] = (4.0, 2.5, 1.5, 0.7)
    n: int = 6
    seed: int = 0
    alpha: float = 1e-12
    gammas: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0)
    t_max: float = 80.0
    num_times: int = 801
    sim_gamma: float = 1.0
    sim_times: int = 41
    sim_rtol: float = 1e-11
    sweep_max: float = 4.5
    sweep_num: int = 91
    phase_T: float = 30.0
    phase_gammas: int = 57
    phase_alphas: int = 48
    log_inv_alpha_min: float = 2.0
    log_inv_alpha_max: float = 60.0


def compute(p: Setup, cfg: Config) -> xr.Dataset:
    sigma = np.asarray(cfg.spectrum, dtype=np.float64)
    K = sigma.size
    Y = make_target(list(sigma), n=cfg.n, seed=cfg.seed)
    U0 = gaussian_init(cfg.n, cfg.n, seed=cfg.seed + 1)
    gammas = np.asarray(cfg.gammas, dtype=np.float64)
    t = np.linspace(0.0, cfg.t_max, cfg.num_times)
    eig = np.empty((gammas.size, t.size, K))
    t_pred = np.full((gammas.size, K), np.nan)
    t_meas = np.full((gammas.size, K), np.nan)
    lim_g = np.empty((gammas.size, K))
    for g, gamma in enumerate(gammas):
        traj = closed_form(Y, U0, cfg.alpha, weight_decay=float(gamma))
        eig[g] = traj.eigvals(t, k=K)
        lim_g[g] = np.linalg.eigvalsh(traj.limit())[::-1][:K]
        pred = np.asarray(transition_times(traj), dtype=np.float64)
        meas = np.asarray(measured_transition_times(traj), dtype=np.float64)
        t_pred[g, : pred.size] = pred[:K]
        t_meas[g, : meas.size] = meas[:K]
    # closed form vs an independent ODE solve of the WeightDecay model, U U^T and U V^T
    g_sim = float(cfg.sim_gamma)
    ts = np.linspace(0.0, cfg.t_max, cfg.sim_times)
    cf = closed_form(Y, U0, cfg.alpha, weight_decay=g_sim)
    sim = simulate_gf(Y, U0, cfg.alpha, ts, weight_decay=g_sim, rtol=cfg.sim_rtol)
    W_cf, W_sim = cf.W(ts), np.asarray(sim.W)
    sim_eig = np.linalg.eigvalsh(W_sim)[:, ::-1][:, :K]
    sym_err = float(np.max(np.linalg.norm(W_cf - W_sim, axis=(1, 2)))) / np.linalg.norm(Y)
    m_r, n_r = p.Y_rect.shape
    Yr = rectangular_target(list(sigma[: min(m_r, n_r)]), m_r, n_r, seed=cfg.seed)
    U0r, V0r = balanced_init(m_r, n_r, min(m_r, n_r), cfg.seed + 1)
    cfa = closed_form_asymmetric(Yr, U0r, V0r, cfg.alpha, weight_decay=g_sim)
    sima = simulate_gf(Yr, U0r, cfg.alpha, ts, V0=V0r, weight_decay=g_sim, rtol=cfg.sim_rtol)
    asym_err = float(
        np.max(np.linalg.norm(cfa.W(ts) - np.asarray(sima.W), axis=(1, 2))) / np.linalg.norm(Yr)
    )
    asym_limit = np.linalg.svd(cfa.limit(), compute_uv=False)[: min(m_r, n_r)]
    # the final spectrum against gamma
    gs = np.linspace(0.0, cfg.sweep_max, cfg.sweep_num)
    limit = np.array(
        [
            np.linalg.eigvalsh(closed_form(Y, U0, cfg.alpha, weight_decay=float(g)).limit())[::-1][
                :K
            ]
            for g in gs
        ]
    )
    soft = np.maximum(sigma[None, :] - gs[:, None], 0.0)
    # which modes are (half) learned by phase_T, over (gamma, log(1/alpha)), spectral init
    pg = np.linspace(0.0, float(sigma.max()) * 1.05, cfg.phase_gammas)
    pla = np.linspace(cfg.log_inv_alpha_min, cfg.log_inv_alpha_max, cfg.phase_alphas)
    spectral = spectral_init(Y, 1.0)
    learned = np.zeros((pla.size, pg.size))
    predicted = np.zeros((pla.size, pg.size))
    for j, g in enumerate(pg):
        base = closed_form(Y, spectral, 1.0, weight_decay=float(g))
        vals = np.atleast_2d(base.with_alphas(np.exp(-pla)).mode_values(cfg.phase_T))
        mu = base.lam
        learned[:, j] = np.sum((vals >= 0.5 * mu[None, :]) & (mu[None, :] > 0), axis=1)
        mu_pos = np.maximum(mu, 1e-300)
        rule = (mu[None, :] > 0) & (
            pla[:, None] <= 2.0 * cfg.phase_T * mu_pos[None, :] - np.log(mu_pos[None, :])
        )
        predicted[:, j] = np.sum(rule, axis=1)
    return xr.Dataset(
        {
            "eigenvalues": (
                ("gamma", "time", "mode"),
                eig,
                {"long_name": "eigenvalues of W(t), closed form", "units": ONE},
            ),
            "limit_at_gamma": (
                ("gamma", "mode"),
                lim_g,
                {"long_name": "eigenvalues of W(inf), closed form", "units": ONE},
            ),
            "t_predicted": (
                ("gamma", "mode"),
                t_pred,
                {
                    "long_name": "predicted transition time log(1/alpha)/(2(sigma_i - gamma)) "
                    "(nan: never learned)",
                    "units": T,
                },
            ),
            "t_measured": (
                ("gamma", "mode"),
                t_meas,
                {"long_name": "measured first crossing of (sigma_i - gamma)/2", "units": T},
            ),
            "sim_eigenvalues": (
                ("t_sim", "mode"),
                sim_eig,
                {"long_name": "eigenvalues of W(t), ODE solve (WeightDecay model)", "units": ONE},
            ),
            "sim_error_sym": (
                (),
                sym_err,
                {"long_name": "max_t ||W_cf - W_ode||_F / ||Y||_F, U U^T", "units": ONE},
            ),
            "sim_error_asym": (
                (),
                asym_err,
                {"long_name": "max_t ||B_cf - B_ode||_F / ||Y||_F, balanced U V^T", "units": ONE},
            ),
            "asym_limit": (
                ("sv",),
                asym_limit,
                {"long_name": "singular values of B(inf), balanced U V^T", "units": ONE},
            ),
            "limit": (
                ("gamma_sweep", "mode"),
                limit,
                {"long_name": "eigenvalues of W(inf), closed form", "units": ONE},
            ),
            "soft_threshold": (
                ("gamma_sweep", "mode"),
                soft,
                {"long_name": "soft-thresholded spectrum (sigma_i - gamma)_+", "units": ONE},
            ),
            "learned": (
                ("log_inv_alpha", "phase_gamma"),
                learned,
                {"long_name": "modes with sigma_i(T) >= (sigma_i - gamma)/2", "units": ONE},
            ),
            "learned_predicted": (
                ("log_inv_alpha", "phase_gamma"),
                predicted,
                {"long_name": "modes with log(1/alpha) <= 2 T mu - log mu", "units": ONE},
            ),
            "spectrum": (("mode",), sigma, {"long_name": "eigenvalues sigma_i of Y", "units": ONE}),
            "alpha": ((), cfg.alpha, {"long_name": "initialization scale alpha", "units": ONE}),
            "sim_gamma": ((), g_sim, {"long_name": "weight decay of the ODE check", "units": ONE}),
            "sim_rtol": ((), cfg.sim_rtol, {"long_name": "rtol of the ODE solve", "units": ONE}),
            "phase_T": ((), cfg.phase_T, {"long_name": "time T of the phase picture", "units": T}),
            "n": ((), cfg.n, {"long_name": "size n of the target", "units": ONE}),
        },
        coords={
            "gamma": ("gamma", gammas, {"long_name": "weight decay gamma", "units": ONE}),
            "time": ("time", t, {"long_name": "time t", "units": T}),
            "mode": ("mode", np.arange(1, K + 1), {"long_name": "mode index i", "units": ONE}),
            "t_sim": ("t_sim", ts, {"long_name": "times of the ODE check", "units": T}),
            "sv": ("sv", np.arange(1, asym_limit.size + 1), {"long_name": "index", "units": ONE}),
            "gamma_sweep": (
                "gamma_sweep",
                gs,
                {"long_name": "weight decay gamma (final spectrum)", "units": ONE},
            ),
            "phase_gamma": (
                "phase_gamma",
                pg,
                {"long_name": "weight decay gamma (phase picture)", "units": ONE},
            ),
            "log_inv_alpha": (
                "log_inv_alpha",
                pla,
                {"long_name": "log(1/alpha) (phase picture)", "units": ONE},
            ),
        },
    )


def figure(ds: xr.Dataset) -> Figure:
    fig = Figure(figsize=SECTION.figsize, layout="constrained")
    axes = fig.subplots(1, 3, width_ratios=[1.1, 1.0, 1.15])
    sigma = ds["spectrum"].values
    K = sigma.size
    t = ds["time"].values
    gammas = ds["gamma"].values
    styles = ["-", "--", "-.", ":"]
    ax = axes[0]
    for g, gamma in enumerate(gammas):
        ev = ds["eigenvalues"].values[g]
        for i in range(K):
            ax.plot(
                t, ev[:, i], color=mode_color(i + 1), ls=styles[g % 4], lw=1.4
            )  # fmt: skip
        ax.plot([], [], color="k", ls=styles[g % 4], lw=1.4, label=rf"$\gamma = {gamma:g}$")
    g_sim = float(ds["sim_gamma"])
    ts = ds["t_sim"].values
    for i in range(K):
        ax.plot(ts, ds["sim_eigenvalues"].values[:, i], "o", color="k", ms=3.5, mfc="none",
                label=rf"ODE solve, $\gamma = {g_sim:g}$" if i == 0 else None)  # fmt: skip
    ax.set_ylim(-0.1, 1.25 * sigma.max())
    ax.set_xlim(t[0], t[-1])
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel(r"top eigenvalues of $W(t)$ (colour: mode $i$)")
    ax.set_title(f"(a) learning curves, {alpha_label(float(ds['alpha']))}")
    ax.legend(loc="upper center", ncols=3, fontsize=9, columnspacing=0.8)

    ax = axes[1]
    gs = ds["gamma_sweep"].values
    for i in range(K):
        ax.plot(gs, ds["limit"].values[:, i], color=mode_color(i + 1), lw=2.4,
                label=rf"$\sigma_{i + 1} = {sigma[i]:g}$")  # fmt: skip
        ax.plot(gs, ds["soft_threshold"].values[:, i], "k:", lw=1.2)
    ax.plot([], [], "k:", lw=1.2, label=r"$(\sigma_i - \gamma)_+$")
    ax.set_xlabel(r"weight decay $\gamma$")
    ax.set_ylabel(r"eigenvalues of $W(\infty)$, exact limit")
    ax.set_title("(b) final spectrum vs soft threshold")
    ax.set_ylim(-0.1, 1.25 * sigma.max())
    ax.legend(loc="upper right", fontsize=9)

    ax = axes[2]
    pg = ds["phase_gamma"].values
    pla = ds["log_inv_alpha"].values
    T_ = float(ds["phase_T"])
    blues = ["#f7f7f7", "#c6dbef", "#6baed6", "#2171b5", "#08306b", "#041a3a", "#000000"]
    cmap = ListedColormap(blues[: K + 1])
    norm = BoundaryNorm(np.arange(-0.5, K + 1.0, 1.0), cmap.N)
    mesh = ax.pcolormesh(pg, pla, ds["learned"].values, cmap=cmap, norm=norm, shading="nearest")
    cb = fig.colorbar(mesh, ax=ax, ticks=range(K + 1))
    cb.set_label(rf"modes half learned by $T = {T_:g}$")
    gl = np.linspace(pg[0], pg[-1], 400)
    for s in sigma:
        mu = s - gl
        ok = mu > 0
        ax.plot(gl[ok], 2.0 * T_ * mu[ok] - np.log(mu[ok]), color="C1", lw=1.4, ls="--")
        ax.axvline(s, color="C3", lw=1.0, ls=":")
    ax.plot([], [], color="C1", ls="--", label=r"$\log(1/\alpha) = 2T\mu - \log\mu$")
    ax.plot([], [], color="C3", ls=":", label=r"$\gamma = \sigma_i$")
    ax.set_xlim(pg[0], pg[-1])
    ax.set_ylim(pla[0], pla[-1])
    ax.set_xlabel(r"weight decay $\gamma$  ($\mu = \sigma_i - \gamma$)")
    ax.set_ylabel(r"$\log(1/\alpha)$")
    ax.set_title(r"(c) modes learned by $T$, $W(0) = \alpha I$")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower right", ncols=2, fontsize=10)
    return fig


def tables(ds: xr.Dataset) -> list[Table]:
    sigma = ds["spectrum"].values
    rows = []
    for g in ds["gamma"].values:
        for i, s in enumerate(sigma):
            rows.append(
                [
                    fmt(g),
                    str(i + 1),
                    fmt(s),
                    fmt(max(s - g, 0.0)),
                    fmt(ds["limit_at_gamma"].sel(gamma=g).values[i]),
                    fmt(ds["t_predicted"].sel(gamma=g).values[i]),
                    fmt(ds["t_measured"].sel(gamma=g).values[i]),
                ]
            )
    checks = [
        ["U U^T (max_t ||W_cf - W_ode||_F / ||Y||_F)", fmt(ds["sim_error_sym"])],
        ["balanced U V^T (max_t ||B_cf - B_ode||_F / ||Y||_F)", fmt(ds["sim_error_asym"])],
        ["ODE weight decay gamma", fmt(ds["sim_gamma"])],
        ["ODE rtol", fmt(ds["sim_rtol"])],
    ]
    return [
        Table(
            "Modes under weight decay: soft threshold, exact limit, transition times",
            [
                "gamma",
                "i",
                "sigma_i",
                "(sigma_i - gamma)_+",
                "eigenvalue of W(inf)",
                "predicted t_i",
                "measured t_i",
            ],
            rows,
        ),
        Table("Closed form vs ODE solve of the WeightDecay model", ["check", "value"], checks),
    ]


def text(ds: xr.Dataset) -> list[str]:
    sigma = ds["spectrum"].values
    dev = float(np.max(np.abs(ds["limit"] - ds["soft_threshold"])))
    rel = np.abs(ds["t_measured"] / ds["t_predicted"] - 1.0)
    never = [
        f"{int(np.sum(sigma <= g))} of {sigma.size} modes at gamma = {fmt(g)}"
        for g in ds["gamma"].values
        if np.any(sigma <= g)
    ]
    agree = float(np.mean(ds["learned"].values == ds["learned_predicted"].values))
    g_sim = float(ds["sim_gamma"])
    return [
        "With weight decay gamma the symmetric flow is the plain flow on Y - gamma I, so every "
        "eigenvalue is shifted by -gamma: mode i is learned only if sigma_i > gamma, at about "
        "log(1/alpha) / (2 (sigma_i - gamma)), and converges to sigma_i - gamma. Over the "
        f"{ds['gamma_sweep'].size} values of gamma in [0, {fmt(ds['gamma_sweep'].values[-1])}] "
        "the exact limit equals the soft threshold (sigma_i - gamma)_+ to within "
        f"{fmt(dev)}; the modes never learned ({'; '.join(never) or 'none'}) stay at zero.",
        "Measured first crossings of (sigma_i - gamma)/2 differ from the leading-order "
        f"prediction by at most {fmt(float(np.nanmax(rel)))} relative (general Gaussian init, "
        f"alpha = {fmt(ds['alpha'])}); the phase picture's counts agree with the rule "
        f"log(1/alpha) <= 2 T mu - log mu in {fmt(100 * agree)}% of its cells.",
        f"Independent check (gamma = {fmt(g_sim)}): an ODE solve of the WeightDecay model "
        f"(rtol {fmt(ds['sim_rtol'])}) agrees with the closed form to {fmt(ds['sim_error_sym'])} "
        f"relative (U U^T) and {fmt(ds['sim_error_asym'])} (balanced U V^T, whose limit has the "
        f"soft-thresholded singular values {', '.join(fmt(v) for v in ds['asym_limit'].values)}).",
    ]


SECTION = Section(
    name="weight_decay",
    title="Weight decay: soft-thresholded incremental learning",
    config=Config,
    compute=compute,
    figure=figure,
    tables=tables,
    text=text,
    figsize=(13.0, 5.4),
    quick={"num_times": 401, "sweep_num": 46, "phase_gammas": 29, "phase_alphas": 24},
)
