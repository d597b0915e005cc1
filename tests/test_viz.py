"""gg.viz: DOT text, pictures on both paths (Graphviz and matplotlib), Jupyter repr."""

import re
import shutil
import subprocess

import numpy as np
import pytest

import glassgrad as gg
from glassgrad.viz import draw, graph, to_dot, trace_modules

HAVE_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAVE_DOT, reason="Graphviz's `dot` program is not "
                               "installed (CI installs Graphviz)")
PNG_SIG = b"\x89PNG\r\n\x1a\n"


def _seed_example():
    x = gg.tensor(2.0, requires_grad=True)
    z = x * 3 + 5
    z.backward()
    return x, z


def _mlp():
    gg.manual_seed(0)
    model = gg.nn.Sequential(gg.nn.Linear(2, 4), gg.nn.Sigmoid(), gg.nn.Linear(4, 1),
                             gg.nn.Sigmoid())
    x = gg.tensor(np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32))
    y = gg.tensor(np.array([[0], [1], [1], [0]], dtype=np.float32))
    with trace_modules(model):
        out = model(x)
    loss = ((out - y) ** 2).mean()
    loss.backward()
    return model, loss


def _dot_nodes(dot, prefix):
    """DOT node statements whose key starts with ``prefix`` ("op", "leaf", "c", "mod")."""
    return [ln.strip() for ln in dot.splitlines()
            if re.match(rf"\s+{prefix}\d", ln) and "->" not in ln]


def _op_names(out):
    return {n.name for n in gg.graph.walk([out])}


def test_dot_names_ops_and_leaves_seed_example():
    x, z = _seed_example()
    dot = to_dot(z, params={"x": x})
    assert dot.startswith("digraph")
    for name in _op_names(z):
        assert f'label="{name}' in dot
    assert 'label="x\\n' in dot
    assert "grad 3" in dot  # dz/dx = 3, shown on the leaf
    assert "legend" in dot and "log scale" in dot


def test_dot_default_leaf_names():
    _, z = _seed_example()
    assert 'label="x0\\n' in to_dot(z)


def test_dot_mlp_after_backward():
    model, loss = _mlp()
    dot = to_dot(loss, model=model)
    for name in _op_names(loss):
        assert f'label="{name}' in dot
    for pname, _ in model.named_parameters():
        assert f'label="{pname}\\n' in dot
    assert dot.count("grad ") >= 4  # every parameter has its gradient shown
    assert "saved:" in dot


def test_dot_shows_saved_bytes_before_backward():
    x = gg.tensor(np.ones((3, 4), dtype=np.float32), requires_grad=True)
    y = (x * x).sum()
    dot = to_dot(y)
    assert "48 B" in dot  # a 3x4 float32 saved for mul's backward


def test_dot_summary_for_big_tensors():
    x = gg.tensor(np.arange(12, dtype=np.float32).reshape(3, 4), requires_grad=True)
    (x * 2).sum().backward()
    dot = to_dot((x * 2).sum())
    assert "mean 5.5" in dot and "norm" in dot


def test_max_nodes_note():
    x = gg.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(30):
        y = y * 1.01
    dot = to_dot(y, max_nodes=10)
    assert "20 more ops not shown" in dot
    assert len(_dot_nodes(dot, "op")) == 10


def test_collapse_module_one_box_per_module():
    model, loss = _mlp()
    dot = to_dot(loss, model=model, collapse="module")
    assert dot.count("shape=box3d") == 4  # Linear, Sigmoid, Linear, Sigmoid
    for name in ("0 (Linear)", "1 (Sigmoid)", "2 (Linear)", "3 (Sigmoid)"):
        assert f'label="{name}\\n' in dot
    assert "transpose, matmul, add" in dot  # what each Linear did


def test_collapse_needs_trace():
    x = gg.tensor(np.ones((1, 2), dtype=np.float32))
    model = gg.nn.Linear(2, 1)
    with pytest.raises(ValueError, match="trace_modules"):
        to_dot(model(x).sum(), model=model, collapse="module")


@needs_dot
def test_dot_program_accepts_text():
    model, loss = _mlp()
    for text in (to_dot(loss, model=model), to_dot(loss, model=model, collapse="module"),
                 to_dot(_seed_example()[1])):
        proc = subprocess.run(["dot", "-Tsvg"], input=text.encode(), capture_output=True)
        assert proc.returncode == 0, proc.stderr.decode()
        assert b"<svg" in proc.stdout


@needs_dot
def test_draw_graphviz_files(tmp_path):
    _, loss = _mlp()
    svg = draw(loss, tmp_path / "g.svg", backend="graphviz").read_text()
    assert svg.lstrip().startswith(("<?xml", "<svg")) and "</svg>" in svg
    assert draw(loss, tmp_path / "g.png", backend="graphviz").read_bytes()[:8] == PNG_SIG


def test_draw_matplotlib_files(tmp_path):
    pytest.importorskip("matplotlib")
    model, loss = _mlp()
    svg = draw(loss, tmp_path / "g.svg", backend="matplotlib", model=model).read_text()
    assert svg.lstrip().startswith(("<?xml", "<svg")) and "</svg>" in svg
    png = draw(loss, tmp_path / "g.png", backend="matplotlib", model=model).read_bytes()
    assert png[:8] == PNG_SIG and len(png) > 1000
    png2 = draw(loss, tmp_path / "c.png", backend="matplotlib", model=model,
                collapse="module").read_bytes()
    assert png2[:8] == PNG_SIG


def test_draw_bad_suffix(tmp_path):
    _, z = _seed_example()
    with pytest.raises(ValueError, match=r"\.svg or \.png"):
        draw(z, tmp_path / "g.pdf")


def test_draw_never_silent(monkeypatch, tmp_path):
    from glassgrad.viz import _draw

    monkeypatch.setattr(_draw.shutil, "which", lambda name: None)
    monkeypatch.setattr(_draw, "_have_matplotlib", lambda: False)
    _, z = _seed_example()
    with pytest.raises(RuntimeError, match="Graphviz.*matplotlib"):
        draw(z, tmp_path / "g.svg")


def test_graph_repr_svg():
    pytest.importorskip("matplotlib") if not HAVE_DOT else None
    _, z = _seed_example()
    g = graph(z)
    svg = g._repr_svg_()
    assert "<svg" in svg and "</svg>" in svg
    assert g.dot.startswith("digraph")
    assert "op boxes" in repr(g)


def test_graph_save(tmp_path):
    pytest.importorskip("matplotlib")
    _, z = _seed_example()
    p = graph(z, backend="matplotlib").save(tmp_path / "z.png")
    assert p.read_bytes()[:8] == PNG_SIG


def test_collapse_small_cnn_one_box_per_module():
    gg.manual_seed(0)
    model = gg.nn.Sequential(gg.nn.Conv2d(1, 4, 3), gg.nn.ReLU(), gg.nn.MaxPool2d(2),
                             gg.nn.Flatten(), gg.nn.Linear(36, 10))
    x = gg.tensor(np.random.default_rng(0).random((2, 1, 8, 8), dtype=np.float32))
    with trace_modules(model):
        out = model(x)
    loss = out.sum()
    loss.backward()
    dot = to_dot(loss, model=model, collapse="module")
    assert dot.count("shape=box3d") == 5
    assert "0 (Conv2d)" in dot and "4 (Linear)" in dot and "(2, 10) float32" in dot
    for name, _ in model.named_parameters():
        assert f'label="{name}\\n' in dot
