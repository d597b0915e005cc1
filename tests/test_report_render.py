"""The demo's HTML report rendered in headless Chromium at a laptop's and a phone's width.

Needs Debian's ``chromium`` (``.ci/run`` installs it) and the ``playwright`` package (dev
extras); skips, naming what is missing, without them. Checks what a reader would notice:
no console errors, every image loaded, nothing wider than the screen (the page itself
never scrolls sideways; wide code and tables scroll inside their own box), text at a
readable size. Screenshots go to the test's temporary folder (and to
``$GLASSGRAD_SCREENSHOTS`` when set, for a person to look at).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import glassgrad.demo as demo
from glassgrad.lessons import write_html

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api",
                                 reason="the playwright package (dev extras) is not installed")
if CHROMIUM is None:
    pytest.skip("Chromium is not installed (Debian package `chromium`; .ci/run installs it)",
                allow_module_level=True)

WIDTHS = {"laptop": (1280, 900), "phone": (390, 844)}


@pytest.fixture(scope="module")
def page_path(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    sections = demo.run(out, fast=True, quiet=True)
    return write_html(sections, out, lead=demo.LEAD)


@pytest.mark.parametrize("device", sorted(WIDTHS))
def test_report_renders_cleanly(page_path, tmp_path, device):
    width, height = WIDTHS[device]
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            errors = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_path.as_uri())
            page.wait_for_load_state("load")
            page.evaluate("window.scrollTo(0, document.body.scrollHeight)")  # lazy images
            page.wait_for_function(
                "Array.from(document.images).every(i => i.complete)", timeout=20000)
            broken = page.evaluate(
                "Array.from(document.images).filter(i => i.naturalWidth === 0)"
                ".map(i => i.getAttribute('src'))")
            overflow = page.evaluate("document.documentElement.scrollWidth") - width
            too_wide = page.evaluate(
                f"Array.from(document.querySelectorAll('main > section > *'))"
                f".filter(e => e.getBoundingClientRect().right > {width} + 1)"
                f".map(e => e.tagName + '.' + e.className)")
            font = page.evaluate("parseFloat(getComputedStyle(document.querySelector('p'))"
                                 ".fontSize)")
            shot = tmp_path / f"report-{device}.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    keep = os.environ.get("GLASSGRAD_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)
    assert not errors, errors
    assert not broken, f"images that did not load: {broken}"
    assert overflow <= 1, f"the page scrolls sideways by {overflow}px at {width}px"
    assert not too_wide, f"wider than the screen: {too_wide}"
    assert font >= 14
    assert shot.stat().st_size > 50_000
