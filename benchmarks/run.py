"""Benchmark mfflow's closed form against the solvers users would pick instead.

    python benchmarks/run.py [--quick] [--json OUT]

One run, one machine. Phase 1 times mfflow on every case (and the n = 10^6 low-rank case in
its own process, for its peak RSS), checks it against mpmath on the small cases and measures the
machine's batched Cholesky-solve rate. Phase 2 drives each competitor (scipy DOP853 / RK45,
diffrax Dopri8, torchdiffeq dopri5, gradient descent) to matched accuracy in a worker process,
under a per-case cap and a global budget. See benchmarks/README.md for the method.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import multiprocessing as mp
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _pin_threads(argv: list[str]) -> None:
    """``--threads N`` must act before NumPy (and its BLAS) is imported, in this process and in
    the spawned workers, which inherit the environment."""
    for i, a in enumerate(argv):
        val = a.split("=", 1)[1] if a.startswith("--threads=") else None
        if a == "--threads" and i + 1 < len(argv):
            val = argv[i + 1]
        if val is not None:
            for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ[var] = val
            os.environ["MFFLOW_BENCH_THREADS"] = val
            if val == "1":
                os.environ["XLA_FLAGS"] = (
                    os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
                ).strip()


_pin_threads(sys.argv[1:])

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cases  # noqa: E402
import competitors  # noqa: E402
import mpref  # noqa: E402
import timing  # noqa: E402

import mfflow  # noqa: E402

SCHEMA = "mfflow-benchmark/1"


#: Per-mode settings: seconds per competitor per case, mfflow's cap per case, the budget for
#: phase 2 (competitors) counted from the start of the run, and the large case's n.
SETTINGS = {
    "quick": {"cap_s": 3.0, "mfflow_cap_s": 10.0, "budget_s": 45.0, "large_n": 100_000},
    "full": {"cap_s": 15.0, "mfflow_cap_s": 20.0, "budget_s": 480.0, "large_n": 1_000_000},
}
LARGE = {"K": 10, "r": 10, "alpha": 1e-12}
#: Cases whose n is at most this are checked against mpmath.
MPMATH_MAX_N = 10
MPMATH_POINTS = 5


# ---- environment --------------------------------------------------------------------------
def _version(pkg: str) -> str | None:
    try:
        return importlib.metadata.version(pkg)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    blas: Any = None
    try:
        cfg = np.show_config(mode="dicts")
        deps = cfg.get("Build Dependencies", {})
        blas = {k: deps.get(k) for k in ("blas", "lapack")}
    except Exception as exc:  # older numpy: no dict mode
        blas = f"unavailable ({exc})"
    return {
        "cpu_count": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "versions": {
            p: _version(p)
            for p in (
                "mfflow",
                "numpy",
                "scipy",
                "mpmath",
                "jax",
                "jaxlib",
                "diffrax",
                "torch",
                "torchdiffeq",
            )
        },
        "blas": blas,
        "threads_env": {
            k: os.environ.get(k)
            for k in (
                "OMP_NUM_THREADS",
                "OPENBLAS_NUM_THREADS",
                "MKL_NUM_THREADS",
                "XLA_FLAGS",
                "MFFLOW_BENCH_THREADS",
            )
        },
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


# ---- worker processes ---------------------------------------------------------------------
class Worker:
    """A spawned competitor runner; killed (and later respawned) when a request overruns."""

    def __init__(self) -> None:
        self.ctx = mp.get_context("spawn")
        self.proc: Any = None
        self.conn: Any = None

    def _start(self) -> None:
        parent, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=competitors.worker_main, args=(child,), daemon=True)
        self.proc.start()
        child.close()
        self.conn = parent

    def run(self, task: tuple, hard_timeout: float) -> dict[str, Any]:
        if self.proc is None or not self.proc.is_alive():
            self._start()
        self.conn.send(task)
        end = time.perf_counter() + hard_timeout
        last: dict[str, Any] = {}
        while True:
            left = end - time.perf_counter()
            if left <= 0 or not self.conn.poll(left):
                self.kill()
                rungs = last.get("rungs", [])
                errs = [g["rel_error"] for g in rungs if g.get("rel_error") is not None]
                return {
                    "status": "timeout",
                    "time_s": None,
                    "tol": None,
                    "rel_error": min(errs) if errs else None,
                    "rungs": rungs,
                    "note": f"killed after {hard_timeout:.0f} s (not interruptible in-process)",
                }
            try:
                msg = self.conn.recv()
            except EOFError:
                self.kill()
                return {"status": "error", "time_s": None, "note": "worker died", "rungs": []}
            if "progress" in msg:
                last = msg["progress"]
            else:
                return msg["result"]

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()  # only the worker this object started
            self.proc.join()
        self.proc = None

    def close(self) -> None:
        if self.proc is not None and self.proc.is_alive():
            self.conn.send(None)
            self.proc.join(timeout=10)
            if self.proc.is_alive():
                self.kill()
        self.proc = None


def run_large(n: int, timeout: float) -> dict[str, Any]:
    """The large low-rank case in a fresh process (isolated peak RSS)."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(
        target=timing.large_case,
        args=(n, LARGE["K"], LARGE["r"], LARGE["alpha"], child),
        daemon=True,
    )
    proc.start()
    child.close()
    if parent.poll(timeout):
        res = parent.recv()
    else:
        res = {"status": "timeout", "note": f"no result after {timeout:.0f} s"}
        proc.kill()
    proc.join()
    return res


