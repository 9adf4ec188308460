"""Run a sweep: every cell not yet stored, on Dask (or in-process), written as it finishes.

Killing the client loses no finished cell; re-running skips every cell already stored; a cell
the library refuses (:class:`~.cells.CellError`) or whose worker died is stored as failed and
retried on the next run. Any other exception in a cell is a bug: it is raised here, with its
traceback, after the cells finished so far were stored.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError
from .cells import CellError, compute_cell
from .spec import SweepSpec
from .store import cell_file, cell_sizes, init_store, read_cell, write_cell, write_consolidated

__all__ = ["SweepSummary", "dask_client", "pending_cells", "run_sweep"]


@dataclass
class SweepSummary:
    """Outcome of :func:`run_sweep`."""

    store: Path
    total: int
    skipped: int
    done: int = 0
    failed: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def throughput(self) -> float:
        """Cells computed per second (wall clock, cluster start excluded)."""
        n = self.done + self.failed
        return n / self.seconds if self.seconds > 0 else math.nan


Progress = Callable[[dict[str, int]], None]


@contextlib.contextmanager
def dask_client(scheduler: str | None, workers: int) -> Iterator[Any]:
    """A client of the scheduler at ``scheduler``, or of a local cluster of ``workers``
    single-threaded processes (closed on exit)."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise UserError(f"--scheduler '{scheduler}': cannot connect ({exc})") from None
        with client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=50,
        ) as cluster,
        Client(cluster, timeout="30s") as client,
    ):
        yield client


def pending_cells(spec: SweepSpec, store: str | Path) -> list[tuple[str, dict[str, Any]]]:
    """The cells of ``spec`` that ``store`` lacks or holds as failed: ``(name, config)`` pairs.

    Reads only the cell files, so a caller can skip starting a cluster when nothing is left.
    """
    store = Path(store)
    todo: list[tuple[str, dict[str, Any]]] = []
    h, sizes = spec.result_hash(), cell_sizes(spec)
    for _, params in spec.cells():
        name = spec.cell_name(params)
        old = read_cell(cell_file(store, name), name, h, sizes)
        if old is None or old.get("error"):
            todo.append((name, spec.cell_config(params)))
    return todo


def _failed(message: str) -> dict[str, Any]:
    return {"error": message.splitlines()[0]}


def run_sweep(
    spec: SweepSpec,
    store: str | Path,
    *,
    client: Any = None,
    sequential: bool = False,
    on_progress: Progress | None = None,
    consolidate: bool = True,
) -> SweepSummary:
    """Compute every cell not yet in ``store``, on a dask ``client`` (or in-process).

    Results are written by the caller's process as each cell finishes, so stopping it at any
    moment loses no finished cell. Cells that previously failed are retried.
    """
    store = Path(store)
    init_store(store, spec)
    cells = spec.cells()
    todo = pending_cells(spec, store)
    summary = SweepSummary(store, total=len(cells), skipped=len(cells) - len(todo))
    measurements = list(spec.measurements)
    state = {"done": 0, "failed": 0, "running": 0, "total": len(todo)}

    def finished(name: str, result: dict[str, Any]) -> None:
        write_cell(store, name, result, spec.result_hash())
        if result.get("error"):
            summary.failed += 1
            summary.errors[name] = result["error"]
            state["failed"] += 1
        else:
            summary.done += 1
            state["done"] += 1

    t0 = time.perf_counter()
    if sequential or client is None:
        for name, config in todo:
            state["running"] = 1
            if on_progress:
                on_progress(dict(state))
            try:
                result = compute_cell(config, measurements)
            except CellError as exc:
                result = _failed(str(exc))
            finished(name, result)
        state["running"] = 0
    else:
        from distributed import as_completed
        from distributed.scheduler import KilledWorker

        futures = {
            client.submit(
                compute_cell, config, measurements, key=f"mfflow-cell-{name}", pure=False
            ): name
            for name, config in todo
        }
        threads = max(1, sum(client.nthreads().values()))
        for fut in as_completed(list(futures)):
            name = futures[fut]
            if fut.status == "cancelled":
                result = _failed("cancelled: the task was lost")
            elif fut.status == "error":
                err = fut.exception()
                if not isinstance(err, CellError | KilledWorker):
                    fut.result()  # a bug: raised with its traceback
                result = _failed(
                    f"{type(err).__name__}: {err}" if isinstance(err, KilledWorker) else str(err)
                )
            else:
                result = fut.result()
            finished(name, result)
            if on_progress:
                left = state["total"] - state["done"] - state["failed"]
                state["running"] = min(left, threads)
                on_progress(dict(state))
    summary.seconds = time.perf_counter() - t0
    if on_progress:
        state["running"] = 0
        on_progress(dict(state))
    if consolidate:
        write_consolidated(store)
    return summary
