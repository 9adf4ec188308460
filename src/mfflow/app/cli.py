"""The ``mfflow`` command: a thin shell over the app layer.

Commands::

    mfflow reproduce [--out DIR] [--quick]   the paper's results: figures, report, results file
    mfflow run CONFIG.toml [--out DIR]       one configured experiment
    mfflow plot RESULTS.nc [--out DIR]       redraw the figures of a results file (or sweep store)
    mfflow sweep SPEC.toml [--out STORE]     a declarative parameter sweep on Dask (resumable)

A user error (a bad configuration or spec field, a missing or unreadable input file, an output
folder that cannot be written) ends with one red line per problem on stderr and exit code 1,
without a traceback; ``MFFLOW_DEBUG=1`` shows its traceback. Any other exception is a bug and
surfaces with its full traceback.
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
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from .errors import InputFileError, UserError

__all__ = ["app", "main"]

app = typer.Typer(
    name="mfflow",
    help="Exact training dynamics of overparameterized matrix factorization (Min & Vidal).\n\n"
    "Start with 'mfflow reproduce'; the documentation (README, docs/) has the mathematics, "
    "a gallery and the API reference.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # click's plain help: no "<bool>" type column after flags
)
console = Console(stderr=True, highlight=False)


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"mfflow {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Options of the mfflow command itself (``--version``)."""


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    """Print a :class:`UserError` as red lines and exit 1; everything else propagates."""
    try:
        yield
    except UserError as exc:
        if os.environ.get("MFFLOW_DEBUG"):
            raise
        for line in exc.problems:
            console.print(f"[bold red]error:[/] [red]{escape(line)}[/]", soft_wrap=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        console.print("[bold red]error:[/] [red]interrupted (finished results are kept)[/]")
        raise typer.Exit(130) from None


F = TypeVar("F", bound=Callable[..., Any])


def _command(func: F) -> F:
    """Run a command under :func:`_user_errors` (keeps its signature for typer)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _user_errors():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _written(result: dict, out: Path) -> None:
    console.print(
        f"[green]done[/] in {result['seconds']:.1f} s: {escape(str(result['results']))}, "
        f"{escape(str(result['report']))}, {escape(str(result['html']))}, "
        f"{len(result['figures'])} figure files in {escape(str(out / 'figures'))}"
    )


@app.command(short_help="The paper's results as figures, a report and results.nc.")
@_command
def reproduce(
    out: Annotated[
        Path,
        typer.Option("--out", "-o", metavar="DIR", help="Output folder.", show_default=True),
    ] = Path("mfflow-report"),
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="Coarser grids and fewer seeds, PNGs only: the same figures and story, about "
            "3x faster (for a first look and for tests; the numbers are less precise).",
        ),
    ] = False,
) -> None:
    """Reproduce the paper's results: figures, report.md, index.html, results.nc.

    Every section of the report is computed (or reused from OUT/.cache when its configuration
    is unchanged), saved in OUT/results.nc, drawn into OUT/figures (PNG and PDF) and written
    as OUT/report.md and a self-contained OUT/index.html.
    """
    from .io import ensure_writable
    from .report import reproduce as run_reproduce
    from .report.sections import by_name

    ensure_writable(out)
    titles = {name: s.title for name, s in by_name().items()}
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("starting", total=len(titles) + 1)

        def on_step(step: str, state: str) -> None:
            title = titles.get(step, "drawing figures")
            if state == "start":
                progress.update(task, description=f"computing: {title}")
            else:
                suffix = " (cached)" if state == "cached" else ""
                progress.console.print(f"  [green]✓[/] {escape(title)}{suffix}")
                progress.advance(task)

        result = run_reproduce(out, quick=quick, on_step=on_step)
        progress.update(task, description="done")
    _written(result, out)


@app.command(short_help="One experiment from a TOML configuration.")
@_command
def run(
    config: Annotated[
        Path,
        typer.Argument(metavar="CONFIG", help="Experiment configuration (TOML; see examples/)."),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", metavar="DIR", help="Output folder (default: mfflow-run-NAME)."
        ),
    ] = None,
) -> None:
    """Run one experiment from a TOML configuration: results file, figures, report.

    Every problem with the configuration is listed at once, one line per field. Without a
    [times] table the horizon reaches past the last predicted transition.
    """
    from .experiments import load_experiment, run_experiment
    from .io import ensure_writable

    problem = load_experiment(config)
    cfg = problem.config
    folder = ensure_writable(out if out is not None else Path(f"mfflow-run-{cfg.name}"))
    with console.status(f"running '{escape(cfg.name)}' ({', '.join(cfg.methods)})"):
        result = run_experiment(problem, folder)
    _written(result, folder)


@app.command(short_help="Redraw the figures of a results file or a sweep store.")
@_command
def plot(
    results: Annotated[
        Path,
        typer.Argument(
            metavar="RESULTS",
            help="A results.nc written by 'mfflow reproduce' or 'mfflow run', or a sweep "
            "store folder written by 'mfflow sweep'.",
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            metavar="DIR",
            help="Figure folder (default: figures/ beside a results file, STORE/figures for a "
            "sweep store).",
        ),
    ] = None,
) -> None:
    """Redraw the figures of a results file or a sweep store, computing nothing.

    RESULTS is a results.nc (from 'mfflow reproduce' or 'mfflow run') or the folder of a sweep
    store (from 'mfflow sweep'); figures are written as PNG and PDF.
    """
    from .io import ensure_writable, load_results

    if results.is_dir() and (results / "sweep.json").exists():
        from .sweep import open_sweep, plot_sweep

        ds = open_sweep(results)
        folder = ensure_writable(out if out is not None else results / "figures")
        written = plot_sweep(ds, folder)
    else:
        tree = load_results(results)
        kind = tree.attrs.get("kind")
        if kind not in ("reproduce", "run"):
            raise InputFileError(
                f"results file '{results}': expected a file written by 'mfflow reproduce' or "
                "'mfflow run' (attribute 'kind' missing)"
            )
        folder = ensure_writable(out if out is not None else results.parent / "figures")
        if kind == "reproduce":
            from .report import plot_results

            written = plot_results(tree, folder, source=results)
        else:
            from .experiment_report import plot_run

            written = plot_run(tree, folder)
    console.print(f"[green]done[/]: {len(written)} figure files in {escape(str(folder))}")


@app.command(short_help="A resumable parameter sweep on Dask.")
@_command
def sweep(
    spec: Annotated[
        Path,
        typer.Argument(metavar="SPEC", help="Sweep specification (TOML; see examples/sweeps/)."),
    ],
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            metavar="ADDRESS",
            help="Address of a running dask scheduler (default: a local cluster).",
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option("--workers", "-w", min=1, metavar="N", help="Workers of the local cluster."),
    ] = 2,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", metavar="STORE", help="Result store folder (default: mfflow-sweep-NAME)."
        ),
    ] = None,
) -> None:
    """Run a parameter sweep on Dask, resumable; 'mfflow plot STORE' draws it.

    Re-running the same command computes only the cells not yet stored (and starts no Dask
    cluster when there are none).
    """
    from .io import ensure_writable
    from .sweep import load_spec, run_sweep
    from .sweep.runner import dask_client, pending_cells

    cfg = load_spec(spec)
    store = ensure_writable(out if out is not None else Path(f"mfflow-sweep-{cfg.name}"))
    # nothing left to compute: no cluster is started (run_sweep then only re-consolidates)
    cluster = dask_client(scheduler, workers) if pending_cells(cfg, store) else None
    with (
        cluster if cluster is not None else contextlib.nullcontext() as client,
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
            progress.update(
                task,
                total=state["total"],
                completed=state["done"] + state["failed"],
                description=f"done {state['done']}, running {state['running']}, "
                f"failed {state['failed']}",
            )

        summary = run_sweep(cfg, store, client=client, on_progress=on_progress)
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
