"""The lessons ``chain-rule``, ``graphs`` and ``styles``: their claims hold, the numbers
behind them agree with independent references (PyTorch, hand NumPy, central
differences), the code listings on the page are the code that ran, and every picture is
a real image."""

import sys

import matplotlib.image as mpimg
import numpy as np
import pytest
import torch

import glassgrad as gg
from glassgrad.lessons import scalar, styles
from glassgrad.lessons._report import Context, write_html

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("lessons")


@pytest.fixture(scope="module")
def chain(out):
    return scalar.chain_rule(Context(out, fast=True))


@pytest.fixture(scope="module")
def graphs(out):
    return scalar.graphs(Context(out, fast=True))


@pytest.fixture(scope="module")
def styles_sec(out):
    return styles.styles(Context(out, fast=True, seed=3))


def _assert_real_png(path):
    """A PNG with content: magic bytes, > 5 kB, and not one flat colour."""
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, path
    assert len(data) > 5_000, (path, len(data))
    pixels = mpimg.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 50 and pixels.shape[1] > 50
    assert float(pixels[..., :3].std()) > 0.01, f"{path} is one flat colour"


def _assert_real_svg(path):
    text = path.read_text(encoding="utf-8")
    assert "<svg" in text[:2000] and text.rstrip().endswith("</svg>"), path
    assert len(text) > 5_000, (path, len(text))


def _check_figures(sec, out, expected):
    """The section shows exactly the expected PNGs; each has an SVG twin; all real."""
    assert sec.figures() == [f"{name}.png" for name in expected]
    for name in expected:
        _assert_real_png(out / "figures" / f"{name}.png")
        _assert_real_svg(out / "figures" / f"{name}.svg")


# -- chain rule ------------------------------------------------------------------------------
def test_chain_rule_claims_hold(chain):
    assert chain.key == "chain-rule"
    assert len(chain.claims) == 3
    assert all(c.ok for c in chain.claims), [c.text for c in chain.claims if not c.ok]


def test_chain_rule_numbers_match_torch(chain):
    """Forward values and dz/dx of z = 3x + 5 at x = 2, against PyTorch."""
    x = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    a = x * 3
    z = a + 5
    z.backward()
    f = chain.facts
    assert (f["a"], f["z"]) == (a.item(), z.item()) == (6.0, 11.0)
    for key in ("hand_dx", "engine_dx", "explain_dx", "autograd_dx"):
        assert f[key] == x.grad.item() == 3.0, key


def test_listings_on_the_page_are_what_ran(chain):
    """The listings on the page are the module's listings (the lesson runs those very
    strings); running the plain-Python one gives dx = 3, the engine's x.grad = 3."""
    codes = [b[1] for b in chain.blocks if b[0] == "code"]
    assert scalar.HAND_BACKWARD.rstrip("\n") in codes
    assert any(c.startswith(scalar.ENGINE_LISTING) and c.endswith("# 3") for c in codes)
    assert any(c.startswith(scalar.FANOUT_LISTING) for c in codes)
    engine = {"gg": gg}
    exec(scalar.ENGINE_LISTING, engine)
    assert engine["x"].grad.item() == 3.0
    ns: dict = {}
    exec(scalar.HAND_BACKWARD, {}, ns)
    assert (ns["a"], ns["z"], ns["dz"], ns["da"], ns["dx"]) == (6.0, 11.0, 1.0, 1.0, 3.0)


def test_chain_rule_shows_explain_text(chain):
    """The page shows gg.explain's reading of z's backward pass (its rules and total)."""
    codes = [b[1] for b in chain.blocks if b[0] == "code"]
    shown = next(c for c in codes if c.startswith("backward pass, newest op first"))
    assert "rule:" in shown and "d/dx = 3" in shown
    assert "mul" in shown and "add" in shown


def test_fan_out_gradient_matches_torch(chain):
    """b = a + a; c = b + b: dc/da = 4 (PyTorch), with explain's sums on the page."""
    a = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    b = a + a
    (b + b).backward()
    f = chain.facts
    assert f["fanout_grad"] == f["fanout_explain"] == a.grad.item() == 4.0
    assert "d/da = 2 + 2 = 4" in f["fanout_text"]
    assert "1 + 1 = 2" in f["fanout_text"] and f["fanout_paths"] == 1
    assert any(b[0] == "code" and f["fanout_text"] in b[1] for b in chain.blocks)


