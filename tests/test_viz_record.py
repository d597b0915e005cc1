"""gg.viz.record and observe_forward: constants, intermediate values and every op's
gradient in the pictures, checked against PyTorch's retained gradients."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import glassgrad as gg
from glassgrad.modes import state
from glassgrad.viz import Snapshot, record, to_dot
from glassgrad.viz._record import recorded

ROOT = Path(__file__).resolve().parents[1]


def _node_line(dot, key):
    return next(ln for ln in dot.splitlines() if ln.strip().startswith(key + " ["))


def _labels(dot):
    return re.findall(r'label="([^"]*)"', dot)


def test_seed_graph_shows_constants_values_and_grads():
    x = gg.tensor(2.0, requires_grad=True)
    with record():
        z = x * 3 + 5
        z.backward()
    dot = to_dot(z, params={"x": x, "z": z})
    labels = _labels(dot)
    assert "3" in labels and "5" in labels  # the constants, as the seed draws *3 and +5
    mul = next(lb for lb in labels if lb.startswith("mul"))
    add = next(lb for lb in labels if lb.startswith("z = add"))
    assert "value 6" in mul and "grad 1" in mul  # a = 2 * 3, da = dz * 1
    assert "value 11" in add and "grad 1" in add  # z = 6 + 5, dz = 1
    assert "grad 3" in next(lb for lb in labels if lb.startswith("x\\n"))  # dx = da * 3
    assert "#e8e8e8" not in _node_line(dot, "op" + re.search(r"op(\d+) \[shape=box, label=\"mul",
                                                                dot).group(1))
    assert "peripheries=2" in _node_line(dot, re.search(r"(op\d+) \[shape=box, label=\"z = ",
                                                        dot).group(1))
    assert "op boxes grey" not in dot
    assert x.grad.item() == 3.0  # record changed nothing the engine computed


def test_without_record_the_picture_says_what_it_cannot_show():
    x = gg.tensor(2.0, requires_grad=True)
    z = x * 3 + 5
    before = to_dot(z)  # before backward, mul still holds its saved constant
    assert "3" in _labels(before) and "constant" in _labels(before)  # add saves nothing
    z.backward()
    after = to_dot(z)
    assert _labels(after).count("constant") == 2  # freed by backward: no value invented
    assert "op boxes grey" in after and "gg.viz.record()" in after
    assert "value 11" in after  # the output tensor itself is known


def _torch_mlp_grads(w1, b1, w2, b2, x, y):
    tw = [torch.tensor(a, requires_grad=True) for a in (w1, b1, w2, b2)]
    h = torch.sigmoid(torch.tensor(x) @ tw[0].T + tw[1])
    o = torch.sigmoid(h @ tw[2].T + tw[3])
    loss = torch.nn.functional.binary_cross_entropy(o, torch.tensor(y))
    for t in (h, o):
        t.retain_grad()
    loss.backward()
    return h.grad.numpy(), o.grad.numpy()


def test_recorded_op_gradients_equal_torch_retained_grads():
    rng = np.random.default_rng(0)
    w1, b1 = rng.normal(size=(4, 2)), rng.normal(size=4)
    w2, b2 = rng.normal(size=(1, 4)), rng.normal(size=1)
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    y = np.array([[0], [1], [1], [0]], dtype=np.float64)
    params = [gg.tensor(a, requires_grad=True) for a in (w1, b1, w2, b2)]
    with record():
        h = gg.sigmoid(gg.tensor(x) @ params[0].T + params[1])
        o = gg.sigmoid(h @ params[2].T + params[3])
        loss = gg.nn.functional.binary_cross_entropy(o, gg.tensor(y))
        loss.backward()
    want_h, want_o = _torch_mlp_grads(w1, b1, w2, b2, x, y)
    got_h = recorded(h.grad_fn).grad.values
    got_o = recorded(o.grad_fn).grad.values
    np.testing.assert_allclose(got_h, want_h, rtol=1e-12)
    np.testing.assert_allclose(got_o, want_o, rtol=1e-12)
    np.testing.assert_allclose(recorded(h.grad_fn).value.values, h.numpy())
    dot = to_dot(loss, params={"W1": params[0], "x": gg.tensor(x)})
    assert "op boxes grey" not in dot
    op_lines = [ln for ln in dot.splitlines() if re.match(r"\s+op\d+ \[", ln)]
    assert op_lines and all('fillcolor="#e8e8e8"' not in ln for ln in op_lines)


def test_named_data_constant_and_named_output():
    x = gg.tensor(np.arange(6.0).reshape(3, 2))
    w = gg.tensor(np.ones((2, 1)), requires_grad=True)
    with record():
        loss = (x @ w).sum()
        loss.backward()
    dot = to_dot(loss, params={"inputs": x, "w": w, "loss": loss})
    assert any(lb.startswith("inputs\\n(3, 2) float64") for lb in _labels(dot))
    assert any(lb.startswith("loss = sum") for lb in _labels(dot))


def test_record_leaves_no_trace_and_restores_modes():
    assert not state.special and state.forward_observer is None
    x = gg.tensor(np.ones(3), requires_grad=True)
    with record():
        assert state.special
        (x * 2).sum().backward()
    assert not state.special and state.forward_observer is None
    assert state.backward_observer is None
    y = (x * 2).sum()  # made after the block: nothing recorded
    assert recorded(y.grad_fn) is None


def test_record_chains_to_an_outer_observer():
    seen = []
    x = gg.tensor(np.ones(2), requires_grad=True)
    with gg.autograd.observe_backward(lambda n, g, gxs: seen.append(n.name)):
        with record():
            (x.exp() * 2).sum().backward()
    assert seen == ["sum", "mul", "exp"]


def test_observe_forward_sees_every_recorded_node_with_constants():
    seen = []
    x = gg.tensor(np.ones(3), requires_grad=True)
    c = np.full(3, 2.0)

    def watch(node, inputs, out):
        seen.append((node.name, [np.asarray(i).tolist() for i in inputs], np.asarray(out)))

    with gg.autograd.observe_forward(watch):
        y = (x * c).sum()
        gg.tensor(np.ones(2)) * 3  # needs no gradient: records no node, not seen
    assert [s[0] for s in seen] == ["mul", "sum"]
    assert seen[0][1] == [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]
    assert seen[1][2] == 6.0 and y.item() == 6.0
    assert not state.special


def test_observe_forward_sees_custom_functions_and_multi_output_ops():
    class Double(gg.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    names = []
    x = gg.tensor(np.arange(4.0), requires_grad=True)
    with gg.autograd.observe_forward(lambda node, ins, out: names.append(node.name)):
        Double.apply(x)
        gg.linalg.qr(gg.tensor(np.eye(3) + 0.1, requires_grad=True))
    assert names[0] == "Double" and any("qr" in n for n in names[1:])


def test_snapshot_text():
    assert Snapshot(np.float32(2.5)).text() == "2.5"
    assert Snapshot(np.arange(3)).text() == "[0, 1, 2]"
    big = Snapshot(np.arange(12.0).reshape(3, 4))
    assert big.text() == "shape (3, 4) mean 5.5 std 3.45 norm 22.5"
    assert big.text(shape=False) == "mean 5.5 std 3.45 norm 22.5"
    assert big.text(show_values=True).startswith("[0, 1, 2")
    assert Snapshot(np.zeros((0, 2))).text() == "shape (0, 2) (empty)"
    assert Snapshot(np.array([3.0, 4.0])).rms == pytest.approx(np.sqrt(12.5))
    assert Snapshot(np.zeros(100)).values is None  # big arrays are kept as statistics


def test_rankdir_default_and_errors():
    x = gg.tensor(1.0, requires_grad=True)
    assert "rankdir=LR" in to_dot(x * 2)
    y = x
    for _ in range(6):
        y = y * 1.5
    assert "rankdir=TB" in to_dot(y)
    assert "rankdir=LR" in to_dot(y, rankdir="LR")
    with pytest.raises(ValueError, match="rankdir"):
        to_dot(y, rankdir="sideways")
    with pytest.raises(ValueError, match="no recorded graph"):
        to_dot(gg.tensor(1.0) * 2)


def test_collapse_draws_named_data_into_module_boxes():
    gg.manual_seed(0)
    model = gg.nn.Sequential(gg.nn.Linear(3, 2), gg.nn.ReLU())
    data = gg.randn(4, 3)
    with record(), gg.viz.trace_modules(model):
        loss = model(data).sum()
        loss.backward()
    dot = to_dot(loss, model=model, collapse="module", params={"data": data})
    assert any(lb.startswith("data\\n(4, 3)") for lb in _labels(dot))
    mod_lines = [ln for ln in dot.splitlines() if "shape=box3d" in ln]
    assert len(mod_lines) == 2 and all("grad " in ln for ln in mod_lines)


@pytest.mark.skipif(shutil.which("dot") is None and not pytest.importorskip("matplotlib"),
                    reason="needs Graphviz or matplotlib")
def test_graph_pictures_example_writes_three_pictures(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "graph_pictures.py"),
                           "--out", str(tmp_path)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for name in ("z_graph", "xor_mlp", "cnn_collapsed"):
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_one_arrow_per_use_so_fan_out_paths_are_visible():
    """``b = a + a`` uses ``a`` twice: two arrows, the two paths whose gradients add up
    (dc/da = 4 for c = b + b shows as 2 x 2 arrows)."""
    a = gg.tensor(1.5, requires_grad=True)
    b = a + a
    c = b + b
    dot = gg.viz.to_dot(c, params={"a": a})
    edges = [line.strip().rstrip(";").split(" -> ") for line in dot.splitlines()
             if "->" in line]
    assert len(edges) == 4
    (leaf, add1), (_, _), (op1, add2), (_, _) = edges
    assert leaf.startswith("leaf") and edges.count([leaf, add1]) == 2
    assert op1 == add1 and edges.count([add1, add2]) == 2
