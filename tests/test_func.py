"""gg.func transforms against torch.func, their composition, and their errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import glassgrad as gg

rng = np.random.default_rng(7)


def G(a, **kw):
    return gg.tensor(np.array(a, dtype=np.float64), **kw)


def T(a):
    return torch.tensor(np.array(a, dtype=np.float64))


def close(a, b, rtol=1e-10, atol=1e-12):
    a = a.numpy() if isinstance(a, gg.Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a.shape == b.shape, f"{a.shape} != {b.shape}"
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


# A small MLP loss written twice: same weights, same data.
W1, B1 = rng.standard_normal((3, 4)), rng.standard_normal(4)
W2, B2 = rng.standard_normal((4, 2)), rng.standard_normal(2)
XB, YB = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))


def mlp_loss_gg(w1, b1, w2, b2):
    h = gg.tanh(G(XB) @ w1 + b1)
    return ((h @ w2 + b2 - G(YB)) ** 2).mean()


def mlp_loss_t(w1, b1, w2, b2):
    h = torch.tanh(T(XB) @ w1 + b1)
    return ((h @ w2 + b2 - T(YB)) ** 2).mean()


FUNCS = {
    "sin*x": (lambda x: (gg.sin(x) * x).sum(), lambda x: (torch.sin(x) * x).sum()),
    "logsumexp": (lambda x: gg.logsumexp(x * x), lambda x: torch.logsumexp(x * x, 0)),
    "sigmoid-prod": (lambda x: gg.sigmoid(x).prod(), lambda x: torch.sigmoid(x).prod()),
    "norm": (lambda x: gg.sqrt((x ** 2).sum()), lambda x: torch.sqrt((x ** 2).sum())),
    "outer-matmul": (lambda x: (gg.matmul(x.reshape(2, 2), x.reshape(2, 2)) ** 2).sum(),
                     lambda x: (torch.matmul(x.reshape(2, 2), x.reshape(2, 2)) ** 2).sum()),
}


@pytest.mark.parametrize("name", list(FUNCS))
def test_grad_value_and_grad_and_hessian_match_torch(name):
    f, ft = FUNCS[name]
    x = rng.standard_normal(4)
    close(gg.func.grad(f)(G(x)), torch.func.grad(ft)(T(x)))
    value, g = gg.func.value_and_grad(f)(G(x))
    close(value, ft(T(x)))
    close(g, torch.func.grad(ft)(T(x)))
    close(gg.func.hessian(f)(G(x)), torch.func.hessian(ft)(T(x)), rtol=1e-9)


def test_hessian_of_mlp_loss_matches_torch():
    args = (W1, B1, W2, B2)
    for argnum in range(4):
        h = gg.func.hessian(mlp_loss_gg, argnums=argnum)(*[G(a) for a in args])
        ht = torch.func.hessian(mlp_loss_t, argnums=argnum)(*[T(a) for a in args])
        close(h, ht, rtol=1e-9)


def test_grad_with_argnums_tuple_matches_torch():
    args = (W1, B1, W2, B2)
    grads = gg.func.grad(mlp_loss_gg, argnums=(0, 3))(*[G(a) for a in args])
    ref = torch.func.grad(mlp_loss_t, argnums=(0, 3))(*[T(a) for a in args])
    assert isinstance(grads, tuple) and len(grads) == 2
    for g, r in zip(grads, ref):
        close(g, r)


def vec_gg(x):
    return gg.stack([gg.sin(x[0]) * x[1], x[0] ** 2 + gg.exp(x[2]), gg.tanh(x).sum()])


def vec_t(x):
    return torch.stack([torch.sin(x[0]) * x[1], x[0] ** 2 + torch.exp(x[2]), torch.tanh(x).sum()])


def test_jacfwd_equals_jacrev_equals_torch():
    x = rng.standard_normal(3)
    jf, jr = gg.func.jacfwd(vec_gg)(G(x)), gg.func.jacrev(vec_gg)(G(x))
    ref = torch.func.jacrev(vec_t)(T(x))
    close(jf, ref)
    close(jr, ref)


def test_jacobian_layout_is_output_shape_plus_input_shape():
    x = G(rng.standard_normal((2, 3)))

    def f(x):
        return (x @ G(np.ones((3, 4)))) * 2.0

    jf, jr = gg.func.jacfwd(f)(x), gg.func.jacrev(f)(x)
    assert jf.shape == jr.shape == (2, 4, 2, 3)
    close(jf, jr)


def test_jacobians_with_tuple_argnums_and_tuple_outputs():
    a, b = rng.standard_normal(2), rng.standard_normal(3)

    def f(a, b):
        return gg.sin(a).sum() * b, a * 3.0

    def ft(a, b):
        return torch.sin(a).sum() * b, a * 3.0

    for ours in (gg.func.jacfwd, gg.func.jacrev):
        jac = ours(f, argnums=(0, 1))(G(a), G(b))
        ref = torch.func.jacrev(ft, argnums=(0, 1))(T(a), T(b))
        for out_j, ref_j in zip(jac, ref):
            for j, r in zip(out_j, ref_j):
                close(j, r)


def test_compositions():
    x = rng.standard_normal(3)

    def f(x):
        return (x ** 3 * gg.sin(x)).sum()

    def ft(x):
        return (x ** 3 * torch.sin(x)).sum()

    # grad(grad(.)) of a scalar function, via a sum
    gg2 = gg.func.grad(lambda x: gg.func.grad(f)(x).sum())(G(x))
    t2 = torch.func.grad(lambda x: torch.func.grad(ft)(x).sum())(T(x))
    close(gg2, t2)
    # jacfwd(jacrev), jacrev(jacrev), jacfwd(jacfwd) all give the Hessian
    ref = torch.func.hessian(ft)(T(x))
    for outer in (gg.func.jacfwd, gg.func.jacrev):
        for inner in (gg.func.jacfwd, gg.func.jacrev):
            close(outer(inner(f))(G(x)), ref, rtol=1e-9)
    # jvp of grad: a Hessian-vector product
    v = rng.standard_normal(3)
    _, hvp = gg.func.jvp(gg.func.grad(f), (G(x),), (G(v),))
    close(hvp, ref.numpy() @ v, rtol=1e-9)


def test_third_order_by_forward_over_forward_over_reverse():
    x = G([0.7])

    def f(x):
        return (gg.sin(x) * x ** 2).sum()

    d3 = gg.func.jacfwd(gg.func.jacfwd(gg.func.grad(f)))(x)
    d3t = torch.func.jacfwd(torch.func.jacfwd(torch.func.grad(
        lambda x: (torch.sin(x) * x ** 2).sum())))(T([0.7]))
    close(d3, d3t, rtol=1e-9)


def test_vjp_and_jvp_match_torch_and_return_tuples():
    x, y = rng.standard_normal(3), rng.standard_normal(3)
    u = rng.standard_normal(3)

    def f(x, y):
        return gg.exp(x) * y

    def ft(x, y):
        return torch.exp(x) * y

    out, vjp_fn = gg.func.vjp(f, G(x), G(y))
    ref_out, ref_fn = torch.func.vjp(ft, T(x), T(y))
    close(out, ref_out)
    grads, ref_grads = vjp_fn(G(u)), ref_fn(T(u))
    assert isinstance(grads, tuple) and len(grads) == 2
    for g, r in zip(grads, ref_grads):
        close(g, r)
    out, t = gg.func.jvp(f, (G(x), G(y)), (G(u), G(u)))
    ref_out, ref_t = torch.func.jvp(ft, (T(x), T(y)), (T(u), T(u)))
    close(out, ref_out)
    close(t, ref_t)


def test_transforms_accept_arrays():
    g = gg.func.grad(lambda x: (x * x).sum())(np.array([1.0, 2.0]))
    close(g, [2.0, 4.0])


def test_grad_of_non_scalar_is_a_clear_error():
    with pytest.raises(ValueError, match="single-element"):
        gg.func.grad(lambda x: x * 2)(G([1.0, 2.0]))


def test_jvp_rejects_mismatched_tangents():
    with pytest.raises(ValueError, match="shape"):
        gg.func.jvp(gg.sin, (G([1.0, 2.0]),), (G([1.0]),))
    with pytest.raises(TypeError, match="dtype"):
        gg.func.jvp(gg.sin, (G([1.0, 2.0]),), (gg.tensor(np.ones(2, np.float32)),))
    with pytest.raises(ValueError, match="primals"):
        gg.func.jvp(gg.sin, (G([1.0]),), ())


def test_unused_input_without_allow_unused_is_a_clear_error():
    x, y = G([1.0], requires_grad=True), G([2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        gg.autograd.grad((x * 2).sum(), [x, y])
    assert gg.autograd.grad((x * 2).sum(), [x, y], allow_unused=True)[1] is None


def test_custom_function_without_jvp_names_itself_in_forward_mode():
    class Square(gg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    with pytest.raises(NotImplementedError, match="Square"):
        gg.func.jvp(Square.apply, (G([1.0]),), (G([1.0]),))


def test_custom_function_with_jvp_in_forward_mode_and_hessian():
    class Cube(gg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * g

        @staticmethod
        def jvp(ctx, t):
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * t

    x = rng.standard_normal(3)
    _, t = gg.func.jvp(Cube.apply, (G(x),), (G(np.ones(3)),))
    close(t, 3 * x ** 2)
    close(gg.func.jacfwd(Cube.apply)(G(x)), np.diag(3 * x ** 2))
    close(gg.func.hessian(lambda x: Cube.apply(x).sum())(G(x)), np.diag(6 * x))


def test_grad_leaves_no_dot_grad_behind():
    x = G([1.0, 2.0], requires_grad=True)
    gg.func.grad(lambda x: (x * x).sum())(x)
    assert x.grad is None
