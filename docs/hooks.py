"""MkDocs hooks: the pages built from the repository itself.

* **Gallery.** One page per section of ``mfflow reproduce``, generated from the registry
  (:data:`mfflow.app.report.sections.SECTIONS`): its figure, text and tables as the report has
  them. A new section needs no docs edit. The figures and numbers come from one
  ``mfflow reproduce --quick`` run: the folder named by ``MFFLOW_DOCS_REPORT`` if set (the test
  suite passes the run it already made), else ``.docs-cache/report`` (made on first build,
  reused while its configuration and mfflow version match).
* **Executed examples.** Code fences opened with ```` ```python exec ```` are run when the page
  is built (one namespace per page, in a temporary folder) and followed by what they printed
  and the figures they passed to ``show(fig)``; an exception fails the build.
  ``requires=torch,jax`` skips a block, with a note, when a module is missing.
* **API reference.** One ``:::`` entry per name of ``mfflow.__all__``, grouped by module.
* **Code pages.** Every test, check script, example and section module gets a page with its
  source, and every backticked path such as `tests/test_theory.py::test_x` in the docs links
  to it, so each claim links to the test or script that measures it.
* **MathJax** is served from the ``mathjax`` package (PyPI ``django-static-mathjax``), never
  from a CDN: the site works offline.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import io
import json
import os
import posixpath
import re
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

CODE_GLOBS = [
    "tests/*.py",
    "tests/app/*.py",
    "docs/checks/*.py",
    "examples/*.toml",
    "examples/*.py",
    "examples/sweeps/*.toml",
    "benchmarks/*.py",
    "src/mfflow/app/report/sections/*.py",
]
_PATH = re.compile(
    r"`((?:tests|docs/checks|examples|benchmarks|src/mfflow)/[\w/.-]+\.(?:py|toml))"
    r"(?:::([\w\[\].-]+))?`"
)
_CODE_PAGES: set[str] = set()  # repository paths that have a code page
_EXEC = re.compile(r"^```python exec(?P<opts>[^\n]*)\n(?P<code>.*?)^```\s*$", re.M | re.S)

GROUPS = {
    "problems": "Targets and initialization shapes",
    "riccati": "The exact solution",
    "simulate": "Numerical references: ODE solves and gradient descent",
    "theory": "The theorem",
    "asymmetric": "Asymmetric factorization U V^T",
    "gd_vs_gf": "Gradient descent versus the flow",
    "sensing": "Matrix sensing and completion",
    "deep": "Deep factorization",
    "curves": "Utilities",
    "linalg": "Utilities",
    "noisy": "noisy",
    "app": "Sweeps",
}


def _sections() -> list[Any]:
    from mfflow.app.report.sections import SECTIONS

    return SECTIONS


def _report_dir() -> Path:
    """A ``mfflow reproduce --quick`` output folder (made if missing or stale)."""
    env = os.environ.get("MFFLOW_DOCS_REPORT")
    if env:
        return Path(env)
    import mfflow
    from mfflow.app.report import reproduce

    out = ROOT / ".docs-cache" / "report"
    stamp = out / "docs-stamp.json"
    want = {"version": mfflow.__version__, "sections": [s.name for s in _sections()]}
    if not stamp.exists() or json.loads(stamp.read_text()) != want:
        reproduce(out, quick=True)  # its section cache makes a rebuild cheap
        stamp.write_text(json.dumps(want))
    return out


# ---------------------------------------------------------------------------- configuration


def on_config(config: Any) -> Any:
    """Insert one gallery page per registered section into the navigation."""
    for entry in config["nav"]:
        if isinstance(entry, dict) and "Gallery" in entry:
            pages = entry["Gallery"]
            pages[1:1] = [{s.title: f"gallery/{s.name}.md"} for s in _sections()]
    return config


# ---------------------------------------------------------------------------- generated files


def _gallery_page(section: Any, tree: Any, report: Path) -> str:
    from mfflow.app.report import ReportConfig, section_dataset

    ds = section_dataset(tree, section.name)
    cfg = ReportConfig.from_json(tree.attrs["config"])[section.name]
    lines = [
        f"# {section.title}",
        "",
        f"![{section.title}]({section.name}.png)",
        "",
        *[p + "\n" for p in section.text(ds)],
    ]
    for table in section.tables(ds):
        lines += [table.markdown(), ""]
    lines += [
        "## How this page was made",
        "",
        f"Section `{section.name}` of `mfflow reproduce`, computed by "
        "`mfflow reproduce --quick` when these docs were built (the full run uses finer "
        "grids, so its numbers differ in the last digits). The configuration of the section:",
        "",
        "```json",
        json.dumps(cfg.model_dump(mode="json"), indent=2),
        "```",
        "",
        f"Its code (configuration, computation, figure, tables, text): "
        f"`src/mfflow/app/report/sections/{section.name}.py`. Redraw it from a results file "
        "with `mfflow plot results.nc`.",
        "",
    ]
    return "\n".join(lines)


def _api_page() -> str:
    import mfflow

    groups: dict[str, list[str]] = {}
    for name in mfflow.__all__:
        obj = getattr(mfflow, name)
        module = getattr(obj, "__module__", None)
        if module is None or not module.startswith("mfflow"):
            continue
        key = module.split(".")[1]
        # an alias (AsymmetricFlowResult = FlowResult) is documented under its public name
        path = f"mfflow.{name}" if getattr(obj, "__name__", name) != name else f"{module}.{name}"
        groups.setdefault(GROUPS.get(key, key), []).append(path)
    lines = [
        "# API reference",
        "",
        "Every public name of `mfflow` (`import mfflow`; nothing deeper is needed), generated "
        "from the docstrings: shapes, the mathematics, examples. The sweep names are loaded on "
        "first use (`import mfflow` stays light). The command line is described by "
        "`mfflow --help` and in [Getting started](index.md).",
        "",
    ]
    for title, paths in groups.items():
        lines += [f"## {title}", ""]
        lines += [f"::: {p}\n" for p in paths]
    return "\n".join(lines)


def _code_page(rel: str) -> str:
    text = (ROOT / rel).read_text(encoding="utf-8")
    lang = "toml" if rel.endswith(".toml") else "python"
    return f'# `{rel}`\n\n```{lang} linenums="1"\n{text}\n```\n'


def _benchmarks_page() -> str:
    lines = [(ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8").rstrip(), ""]
    for txt in sorted((ROOT / "benchmarks" / "results").glob("*.txt")):
        lines += [
            f"## Stored results: `{txt.name}`",
            "",
            "```text",
            txt.read_text().rstrip(),
            "```",
            "",
        ]
    return "\n".join(lines)


def on_files(files: Files, config: Any) -> Files:
    from mfflow.app.io import load_results

    report = _report_dir()
    tree = load_results(report / "results.nc")
    for section in _sections():
        files.append(
            File.generated(
                config, f"gallery/{section.name}.md", content=_gallery_page(section, tree, report)
            )
        )
        files.append(
            File.generated(
                config,
                f"gallery/{section.name}.png",
                abs_src_path=str(report / "figures" / f"{section.name}.png"),
            )
        )
    files.append(File.generated(config, "api.md", content=_api_page()))
    files.append(File.generated(config, "benchmarks.md", content=_benchmarks_page()))
    for pattern in CODE_GLOBS:
        for path in sorted(ROOT.glob(pattern)):
            rel = path.relative_to(ROOT).as_posix()
            _CODE_PAGES.add(rel)
            files.append(File.generated(config, f"code/{rel}.md", content=_code_page(rel)))
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("MathJax missing: python -m pip install -e '.[docs]'")
    mathjax = Path(next(iter(spec.submodule_search_locations))) / "static/mathjax/es5"
    files.append(
        File.generated(
            config,
            "assets/mathjax/tex-svg-full.js",
            abs_src_path=str(mathjax / "tex-svg-full.js"),
        )
    )
    return files


# ---------------------------------------------------------------------------- page markdown


def _link_paths(markdown: str, page: Any) -> str:
    here = posixpath.dirname(page.file.src_uri)

    def link(m: re.Match[str]) -> str:
        rel, test = m.group(1), m.group(2)
        if rel not in _CODE_PAGES:
            return m.group(0)
        target = posixpath.relpath(f"code/{rel}.md", here or ".")
        anchor = ""
        if test:
            line = _line_of(rel, test.split("[")[0])
            anchor = f"#__codelineno-0-{line}" if line else ""
        return f"[{m.group(0)}]({target}{anchor})"

    parts = re.split(r"(^```.*?^```\s*$)", markdown, flags=re.M | re.S)
    return "".join(p if p.startswith("```") else _PATH.sub(link, p) for p in parts)


def _line_of(rel: str, name: str) -> int | None:
    for i, line in enumerate((ROOT / rel).read_text(encoding="utf-8").splitlines(), start=1):
        if re.match(rf"\s*(async\s+)?def {re.escape(name)}\b|\s*class {re.escape(name)}\b", line):
            return i
    return None


def _execute(markdown: str, page: Any) -> str:
    namespace: dict[str, Any] = {"__name__": f"docs_{page.file.name}"}
    figures: list[str] = []

    def show(fig: Any) -> None:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
        figures.append(base64.b64encode(buf.getvalue()).decode("ascii"))

    namespace["show"] = show

    def run(m: re.Match[str]) -> str:
        code, opts = m.group("code"), m.group("opts")
        block = f"```python\n{code}```\n"
        need = re.search(r"requires=([\w,]+)", opts)
        missing = [
            mod
            for mod in (need.group(1).split(",") if need else [])
            if importlib.util.find_spec(mod) is None
        ]
        if missing:
            return block + (
                f'\n!!! note "Not executed"\n    {", ".join(missing)} is not installed where '
                "these docs were built.\n"
            )
        out = io.StringIO()
        figures.clear()
        with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):
            try:
                with contextlib.redirect_stdout(out):
                    exec(compile(code, f"{page.file.src_uri} (exec block)", "exec"), namespace)
            except Exception as exc:
                raise RuntimeError(
                    f"{page.file.src_uri}: an executed example failed:\n{traceback.format_exc()}"
                ) from exc
        result = block
        if out.getvalue().strip():
            result += f"\n```text\n{out.getvalue().rstrip()}\n```\n"
        for png in figures:
            result += f"\n![figure made by the code above](data:image/png;base64,{png})\n"
        return result

    return _EXEC.sub(run, markdown)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    if "```python exec" in markdown:
        import matplotlib

        matplotlib.use("Agg")
        markdown = _execute(markdown, page)
    return _link_paths(markdown, page)