def test_chain_rule_figures_are_real_images(chain, out):
    _check_figures(chain, out, ["chain_rule_z", "chain_rule_fanout"])


# -- graphs ----------------------------------------------------------------------------------
def test_graphs_claims_hold(graphs):
    assert graphs.key == "graphs"
    assert len(graphs.claims) == 3
    assert all(c.ok for c in graphs.claims), [c.text for c in graphs.claims if not c.ok]


def _hand_numpy_expression(a, b, c):
    """L = tanh(a b + c) and dL/d(node) for every node, derived by hand in NumPy."""
    d = a * b
    e = d + c
    L = np.tanh(e)
    dL = 1.0
    de = dL * (1 - L**2)
    dd = de
    return ({"a": a, "b": b, "c": c, "d": d, "e": e, "L": L},
            {"a": dd * b, "b": dd * a, "c": de, "d": dd, "e": de, "L": dL})


def test_graphs_every_node_against_hand_numpy_and_torch(graphs):
    f = graphs.facts
    values, grads = _hand_numpy_expression(**f["inputs"])
    for k in "abcdeL":
        assert f["values"][k] == pytest.approx(values[k], abs=1e-15), k
        assert f["grads"][k] == pytest.approx(grads[k], abs=1e-14), k
        assert abs(f["numeric"][k] - grads[k]) < 1e-6, k  # central differences, shown
    leaves = [torch.tensor(f["inputs"][k], dtype=torch.float64, requires_grad=True)
              for k in "abc"]
    d = leaves[0] * leaves[1]
    e = d + leaves[2]
    L = torch.tanh(e)
    for t in (d, e, L):
        t.retain_grad()
    L.backward()
    for k, t in zip("abcdeL", (*leaves, d, e, L)):
        assert f["grads"][k] == pytest.approx(t.grad.item(), abs=1e-14), k


def test_graphs_table_lists_every_node(graphs):
    table = next(b for b in graphs.blocks if b[0] == "table")
    _, header, rows, _ = table
    assert "central difference" in header
    assert [r[0] for r in rows] == [f"`{k}`" for k in "abcdeL"]
    assert max(float(r[-1]) for r in rows) == pytest.approx(graphs.facts["worst"], rel=0.1)


def test_branches_record_different_graphs(graphs):
    """The Python `if` picks tanh for x > 0 and h*h + 1 otherwise; gradients vs torch."""
    ops = graphs.facts["branch_ops"]
    assert ops["pos"] == ["mul", "tanh"]
    assert ops["neg"] == ["mul", "mul", "add"]
    expected = {}
    for label, value in (("pos", 0.4), ("neg", -0.7)):
        x = torch.tensor(value, dtype=torch.float64, requires_grad=True)
        h = x * 2
        (torch.tanh(h) if h.item() > 0 else h * h + 1).backward()
        expected[label] = x.grad.item()
    assert graphs.facts["branch_grads"] == pytest.approx(expected, abs=1e-14)
    assert graphs.facts["branch_worst"] < 1e-6


def test_branchy_listing_is_the_function(graphs):
    codes = [b[1] for b in graphs.blocks if b[0] == "code"]
    assert scalar.BRANCHY_SOURCE.rstrip("\n") in codes
    x = gg.tensor(-0.7, dtype=gg.float64)
    assert scalar.branchy(x).item() == pytest.approx((2 * -0.7) ** 2 + 1)


def test_graphs_figures_are_real_images(graphs, out):
    _check_figures(graphs, out, ["graphs_forward", "graphs_backward", "graphs_branch_pos",
                                 "graphs_branch_neg"])


