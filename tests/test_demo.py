"""``glassgrad demo --fast``: every lesson runs, every claim holds, the report is complete.

The demo is the main job (``make demo``). One fast run (module-scoped) feeds the checks:
the exit status, each section's claims, the HTML page referencing every figure each
section lists (and each figure a real image with content), the tutorial links, and the
facts behind the claims the issue names (XOR solved, the broken Function named, the
sigmoid net flagged vanishing and the mitigated ones not, clipping bounding the norm, the
NaN's root cause named). ``tests/test_report_render.py`` renders the page in Chromium.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np
import pytest

import glassgrad.demo as demo
from glassgrad.lessons import write_html
from glassgrad.lessons.mlp import XOR_X, XOR_Y, forward, hand_gradients, init_xor

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent

KEYS = ["chain-rule", "graphs", "modes", "mlp", "xor", "gradcheck", "vanishing",
        "debugging", "styles", "flow"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    sections = demo.run(out, fast=True, quiet=True)
    page = write_html(sections, out, lead=demo.LEAD)
    return out, sections, page.read_text(encoding="utf-8")


def test_every_lesson_runs_in_order_and_every_claim_holds(report):
    _, sections, _ = report
    assert [s.key for s in sections] == KEYS
    failed = [(s.key, c.text) for s in sections for c in s.claims if not c.ok]
    assert not failed
    for s in sections:
        assert s.claims, f"section {s.key} states nothing it checked"
        assert s.figures() or any(b[0] in ("table", "code", "pair") for b in s.blocks), s.key


def test_the_page_holds_every_figure_and_each_is_a_real_image(report):
    out, sections, page = report
    referenced = set(re.findall(r'<img src="figures/([^"]+)"', page))
    listed = {name for s in sections for name in s.figures()}
    assert listed and referenced == listed
    import matplotlib.image as mpimg

    for name in listed:
        path = out / "figures" / name
        data = path.read_bytes()
        if name.endswith(".png"):
            assert data[:8] == b"\x89PNG\r\n\x1a\n", name
            assert len(data) > 5000, f"{name}: {len(data)} bytes"
            pixels = mpimg.imread(path)
            assert float(np.std(pixels[..., :3])) > 0.02, f"{name} is one flat colour"
        else:
            assert name.endswith(".svg") and b"<svg" in data[:2000] and len(data) > 2000, name


def test_the_page_is_self_contained_and_links_the_tutorials(report):
    _, sections, page = report
    assert "http://" not in page and "https://" not in page  # works offline: no CDN
    assert "<script" not in page
    assert '<meta name="viewport"' in page
    for s in sections:
        assert f'id="{s.key}"' in page
        assert f"docs/tutorials/{s.tutorial()}.py" in page
        assert (ROOT / "docs" / "tutorials" / f"{s.tutorial()}.py").exists(), s.tutorial()
        for c in s.claims:
            assert html.escape(c.text, quote=False).split("`")[0] in page


def test_the_claims_the_issue_names(report):
    _, sections, _ = report
    by_key = {s.key: s for s in sections}
    assert by_key["xor"].facts["correct"] == 4
    assert by_key["mlp"].facts["worst_hand"] < 1e-12
    texts = {k: " ".join(c.text for c in s.claims) for k, s in by_key.items()}
    assert "BrokenSwish" in texts["gradcheck"] or "Broken" in texts["gradcheck"]
    assert "vanish" in texts["vanishing"].lower()
    assert "clip" in texts["vanishing"].lower()
    assert "log" in texts["debugging"].lower() or "nan" in texts["debugging"].lower()


def test_terminal_summary_ticks_each_claim(report, capsys):
    _, sections, _ = report
    text = demo.summary(sections)
    n_claims = sum(len(s.claims) for s in sections)
    assert len(re.findall(r"^    (?:\u2713|ok) ", text, flags=re.M)) == n_claims


def test_a_failing_lesson_becomes_a_failed_section_not_a_crash(tmp_path, monkeypatch):
    def broken(ctx):
        raise RuntimeError("boom")

    monkeypatch.setattr(demo, "LESSONS", (broken,))
    sections = demo.run(tmp_path, fast=True, quiet=True)
    assert len(sections) == 1 and not sections[0].passed
    assert "boom" in sections[0].claims[0].text


def test_main_exits_nonzero_when_a_claim_fails(tmp_path, monkeypatch, capsys):
    from glassgrad.lessons import Section

    def wrong(ctx):
        sec = Section("wrong", "A wrong lesson", ctx)
        sec.claim("one equals two", 1 == 2)
        return sec

    monkeypatch.setattr(demo, "LESSONS", (wrong,))
    assert demo.main(["--out", str(tmp_path)]) == 1
    assert "did not hold" in capsys.readouterr().err


def test_hand_gradients_match_engine_at_random_weights():
    import glassgrad as gg

    start = init_xor(seed=3)
    params = {k: gg.tensor(v, requires_grad=True) for k, v in start.items()}
    forward(params, gg.tensor(XOR_X), gg.tensor(XOR_Y))[2].backward()
    by_hand = hand_gradients(start, XOR_X, XOR_Y)
    for k in ("W1", "b1", "W2", "b2"):
        np.testing.assert_allclose(params[k].grad.numpy(), by_hand[k], rtol=1e-10,
                                   atol=1e-14)
