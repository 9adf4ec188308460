"""The ``mfflow`` command: a thin shell over :mod:`mfflow.report` and :mod:`mfflow.plot`.

Commands::

    mfflow reproduce [--out DIR] [--quick]   the paper's results: figures, report, results file
    mfflow run CONFIG.toml [--out DIR]       one configured experiment
    mfflow plot RESULTS.nc [--out DIR]       redraw the figures of a results file (or sweep store)
    mfflow sweep SPEC.toml [--out STORE]     a declarative parameter sweep on Dask (resumable)

Every expected failure (a bad configuration, an unreadable file) ends with one red line on
stderr naming what is wrong and a non-zero exit code, never a traceback. Set ``MFFLOW_DEBUG=1``
to get the traceback of an unexpected error.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

__all__ = ["app", "main"]

app = typer.Typer(
    name="mfflow",
    help="Exact training dynamics of overparameterized matrix factorization (Min & Vidal).",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, highlight=False)


class _Fail(Exception):
    """An expected failure: its message is printed as one red line."""


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] [red]{escape(message)}[/]", soft_wrap=True)


@contextlib.contextmanager
def _guard() -> Iterator[None]:
    """Turn failures into one red line and an exit code (no traceback)."""
    try:
        yield
    except _Fail as exc:
        _fail(str(exc))
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        _fail("interrupted (results already computed are cached in the output folder)")
        raise typer.Exit(130) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:  # an unexpected error: one line unless debugging
        if os.environ.get("MFFLOW_DEBUG"):
            raise
        _fail(f"{type(exc).__name__}: {exc} (set MFFLOW_DEBUG=1 for the traceback)")
        raise typer.Exit(1) from None


F = TypeVar("F", bound=Callable[..., Any])


def _guarded(func: F) -> F:
    """Run a command under :func:`_guard` (keeps its signature for typer)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _guard():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _written(result: dict, out: Path) -> None:
    n_fig = len(result["figures"])
    console.print(
        f"[green]done[/] in {result['seconds']:.1f} s: {escape(str(result['results']))}, "
        f"{escape(str(result['report']))}, {escape(str(result['html']))}, "
        f"{n_fig} figure files in {escape(str(out / 'figures'))}"
    )


@app.command()
@_guarded
def reproduce(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output folder.", show_default=True)
    ] = Path("mfflow-report"),
    quick: Annotated[
        bool, typer.Option("--quick", help="Reduced grids (for tests; same figures).")
    ] = False,
) -> None:
    """Reproduce the paper's results and beyond: ten figures, report.md, index.html, results.nc."""
    from .report import STEP_TITLES, STEPS
    from .report import reproduce as run_reproduce

    steps = len(STEPS) + 1
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("starting", total=steps)

        def on_step(step: str, state: str) -> None:
            title = STEP_TITLES.get(step, "drawing figures")
            if state == "start":
                progress.update(task, description=f"computing: {title}")
            else:
                suffix = " (cached)" if state == "cached" else ""
                progress.console.print(f"  [green]✓[/] {escape(title)}{suffix}")
                progress.advance(task)

        try:
            result = run_reproduce(out, quick=quick, on_step=on_step)
        except OSError as exc:
            raise _Fail(f"cannot write to '{out}': {exc.strerror or exc}") from None
        progress.update(task, description="done")
    _written(result, out)


@app.command()
@_guarded
def run(
    config: Annotated[Path, typer.Argument(help="Experiment configuration (TOML).")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output folder (default: mfflow-run-NAME)."),
    ] = None,
) -> None:
    """Run one experiment from a TOML configuration: results file, figures, report."""
    from .config import ConfigError, load_config
    from .report import run_experiment

    try:
        cfg = load_config(config)
    except ConfigError as exc:
        raise _Fail(str(exc)) from None
    folder = out if out is not None else Path(f"mfflow-run-{cfg.name}")
    try:
        with console.status(f"running '{escape(cfg.name)}' ({', '.join(cfg.methods)})"):
            result = run_experiment(cfg, folder, base=config.resolve().parent)
    except ConfigError as exc:
        raise _Fail(str(exc)) from None
    except (ValueError, TypeError) as exc:
        raise _Fail(f"config '{config}': {exc}") from None
    except OSError as exc:
        raise _Fail(f"cannot write to '{folder}': {exc.strerror or exc}") from None
    _written(result, folder)


