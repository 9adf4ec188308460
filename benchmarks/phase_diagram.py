"""The lazy/rich phase diagram of a two-layer linear network: closed form against the same grid
computed by gradient descent (issue 13), one run, single-threaded BLAS.

    python benchmarks/phase_diagram.py [--eta 0.004] [--horizon 40]

Prints both wall times, their ratio and the largest difference of every output over the grid
(gradient descent at step ``eta`` agrees with the flow to first order in ``eta``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

import mfflow

OUTPUTS = ("kernel_distance", "representation_distance", "alignment_final", "time_to_learn")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--eta", type=float, default=0.004, help="GD step size (0.004)")
    ap.add_argument("--horizon", type=float, default=40.0, help="common horizon t_end (40)")
    args = ap.parse_args(argv)
    X = mfflow.whitened_inputs(6, 24, seed=0)
    Y = mfflow.teacher_task(X, 4, [3.0, 1.0], seed=1)
    lams = np.array([-10.0, -1.0, -0.1, 0.0, 0.1, 1.0, 10.0])
    scales = np.geomspace(1e-3, 10.0, 5)
    kw = {"h": 4, "horizon": args.horizon}
    with threadpool_limits(1):
        t0 = time.perf_counter()
        exact = mfflow.lazy_rich_phase_diagram(X, Y, lams, scales, **kw)
        t_exact = time.perf_counter() - t0
        t0 = time.perf_counter()
        gd = mfflow.lazy_rich_phase_diagram(X, Y, lams, scales, eta=args.eta, **kw)
        t_gd = time.perf_counter() - t0
    print(f"grid {lams.size} x {scales.size} cells, horizon {args.horizon:g}, GD step {args.eta:g}")
    print(
        f"closed form {t_exact:.2f} s, gradient descent {t_gd:.2f} s: ratio {t_gd / t_exact:.1f}x"
    )
    for name in OUTPUTS:
        a, b = getattr(exact, name), getattr(gd, name)
        ok = np.isfinite(a) & np.isfinite(b)
        print(f"  {name:<24} max |exact - GD| = {float(np.max(np.abs(a - b)[ok])):.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
