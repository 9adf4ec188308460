"""The cost of a gradient through the exact trajectory, relative to the forward pass.

For dense problems (Gaussian init, r = n) at 200 time points, times

* torch: ``closed_form(...)`` + an output (the loss curve, or the eigenvalue curves) with
  ``U0`` and ``alpha`` requiring grad, forward alone vs forward + ``backward()``;
* JAX: the same function jitted, value vs ``jax.value_and_grad`` (after compilation; the
  compile time is reported separately);

and prints the ratio (gradient time / forward time), single-threaded::

    python benchmarks/gradients.py [--json OUT] [--repeats 5]

Reverse mode costs a small multiple of the forward pass (the backward of the batched Cholesky,
triangular solves and, for eigenvalues, the SVD); finite differences would cost ``2 n r + 2``
forward passes for the same gradient.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MFFLOW_NUM_THREADS", "1")

import numpy as np

import mfflow

SIZES = (10, 50)
T = 200


def _problem(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    Y = mfflow.make_target(np.linspace(3.0, 1.0, 4), n=n, seed=0)
    U0 = mfflow.gaussian_init(n, n, seed=1)
    alpha = 1e-8
    t = np.linspace(0.0, 1.5 * np.log(1 / alpha) / 2.0, T)
    return Y, U0, t, alpha


def _best(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_torch(n: int, output: str, repeats: int) -> dict[str, float]:
    import torch

    torch.set_num_threads(1)
    Y, U0, t, alpha = _problem(n)
    y, tt = torch.tensor(Y), torch.tensor(t)

    def forward(grad: bool) -> None:
        u0 = torch.tensor(U0, requires_grad=grad)
        a = torch.tensor(alpha, dtype=torch.float64, requires_grad=grad)
        traj = mfflow.closed_form(y, u0, a)
        val = traj.loss(tt).sum() if output == "loss" else traj.eigvals(tt).sum()
        if grad:
            val.backward()

    fwd = _best(lambda: forward(False), repeats)
    both = _best(lambda: forward(True), repeats)
    return {"forward_s": fwd, "forward_backward_s": both, "ratio": both / fwd}


def bench_jax(n: int, output: str, repeats: int) -> dict[str, float]:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    Y, U0, t, alpha = _problem(n)
    y, tt = jnp.asarray(Y), jnp.asarray(t)
    structure = mfflow.riccati.analyze(Y, U0, spectral=False)

    def f(u0: jnp.ndarray, la: jnp.ndarray) -> jnp.ndarray:
        traj = mfflow.closed_form(y, u0, jnp.exp(la), structure=structure)
        return traj.loss(tt).sum() if output == "loss" else traj.eigvals(tt).sum()

    value = jax.jit(f)
    grad = jax.jit(jax.value_and_grad(f, argnums=(0, 1)))
    u0, la = jnp.asarray(U0), jnp.asarray(np.log(alpha))
    start = time.perf_counter()
    jax.block_until_ready(value(u0, la))
    jax.block_until_ready(grad(u0, la))
    compile_s = time.perf_counter() - start
    fwd = _best(lambda: jax.block_until_ready(value(u0, la)), repeats)
    both = _best(lambda: jax.block_until_ready(grad(u0, la)), repeats)
    return {"forward_s": fwd, "value_and_grad_s": both, "ratio": both / fwd, "compile_s": compile_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = []
    for n in SIZES:
        for output in ("loss", "eigvals"):
            for lib, bench in (("torch", bench_torch), ("jax", bench_jax)):
                res = {"n": n, "output": output, "library": lib, **bench(n, output, args.repeats)}
                rows.append(res)
                print(
                    f"n={n:3d} {output:8s} {lib:5s} forward {res['forward_s'] * 1e3:8.1f} ms  "
                    f"gradient/forward {res['ratio']:5.2f}"
                    + (f"  (jit compile {res['compile_s']:.1f} s)" if "compile_s" in res else "")
                )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"T": T, "alpha": 1e-8, "rows": rows, "load": os.getloadavg()}, fh, indent=1)


if __name__ == "__main__":
    main()