# ---- phase 1: mfflow ------------------------------------------------------------------------
def mpmath_check(p: cases.Problem, traj_factor: np.ndarray, idx: np.ndarray) -> float:
    assert p.Y is not None
    ref = mpref.closed_form_mp(p.Y, p.U0, p.case.alpha, p.ts[idx])
    got = traj_factor @ np.swapaxes(traj_factor, 1, 2)
    errs = [np.linalg.norm(g - w) / np.linalg.norm(w) for g, w in zip(got, ref, strict=True)]
    return float(max(errs))


def phase_mfflow(case: cases.Case, settings: dict[str, Any]) -> dict[str, Any]:
    p = cases.build(case)
    res = timing.time_mfflow(p, settings["mfflow_cap_s"])
    if case.n <= MPMATH_MAX_N:
        idx = np.linspace(1, p.ts.size - 1, MPMATH_POINTS).astype(int)
        traj = mfflow.closed_form(p.target, p.U0, case.alpha)
        res["mpmath_rel_error"] = mpmath_check(p, traj.factor(p.ts[idx]), idx)
        res["mpmath_times"] = [float(t) for t in p.ts[idx]]
    if res["path"] == "dense" and not res["reduced"]:
        rate = timing.machine_rate(res["dim"], res["rank"])
        res["machine"] = rate
        res["fraction_of_machine"] = res["dense_gflops_per_s"] / rate["gflops_per_s"]
    return res


def save_reference(case: cases.Case, folder: Path) -> Path:
    """mfflow's factors at the checked times, saved for the worker: ``(Tc, n, m)``."""
    p = cases.build(case)
    traj = mfflow.closed_form(p.target, p.U0, case.alpha)
    idx = case.check_indices()
    path = folder / f"ref_{case.structure}_{case.n}_{case.alpha:.0e}.npy"
    first = traj.factor(p.ts[idx[:1]])
    out = np.lib.format.open_memmap(path, mode="w+", shape=(idx.size, *first.shape[1:]))
    for j, i in enumerate(idx):
        out[j] = traj.factor(p.ts[i])
    out.flush()
    del out
    return path


# ---- phase 2: competitors -------------------------------------------------------------------
def _inferred(history: dict, name: str, case: cases.Case) -> dict[str, Any] | None:
    """A timeout (or an accuracy floor) at a smaller n of the same structure and alpha carries
    over: the competitor's cost grows with n, its rounding floor does not shrink."""
    prev = history.get((name, case.structure, case.alpha))
    if prev is None or name == "gd":  # GD bounds its own cost (probe, then projection)
        return None
    status, n_prev, err = prev
    if status == "timeout":
        note = f"not run: timed out at n={n_prev}"
    elif status == "unable" and case.alpha < 1e-20:
        note = f"not run: unable at n={n_prev} (accuracy floor)"
    else:
        return None
    return {"status": status, "inferred": True, "time_s": None, "rel_error": err, "note": note}


