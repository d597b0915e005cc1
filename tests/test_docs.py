"""The docs site: the derivative reference covers the registry, and the site builds.

The build test runs ``mkdocs build --strict`` (what ``make docs`` and CI run): every
tutorial executes (a failing cell or ``assert`` fails it), every link resolves, every
docstring the API pages show parses. Then three pages are rendered in headless Chromium
at a laptop's and a phone's width, served over HTTP as a reader would get them, with no
console errors. Skips, naming what is missing, without mkdocs, playwright or Chromium.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from glassgrad.primitive import PRIMITIVES

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = sorted((ROOT / "docs" / "tutorials").glob("[0-9][0-9]-*.py"))


def _hook():
    spec = importlib.util.spec_from_file_location("derivatives_hook",
                                                  ROOT / "docs" / "hooks" / "derivatives.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_derivative_reference_lists_every_registered_primitive_with_its_rules():
    page = _hook().render()
    listed = re.findall(r"^### `([^`]+)`$", page, flags=re.M)
    assert sorted(listed) == sorted(PRIMITIVES)  # rendered here: this process's registry
    for name, prim in PRIMITIVES.items():
        entry = page[page.index(f"### `{name}`\n"):]
        entry = entry[:entry.find("\n### ", 1)]
        vjp = re.search(r"VJP:(.*?)(?:JVP:|$)", prim.__doc__, flags=re.S | re.M).group(1)
        assert " ".join(vjp.split()).split(". ")[0] in " ".join(entry.split()), name
        assert f"class {prim.card.__name__}" in entry, name  # the card's source


def test_every_tutorial_is_in_the_nav_and_starts_and_ends_as_the_others():
    nav = (ROOT / "mkdocs.yml").read_text()
    assert len(TUTORIALS) == 11
    for path in TUTORIALS:
        assert f"tutorials/{path.name}" in nav
        text = path.read_text()
        assert re.match(r"# %% \[markdown\]\n# # \d+\. ", text), path.name
        assert "What you will learn" in text and "## Exercises" in text, path.name
        assert "<details>" in text, f"{path.name}: answers are folded in <details>"


def _build(out: Path) -> None:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=1500, env=env)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-8000:]


def _check_pages(site: Path) -> None:
    for path in TUTORIALS:
        page = (site / "tutorials" / path.stem / "index.html").read_text()
        assert "jp-OutputArea" in page or "output_area" in page or "jp-Cell-outputWrapper" \
            in page, f"{path.name} shows no outputs"
        assert "data:image/png" in page or "<svg" in page, f"{path.name} shows no picture"
        for href in re.findall(r'href="([^"#:]+\.(?:py|md))"', page):
            raise AssertionError(f"{path.name}: a link left pointing at a source file: {href}")
    ref = (site / "reference" / "derivatives" / "index.html").read_text()
    # the library's own cards (other tests register cards of their own in this process)
    ours = [n for n, p in PRIMITIVES.items() if p.card.__module__.startswith("glassgrad.")]
    missing = [n for n in ours if f"<code>{n}</code>" not in ref]
    assert not missing, missing
    for api in ("autograd", "nn", "compile"):
        assert (site / "reference" / "api" / api / "index.html").stat().st_size > 20_000


def _render(site: Path, tmp_path: Path) -> None:
    """Three pages at a laptop's and a phone's width, served over HTTP."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None or importlib.util.find_spec("playwright") is None:
        pytest.skip("Chromium (Debian package `chromium`) or playwright is not installed: "
                    "the site built, but was not rendered")
    from playwright.sync_api import sync_playwright

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    pages = ["", "tutorials/01-chain-rule/", "reference/derivatives/"]
    keep = os.environ.get("GLASSGRAD_SCREENSHOTS")
    errors = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            for width in (1280, 390):
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.on("console",
                        lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(str(e)))
                for i, path in enumerate(pages):
                    page.goto(f"{base}/{path}")
                    page.wait_for_load_state("networkidle")
                    overflow = page.evaluate("document.documentElement.scrollWidth") - width
                    assert overflow <= 1, f"{path or 'index'} scrolls sideways by {overflow}px"
                    shot = tmp_path / f"docs-{i}-{width}.png"
                    page.screenshot(path=str(shot))
                    if keep:
                        Path(keep).mkdir(parents=True, exist_ok=True)
                        shutil.copy(shot, Path(keep) / shot.name)
            browser.close()
    finally:
        server.shutdown()
    assert not errors, errors


@pytest.mark.slow
def test_site_builds_strict_with_every_tutorial_executed_and_renders(tmp_path):
    """One test, so that one worker builds the site (each tutorial starts a kernel)."""
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[docs]')")
    site = tmp_path / "site"
    _build(site)
    _check_pages(site)
    _render(site, tmp_path)
