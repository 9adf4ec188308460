"""What a reader of the report sees: every variable named, figures legible at the page's
1100 px width, numbers in the prose computed, the self-contained page movable alone."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib as mpl
import pytest
import xarray as xr

from mfflow.app.io import load_results
from mfflow.app.plotting import DPI, STYLE
from mfflow.app.report import section_dataset
from mfflow.app.report.sections import SECTIONS
from mfflow.app.report.variables import undescribed

# one worker runs every test that reads the session's quick reproduce (a single run)
pytestmark = pytest.mark.xdist_group("reproduce")

PAGE_PX = 1100  # max-width of index.html's body
MIN_TEXT_PX = 9.5  # smallest legible text at that width


@pytest.fixture(scope="module")
def tree(reproduced: Path) -> xr.DataTree:
    return load_results(reproduced / "results.nc")


def test_every_variable_has_a_long_name_and_units(tree: xr.DataTree) -> None:
    missing = {
        node.name: undescribed(node.to_dataset())
        for node in tree.subtree
        if node.name and undescribed(node.to_dataset())
    }
    assert missing == {}, "add long_name/units (report/variables.py GLOSSARY or the section)"


def test_library_versions_are_recorded(tree: xr.DataTree) -> None:
    for pkg in ("numpy", "scipy", "xarray", "matplotlib", "python"):
        assert tree.attrs[f"{pkg}_version"]


@pytest.mark.parametrize("section", SECTIONS, ids=lambda s: s.name)
def test_figure_text_is_legible_at_the_page_width(section, tree: xr.DataTree) -> None:
    """Every text of a figure (ticks, labels, legends, titles) is at least MIN_TEXT_PX high
    once the PNG is scaled to the report's width."""
    with mpl.rc_context(STYLE):
        fig = section.figure(section_dataset(tree, section.name))
        fig.canvas.draw()
        width_px = section.figsize[0] * DPI
        scale = min(1.0, PAGE_PX / width_px)
        small = [
            (t.get_text(), t.get_fontsize())
            for t in fig.findobj(mpl.text.Text)
            if t.get_text().strip()
            and t.get_visible()
            and t.get_fontsize() * DPI / 72 * scale < MIN_TEXT_PX
        ]
    assert small == [], f"{section.name}: text below {MIN_TEXT_PX} px at {PAGE_PX} px: {small}"


def test_no_legend_covers_data(tree: xr.DataTree) -> None:
    """A legend inside an axes must not cover any drawn point of that axes' lines."""
    import numpy as np

    offenders = []
    with mpl.rc_context(STYLE):
        for section in SECTIONS:
            fig = section.figure(section_dataset(tree, section.name))
            fig.canvas.draw()
            for ax in fig.axes:
                leg = ax.get_legend()
                if leg is None:
                    continue
                box = leg.get_window_extent()
                for line in ax.get_lines():
                    xy = line.get_xydata()
                    if xy.size == 0 or not line.get_visible():
                        continue
                    pts = ax.transData.transform(np.ma.filled(np.asarray(xy, float), np.nan))
                    ok = np.all(np.isfinite(pts), axis=1)
                    inside = (
                        (pts[ok, 0] > box.x0)
                        & (pts[ok, 0] < box.x1)
                        & (pts[ok, 1] > box.y0)
                        & (pts[ok, 1] < box.y1)
                    )
                    if inside.any():
                        offenders.append((section.name, ax.get_title()[:40], line.get_label()))
    assert offenders == []


def test_numbers_in_the_prose_are_computed() -> None:
    """No decimal number is written into a section's text by hand: every number in the prose
    is formatted from the results (an f-string field), so it changes with the configuration."""
    import inspect
    import io
    import tokenize

    for section in SECTIONS:
        source = inspect.getsource(section.text)
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type != tokenize.STRING:
                continue
            literal = re.sub(r"\{[^{}]*\}", "", tok.string)  # drop f-string fields
            assert not re.search(r"\b\d+\.\d+\b", literal), (section.name, tok.string)


def test_html_page_moves_alone(reproduced: Path) -> None:
    page = (reproduced / "index.html").read_text()
    assert 'href="figures/' not in page and 'src="figures/' not in page
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", page)
    assert len(captions) == len(SECTIONS)
    assert all(c.startswith("Figure ") and len(c) > 15 for c in captions)