def test_forward_picture_has_values_but_no_gradients():
    """Drawn before backward, the op boxes carry values only; after, gradients too."""
    a, b, c = (gg.tensor(v, dtype=gg.float64, requires_grad=True) for v in (0.5, -1.2, 0.3))
    with gg.viz.record():
        _, _, L = scalar.expression(a, b, c)
        before = gg.viz.to_dot(L, show_grads=False)
        L.backward()
    after = gg.viz.to_dot(L)
    assert "value -0.6" in before and "\\ngrad " not in before
    assert "grad 0.9151" in after and "grad -1.098" in after


# -- styles ----------------------------------------------------------------------------------
def test_styles_claims_hold(styles_sec):
    assert styles_sec.key == "styles"
    assert len(styles_sec.claims) == 3  # torch is installed in the test environment
    assert all(c.ok for c in styles_sec.claims), [c.text for c in styles_sec.claims
                                                  if not c.ok]
    assert styles_sec.facts["worst"] == 0.0
    assert styles_sec.facts["grad_untouched"] is True


def _torch_mlp_grads(ns):
    """PyTorch's gradients of the set-up's model and loss, with torch.nn layers."""
    params = [p.numpy() for p in ns["model"].parameters()]
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    net = net.double()
    with torch.no_grad():
        for tp, value in zip(net.parameters(), params):
            tp.copy_(torch.from_numpy(value))
    loss = torch.nn.MSELoss()(net(torch.from_numpy(ns["X"].numpy())),
                              torch.from_numpy(ns["y"].numpy()))
    loss.backward()
    return [tp.grad.numpy() for tp in net.parameters()]


def test_styles_listings_on_page_are_what_ran(styles_sec):
    """Run the page's listings again, fresh, and compare with the lesson and with torch."""
    pair = next(b for b in styles_sec.blocks if b[0] == "pair")
    (_, left), (_, right) = pair[1], pair[2]
    assert (left, right) == (styles.PYTORCH_STYLE, styles.TENSORFLOW_STYLE)
    setup_shown = [b[1] for b in styles_sec.blocks if b[0] == "code"]
    assert styles.SETUP.rstrip("\n") in setup_shown

    ns = {"gg": gg, "np": np, "seed": 3, "n": styles_sec.facts["n"]}
    exec(setup_shown[0], ns)
    exec(right, ns)  # the tape first: it must leave .grad empty
    tape = [g.numpy() for g in ns["grads"]]
    assert all(p.grad is None for p in ns["model"].parameters())
    exec(left, ns)
    backward = [g.numpy() for g in ns["grads"]]
    reference = _torch_mlp_grads(ns)
    for name, g_tp, g_bw, g_t in zip(styles_sec.facts["backward_grads"], tape, backward,
                                     reference):
        np.testing.assert_array_equal(g_tp, g_bw)
        np.testing.assert_array_equal(styles_sec.facts["backward_grads"][name], g_bw)
        np.testing.assert_allclose(g_bw, g_t, rtol=0, atol=1e-12)


def test_styles_table_has_torch_column(styles_sec):
    _, header, rows, _ = next(b for b in styles_sec.blocks if b[0] == "table")
    assert header[-1] == "max |glassgrad - PyTorch|"
    assert [r[0] for r in rows] == ["`0.weight`", "`0.bias`", "`2.weight`", "`2.bias`"]
    assert max(styles_sec.facts["torch_diffs"].values()) < 1e-12


def test_styles_without_torch_drops_the_column(tmp_path, monkeypatch):
    """torch is a test-only dependency: without it the lesson still runs, two claims."""
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises
    sec = styles.styles(Context(tmp_path, fast=False))
    _, header, _, caption = next(b for b in sec.blocks if b[0] == "table")
    assert len(header) == 3 and "not installed" in caption
    assert len(sec.claims) == 2 and sec.passed
    assert sec.facts["torch_diffs"] == {}


# -- the page --------------------------------------------------------------------------------
def test_sections_write_into_the_html_page(chain, graphs, styles_sec, out):
    page = write_html([chain, graphs, styles_sec], out).read_text(encoding="utf-8")
    for sec in (chain, graphs, styles_sec):
        assert f'<section id="{sec.key}">' in page
        for name in sec.figures():
            assert f'src="figures/{name}"' in page
    assert page.count('class="ok"') == 9 and 'class="bad"' not in page
