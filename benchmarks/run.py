"""Benchmark mfflow's closed form against what a user would run instead, output by output.

    python benchmarks/run.py [--quick] [--json OUT] [--markdown] [--threads N]
    python benchmarks/run.py --from-json OUT [--markdown]      # re-print a saved run

One run, one machine, single-threaded by default. Phase 1 times mfflow on every case and every
output (learning curves, W, loss; and the diagonal), the floor (the batched primitives any exact
method needs, in the same run), checks the closed form against mpmath on small problems, and
measures mfflow's thread scaling and its cost and memory versus the number of time points.
Phase 2 drives each competitor (scipy DOP853 / RK45, diffrax Dopri8, torchdiffeq dopri5, and
the structure-aware spectral-ODE / reduced-ODE) to matched accuracy, output by output, in a
worker process, under a per-case cap and a global budget. See benchmarks/README.md.
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
    """``--threads N`` (default 1) must act before NumPy (and its BLAS) is imported, in this
    process and in the spawned workers, which inherit the environment. mfflow's own chunk
    threads follow it too (``MFFLOW_NUM_THREADS``), except in the thread-scaling measurement."""
    if "--from-json" in argv or any(a.startswith("--from-json=") for a in argv):
        return
    val = "1"
    for i, a in enumerate(argv):
        if a.startswith("--threads="):
            val = a.split("=", 1)[1]
        elif a == "--threads" and i + 1 < len(argv):
            val = argv[i + 1]
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "MFFLOW_NUM_THREADS"):
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
import floor  # noqa: E402
import mpref  # noqa: E402
import timing  # noqa: E402

import mfflow  # noqa: E402

SCHEMA = "mfflow-benchmark/2"

#: Per-mode settings: seconds per competitor per case (the whole tolerance ladder), the time
#: from the start of phase 2 after which no competitor starts, thread- and T-scaling problems.
SETTINGS: dict[str, dict[str, Any]] = {
    "quick": {
        "cap_s": 3.0,
        "budget_s": 15.0,
        "scaling_n": 50,
        "scaling_alpha": 1e-8,
        "T_values": (100, 400, 1600),
    },
    "full": {
        "cap_s": 15.0,
        "budget_s": 420.0,
        "scaling_n": 200,
        "scaling_alpha": 1e-8,
        "T_values": (200, 1000, 5000),
    },
}
#: Seconds a worker may overrun its cap before it is killed (a jitted diffrax loop cannot be
#: interrupted; compile time is added on top, reported by the worker).
KILL_GRACE_S = 15.0
#: Seconds a compile (diffrax's jit) may take before its worker is killed.
COMPILE_LIMIT_S = 300.0
#: mpmath checks: n, the low-rank check's K = r, the fractions of t_max checked.
MP_N = 10
MP_LOWRANK_K = 3
MP_FRACTIONS = (0.0, 0.35, 0.7, 1.0)
SHORT = {
    "scipy-DOP853": "DOP853",
    "scipy-RK45": "RK45",
    "diffrax-Dopri8": "Dopri8",
    "torchdiffeq-dopri5": "dopri5",
    "spectral-ODE": "struct-ODE",
    "reduced-ODE": "struct-ODE",
}
COLUMNS = ("DOP853", "RK45", "Dopri8", "dopri5", "struct-ODE")
#: Phase 2 runs these groups of competitors one after the other over the whole grid.
PASSES = (
    ("spectral-ODE", "reduced-ODE", "scipy-DOP853"),
    ("diffrax-Dopri8",),
    ("scipy-RK45", "torchdiffeq-dopri5"),
)


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
    pkgs = (
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
    return {
        "cpu_count": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "versions": {p: _version(p) for p in pkgs},
        "blas": blas,
        "threads_env": {
            k: os.environ.get(k)
            for k in (
                "OMP_NUM_THREADS",
                "OPENBLAS_NUM_THREADS",
                "MKL_NUM_THREADS",
                "MFFLOW_NUM_THREADS",
                "XLA_FLAGS",
            )
        },
    }


def _load() -> list[float] | None:
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


# ---- worker processes ---------------------------------------------------------------------
class Worker:
    """A spawned competitor runner; killed (and later respawned) when a request overruns."""

    def __init__(self) -> None:
        self.ctx = mp.get_context("spawn")
        self.proc: Any = None
        self.conn: Any = None

    def start(self) -> None:
        """Spawn the worker and wait until it has imported everything (before any timing, so
        its start-up neither overlaps a measurement nor counts against a competitor's cap)."""
        parent, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=competitors.worker_main, args=(child,), daemon=True)
        self.proc.start()
        child.close()
        self.conn = parent
        self.conn.send("ping")
        self.conn.recv()

    def run(self, task: tuple, case: cases.Case, cap: float) -> dict[str, Any]:
        if self.proc is None or not self.proc.is_alive():
            self.start()
        self.conn.send(task)
        end = time.perf_counter() + cap + KILL_GRACE_S
        rungs: list[dict[str, Any]] = []
        left_at_pause = cap + KILL_GRACE_S
        while True:
            left = end - time.perf_counter()
            if left <= 0 or not self.conn.poll(left):
                self.kill()
                note = f"killed after its cap of {cap:g} s (not interruptible in-process)"
                return _killed(case, rungs, note, cap)
            try:
                msg = self.conn.recv()
            except EOFError:
                self.kill()
                return competitors.not_run(case, "error", "worker died")
            if "progress" in msg:
                prog = msg["progress"]
                if prog.get("pause"):  # a compile: its time is not charged (up to a limit)
                    left_at_pause = end - time.perf_counter()
                    end = time.perf_counter() + COMPILE_LIMIT_S
                elif prog.get("resume"):
                    end = time.perf_counter() + left_at_pause
                end += prog.get("extend_s", 0.0)
                rungs = prog.get("rungs", rungs)
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


