"""``import mfflow`` stays light: the app layer and its heavy dependencies load on first use."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "xarray",
    "pandas",
    "dask",
    "distributed",
    "pydantic",
    "matplotlib",
    "typer",
    "rich",
    "zarr",
    "netCDF4",
    "mfflow.app",
)

PROBE = """
import json, sys, time
t0 = time.perf_counter()
import mfflow
seconds = time.perf_counter() - t0
heavy = {heavy!r}
loaded = sorted(m for m in sys.modules if m.split(".")[0] in heavy or m.startswith("mfflow.app"))
print(json.dumps({{"seconds": seconds, "loaded": loaded}}))
"""


def test_import_mfflow_loads_no_app_dependency() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout)
    assert result["loaded"] == [], result["loaded"]
    # recorded in the test log (-s, -rA); loading numpy and scipy dominates
    print(f"import mfflow: {result['seconds']:.2f} s")


def test_lazy_names_load_the_sweep_module_on_first_use() -> None:
    code = (
        "import sys, mfflow; assert 'mfflow.app.sweep' not in sys.modules; "
        "f = mfflow.load_spec; assert 'mfflow.app.sweep' in sys.modules; "
        "assert 'load_spec' in dir(mfflow); print(f.__module__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "mfflow.app.sweep.spec"


def test_core_never_imports_the_app_layer() -> None:
    """One direction: only mfflow/__init__.py (lazily) and __main__.py refer to mfflow.app."""
    from pathlib import Path

    import mfflow

    root = Path(mfflow.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        if rel.parts[0] == "app" or (
            rel.name in ("__init__.py", "__main__.py") and len(rel.parts) == 1
        ):
            continue
        text = path.read_text("utf-8")
        if "mfflow.app" in text or "from .app" in text or "from . import app" in text:
            offenders.append(str(rel))
    assert offenders == []
