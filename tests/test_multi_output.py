"""Multi-output cards (``@primitive(outputs=k)``): one node, one SELECT node per output,
cotangents gathered per output. Checked on a small two-output op against PyTorch."""

from __future__ import annotations

import numpy as np
import torch

import glassgrad as gg
from glassgrad.primitive import primitive


@primitive(save="x", outputs=2, public=False)
class _sin_cos_for_test:
    """out = (sin x, cos x);  d out0/dx = cos x, d out1/dx = -sin x.

    VJP: gx = g0 cos x - g1 sin x.     JVP: (tx cos x, -tx sin x).
    """

    def forward(x):
        return np.sin(x), np.cos(x)

    def vjp_x(g, out, x):
        return g[0] * np.cos(x) - g[1] * np.sin(x)

    def jvp_x(tx, out, x):
        return tx * np.cos(x), -tx * np.sin(x)


X = np.array([0.3, -1.2, 2.0])


def _both(fn_gg, fn_torch):
    x = gg.tensor(X.copy(), requires_grad=True)
    fn_gg(*_sin_cos_for_test(x)).backward()
    xt = torch.tensor(X, requires_grad=True)
    fn_torch(torch.sin(xt), torch.cos(xt)).backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12)


def test_both_outputs_reach_the_loss():
    _both(lambda s, c: (s * 2 + c * c).sum(), lambda s, c: (s * 2 + c * c).sum())


def test_an_unused_output_gets_a_zero_cotangent():
    _both(lambda s, c: (s ** 3).sum(), lambda s, c: (s ** 3).sum())
    _both(lambda s, c: c.sum(), lambda s, c: c.sum())


def test_outputs_are_tensors_with_their_own_shape_and_no_grad_without_inputs_needing_it():
    s, c = _sin_cos_for_test(gg.tensor(X))
    assert not s.requires_grad and not c.requires_grad
    np.testing.assert_allclose(c.numpy(), np.cos(X))


def test_hook_on_one_output_sees_its_cotangent():
    x = gg.tensor(X.copy(), requires_grad=True)
    s, c = _sin_cos_for_test(x)
    seen = []
    c.register_hook(lambda g: seen.append(g.numpy().copy()))
    (s + 5 * c).sum().backward()
    np.testing.assert_allclose(seen[0], np.full(3, 5.0))


def test_second_order_and_forward_mode_match_torch():
    def f_gg(v):
        s, c = _sin_cos_for_test(v)
        return (s * c * v).sum()

    def f_t(v):
        return (torch.sin(v) * torch.cos(v) * v).sum()

    h = gg.func.hessian(f_gg)(gg.tensor(X))
    ht = torch.func.hessian(f_t)(torch.tensor(X))
    np.testing.assert_allclose(h.numpy(), ht.numpy(), rtol=1e-10, atol=1e-12)
    x = gg.tensor(X.copy(), requires_grad=True)
    (g,) = gg.autograd.grad(f_gg(x), x, create_graph=True)
    (g * g).sum().backward()
    xt = torch.tensor(X, requires_grad=True)
    (gt,) = torch.autograd.grad(f_t(xt), xt, create_graph=True)
    (gt * gt).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10)
    t = np.array([1.0, 0.5, -2.0])
    _, tg = gg.func.jvp(lambda v: _sin_cos_for_test(v)[1] * 3, (gg.tensor(X),), (gg.tensor(t),))
    np.testing.assert_allclose(tg.numpy(), -3 * np.sin(X) * t, rtol=1e-12)
    assert gg.autograd.gradgradcheck(lambda v: _sin_cos_for_test(v)[0] * _sin_cos_for_test(v)[1],
                                     (gg.tensor(X.copy(), requires_grad=True),))


def test_backward_twice_needs_retain_graph_as_single_output_ops():
    x = gg.tensor(X.copy(), requires_grad=True)
    s, c = _sin_cos_for_test(x)
    loss = (s * c).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.cos(2 * X), rtol=1e-12)
