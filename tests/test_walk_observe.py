"""The one graph walker and the per-node backward observer that instruments build on."""

import numpy as np
import torch

import glassgrad as gg


def test_walk_visits_every_node_once_in_creation_order():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    a = x * 2
    b = gg.exp(a)
    c = a + b  # a is reached twice: listed once
    loss = c.sum()
    nodes = gg.autograd.walk([loss])
    assert [n.prim.name for n in nodes] == ["mul", "exp", "add", "sum"]
    assert [n.seq for n in nodes] == sorted(n.seq for n in nodes)
    assert gg.autograd.walk([x]) == []  # a leaf has no node


def test_walk_is_iterative_on_a_very_deep_graph():
    x = gg.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(50_000):
        y = y * 1.0
    assert len(gg.autograd.walk([y])) == 50_000


def test_observer_sees_each_node_with_its_cotangents_as_torch_computes_them():
    xv = np.array([[0.5, -1.0, 2.0]])
    wv = np.array([[1.0], [2.0], [3.0]])
    x = gg.tensor(xv, requires_grad=True)
    w = gg.tensor(wv)  # needs no gradient: its slot is None
    seen = []
    with gg.autograd.observe_backward(lambda node, g, gxs: seen.append((node, g, gxs))):
        gg.tanh(x @ w).sum().backward()
    assert [n.prim.name for n, _, _ in seen] == ["sum", "tanh", "matmul"]
    node, g, (gx, gw) = seen[-1]
    assert gw is None

    xt = torch.tensor(xv, requires_grad=True)
    h = xt @ torch.tensor(wv)
    h.retain_grad()
    torch.tanh(h).sum().backward()
    np.testing.assert_allclose(g, h.grad.numpy())  # cotangent arriving at matmul
    np.testing.assert_allclose(gx, xt.grad.numpy())  # what flows on to x
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy())


def test_observer_gets_reduced_cotangents_for_broadcast_inputs():
    b = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x = gg.ones((4, 3))
    seen = []
    with gg.autograd.observe_backward(lambda node, g, gxs: seen.append(gxs)):
        (x + b).sum().backward()
    _, gb = seen[-1]
    assert gb.shape == (3,)
    np.testing.assert_array_equal(gb, [4.0, 4.0, 4.0])


def test_observer_is_off_outside_the_block_and_restored():
    calls = []
    with gg.autograd.observe_backward(lambda *a: calls.append(1)):
        pass
    x = gg.ones(2, requires_grad=True)
    (x * 3).sum().backward()
    assert calls == []


def test_primitive_repr_points_at_its_rules():
    x = gg.ones(3, requires_grad=True)
    prim = (x * 2).sum().grad_fn.prim
    text = repr(prim)
    path, line = text[text.index("(") + 1: -2].rsplit(":", 1)
    assert path == "glassgrad/ops/reduction.py".replace("/", __import__("os").sep)
    source = open(gg.__file__.rsplit("glassgrad", 1)[0] + path).read().splitlines()
    assert "def vjp" in source[int(line) - 1]
