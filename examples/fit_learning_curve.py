"""Fit the initialization scale and the step size of a gradient-descent run to its noisy
learning curves, by gradient descent *through the exact trajectory*.

The data: gradient descent on ``1/4 ||Y - U U^T||_F^2`` from ``U_0 = sqrt(alpha*) U0`` with step
``eta*``, its eigenvalue learning curves recorded every 25 steps with 3% multiplicative and
``1e-3`` additive noise. The model: the exact gradient-flow curves
``eigvals(W(k eta; alpha))`` at the same iteration indices ``k``, as a differentiable function of
``(log alpha, log eta)`` (torch autograd through :func:`mfflow.closed_form`), minimized by
L-BFGS. Only ``alpha``
times the init's squared scale is identifiable (``U(0) = sqrt(alpha) c U0`` depends on
``alpha c^2``), so the two parameters fitted are the scale ``alpha`` (``U0`` known) and the step
``eta`` that converts iterations into flow time; the loss is the mean squared error of the
curves.

Why it matters: each loss evaluation is an exact solution (no ODE solve to differentiate
through, no step-size error), at alpha = 1e-10 where a float64 ODE solver needs a scaled absolute
tolerance to be right at all; the fitted ``eta`` absorbs gradient descent's first-order lag.

Run::

    python examples/fit_learning_curve.py OUTDIR

It prints the fitted values and writes ``OUTDIR/fit_learning_curve.png``: left, the observed
curves (dots) and the fitted exact curves (lines); right, the fitting loss per evaluation.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import mfflow

TRUE_ALPHA, TRUE_ETA = 1e-10, 0.02
SPECTRUM = [4.0, 2.0, 1.0]
N, R = 6, 6


def observations(
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """``(Y, U0, steps, noisy eigenvalues (T, 3), noise variance)`` from one gradient-descent
    run; the noise variance is the mean squared error a perfect model would have."""
    Y = mfflow.make_target(SPECTRUM, n=N, seed=seed)
    U0 = mfflow.gaussian_init(N, R, seed=seed + 1)
    last = math.ceil(1.6 * math.log(1 / TRUE_ALPHA) / (2 * min(SPECTRUM)) / TRUE_ETA)
    steps = np.arange(0, last + 1, 25)
    run = mfflow.simulate_gd(Y, U0, TRUE_ALPHA, TRUE_ETA, steps=steps)
    clean = np.linalg.eigvalsh(run.W)[:, ::-1][:, : len(SPECTRUM)]
    rng = np.random.default_rng(seed + 2)
    noisy = clean * (1 + 0.03 * rng.standard_normal(clean.shape))
    noisy += 1e-3 * rng.standard_normal(clean.shape)
    noise_var = float(np.mean((0.03 * clean) ** 2) + 1e-6)
    return Y, U0, steps, noisy, noise_var


def fit(Y, U0, steps, observed, iterations: int = 60) -> dict[str, object]:
    """L-BFGS on ``(log alpha, log eta)`` from a poor start; returns the trace and the result.

    ``log eta`` and ``log alpha`` are strongly coupled (a transition happens near iteration
    ``log(1/alpha) / (2 sigma eta)``), which a quasi-Newton method handles far better than a
    first-order one; every loss and gradient is one exact evaluation.
    """
    y, u0 = torch.tensor(Y), torch.tensor(U0)
    k = torch.tensor(steps, dtype=torch.float64)
    obs = torch.tensor(observed)
    log_alpha = torch.tensor(math.log(1e-4), dtype=torch.float64, requires_grad=True)
    log_eta = torch.tensor(math.log(0.05), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS(
        [log_alpha, log_eta], lr=1.0, max_iter=iterations, line_search_fn="strong_wolfe"
    )
    losses: list[float] = []

    def closure() -> torch.Tensor:
        opt.zero_grad()
        traj = mfflow.closed_form(y, u0, torch.exp(log_alpha))
        pred = traj.eigvals(k * torch.exp(log_eta), k=len(SPECTRUM))
        loss = torch.mean((pred - obs) ** 2)
        loss.backward()
        losses.append(loss.item())
        return loss

    start = time.perf_counter()
    opt.step(closure)
    seconds = time.perf_counter() - start
    return {
        "alpha": math.exp(log_alpha.item()),
        "eta": math.exp(log_eta.item()),
        "losses": np.array(losses),
        "seconds": seconds,
    }


def figure(steps, observed, noise_var, result) -> Figure:
    fig = Figure(figsize=(10.5, 4.0), layout="constrained")
    ax, ax_loss = fig.subplots(1, 2, width_ratios=[1.6, 1])
    Y, U0, *_ = observations()
    fine = np.linspace(0, steps[-1], 600)
    fitted = mfflow.closed_form(Y, U0, result["alpha"]).eigvals(fine * result["eta"], k=3)
    colors = ["#1f77b4", "#d62728", "#2ca02c"]
    for i, sigma in enumerate(SPECTRUM):
        ax.plot(steps, observed[:, i], "o", ms=2.5, color=colors[i], alpha=0.6)
        ax.plot(
            fine, fitted[:, i], "-", lw=1.4, color=colors[i], label=f"$\\sigma_{i + 1} = {sigma:g}$"
        )
    ax.plot([], [], "o", ms=3, color="0.4", label="gradient descent, noisy (data)")
    ax.plot([], [], "-", color="0.4", label="exact flow, fitted (model)")
    ax.set_xlabel("gradient-descent iteration k")
    ax.set_ylabel("eigenvalues of $W$")
    ax.set_title(
        f"fitted $\\alpha$ = {result['alpha']:.2e} (true {TRUE_ALPHA:.0e}), "
        f"$\\eta$ = {result['eta']:.4f} (true {TRUE_ETA})",
        fontsize=10,
    )
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax_loss.semilogy(result["losses"], color="k", lw=1.2, label="fitting loss")
    ax_loss.axhline(noise_var, color="0.5", ls="--", lw=1, label="variance of the data's noise")
    ax_loss.legend(loc="upper right", fontsize=8, frameon=False)
    ax_loss.set_xlabel("loss evaluation (L-BFGS, incl. line search)")
    ax_loss.set_ylabel("mean squared error of the curves")
    ax_loss.set_title("fit through the exact trajectory", fontsize=10)
    return fig


def main(out: str) -> None:
    Y, U0, steps, observed, noise_var = observations()
    result = fit(Y, U0, steps, observed)
    print(
        f"alpha: fitted {result['alpha']:.3e}, true {TRUE_ALPHA:.0e}; "
        f"eta: fitted {result['eta']:.5f}, true {TRUE_ETA}; "
        f"final MSE {result['losses'][-1]:.2e} (noise variance {noise_var:.2e}); "
        f"{len(result['losses'])} evaluations in "
        f"{result['seconds']:.1f} s"
    )
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    fig = figure(steps, observed, noise_var, result)
    FigureCanvasAgg(fig)
    fig.savefig(folder / "fit_learning_curve.png", dpi=150)
    print(f"wrote {folder / 'fit_learning_curve.png'}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "fit-output")
