"""User-written differentiable operations: ``gg.autograd.Function`` (the custom-layer story).

A learner writes forward and backward by hand, checks them against PyTorch and with
``gradcheck``, and a deliberately wrong backward is caught by ``gradcheck``.
"""

import numpy as np
import pytest
import torch

import glassgrad as gg

Function = gg.autograd.Function


def _arr(t):
    return np.array(t.data, copy=True)


def _t(a, requires_grad=False):
    return torch.tensor(np.asarray(a), requires_grad=requires_grad)


X0 = np.array([[-2.0, -0.5, 0.0], [0.3, 1.2, 3.0]])


class Sigmoid(Function):
    """sigmoid written by hand: forward in glassgrad ops, backward from the saved output."""

    @staticmethod
    def forward(ctx, x):
        out = 1.0 / (1.0 + gg.exp(-x))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out * (1.0 - out)


class Cube(Function):
    """x**3 with the forward computed in plain NumPy."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return gg.tensor(x.data**3)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3.0 * x * x


class WrongCube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return gg.tensor(x.data**3)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 2.0 * x * x  # should be 3 x^2


class Scale(Function):
    """A Function with a non-tensor argument."""

    @staticmethod
    def forward(ctx, x, k):
        ctx.k = k
        return x * k

    @staticmethod
    def backward(ctx, g):
        return g * ctx.k, None


class MulAdd(Function):
    """x * y + y: two tensor inputs; records needs_input_grad."""

    seen = []

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y + y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        MulAdd.seen.append(tuple(ctx.needs_input_grad))
        gx = g * y if ctx.needs_input_grad[0] else None
        gy = g * (x + 1.0) if ctx.needs_input_grad[1] else None
        return gx, gy


class Linear(Function):
    """A hand-written affine layer x @ w + b (the "custom layer")."""

    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        return x @ w + b

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        return g @ w.T, x.T @ g, g.sum(axis=0)


class LinearWrongWeightGrad(Linear):
    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        return g @ w.T, 2.0 * (x.T @ g), g.sum(axis=0)


# --------------------------------------------------------------------------------------


def test_custom_sigmoid_matches_torch():
    x = gg.tensor(X0, requires_grad=True)
    y = Sigmoid.apply(x)
    assert isinstance(y, gg.Tensor)
    assert y.requires_grad and not y.is_leaf and y.grad_fn is not None
    (y * gg.tensor(X0 + 1.0)).sum().backward()

    xt = _t(X0, requires_grad=True)
    yt = torch.sigmoid(xt)
    (yt * _t(X0 + 1.0)).sum().backward()
    np.testing.assert_allclose(_arr(y), yt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(_arr(x.grad), xt.grad.numpy(), rtol=1e-12)


def test_custom_cube_matches_torch_inside_a_larger_graph():
    x = gg.tensor(X0, requires_grad=True)
    y = gg.sin(Cube.apply(x * 0.5)) * 3.0
    y.sum().backward()

    xt = _t(X0, requires_grad=True)
    (torch.sin((xt * 0.5) ** 3) * 3.0).sum().backward()
    np.testing.assert_allclose(_arr(x.grad), xt.grad.numpy(), rtol=1e-12)


def test_function_output_keeps_input_dtype():
    x32 = gg.tensor(X0.astype(np.float32), requires_grad=True)
    y = Cube.apply(x32)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x32.grad.dtype == np.float32


def test_function_used_twice_accumulates():
    x = gg.tensor(X0, requires_grad=True)
    (Cube.apply(x) + Cube.apply(x * 2.0)).sum().backward()
    np.testing.assert_allclose(_arr(x.grad), 3 * X0**2 + 24 * X0**2, rtol=1e-12)


def test_function_gradients_accumulate_across_backward_calls():
    x = gg.tensor(X0, requires_grad=True)
    Cube.apply(x).sum().backward()
    Cube.apply(x).sum().backward()
    np.testing.assert_allclose(_arr(x.grad), 6 * X0**2, rtol=1e-12)


def test_function_without_grad_inputs_records_nothing():
    x = gg.tensor(X0)
    y = Cube.apply(x)
    assert not y.requires_grad and y.grad_fn is None
    xg = gg.tensor(X0, requires_grad=True)
    with gg.no_grad():
        z = Cube.apply(xg)
    assert not z.requires_grad and z.grad_fn is None
    np.testing.assert_allclose(_arr(z), X0**3)


def test_forward_runs_without_grad_recording():
    seen = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, x):
            seen.append(gg.is_grad_enabled())
            inner = x * 2.0
            seen.append(inner.requires_grad)
            return inner

        @staticmethod
        def backward(ctx, g):
            return g * 2.0

    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = Probe.apply(x)
    assert seen == [False, False]
    assert y.requires_grad
    assert gg.is_grad_enabled()
    y.sum().backward()
    np.testing.assert_allclose(_arr(x.grad), [2.0, 2.0])


def test_backward_runs_with_grad_mode_equal_to_create_graph():
    seen = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            seen.append(gg.is_grad_enabled())
            (x,) = ctx.saved_tensors
            return 2.0 * x * g

    x = gg.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    gg.autograd.grad(Probe.apply(x).sum(), x)
    gg.autograd.grad(Probe.apply(x).sum(), x, create_graph=True)
    assert seen == [False, True]


def test_needs_input_grad_with_only_one_input_requiring_grad():
    MulAdd.seen.clear()
    x = gg.tensor(X0, requires_grad=True)
    y = gg.tensor(X0 * 0.5 - 1.0)
    out = MulAdd.apply(x, y)
    assert out.requires_grad
    out.sum().backward()
    assert MulAdd.seen == [(True, False)]
    assert y.grad is None
    np.testing.assert_allclose(_arr(x.grad), X0 * 0.5 - 1.0)

    MulAdd.seen.clear()
    y2 = gg.tensor(X0 * 0.5 - 1.0, requires_grad=True)
    MulAdd.apply(gg.tensor(X0), y2).sum().backward()
    assert MulAdd.seen == [(False, True)]
    np.testing.assert_allclose(_arr(y2.grad), X0 + 1.0)


def test_two_input_function_matches_torch_when_both_require_grad():
    MulAdd.seen.clear()
    a = gg.tensor(X0, requires_grad=True)
    b = gg.tensor(X0[::-1].copy(), requires_grad=True)
    (gg.tanh(MulAdd.apply(a, b))).sum().backward()
    assert MulAdd.seen == [(True, True)]

    at = _t(X0, requires_grad=True)
    bt = _t(X0[::-1].copy(), requires_grad=True)
    torch.tanh(at * bt + bt).sum().backward()
    np.testing.assert_allclose(_arr(a.grad), at.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(_arr(b.grad), bt.grad.numpy(), rtol=1e-12)


def test_function_with_non_tensor_argument():
    x = gg.tensor(X0, requires_grad=True)
    y = Scale.apply(x, 3.0)
    np.testing.assert_allclose(_arr(y), 3.0 * X0)
    (y * y).sum().backward()
    np.testing.assert_allclose(_arr(x.grad), 18.0 * X0, rtol=1e-12)


def test_needs_input_grad_is_false_for_non_tensor_arguments():
    seen = []

    class P(Function):
        @staticmethod
        def forward(ctx, x, k, name):
            seen.append(tuple(ctx.needs_input_grad))
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g * 2.0, None, None

    x = gg.tensor([1.0], requires_grad=True)
    P.apply(x, 2.0, "label").sum().backward()
    assert seen == [(True, False, False)]
    np.testing.assert_allclose(_arr(x.grad), [2.0])


def test_function_with_two_outputs():
    class SinCos(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return gg.sin(x), gg.cos(x)

        @staticmethod
        def backward(ctx, gs, gc):
            (x,) = ctx.saved_tensors
            return gs * gg.cos(x) - gc * gg.sin(x)

    x = gg.tensor(X0, requires_grad=True)
    s, c = SinCos.apply(x)
    (s * 2.0 + c * c).sum().backward()

    xt = _t(X0, requires_grad=True)
    (torch.sin(xt) * 2.0 + torch.cos(xt) ** 2).sum().backward()
    np.testing.assert_allclose(_arr(x.grad), xt.grad.numpy(), rtol=1e-12, atol=1e-14)

    # Only one output used: the other's incoming gradient is zeros, as in torch.
    x2 = gg.tensor(X0, requires_grad=True)
    s2, _ = SinCos.apply(x2)
    s2.sum().backward()
    np.testing.assert_allclose(_arr(x2.grad), np.cos(X0), rtol=1e-12)


def test_custom_function_double_backward_and_gradgradcheck():
    x = gg.tensor(X0, requires_grad=True)
    (g,) = gg.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(_arr(g), 3 * X0**2, rtol=1e-12)
    (gg2,) = gg.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(_arr(gg2), 6 * X0, rtol=1e-12)
    assert gg.autograd.gradgradcheck(Cube.apply, (gg.tensor(X0, requires_grad=True),))


# --------------------------------------------------------------------------------------
# gradcheck on custom Functions
# --------------------------------------------------------------------------------------


def test_gradcheck_passes_on_correct_custom_functions():
    x = gg.tensor(X0, requires_grad=True)
    assert gg.autograd.gradcheck(Sigmoid.apply, (x,)) is True
    assert gg.autograd.gradcheck(Cube.apply, (x,)) is True
    assert gg.autograd.gradcheck(lambda t: Scale.apply(t, -1.5), (x,)) is True
    y = gg.tensor(X0 * 0.5 - 1.0, requires_grad=True)
    assert gg.autograd.gradcheck(MulAdd.apply, (x, y)) is True


def test_gradcheck_with_only_one_input_requiring_grad():
    x = gg.tensor(X0, requires_grad=True)
    y = gg.tensor(X0 * 0.5 - 1.0)
    assert gg.autograd.gradcheck(MulAdd.apply, (x, y)) is True


def test_gradcheck_catches_a_wrong_backward():
    x = gg.tensor(X0, requires_grad=True)
    with pytest.raises(gg.autograd.GradcheckError):
        gg.autograd.gradcheck(WrongCube.apply, (x,))
    assert gg.autograd.gradcheck(WrongCube.apply, (x,), raise_exception=False) is False


def test_custom_layer_story():
    rng = np.random.default_rng(0)
    x = gg.tensor(rng.normal(size=(5, 3)), requires_grad=True)
    w = gg.tensor(rng.normal(size=(3, 4)), requires_grad=True)
    b = gg.tensor(rng.normal(size=(4,)), requires_grad=True)

    # the hand-written layer agrees with torch
    out = Linear.apply(x, w, b)
    (gg.tanh(out)).sum().backward()
    xt, wt, bt = (_t(a.data, requires_grad=True) for a in (x, w, b))
    torch.tanh(xt @ wt + bt).sum().backward()
    for a, at in ((x, xt), (w, wt), (b, bt)):
        np.testing.assert_allclose(_arr(a.grad), at.grad.numpy(), rtol=1e-10)

    # gradcheck accepts it ...
    assert gg.autograd.gradcheck(Linear.apply, (x, w, b))
    # ... and catches the bug in the weight gradient, naming the weight (input 1)
    with pytest.raises(gg.autograd.GradcheckError, match=r"input 1"):
        gg.autograd.gradcheck(LinearWrongWeightGrad.apply, (x, w, b))


# --------------------------------------------------------------------------------------
# Mistakes in a custom Function give clear errors (as torch)
# --------------------------------------------------------------------------------------


def test_backward_returning_the_wrong_shape_is_a_clear_error():
    class WrongShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2.0

        @staticmethod
        def backward(ctx, g):
            return g.sum(axis=0)

    x = gg.tensor(X0, requires_grad=True)
    with pytest.raises((RuntimeError, ValueError)) as info:
        WrongShape.apply(x).sum().backward()
    msg = "".join(str(info.value).split())
    assert "WrongShape" in str(info.value)
    assert "(3,)" in msg and "(2,3)" in msg


def test_backward_returning_the_wrong_number_of_gradients_is_a_clear_error():
    class WrongCount(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return g

    x = gg.tensor(X0, requires_grad=True)
    with pytest.raises((RuntimeError, ValueError), match="WrongCount"):
        WrongCount.apply(x, x).sum().backward()


def test_custom_function_second_backward_needs_retain_graph():
    x = gg.tensor(X0, requires_grad=True)
    loss = Cube.apply(x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match=r"retain_graph=True"):
        loss.backward()

    x.grad = None
    loss = Cube.apply(x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(_arr(x.grad), 6 * X0**2, rtol=1e-12)


def test_backward_returning_none_means_no_gradient():
    class Stop(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2.0

        @staticmethod
        def backward(ctx, g):
            return None

    x = gg.tensor(X0, requires_grad=True)
    (Stop.apply(x) + x).sum().backward()
    np.testing.assert_allclose(_arr(x.grad), np.ones_like(X0))


def test_gradient_from_backward_gets_the_input_dtype():
    class Sloppy(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2.0

        @staticmethod
        def backward(ctx, g):
            return gg.tensor(np.full(X0.shape, 2.0, dtype=np.float32))

    x = gg.tensor(X0, requires_grad=True)
    Sloppy.apply(x).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_allclose(_arr(x.grad), 2.0)
