"""The dense benchmark with torch on a CUDA device: mfflow's trajectory on CUDA tensors, and the
batched primitives (the floor) on the same device, in float64 and float32.

    python benchmarks/gpu.py [--quick] [--json OUT] [--device cuda|cpu] [--n 50 200 500 ...]

For each dense case (``cases.Case("dense", n, alpha)``: the problems of ``run.py``) and dtype:
``closed_form(Y, U0, alpha)`` on torch tensors (``build``), then at the ``T`` times the learning
curves ``eigvals`` (the backend's ``svdvals``), ``W`` and ``loss``, and the diagonal
(``mode_values``); every timer stops after ``torch.cuda.synchronize()``; best of 3 after a
warm-up. The floor, on stacks of the case's shapes for all ``T`` times at once: ``update``
(``R^T R``), ``cholesky``, ``trsm`` (``solve_triangular``), ``eigvalsh`` (of the case's own
``W~(t)``) and ``svdvals``. Each output is compared with NumPy float64 (same metrics as
``run.py``: eigenvalues relative to the largest, W relative Frobenius, loss relative to its
value at t = 0).

Without a CUDA device (``torch.cuda.is_available()`` false) ``--device cuda`` (the default)
exits with status 2 and says so; ``--device cpu`` runs the same script with torch on the CPU
(to check the script itself, not to measure a GPU).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cases

import mfflow

SCHEMA = "mfflow-gpu-benchmark/1"
FULL = {"n": (50, 200, 500), "alphas": (1e-4, 1e-8, 1e-12)}
QUICK = {"n": (20, 50), "alphas": (1e-4,)}
DTYPES = ("float64", "float32")
OUTPUTS = ("eigvals", "W", "loss", "diag")


def _device_or_exit(name: str) -> Any:
    try:
        import torch
    except ImportError:
        print("gpu.py: torch is not installed (pip install -e '.[torch]')", file=sys.stderr)
        raise SystemExit(2) from None
    if name == "cuda" and not torch.cuda.is_available():
        print(
            f"gpu.py: no CUDA device (torch {torch.__version__}, built with CUDA "
            f"{torch.version.cuda}: torch.cuda.is_available() is False). Run it on a machine "
            "with a GPU, or pass --device cpu to exercise the script on the CPU.",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return torch.device(name)


def _sync(torch: Any, device: Any) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _best(torch: Any, device: Any, fn: Any, repeats: int = 3) -> tuple[float, Any]:
    best, out = math.inf, None
    for _ in range(repeats):
        _sync(torch, device)
        t0 = time.perf_counter()
        res = fn()
        _sync(torch, device)
        dt = time.perf_counter() - t0
        if dt < best:
            best, out = dt, res
    return best, out


def _evaluate(traj: mfflow.Trajectory, ts: np.ndarray, output: str) -> Any:
    if output == "eigvals":
        return traj.eigvals(ts)
    if output == "W":
        return traj.W(ts)
    if output == "loss":
        return traj.loss(ts)
    return traj.mode_values(ts)


def _errors(got: Any, ref: Any, output: str) -> float:
    g = got.detach().cpu().numpy().astype(np.float64)
    if output == "eigvals":
        return float(np.max(cases.eig_errors(g, ref)))
    if output == "loss":
        return float(np.max(cases.loss_errors(g, ref, float(ref[0]))))
    if output == "W":
        num = np.linalg.norm(g - ref, axis=(1, 2))
        return float(np.max(num / np.maximum(np.linalg.norm(ref, axis=(1, 2)), 1e-300)))
    return float(np.max(np.abs(g - ref)) / np.max(np.abs(ref)))


def floor(torch: Any, device: Any, dtype: Any, traj: mfflow.Trajectory, ts: np.ndarray) -> dict:
    """The batched primitives for all ``T`` times at once, on the device."""
    d, m, T = traj.dim, traj.rank, ts.size
    g = torch.Generator(device="cpu").manual_seed(0)
    R = (torch.randn((T, d, m), generator=g, dtype=torch.float64) / math.sqrt(d)).to(device, dtype)
    Rt = R.transpose(1, 2)
    M = Rt @ R + torch.eye(m, device=device, dtype=dtype)
    C = torch.linalg.cholesky(M)
    W = traj.W_eig(ts)  # the case's own W~(t), (T, d, d), on the device
    parts = {
        "update": _best(torch, device, lambda: Rt @ R)[0],
        "cholesky": _best(torch, device, lambda: torch.linalg.cholesky(M))[0],
        "trsm": _best(torch, device, lambda: torch.linalg.solve_triangular(C, Rt, upper=False))[0],
        "eigvalsh": _best(torch, device, lambda: torch.linalg.eigvalsh(W))[0],
        "svdvals": _best(torch, device, lambda: torch.linalg.svdvals(R))[0],
    }
    floors = {
        "eigvals": parts["update"] + parts["cholesky"] + parts["eigvalsh"],
        "diag": parts["update"] + parts["cholesky"] + parts["trsm"],
    }
    return {"primitives_s": parts, "floors_s": floors}


def run_case(torch: Any, device: Any, case: cases.Case, dtype_name: str) -> dict[str, Any]:
    p = cases.build(case)
    assert p.Y is not None
    dtype = getattr(torch, dtype_name)
    Y = torch.as_tensor(np.array(p.Y), dtype=dtype, device=device)
    U0 = torch.as_tensor(np.array(p.U0), dtype=dtype, device=device)
    ref_traj = mfflow.closed_form(p.Y, p.U0, case.alpha)
    build_s, traj = _best(torch, device, lambda: mfflow.closed_form(Y, U0, case.alpha))
    out: dict[str, Any] = {
        "case": case.name,
        "n": case.n,
        "alpha": case.alpha,
        "dtype": dtype_name,
        "T": p.ts.size,
        "build_s": build_s,
        "describe": traj.describe(),
        "outputs": {},
    }
    for output in OUTPUTS:
        eval_s, val = _best(torch, device, lambda o=output: _evaluate(traj, p.ts, o))
        ref = _evaluate(ref_traj, p.ts, output)
        out["outputs"][output] = {
            "time_s": build_s + eval_s,
            "eval_s": eval_s,
            "rel_error_vs_numpy_float64": _errors(val, ref, output),
        }
        del val
    out["floor"] = floor(torch, device, dtype, traj, p.ts)
    for output in ("eigvals", "diag"):
        f = out["floor"]["floors_s"][output]
        out["outputs"][output]["x_floor"] = out["outputs"][output]["eval_s"] / f
    return out


def print_table(report: dict[str, Any]) -> None:
    head = ["case", "dtype", "build", "eigvals", "W", "loss", "diag", "x floor (eig)", "err eig"]
    lines = []
    for r in report["results"]:
        o = r["outputs"]
        lines.append(
            [
                r["case"],
                r["dtype"],
                f"{1e3 * r['build_s']:.3g} ms",
                *(f"{1e3 * o[k]['eval_s']:.3g} ms" for k in ("eigvals", "W", "loss", "diag")),
                f"{o['eigvals']['x_floor']:.2g}x",
                f"{o['eigvals']['rel_error_vs_numpy_float64']:.1e}",
            ]
        )
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    print(f"device: {report['device']}")
    print(fmt.format(*head))
    print(fmt.format(*["-" * w for w in widths]))
    for line in lines:
        print(fmt.format(*line))
    print(
        "\ntimes: evaluation at all T times (build apart); x floor = eigvals evaluation / "
        "(batched update + cholesky + eigvalsh on the device); err eig: eigenvalues against "
        "NumPy float64, relative to the largest."
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--quick", action="store_true", help="n in {20, 50}, one alpha")
    ap.add_argument("--json", type=Path, help="write every figure to this file")
    ap.add_argument("--n", type=int, nargs="+", help="sizes (default 50 200 500)")
    args = ap.parse_args(argv)
    device = _device_or_exit(args.device)
    import torch

    grid = dict(QUICK if args.quick else FULL)
    if args.n:
        grid["n"] = tuple(args.n)
    if device.type == "cpu":
        torch.set_num_threads(1)
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = platform.processor() or platform.machine()
    t_start = time.perf_counter()
    warm = cases.build(cases.Case("dense", 8, 1e-4))
    for dt in DTYPES:
        y = torch.as_tensor(np.array(warm.Y), dtype=getattr(torch, dt), device=device)
        u = torch.as_tensor(np.array(warm.U0), dtype=getattr(torch, dt), device=device)
        tr = mfflow.closed_form(y, u, 1e-4)
        for output in OUTPUTS:
            _evaluate(tr, warm.ts, output)
    results = []
    for dt in DTYPES:
        for n in grid["n"]:
            for alpha in grid["alphas"]:
                res = run_case(torch, device, cases.Case("dense", n, alpha), dt)
                results.append(res)
                print(
                    f"[{time.perf_counter() - t_start:6.1f} s] {res['case']} {dt}: eigvals "
                    f"{1e3 * res['outputs']['eigvals']['eval_s']:.3g} ms",
                    file=sys.stderr,
                    flush=True,
                )
    report = {
        "schema": SCHEMA,
        "mode": "quick" if args.quick else "full",
        "device": f"{device.type}: {name}",
        "versions": {
            p: _version(p) for p in ("mfflow", "numpy", "torch") if _version(p) is not None
        },
        "cuda": torch.version.cuda,
        "grid": {"n": list(grid["n"]), "alphas": list(grid["alphas"]), "dtypes": list(DTYPES)},
        "results": results,
        "elapsed_s": time.perf_counter() - t_start,
    }
    print_table(report)
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


def _version(pkg: str) -> str | None:
    try:
        return importlib.metadata.version(pkg)
    except importlib.metadata.PackageNotFoundError:
        return None


if __name__ == "__main__":
    raise SystemExit(main())
