"""The ``mfflow`` command: a thin shell over :mod:`mfflow.report` and :mod:`mfflow.plot`.

Commands::

    mfflow reproduce [--out DIR] [--quick]   the paper's results: figures, report, results file
    mfflow run CONFIG.toml [--out DIR]       one configured experiment
    mfflow plot RESULTS.nc [--out DIR]       redraw the figures of a results file

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


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``mfflow`` script and of ``python -m mfflow``."""
    app(args=argv, prog_name="mfflow")