def phase_competitors(rows: list[dict[str, Any]], settings: dict[str, Any], t_start: float) -> None:
    worker = Worker()
    history: dict[tuple, tuple] = {}
    with tempfile.TemporaryDirectory(prefix="mfflow-bench-") as tmp:
        try:
            for row in sorted(rows, key=_rhs_cost):
                case = row["_case"]
                ref: Path | None = None
                for name in competitors.COMPETITORS:
                    cap = settings["cap_s"]
                    if not competitors.installed(name):
                        res = {"status": "not installed", "time_s": None}
                    elif (inf := _inferred(history, name, case)) is not None:
                        res = inf
                    elif time.perf_counter() - t_start > settings["budget_s"]:
                        res = {"status": "skipped", "time_s": None, "note": "global time budget"}
                    else:
                        if ref is None:
                            ref = save_reference(case, Path(tmp))
                        res = worker.run((name, case, str(ref), cap), 1.5 * cap + 30.0)
                        history[(name, case.structure, case.alpha)] = (
                            res["status"],
                            case.n,
                            res.get("rel_error"),
                        )
                    _add_ratio(res, row["mfflow"]["time_s"], cap)
                    row["competitors"][name] = res
                    _log(t_start, f"{case.name:<34s} {name:<19s} {_cell(res)}")
                if ref is not None:
                    ref.unlink()
        finally:
            worker.close()


def _rhs_cost(row: dict[str, Any]) -> tuple[float, int]:
    """Competitors run cheapest first (a right-hand side costs ~n r K for a low-rank target,
    ~n^2 r otherwise), so the global budget cuts the most expensive cases, and every structure
    still meets its smaller n before its larger ones."""
    case = row["_case"]
    width = case.K if case.structure == "lowrank" else case.n
    return (case.n * case.r * width, -int(math.log10(case.alpha)))


def _add_ratio(res: dict[str, Any], mf_time: float, cap: float) -> None:
    res["ratio"] = None
    if res["status"] == "ok" and res.get("time_s"):
        res["ratio"] = res["time_s"] / mf_time
    elif res["status"] == "timeout" and not res.get("inferred"):
        res["ratio_at_least"] = cap / mf_time
        if res.get("projected_s"):
            res["ratio_projected"] = res["projected_s"] / mf_time


def _log(t_start: float, msg: str) -> None:
    print(f"[{time.perf_counter() - t_start:6.1f} s] {msg}", file=sys.stderr, flush=True)


# ---- output ---------------------------------------------------------------------------------
def _fmt_ratio(x: float) -> str:
    return f"{x:.3g}x" if x < 1e4 else f"{x:.1e}x"


def _cell(res: dict[str, Any]) -> str:
    st = res["status"]
    if st == "ok":
        return f"{_fmt_ratio(res['ratio'])} ({res['time_s']:.3g}s)"
    if st == "timeout":
        mark = "*" if res.get("inferred") else ""
        if res.get("ratio_projected"):
            return f"T/O{mark} ~{_fmt_ratio(res['ratio_projected'])}"
        if res.get("ratio_at_least"):
            return f"T/O{mark} >{_fmt_ratio(res['ratio_at_least'])}"
        return f"T/O{mark}"
    if st == "unable":
        mark = "*" if res.get("inferred") else ""
        err = res.get("rel_error")
        return f"unable{mark} {err:.0e}" if err is not None else f"unable{mark}"
    return {"not installed": "n/i", "skipped": "skip", "error": "error"}.get(st, st)