@app.command()
@_guarded
def plot(
    results: Annotated[Path, typer.Argument(help="A results file written by mfflow (netCDF).")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Figure folder (default: figures/ beside RESULTS)."),
    ] = None,
) -> None:
    """Redraw the figures of a results file without recomputing anything."""
    from .plot import plot_all
    from .report import load_results

    if results.is_dir() and (results / "sweep.json").exists():
        _plot_sweep_store(results, out)
        return
    if not results.is_file():
        raise _Fail(f"results file '{results}': expected an existing netCDF file, not found")
    try:
        ds = load_results(results)
    except (OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _Fail(f"results file '{results}': not a readable netCDF file ({reason})") from None
    if ds.attrs.get("kind") not in ("reproduce", "run"):
        raise _Fail(
            f"results file '{results}': expected a file written by 'mfflow reproduce' or "
            "'mfflow run' (attribute 'kind' missing)"
        )
    folder = out if out is not None else results.parent / "figures"
    try:
        written = plot_all(ds, folder)
    except KeyError as exc:
        raise _Fail(f"results file '{results}': variable {exc} is missing") from None
    except OSError as exc:
        raise _Fail(f"cannot write to '{folder}': {exc.strerror or exc}") from None
    console.print(f"[green]done[/]: {len(written)} figure files in {escape(str(folder))}")


def _plot_sweep_store(store: Path, out: Path | None) -> None:
    from .plot import plot_sweep
    from .sweep import SpecError, open_sweep

    try:
        ds = open_sweep(store)
    except SpecError as exc:
        raise _Fail(str(exc)) from None
    folder = out if out is not None else store / "figures"
    try:
        written = plot_sweep(ds, folder)
    except OSError as exc:
        raise _Fail(f"cannot write to '{folder}': {exc.strerror or exc}") from None
    console.print(f"[green]done[/]: {len(written)} figure files in {escape(str(folder))}")


@app.command()
@_guarded
def sweep(
    spec: Annotated[Path, typer.Argument(help="Sweep specification (TOML).")],
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Address of a running dask scheduler (default: local)."),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", "-w", min=1, help="Workers of the local cluster.")
    ] = 2,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Result store folder (default: mfflow-sweep-NAME)."),
    ] = None,
) -> None:
    """Run a parameter sweep on Dask; re-running the same command computes only missing cells."""
    import tomllib

    from rich.progress import TimeRemainingColumn

    from .sweep import SpecError, load_spec, run_sweep

    try:
        cfg = load_spec(spec)
    except SpecError as exc:
        raise _Fail(str(exc)) from None
    raw = tomllib.loads(spec.read_text("utf-8"))
    store = out if out is not None else Path(f"mfflow-sweep-{cfg.name}")
    from distributed import Client, LocalCluster

    cluster = None
    try:
        if scheduler is None:
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=50,
            )
            client = Client(cluster, timeout="30s")
        else:
            try:
                client = Client(scheduler, timeout="10s")
            except OSError as exc:
                raise _Fail(f"--scheduler '{scheduler}': cannot connect ({exc})") from None
        with (
            client,
            Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TimeRemainingColumn(),
                console=console,
            ) as progress,
        ):
            task = progress.add_task("starting", total=None)

            def on_progress(state: dict[str, int]) -> None:
                done = state["done"] + state["failed"]
                progress.update(
                    task,
                    total=state["total"],
                    completed=done,
                    description=f"done {state['done']}, running {state['running']}, "
                    f"failed {state['failed']}",
                )

            try:
                summary = run_sweep(cfg, store, raw=raw, client=client, on_progress=on_progress)
            except SpecError as exc:
                raise _Fail(str(exc)) from None
            except OSError as exc:
                raise _Fail(f"cannot write to '{store}': {exc.strerror or exc}") from None
    finally:
        if cluster is not None:
            cluster.close(timeout=10)
    for name, err in list(summary.errors.items())[:10]:
        console.print(f"  [red]failed[/] {escape(name)}: {escape(err)}")
    console.print(
        f"[green]done[/]: {summary.done} computed, {summary.skipped} already stored, "
        f"{summary.failed} failed, of {summary.total} cells in {escape(str(store))} "
        f"({summary.throughput:.2f} cells/s)"
    )
    if summary.failed:
        raise typer.Exit(2)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``mfflow`` script and of ``python -m mfflow``."""
    app(args=argv, prog_name="mfflow")
