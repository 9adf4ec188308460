"""Report documents: number formatting, tables, and the markdown + self-contained HTML writer.

A report is a list of :class:`Block` (a numbered section: title, paragraphs, tables, an
optional figure) followed by the configuration; :func:`write_report` writes it as
``report.md`` (figures linked) and ``index.html`` (self-contained: figures embedded as base64
PNG, with the PDF embedded behind each figure's caption link).
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..io import atomic_write

__all__ = ["Block", "Table", "fmt", "interval_cell", "nanmean", "tri", "write_report", "yes_no"]

REFERENCE = (
    "Min & Vidal, *Understanding incremental learning with closed-form solution to gradient "
    "flow on overparameterized matrix factorization*, arXiv:2508.20344."
)


def fmt(x: Any) -> str:
    """How every number appears in a report: 4 significant digits; ``inf``; ``-`` for NaN."""
    v = float(x)
    if math.isnan(v):
        return "-"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v + 0.0:.4g}" if v != 0 else "0"


def tri(flag: bool | None) -> int:
    """``True/False/None`` as ``1/0/-1`` (netCDF has no boolean or missing-boolean type)."""
    return -1 if flag is None else int(bool(flag))


def yes_no(flag: Any) -> str:
    """A :func:`tri` value as ``yes``, ``no`` or ``n/a (empty interval)``."""
    return {1: "yes", 0: "no"}.get(int(flag), "n/a (empty interval)")


def interval_cell(lo: float, hi: float) -> str:
    """``[a, b]``; ``none`` (NaN: no interval); ``empty`` or ``empty [a, b]`` when ``a > b``."""
    if math.isnan(lo):
        return "none"
    if not lo <= hi or math.isinf(lo):
        return "empty" if math.isinf(lo) or math.isinf(hi) else f"empty [{fmt(lo)}, {fmt(hi)}]"
    return f"[{fmt(lo)}, {fmt(hi)}]"


def nanmean(values: Any, axis: int) -> np.ndarray:
    """Mean over ``axis`` ignoring NaN; NaN where every value is NaN (no warning)."""
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    count = ok.sum(axis=axis)
    total = np.where(ok, v, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


@dataclass
class Table:
    """A report table: a caption, a header and rows of already formatted cells."""

    caption: str
    header: list[str]
    rows: list[list[str]]

    def markdown(self) -> str:
        lines = [f"*{self.caption}*", ""]

        def row(cells: list[str]) -> str:
            return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

        lines.append(row(self.header))
        lines.append("|" + "|".join(" --- " for _ in self.header) + "|")
        lines += [row(r) for r in self.rows]
        return "\n".join(lines)

    def html(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.header)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in self.rows
        )
        return (
            f"<table><caption>{html.escape(self.caption)}</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )


@dataclass
class Block:
    """One numbered section of a report."""

    title: str
    paragraphs: list[str]
    tables: list[Table] = field(default_factory=list)
    figure: str | None = None


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;"
    "line-height:1.5;color:#222}img{max-width:100%}table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#f3f3f3}"
    "caption{font-style:italic;text-align:left;padding:.3em 0}pre{background:#f6f6f6;"
    "padding:1em;overflow-x:auto}figure{margin:1em 0}figcaption{font-size:.9em}"
)


def write_report(
    out: str | Path,
    figures_dir: str | Path,
    *,
    title: str,
    blocks: list[Block],
    config: str,
    version: str,
    runtime_s: float | None = None,
) -> tuple[Path, Path]:
    """Write ``report.md`` and a self-contained ``index.html`` into ``out``.

    ``config`` is the configuration as JSON (shown pretty-printed at the end); figures are read
    from ``figures_dir`` (``NAME.png``, linked to ``NAME.pdf``).
    """
    out = Path(out)
    fig_dir = Path(figures_dir)
    pretty = json.dumps(json.loads(config), indent=2, sort_keys=True)
    meta = f"mfflow {version}"
    if runtime_s is not None:
        meta += f", computed in {runtime_s:.1f} s"
    md = [f"# {title}", "", f"{meta}. Reference: {REFERENCE}", ""]
    body = [f"<h1>{html.escape(title)}</h1>", f"<p>{html.escape(meta)}. Reference: "]
    body[-1] += html.escape(REFERENCE.replace("*", "")) + "</p>"
    n_fig = 0
    for n, block in enumerate(blocks, start=1):
        sec = block.title
        md += [f"## {n}. {sec}", ""]
        body.append(f"<h2>{n}. {html.escape(sec)}</h2>")
        if block.figure is not None:
            rel = os.path.relpath(fig_dir / f"{block.figure}.png", out)
            md += [f"![{sec}]({rel})", ""]
            png = fig_dir / f"{block.figure}.png"
            pdf = png.with_suffix(".pdf")
            if png.exists():
                n_fig += 1
                data = base64.b64encode(png.read_bytes()).decode("ascii")
                caption = f"Figure {n_fig} (section {n}): {html.escape(sec)}."
                if pdf.exists():  # embedded too, so the link survives moving the page alone
                    pdf_data = base64.b64encode(pdf.read_bytes()).decode("ascii")
                    caption += (
                        f' <a download="{html.escape(block.figure)}.pdf" '
                        f'href="data:application/pdf;base64,{pdf_data}">'
                        f"Vector version (PDF, {pdf.stat().st_size // 1024} KB)</a>"
                    )
                body.append(
                    f'<figure><img alt="Figure {n_fig}: {html.escape(sec)}" '
                    f'src="data:image/png;base64,{data}">'
                    f"<figcaption>{caption}</figcaption></figure>"
                )
        for p in block.paragraphs:
            md += [p, ""]
            body.append(f"<p>{html.escape(p)}</p>")
        for table in block.tables:
            md += [table.markdown(), ""]
            body.append(table.html())
    md += ["## Configuration", "", "```json", pretty, "```", ""]
    body += ["<h2>Configuration</h2>", f"<pre>{html.escape(pretty)}</pre>"]
    page = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
    md_path, html_path = out / "report.md", out / "index.html"
    with atomic_write(md_path) as tmp:
        tmp.write_text("\n".join(md), encoding="utf-8")
    with atomic_write(html_path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return md_path, html_path