def print_table(report: dict[str, Any]) -> None:
    names = list(competitors.COMPETITORS)
    short = {
        "scipy-DOP853": "DOP853",
        "scipy-RK45": "RK45",
        "diffrax-Dopri8": "diffrax",
        "torchdiffeq-dopri5": "torchdiffeq",
        "gd": "GD",
    }
    head = ["case", "path", "mfflow s", "MB", "%mach", "mp err", *[short[n] for n in names]]
    lines = []
    for row in report["cases"]:
        mf = row["mfflow"]
        t = f"{mf['time_s']:.3g}" + ("~" if mf["status"] == "projected" else "")
        frac = f"{100 * mf['fraction_of_machine']:.0f}%" if "fraction_of_machine" in mf else ""
        mperr = f"{mf['mpmath_rel_error']:.0e}" if "mpmath_rel_error" in mf else ""
        path = mf["path"] + ("/red" if mf["reduced"] else "")
        cells = [_cell(row["competitors"][n]) for n in names]
        lines.append([row["name"], path, t, f"{mf['peak_mb']:.0f}", frac, mperr, *cells])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    print(fmt.format(*head))
    print(fmt.format(*["-" * w for w in widths]))
    for line in lines:
        print(fmt.format(*line))
    lg = report["large"]
    if lg.get("status") == "ok":
        print(
            f"\nlarge low-rank case: n={lg['n']:.0e}, K={lg['K']}, r={lg['r']}, "
            f"alpha={lg['alpha']:.0e}, T={lg['T']}: mfflow {lg['time_s']:.3g} s "
            f"(build {lg['build_s']:.3g} s), peak RSS {lg['peak_rss_mb']:.0f} MB "
            f"(process before the case: {lg['rss_before_mb']:.0f} MB; inputs "
            f"{lg['inputs_mb']:.0f} MB), tracemalloc peak {lg['tracemalloc_peak_mb']:.0f} MB"
        )
    else:
        print(f"\nlarge low-rank case: {lg.get('status')}: {lg.get('note', '')}")
    print(
        "\nratio = competitor time / mfflow time at matched accuracy (rel. Frobenius error of "
        f"W(t) <= {cases.TARGET_ERROR:g} at every checked time); T/O >Rx: timed out at the "
        "cap (ratio at least R); T/O ~Rx: gradient descent's projected ratio; unable E: best "
        "error E reached; * inferred from a smaller n; n/i: not installed; ~ after mfflow's "
        "time: projected from a subset of time points; %mach: mfflow's dense-path flop rate / "
        "the machine's batched Cholesky+triangular-solve rate; mp err: mfflow vs mpmath."
    )


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items() if not k.startswith("_")}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, np.floating | np.integer):
        return _jsonable(x.item())
    return x


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes, short caps (< 60 s)")
    ap.add_argument("--json", type=Path, help="write the figures to this file")
    ap.add_argument(
        "--threads",
        type=int,
        help="BLAS/OpenMP/torch threads (default: the libraries' own choice, all cores)",
    )
    args = ap.parse_args(argv)
    mode = "quick" if args.quick else "full"
    settings = SETTINGS[mode]
    t_start = time.perf_counter()
    np.seterr(all="ignore")

    print(f"mfflow benchmark ({mode} mode)", file=sys.stderr, flush=True)
    large = run_large(settings["large_n"], timeout=300.0)
    _log(t_start, f"large case: {large.get('status')}")
    timing.warm_up()
    rows: list[dict[str, Any]] = []
    for case in cases.grid(args.quick):
        mf = phase_mfflow(case, settings)
        _log(t_start, f"{case.name:<34s} mfflow {mf['time_s']:.3g} s")
        rows.append(
            {
                "_case": case,
                "name": case.name,
                "structure": case.structure,
                "n": case.n,
                "alpha": case.alpha,
                "K": case.K,
                "r": case.r,
                "T": cases.T_POINTS,
                "t_max": float(case.times()[-1]),
                "checked_points": int(case.check_indices().size),
                "mfflow": mf,
                "competitors": {},
            }
        )
    phase_competitors(rows, settings, t_start)
    report = {
        "schema": SCHEMA,
        "mode": mode,
        "command": " ".join(["python", "benchmarks/run.py", *(argv or sys.argv[1:])]),
        "target_rel_error": cases.TARGET_ERROR,
        "settings": {
            **settings,
            "spectrum": list(cases.SPECTRUM),
            "lowrank_r": cases.R_LOW,
            "time_points": cases.T_POINTS,
            "t_max_over_last_transition": cases.T_FACTOR,
            "rtol_ladder": list(competitors.RTOL_LADDER),
            "large": LARGE,
        },
        "machine": machine_info(),
        "competitors": list(competitors.COMPETITORS),
        "cases": rows,
        "large": large,
        "elapsed_s": time.perf_counter() - t_start,
    }
    print_table(report)
    print(f"\nelapsed {report['elapsed_s']:.0f} s", file=sys.stderr)
    if args.json is not None:
        args.json.write_text(json.dumps(_jsonable(report), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
