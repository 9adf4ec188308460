"""``mfflow reproduce``: compute every section, save the results file, draw, write the report.

:func:`reproduce` builds the shared :class:`~mfflow.app.report.setup.Setup`, computes each
section of :data:`~mfflow.app.report.sections.SECTIONS` (or reuses its verified cache entry),
saves everything as one netCDF file with one group per section (``results.nc``), draws the
figures from that file's contents only and writes ``report.md`` and a self-contained
``index.html``.

Layout of the output folder::

    OUT/results.nc        attributes (kind, config as JSON, version); groups setup, one_mode, ...
    OUT/report.md         the story, the tables, the configuration
    OUT/index.html        the same, figures embedded (base64 PNG)
    OUT/figures/*.png     one PNG and one PDF per section
    OUT/figures/*.pdf
    OUT/.cache/NAME.nc    each section's results, with NAME.json (key and sha256) for resuming
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import xarray as xr

from ... import __version__
from ..errors import InputFileError
from ..io import Cache, load_results, save_results
from ..plotting import save_figures
from . import setup
from .document import Block, write_report
from .section import Section, SectionConfig
from .sections import SECTIONS
from .variables import describe

__all__ = [
    "ReportConfig",
    "cache_key",
    "compute_results",
    "plot_results",
    "report_blocks",
    "reproduce",
    "section_dataset",
]

TITLE = "mfflow reproduce: incremental learning in overparameterized matrix factorization"


@dataclass(frozen=True)
class ReportConfig:
    """The configuration of ``mfflow reproduce``: the shared setup and one per section."""

    setup: setup.SetupConfig = field(default_factory=setup.SetupConfig)
    sections: dict[str, SectionConfig] = field(
        default_factory=lambda: {s.name: s.default_config() for s in SECTIONS}
    )

    @classmethod
    def default(cls, quick: bool = False) -> ReportConfig:
        """The defaults (``quick``: the reduced grids of ``--quick``, same story)."""
        return cls(
            setup=setup.SetupConfig(**(setup.QUICK if quick else {})),
            sections={s.name: s.default_config(quick) for s in SECTIONS},
        )

    def __getitem__(self, name: str) -> Any:
        return self.setup if name == "setup" else self.sections[name]

    def to_json(self) -> str:
        """``{"setup": {...}, "one_mode": {...}, ...}`` (stored in the results file)."""
        data = {"setup": self.setup.model_dump(mode="json")}
        data.update({k: v.model_dump(mode="json") for k, v in self.sections.items()})
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ReportConfig:
        data = json.loads(text)
        return cls(
            setup=setup.SetupConfig.model_validate(data["setup"]),
            sections={s.name: s.config.model_validate(data[s.name]) for s in SECTIONS},
        )


def cache_key(cfg: ReportConfig, section: Section) -> str:
    """The key a section's cached result is stored under: its configuration, the shared set-up
    and the package version (a change in any of them recomputes the section)."""
    text = json.dumps(
        {
            "setup": cfg.setup.model_dump(mode="json"),
            "section": section.name,
            "config": cfg.sections[section.name].model_dump(mode="json"),
            "version": __version__,
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()


Progress = Callable[[str, str], None]


def compute_results(
    cfg: ReportConfig | None = None,
    *,
    cache_dir: str | Path | None = None,
    on_step: Progress | None = None,
) -> xr.DataTree:
    """Compute every section into one tree: the ``setup`` group and one group per section.

    Parameters
    ----------
    cfg : ReportConfig, optional
        Defaults to ``ReportConfig.default()``.
    cache_dir : path, optional
        Each section's results are saved there with their key and checksum and reused when the
        configuration, package version and checksum match, so an interrupted run loses nothing
        already computed.
    on_step : callable(name, state), optional
        Called with ``state`` "start", "cached" or "done" around each section.

    Returns
    -------
    xarray.DataTree
        Root attributes ``kind`` ("reproduce"), ``config`` (JSON), ``mfflow_version``.
    """
    cfg = ReportConfig.default() if cfg is None else cfg
    problem = setup.Setup.build(cfg.setup)
    cache = Cache(cache_dir) if cache_dir is not None else None
    groups: dict[str, xr.Dataset] = {"setup": describe(problem.dataset())}
    for section in SECTIONS:
        key = cache_key(cfg, section)
        ds = cache.get(section.name, key) if cache is not None else None
        if ds is not None:
            if on_step:
                on_step(section.name, "cached")
        else:
            if on_step:
                on_step(section.name, "start")
            ds = section.compute(problem, cfg.sections[section.name])
            if cache is not None:
                cache.put(section.name, key, ds)
            if on_step:
                on_step(section.name, "done")
        groups[section.name] = describe(ds)
    root = xr.Dataset(
        attrs={
            "title": "mfflow reproduce: incremental learning in symmetric matrix factorization",
            "kind": "reproduce",
            "config": cfg.to_json(),
            "mfflow_version": __version__,
            "reference": "H. Min and R. Vidal, arXiv:2508.20344",
            **environment(),
        }
    )
    return xr.DataTree.from_dict({"/": root, **groups})


def environment() -> dict[str, str]:
    """Versions of Python and of the libraries that computed and drew the results."""
    import platform
    import sys
    from importlib.metadata import PackageNotFoundError, version

    env = {"python_version": sys.version.split()[0], "platform": platform.platform()}
    for pkg in ("numpy", "scipy", "mpmath", "xarray", "netCDF4", "matplotlib"):
        try:
            env[f"{pkg}_version"] = version(pkg)
        except PackageNotFoundError:
            env[f"{pkg}_version"] = "missing"
    return env


def section_dataset(tree: xr.DataTree, name: str) -> xr.Dataset:
    """The group ``name`` of a results tree as a dataset (``setup`` or a section's name)."""
    return tree[name].to_dataset()


def _check_tree(tree: xr.DataTree, source: Path) -> None:
    missing = [name for name in ["setup", *(s.name for s in SECTIONS)] if name not in tree.children]
    if missing:
        raise InputFileError(
            f"results file '{source}': group(s) {', '.join(missing)} missing (written by "
            f"another mfflow version? mfflow {tree.attrs.get('mfflow_version', '?')})"
        )


def plot_results(
    tree: xr.DataTree,
    out: str | Path,
    source: Path | None = None,
    formats: tuple[str, ...] = ("png", "pdf"),
) -> list[Path]:
    """Draw every section's figure from the results tree into ``out`` (PNG and PDF)."""
    if source is not None:
        _check_tree(tree, source)
    return save_figures(
        ((s.name, partial(s.figure, section_dataset(tree, s.name))) for s in SECTIONS),
        out,
        formats,
    )


def report_blocks(tree: xr.DataTree) -> list[Block]:
    """The report's sections (setup first), from the results tree only."""
    base = section_dataset(tree, "setup")
    blocks = [Block(setup.TITLE, setup.text(base), setup.tables(base))]
    for s in SECTIONS:
        ds = section_dataset(tree, s.name)
        blocks.append(Block(s.title, s.text(ds), s.tables(ds), s.name))
    return blocks


def reproduce(
    out: str | Path = "mfflow-report",
    *,
    quick: bool = False,
    config: ReportConfig | None = None,
    on_step: Progress | None = None,
) -> dict[str, Any]:
    """Compute, save, draw and write the whole report into ``out``.

    Returns
    -------
    dict
        ``results`` (path of results.nc), ``report`` (report.md), ``html`` (index.html),
        ``figures`` (list of paths), ``seconds`` (wall time).
    """
    start = time.perf_counter()
    out = Path(out)
    cfg = config or ReportConfig.default(quick)
    tree = compute_results(cfg, cache_dir=out / ".cache", on_step=on_step)
    results = save_results(tree, out / "results.nc")
    saved = load_results(results)
    if on_step:
        on_step("figures", "start")
    # --quick draws PNGs only (PDF output doubles the drawing time)
    figures = plot_results(saved, out / "figures", formats=("png",) if quick else ("png", "pdf"))
    if on_step:
        on_step("figures", "done")
    seconds = time.perf_counter() - start
    md, page = write_report(
        out,
        out / "figures",
        title=TITLE,
        blocks=report_blocks(saved),
        config=cfg.to_json(),
        version=__version__,
        runtime_s=seconds,
    )
    return {"results": results, "report": md, "html": page, "figures": figures, "seconds": seconds}
