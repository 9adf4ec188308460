"""An interrupted ``mfflow reproduce`` loses nothing it had finished.

The command is killed (SIGKILL, no clean-up) while it computes; every section it had finished is
then in ``OUT/.cache``, verified by its checksum and reused as is, in the registry's order; what
was being written when the process died is never taken for a result.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from mfflow.app.io import Cache
from mfflow.app.report import ReportConfig, cache_key
from mfflow.app.report.sections import SECTIONS
from mfflow.app.report.setup import Setup


def _finished(cache_dir: Path) -> list[str]:
    return sorted(p.stem for p in cache_dir.glob("*.json"))


def test_killed_reproduce_keeps_every_finished_section(tmp_path: Path) -> None:
    out = tmp_path / "report"
    cache_dir = out / ".cache"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mfflow", "reproduce", "--quick", "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 600
    try:
        while len(_finished(cache_dir)) < 2:
            assert proc.poll() is None, f"reproduce ended before the kill: {proc.stderr}"
            assert time.monotonic() < deadline, "no section finished within 600 s"
            time.sleep(0.02)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode < 0  # killed, not finished
    assert not (out / "results.nc").exists()

    names = [s.name for s in SECTIONS]
    done = _finished(cache_dir)
    assert len(done) >= 2
    assert sorted(done) == sorted(names[: len(done)])  # computed in the registry's order
    cfg = ReportConfig.default(quick=True)
    cache = Cache(cache_dir)
    for section in SECTIONS:
        ds = cache.get(section.name, cache_key(cfg, section))
        if section.name in done:
            assert ds is not None, f"{section.name}: finished before the kill, not reusable"
        else:
            assert ds is None, f"{section.name}: not finished, yet taken for a result"
    # the first section's cached numbers are those a fresh computation gives
    first = SECTIONS[0]
    fresh = first.compute(Setup.build(cfg.setup), cfg.sections[first.name])
    cached = cache.get(first.name, cache_key(cfg, first))
    assert cached is not None
    for name, var in fresh.data_vars.items():
        np.testing.assert_array_equal(cached[name].values, var.values, err_msg=name)
