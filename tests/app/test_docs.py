"""The documentation site builds in strict mode, and the report and the site work in a real
browser (headless Chromium from the system packages, driven by playwright), offline.

The site's gallery is made from the session's ``mfflow reproduce --quick`` (``reproduced``), so
the build executes only the hand-written examples. Screenshots at the report's 1100 px width are
saved under ``.test-artifacts/`` at the repository root.
"""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import mfflow
from mfflow.app.report.sections import SECTIONS

# one worker runs every test that reads the session's quick reproduce (a single run)
pytestmark = pytest.mark.xdist_group("reproduce")

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def docs_site(reproduced: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    for module in ("mkdocs", "material", "mkdocstrings", "mathjax"):
        pytest.importorskip(module, reason='the docs extra: pip install -e ".[docs]"')
    site = tmp_path_factory.mktemp("docs") / "site"
    env = {**os.environ, "MFFLOW_DOCS_REPORT": str(reproduced), "NO_MKDOCS_2_WARNING": "1"}
    r = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return site


def test_docs_build_strict_with_every_section_and_public_name(docs_site: Path) -> None:
    for page in ("index.html", "math.html", "gradients.html", "api.html", "cite.html"):
        assert (docs_site / page).stat().st_size > 1000, page
    for section in SECTIONS:  # one gallery page per registered section, with its figure
        page = (docs_site / "gallery" / f"{section.name}.html").read_text()
        assert f"{section.name}.png" in page
        assert (docs_site / "gallery" / f"{section.name}.png").exists()
    api = (docs_site / "api.html").read_text()
    missing = [n for n in mfflow.__all__ if n != "__version__" and f'id="{n}"' not in api]
    missing = [n for n in missing if f".{n}" not in api]
    assert missing == []
    # executed examples ran: their output is on the page
    assert "predicted transitions:" in (docs_site / "gallery" / "own_problem.html").read_text()
    # claims link to the tests that measure them
    assert 'href="code/tests/test_gradients.py.html' in (docs_site / "gradients.html").read_text()


def _browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    # with playwright installed (the test extra) the browser checks run: a missing browser is a
    # failure, not a skip (.ci/run installs Debian's chromium)
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} missing: apt-get install chromium"
    return sync_api.sync_playwright()


class _Watch:
    """Console errors, failed requests and requests to anywhere but ``allowed`` prefixes."""

    def __init__(self, page, allowed: tuple[str, ...]) -> None:
        self.problems: list[str] = []
        page.on(
            "console",
            lambda m: (
                self.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
            ),
        )
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", self._failed)

        def route(r) -> None:
            if r.request.url.startswith(allowed):
                r.continue_()
            else:
                self.problems.append(f"request leaves the machine: {r.request.url}")
                r.abort()

        page.route("**/*", route)

    def _failed(self, request) -> None:
        # the browser fetches the favicon in the background and cancels it when the test
        # navigates on: an aborted favicon request is not a missing file
        if request.url.endswith("/favicon.png") and "ERR_ABORTED" in (request.failure or ""):
            return
        self.problems.append(f"failed request: {request.url} ({request.failure})")


def _images_loaded(page) -> list[str]:
    return page.evaluate(
        "Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0))"
        ".map(i => i.alt || i.src.slice(0, 60))"
    )


def test_report_in_the_browser(reproduced: Path) -> None:
    """index.html: every figure loads, no console error, no request but the page itself."""
    with _browser() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1400})
            watch = _Watch(page, ("file://", "data:"))
            page.goto((reproduced / "index.html").as_uri(), wait_until="load")
            n_images = page.evaluate("document.images.length")
            assert n_images == len(SECTIONS)
            assert _images_loaded(page) == []
            widths = page.evaluate("Array.from(document.images).map(i => i.clientWidth)")
            assert max(widths) <= 1100
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report-1100px.png"))
            page.screenshot(path=str(ARTIFACTS / "report-1100px-full.png"), full_page=True)
            assert watch.problems == []
        finally:
            browser.close()


@pytest.fixture
def served(docs_site: Path) -> Iterator[str]:
    handler = functools.partial(
        type("Quiet", (http.server.SimpleHTTPRequestHandler,), {"log_message": lambda *a: None}),
        directory=str(docs_site),
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


PAGES = ["index.html", "math.html", "gallery/index.html", "gallery/rank_k.html", "api.html"]


def test_docs_site_offline_in_the_browser(served: str) -> None:
    """The site needs nothing but itself: no web fonts, no CDN; MathJax typesets the math."""
    with _browser() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1000})
            watch = _Watch(page, (served, "data:"))
            for name in PAGES:
                page.goto(f"{served}/{name}", wait_until="load", timeout=180_000)
                page.evaluate("window.MathJax && MathJax.startup ? MathJax.startup.promise : 0")
                assert _images_loaded(page) == [], name
                if name == "math.html":
                    assert page.evaluate("document.querySelectorAll('mjx-container').length") > 100
                    assert page.evaluate("document.querySelectorAll('mjx-merror').length") == 0
                    ARTIFACTS.mkdir(exist_ok=True)
                    page.screenshot(path=str(ARTIFACTS / "docs-math-1100px.png"))
            assert watch.problems == []
        finally:
            browser.close()


def test_artifacts_folder_is_ignored() -> None:
    assert ".test-artifacts/" in (ROOT / ".gitignore").read_text()