def _killed(case: cases.Case, rungs: list[dict], note: str, cap: float) -> dict[str, Any]:
    slowest = max([g.get("solve_s", 0.0) for g in rungs] + [cap if not rungs else 0.0])
    out = competitors.not_run(case, "timeout", note, lower_bound_s=slowest)
    for o, res in out["outputs"].items():
        errs = [g["errors"][o] for g in rungs if o in g.get("errors", {})]
        res["rel_error"] = min(errs) if errs else None
    out["rungs"] = rungs
    return out


# ---- phase 1: mfflow, floors, references ----------------------------------------------------
def save_reference(p: cases.Problem, traj: mfflow.Trajectory, values: dict, folder: Path) -> str:
    """mfflow's outputs for the worker: curves and loss at all times, factors where W is
    checked (``(Tc, n, m)``, written one time point at a time)."""
    prefix = str(folder / f"ref_{p.case.structure}_{p.case.n}_{p.case.alpha:.0e}")
    np.save(prefix + "_eigvals.npy", values["eigvals"])
    np.save(prefix + "_loss.npy", values["loss"])
    idx = p.case.check_indices("W") if "W" in p.case.outputs else np.arange(1, 2)
    first = traj.factor(p.ts[idx[:1]])
    out = np.lib.format.open_memmap(
        prefix + "_wf.npy", mode="w+", shape=(idx.size, *first.shape[1:])
    )
    for j, i in enumerate(idx):
        out[j] = traj.factor(p.ts[i])
    out.flush()
    del out
    return prefix


