"""Run every check of docs/checks (one subprocess each) and summarize; non-zero exit on failure."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    failed = []
    for script in sorted(HERE.glob("check_*.py")):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(script)], cwd=HERE, env=env)
        took = time.perf_counter() - start
        status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
        print(f"-- {script.name}: {status} in {took:.1f} s\n")
        if proc.returncode != 0:
            failed.append(script.name)
    print("all checks passed" if not failed else f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
