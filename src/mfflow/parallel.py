"""Threads for batched small linear algebra: one BLAS thread per task, tasks across cores.

The closed form's per-time work is many small solves (one ``m x m`` Cholesky and triangular
solve, or one small SVD, per time point). A multi-threaded BLAS gains nothing on them and, on a
busy machine or inside a Dask worker, its threads wait for cores: we measured 10-100x slowdowns.
So mfflow runs every batched evaluation with BLAS limited to one thread
(:func:`single_threaded_blas`, threadpoolctl) and gets its parallelism by splitting the time
points into chunks evaluated by a pool of threads (:func:`map_chunks`; NumPy's and SciPy's
LAPACK calls release the GIL). Each chunk is computed the same way whatever the number of
threads, so the results are bitwise identical.

The number of threads is :func:`num_threads`: the environment variable ``MFFLOW_NUM_THREADS``
if set, else the number of CPUs this process may run on, capped by ``OMP_NUM_THREADS`` when
that is set (Dask workers and batch schedulers set it to what the process was given).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["map_chunks", "num_threads", "single_threaded_blas"]

T = TypeVar("T")
_CONTROLLER: Any = None


def num_threads() -> int:
    """Threads mfflow uses to split batched evaluations (``>= 1``).

    ``MFFLOW_NUM_THREADS`` if set (a positive integer, else ``ValueError`` naming it); otherwise
    the CPUs available to this process, capped by ``OMP_NUM_THREADS`` if that is set.
    """
    raw = os.environ.get("MFFLOW_NUM_THREADS")
    if raw is not None:
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value < 1:
            raise ValueError(f"MFFLOW_NUM_THREADS: expected a positive integer, got {raw!r}")
        return value
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - platforms without sched_getaffinity
        cpus = os.cpu_count() or 1
    omp = os.environ.get("OMP_NUM_THREADS", "")
    if omp.isdigit() and int(omp) >= 1:
        cpus = min(cpus, int(omp))
    return max(1, cpus)


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit the BLAS/OpenMP thread pools of this process to one thread inside the block."""
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    with _CONTROLLER.limit(limits=1):
        yield


def map_chunks(fn: Callable[[Any], T], items: Sequence[Any], workers: int) -> list[T]:
    """``[fn(x) for x in items]``, on ``workers`` threads when there is more than one item."""
    if workers <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(fn, items))