def phase_mfflow(
    case: cases.Case, floors: dict[tuple, dict], folder: Path
) -> tuple[dict[str, Any], str]:
    p = cases.build(case)
    figures, traj, values = timing.time_mfflow(p)
    key = (case.structure, case.n)
    if key not in floors:
        if case.structure == "dense":
            floors[key] = floor.dense_floor(p, traj)
        elif case.structure == "spectral":
            floors[key] = floor.spectral_floor(p)
        else:
            floors[key] = floor.lowrank_floor(p, traj)
    fl = floors[key]
    for output, res in figures["outputs"].items():
        f = fl["floors_s"].get(output)
        if f:
            res["floor_s"] = f
            res["x_floor"] = res["time_s"] / f
    if case.structure == "dense":
        own = fl["floors_s"]["own_eigvals"]
        figures["outputs"]["eigvals"]["own_primitives_s"] = own
        figures["outputs"]["eigvals"]["x_own_primitives"] = (
            figures["outputs"]["eigvals"]["time_s"] / own
        )
    prefix = save_reference(p, traj, values, folder)
    row = {
        "_case": case,
        "_ref": prefix,
        "name": case.name,
        "structure": case.structure,
        "n": case.n,
        "alpha": case.alpha,
        "K": case.K,
        "r": case.r,
        "T": cases.T_POINTS,
        "t_max": float(p.ts[-1]),
        "outputs": list(case.outputs),
        "w_is_factor": case.w_is_factor,
        "checked_points": {o: int(case.check_indices(o).size) for o in case.outputs},
        "mfflow": figures,
        "floor": fl,
        "competitors": {},
    }
    return row, prefix


def mpmath_checks(alphas: dict[str, list[float]]) -> list[dict[str, Any]]:
    """mfflow against the published formula in mpmath (``mpref``) on small problems, for each
    structure and alpha of the grid: the three outputs' errors, by the benchmark's metrics."""
    out = []
    for structure, alist in alphas.items():
        for alpha in alist:
            case = cases.Case(structure, MP_N, alpha)
            if structure == "lowrank":
                rng = np.random.default_rng(7)
                basis = cases.orthonormal_basis(MP_N, MP_LOWRANK_K, 11)
                values = np.array([3.0, 2.0, 1.0])
                U0 = rng.standard_normal((MP_N, MP_LOWRANK_K))
                Y = (basis * values) @ basis.T
                target: Any = (basis, values)
                t_max = cases.T_FACTOR * math.log(1 / alpha) / (2 * values.min())
            else:
                p = cases.build(case)
                assert p.Y is not None
                Y, U0, target, t_max = p.Y, p.U0, p.Y, float(p.ts[-1])
            ts = np.array([f * t_max for f in MP_FRACTIONS])
            traj = mfflow.closed_form(target, U0, alpha)
            W, loss = mpref.closed_form_mp(Y, U0, alpha, ts)
            ref_eig = np.linalg.eigvalsh(W)[:, ::-1]
            k = min(U0.shape[1], MP_N)
            got_w = traj.W(ts)
            w_err = np.linalg.norm(got_w - W, axis=(1, 2)) / np.linalg.norm(W, axis=(1, 2))
            e_err = cases.eig_errors(traj.eigvals(ts, k=k), ref_eig[:, :k])
            l_err = cases.loss_errors(traj.loss(ts), loss, float(loss[0]))
            out.append(
                {
                    "structure": structure,
                    "n": MP_N,
                    "r": int(U0.shape[1]),
                    "alpha": alpha,
                    "path": traj.path,
                    "times": [float(t) for t in ts],
                    "errors": {
                        "W": float(w_err.max()),
                        "eigvals": float(e_err.max()),
                        "loss": float(l_err.max()),
                    },
                }
            )
    return out


# ---- phase 2: competitors -------------------------------------------------------------------
def _inferred(history: dict, name: str, case: cases.Case, output: str) -> dict[str, Any] | None:
    """A timeout at a smaller (or equal) n and a larger (or equal) alpha of the same structure
    carries over (the solver's cost grows with n and with log(1/alpha)); so does an accuracy
    floor at alpha < 1e-20 from a smaller n (its rounding floor does not shrink with n)."""
    for n_prev, a_prev, res in history.get((name, case.structure), []):
        st = res["outputs"].get(output, {}).get("status")
        if st == "timeout" and n_prev <= case.n and a_prev >= case.alpha:
            note = f"not run: timed out at n={n_prev}, alpha={a_prev:.0e}"
            err = res["outputs"][output].get("rel_error")
            return {
                "status": "timeout",
                "inferred": True,
                "time_s": None,
                "note": note,
                "rel_error": err,
            }
        if st == "unable" and case.alpha < 1e-20 and a_prev == case.alpha and n_prev < case.n:
            note = f"not run: unable at n={n_prev} (accuracy floor)"
            err = res["outputs"][output].get("rel_error")
            return {
                "status": "unable",
                "inferred": True,
                "time_s": None,
                "note": note,
                "rel_error": err,
            }
    return None


def competitor_result(
    name: str,
    case: cases.Case,
    ref: str,
    history: dict,
    settings: dict,
    t_start: float,
    worker: Worker,
) -> dict[str, Any]:
    if not competitors.applies(name, case):
        return competitors.not_run(case, "n/a", "applies to another structure")
    if not competitors.installed(name):
        return competitors.not_run(case, "not installed")
    if name in competitors.GENERIC and competitors.state_bytes(case) > competitors.MAX_STATE_BYTES:
        gb = competitors.state_bytes(case) / 2**30
        return competitors.not_run(case, "skipped", f"U at the T times would take {gb:.0f} GB")
    inferred = {o: _inferred(history, name, case, o) for o in case.outputs}
    if all(v is not None for v in inferred.values()):
        return {"rungs": [], "outputs": inferred}
    if time.perf_counter() - t_start > settings["budget_s"]:
        return competitors.not_run(case, "skipped", "global time budget")
    res = worker.run((name, case, ref, settings["cap_s"]), case, settings["cap_s"])
    history.setdefault((name, case.structure), []).append((case.n, case.alpha, res))
    return res


def phase_competitors(
    rows: list[dict[str, Any]], settings: dict[str, Any], worker: Worker, t_start: float
) -> None:
    """Every competitor on every case, in :data:`PASSES` (the structure-aware alternatives and
    DOP853 first, then diffrax (whose compiles take time), then the slow ones, so the global
    budget cuts the least informative runs), each pass in
    grid order (n ascending, alpha descending: what a timeout carries over to)."""
    history: dict[tuple, list] = {}
    t_phase = time.perf_counter()
    try:
        for names in PASSES:
            for row in rows:
                case = row["_case"]
                for name in names:
                    res = competitor_result(
                        name, case, row["_ref"], history, settings, t_phase, worker
                    )
                    res["kind"] = "generic" if name in competitors.GENERIC else "structure-aware"
                    for o, out in res["outputs"].items():
                        mf = row["mfflow"]["outputs"][o]
                        _add_ratio(out, mf["time_s"])
                        if out.get("time_s") and mf.get("floor_s"):
                            out["x_floor"] = out["time_s"] / mf["floor_s"]
                    row["competitors"][name] = res
                    if competitors.applies(name, case):
                        cells = "  ".join(f"{o} {_cell(res['outputs'][o])}" for o in case.outputs)
                        _log(t_start, f"{case.name:<32s} {name:<19s} {cells}")
    finally:
        worker.close()
        for row in rows:
            row["competitors"] = {n: row["competitors"][n] for n in competitors.COMPETITORS}
            for suffix in ("_eigvals.npy", "_loss.npy", "_wf.npy"):
                Path(row["_ref"] + suffix).unlink(missing_ok=True)


def _add_ratio(res: dict[str, Any], mf_time: float) -> None:
    res["ratio"] = None
    if res["status"] == "ok" and res.get("time_s"):
        res["ratio"] = res["time_s"] / mf_time
    elif res["status"] == "timeout" and res.get("lower_bound_s"):
        res["ratio_at_least"] = res["lower_bound_s"] / mf_time


def _log(t_start: float, msg: str) -> None:
    print(f"[{time.perf_counter() - t_start:6.1f} s] {msg}", file=sys.stderr, flush=True)


# ---- targets (issue 11) ---------------------------------------------------------------------
def _fastest(row: dict, output: str, names: tuple[str, ...]) -> float | None:
    times = [
        row["competitors"][n]["outputs"][output].get("time_s")
        for n in names
        if n in row["competitors"] and output in row["competitors"][n]["outputs"]
    ]
    times = [t for t in times if t]
    return min(times) if times else None


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each of issue 11's targets, as measured by this run: values, the target, met or not
    (``None``: not measured in this run)."""
    rows = report["cases"]
    out: list[dict[str, Any]] = []

    def add(name: str, target: str, values: dict[str, Any], met: bool | None) -> None:
        out.append({"target": name, "wanted": target, "values": values, "met": met})

    dense = [r for r in rows if r["structure"] == "dense" and r["alpha"] > 1e-20]
    v = {
        r["name"]: r["mfflow"]["outputs"]["eigvals"]["eval_s"]
        / r["mfflow"]["outputs"]["diag"]["eval_s"]
        for r in dense
    }
    add(
        "eigvals_vs_diag",
        "eigvals eval <= 1.5x mode_values eval (dense)",
        v,
        all(x <= 1.5 for x in v.values()) if v else None,
    )

    v, floor_ok = {}, {}
    for r in dense:
        ode = _fastest(r, "eigvals", ("scipy-DOP853", "diffrax-Dopri8"))
        mf = r["mfflow"]["outputs"]["eigvals"]
        lower = [
            r["competitors"][n]["outputs"]["eigvals"].get("ratio_at_least")
            for n in ("scipy-DOP853", "diffrax-Dopri8")
            if n in r["competitors"]
        ]
        v[r["name"]] = {
            "speedup_vs_fastest_ode": ode / mf["time_s"] if ode else None,
            "speedup_at_least": min([x for x in lower if x], default=None) if not ode else None,
            "ode_over_floor": ode / mf["floor_s"] if ode else None,
            "mfflow_x_floor": mf["x_floor"],
        }
        if ode:
            floor_ok[r["name"]] = ode / mf["time_s"] >= 10 or (
                ode / mf["floor_s"] < 10 and mf["x_floor"] <= 2.0
            )
    add(
        "curves_vs_ode",
        ">= 10x the fastest of DOP853/Dopri8 (eigvals, dense), or the floor "
        "reached (<= 2x) where the floor is within 10x of the ODE",
        v,
        all(floor_ok.values()) if floor_ok else None,
    )

    sp = [r for r in rows if r["structure"] == "spectral" and r["n"] == 500]
    v = {
        r["name"]: r["mfflow"]["outputs"]["eigvals"]["time_s"] / r["floor"]["primitives_s"]["eigh"]
        for r in sp
    }
    add(
        "spectral_vs_eigh",
        "spectral n=500 eigvals (build + eval) <= 1.5x one eigh of Y",
        v,
        all(x <= 1.5 for x in v.values()) if v else None,
    )

    v = {
        r["name"]: {
            o: r["mfflow"]["outputs"][o].get("x_floor") for o in ("eigvals", "W", "loss", "diag")
        }
        for r in dense
    }
    add(
        "dense_vs_floor",
        "mfflow dense time <= 2x the measured floor (every output)",
        v,
        all(x <= 2.0 for d in v.values() for x in d.values() if x) if v else None,
    )

    ts = report.get("t_scaling", {}).get("rows", [])
    if ts:
        first, last = ts[0], ts[-1]
        v = {
            o: {
                "us_per_point": [row[o]["us_per_point"] for row in ts],
                "peak_beyond_output_mb": [row[o]["peak_beyond_output_mb"] for row in ts],
            }
            for o in ("eigvals", "diag")
        }
        lin = all(last[o]["us_per_point"] <= 1.25 * first[o]["us_per_point"] for o in v)
        mem = all(
            last[o]["peak_beyond_output_mb"] <= 1.25 * first[o]["peak_beyond_output_mb"] + 1.0
            for o in v
        )
        add("linear_in_T", "time per point at the largest T <= 1.25x at the smallest", v, lin)
        add(
            "memory_by_chunk",
            "peak beyond the output does not grow with T (<= 1.25x + 1 MB)",
            v,
            mem,
        )

    v, met = {}, []
    for r in rows:
        if r["structure"] not in ("spectral", "lowrank") or r["alpha"] < 1e-20:
            continue
        name = competitors.STRUCTURED[r["structure"]]
        res = r["competitors"].get(name, {}).get("outputs", {})
        per = {}
        for o in r["outputs"]:
            x = res.get(o, {})
            per[o] = x.get("ratio") or (
                f">{x['ratio_at_least']:.3g}" if x.get("ratio_at_least") else x.get("status")
            )
            if x.get("ratio"):
                met.append(x["ratio"] >= 3.0)
        v[r["name"]] = per
    add(
        "structure_aware",
        "spectral and low-rank >= 3x the structure-aware ODE (every output)",
        v,
        all(met) if met else None,
    )

    th = report.get("threads", {}).get("outputs", {})
    if th:
        v = {o: th[o]["speedup"].get("2") for o in th}
        add(
            "threads",
            "2 threads on 2 cores >= 1.6x 1 thread (dense n=200); never slower",
            v,
            all(x is not None and x >= 1.6 for x in v.values()),
        )
    return out


# ---- output ---------------------------------------------------------------------------------
def _fmt_ratio(x: float) -> str:
    return f"{x:.3g}x" if x < 1e4 else f"{x:.1e}x"


def _fmt_s(x: float) -> str:
    if x >= 1:
        return f"{x:.3g} s"
    return f"{1e3 * x:.3g} ms"


def _cell(res: dict[str, Any], with_time: bool = True) -> str:
    st = res["status"]
    mark = "*" if res.get("inferred") else ""
    if st == "ok":
        r = _fmt_ratio(res["ratio"]) if res.get("ratio") else "?"
        return f"{r} ({_fmt_s(res['time_s'])})" if with_time else r
    if st == "timeout":
        if res.get("ratio_at_least"):
            return f">{_fmt_ratio(res['ratio_at_least'])} (timeout){mark}"
        return f"timeout{mark}"
    if st == "unable":
        err = res.get("rel_error")
        return f"unable{mark} ({err:.0e})" if err is not None else f"unable{mark}"
    return {"not installed": "n/i", "skipped": "skip", "error": "error", "n/a": "-"}.get(st, st)


def _column_result(row: dict[str, Any], col: str, output: str) -> dict[str, Any] | None:
    for name, res in row["competitors"].items():
        if SHORT[name] == col and res["outputs"].get(output, {}).get("status") != "n/a":
            return res["outputs"].get(output)
    return None


def _mf_cells(row: dict[str, Any], output: str) -> tuple[str, str, str]:
    mf = row["mfflow"]["outputs"][output]
    floor_s = mf.get("floor_s")
    return (
        _fmt_s(mf["time_s"]),
        _fmt_s(floor_s) if floor_s else "",
        f"{mf['x_floor']:.2g}x" if floor_s else "",
    )


def table_lines(report: dict[str, Any]) -> list[str]:
    head = ["case", "output", "mfflow", "floor", "x floor", *COLUMNS]
    lines = []
    for row in report["cases"]:
        for j, output in enumerate(row["outputs"]):
            cells = []
            for col in COLUMNS:
                res = _column_result(row, col, output)
                cells.append(_cell(res) if res else "-")
            label = output if output != "W" or not row["w_is_factor"] else "W (factor)"
            lines.append([row["name"] if j == 0 else "", label, *_mf_cells(row, output), *cells])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*head), fmt.format(*["-" * w for w in widths])]
    out += [fmt.format(*line) for line in lines]
    return out


def print_report(report: dict[str, Any]) -> None:
    print("\n".join(table_lines(report)))
    print(
        f"\nratio = competitor time / mfflow time for the same output at matched accuracy "
        f"(error <= {report['target_rel_error']:g} at every checked time; cases.py); "
        ">Rx (timeout): the cap ran out, R from the slowest solve run; unable (E): best error E; "
        "* inferred from a smaller n or a larger alpha; -: not applicable; n/i: not installed; "
        "floor: the batched primitives any exact method needs for that output (floor.py), "
        "timed in this run; x floor = mfflow / floor; struct-ODE: spectral-ODE (eigh + n "
        "logistic ODEs) or reduced-ODE (QR + ODE on span(basis, U0))."
    )
    for chk in report.get("mpmath", []):
        e = chk["errors"]
        print(
            f"mpmath check {chk['structure']:<8s} n={chk['n']} r={chk['r']} alpha="
            f"{chk['alpha']:.0e}: W {e['W']:.1e}, eigvals {e['eigvals']:.1e}, loss {e['loss']:.1e}"
        )
    th = report.get("threads")
    if th:
        for o, res in th["outputs"].items():
            ts = ", ".join(f"{k}: {_fmt_s(v)}" for k, v in res["time_s"].items())
            print(f"threads ({th['case']}, {o}): {ts}; speedup with 2: {res['speedup']['2']:.2f}x")
    tsc = report.get("t_scaling")
    if tsc:
        for row in tsc["rows"]:
            parts = [
                f"{o} {row[o]['us_per_point']:.0f} us/point, peak {row[o]['peak_mb']:.1f} MB "
                f"(output {row[o]['output_mb']:.1f} MB)"
                for o in ("eigvals", "diag")
            ]
            print(f"T-scaling ({tsc['case']}) T={row['T']}: " + "; ".join(parts))
    print("\ntargets (issue 11), as measured by this run:")
    for t in report.get("targets", []):
        met = {True: "met", False: "NOT met", None: "not measured"}[t["met"]]
        print(f"  {t['target']:<18s} {met:<12s} {t['wanted']}")
    ld = report["machine"].get("load_average_start"), report["machine"].get("load_average_end")
    print(f"\nload average at start {ld[0]}, at end {ld[1]}; elapsed {report['elapsed_s']:.0f} s")


def markdown(report: dict[str, Any]) -> str:
    """The README tables: one per output, one row per case."""
    out = []
    names = {
        "eigvals": "Learning curves (eigenvalues of W at T times)",
        "W": "W at T times (a factor F, W = F F^T, for low-rank targets)",
        "loss": "Loss at T times",
    }
    for output in cases.OUTPUTS:
        out.append(f"**{names[output]}**\n")
        out.append("| case | mfflow | x floor | " + " | ".join(COLUMNS) + " |")
        out.append("| --- " * (3 + len(COLUMNS)) + "|")
        for row in report["cases"]:
            if output not in row["outputs"]:
                continue
            t, _, xf = _mf_cells(row, output)
            cells = []
            for col in COLUMNS:
                res = _column_result(row, col, output)
                cells.append(_cell(res, with_time=False) if res else "-")
            case = f"{row['structure']} n={row['n']:g}, alpha={row['alpha']:.0e}"
            out.append(f"| {case} | {t} | {xf} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items() if not str(k).startswith("_")}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, np.floating | np.integer | np.bool_):
        return _jsonable(x.item())
    return x


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, short caps (< 90 s)")
    ap.add_argument("--json", type=Path, help="write every figure to this file")
    ap.add_argument("--markdown", action="store_true", help="also print the README tables")
    ap.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP/torch/mfflow threads (1)")
    ap.add_argument("--from-json", type=Path, help="print a saved run instead of running")
    ap.add_argument("--only", help="run only the cases whose name contains this (e.g. 'dense')")
    ap.add_argument("--no-scaling", action="store_true", help="skip the thread and T scaling")
    args = ap.parse_args(argv)
    if args.from_json is not None:
        report = json.loads(args.from_json.read_text())
        print_report(report)
        if args.markdown:
            print("\n" + markdown(report))
        return 0
    mode = "quick" if args.quick else "full"
    settings = SETTINGS[mode]
    t_start = time.perf_counter()
    np.seterr(all="ignore")
    machine = machine_info()
    machine["load_average_start"] = _load()
    grid = [c for c in cases.grid(args.quick) if args.only is None or args.only in c.name]
    print(f"mfflow benchmark ({mode} mode, {len(grid)} cases)", file=sys.stderr, flush=True)
    worker = Worker()
    worker.start()
    timing.warm_up()
    rows: list[dict[str, Any]] = []
    floors: dict[tuple, dict] = {}
    with tempfile.TemporaryDirectory(prefix="mfflow-bench-") as tmp:
        for case in grid:
            row, _ = phase_mfflow(case, floors, Path(tmp))
            rows.append(row)
            mf = row["mfflow"]["outputs"]
            _log(
                t_start,
                f"{case.name:<32s} mfflow "
                + ", ".join(
                    f"{o} {_fmt_s(v['time_s'])}"
                    + (f" ({v['x_floor']:.2g}x floor)" if v.get("x_floor") else "")
                    for o, v in mf.items()
                ),
            )
        alphas: dict[str, list[float]] = {}
        for case in grid:
            alphas.setdefault(case.structure, [])
            if case.alpha not in alphas[case.structure]:
                alphas[case.structure].append(case.alpha)
        mp_checks = mpmath_checks(alphas)
        _log(t_start, "mpmath checks done")
        threads: dict[str, Any] = {}
        t_scal: dict[str, Any] = {}
        if not args.no_scaling:
            threads = timing.thread_scaling(settings["scaling_n"], settings["scaling_alpha"])
            _log(t_start, "thread scaling done")
            t_scal = timing.t_scaling(
                settings["scaling_n"], settings["scaling_alpha"], settings["T_values"]
            )
            _log(t_start, "T scaling done")
        phase_competitors(rows, settings, worker, t_start)
    machine["load_average_end"] = _load()
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "mode": mode,
        "command": " ".join(
            ["python", "benchmarks/run.py", *(argv if argv is not None else sys.argv[1:])]
        ),
        "target_rel_error": cases.TARGET_ERROR,
        "settings": {
            **settings,
            "threads": args.threads,
            "kill_grace_s": KILL_GRACE_S,
            "spectrum": list(cases.SPECTRUM),
            "lowrank_values": list(cases.LOWRANK_VALUES),
            "lowrank_r": cases.R_LOW,
            "time_points": cases.T_POINTS,
            "t_max_over_last_transition": cases.T_FACTOR,
            "rtol_ladder": list(competitors.RTOL_LADDER),
            "outputs": list(cases.OUTPUTS),
            "w_max_entries": cases.W_MAX_ENTRIES,
            "mpmath": {"n": MP_N, "lowrank_K": MP_LOWRANK_K, "fractions": list(MP_FRACTIONS)},
        },
        "machine": machine,
        "competitors": list(competitors.COMPETITORS),
        "cases": rows,
        "mpmath": mp_checks,
        "threads": threads,
        "t_scaling": t_scal,
        "elapsed_s": time.perf_counter() - t_start,
    }
    report["targets"] = targets(report)
    print_report(report)
    if args.markdown:
        print("\n" + markdown(report))
    if args.json is not None:
        args.json.write_text(json.dumps(_jsonable(report), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
