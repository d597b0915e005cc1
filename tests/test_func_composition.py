"""Transforms compose with each other as torch.func's do, closures and argnums included.

Every transform below maps a function ``f(x, y) -> vector`` (x, y, result of shape (n,))
to another such function, differentiating with respect to ``x`` (one with respect to
``y``) and closing over the other argument. Every ordered pair of them is then run in
glassgrad and in torch.func on the same float64 values.
"""

import itertools

import numpy as np
import pytest
import torch

import glassgrad as gg

GG = dict(func=gg.func, sin=gg.sin, exp=gg.exp, ones_like=gg.ones_like,
          wrap=lambda a: gg.tensor(a))
TORCH = dict(func=torch.func, sin=torch.sin, exp=torch.exp, ones_like=torch.ones_like,
             wrap=lambda a: torch.tensor(a))


def _base(L):
    return lambda x, y: L["sin"](x) * y + L["exp"](x * y) * x * x


def _grad_x(L, f):
    return lambda x, y: L["func"].grad(lambda x, y: f(x, y).sum())(x, y)


def _grad_y(L, f):
    return lambda x, y: L["func"].grad(lambda x, y: f(x, y).sum(), argnums=1)(x, y)


def _vjp(L, f):
    def g(x, y):
        out, vjp_fn = L["func"].vjp(lambda x: f(x, y), x)  # closes over y
        return vjp_fn(L["ones_like"](out) * 0.5 + out)[0]  # a cotangent depending on x
    return g


def _jvp(L, f):
    return lambda x, y: L["func"].jvp(lambda x: f(x, y), (x,), (L["ones_like"](x),))[1]


def _jacrev(L, f):
    return lambda x, y: L["func"].jacrev(f)(x, y).sum(0)


def _jacfwd(L, f):
    return lambda x, y: L["func"].jacfwd(f, argnums=0)(x, y).sum(0)


def _hessian(L, f):
    return lambda x, y: L["func"].hessian(lambda x, y: f(x, y).sum())(x, y).sum(0)


def _grad_shadow(L, f):
    # differentiates with respect to z at z = x while also closing over x itself: an
    # outer transform must see both paths, the inner one only the path through z
    return lambda x, y: L["func"].grad(lambda z: (f(z, y) * L["sin"](x)).sum())(x)


TRANSFORMS = {"grad": _grad_x, "grad_argnums1": _grad_y, "vjp": _vjp, "jvp": _jvp,
              "jacrev": _jacrev, "jacfwd": _jacfwd, "hessian": _hessian,
              "grad_shadow": _grad_shadow}
X = np.array([0.3, -0.7, 1.1])
Y = np.array([0.5, 1.3, -0.4])


def _run(L, names):
    f = _base(L)
    for name in reversed(names):  # names[0] is the outermost
        f = TRANSFORMS[name](L, f)
    return f(L["wrap"](X), L["wrap"](Y))


PAIRS = list(itertools.product(TRANSFORMS, repeat=2))


@pytest.mark.parametrize("outer, inner", PAIRS)
def test_pair_of_transforms_matches_torch_func(outer, inner):
    ours = _run(GG, [outer, inner])
    theirs = _run(TORCH, [outer, inner])
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert not ours.requires_grad, "a transform on plain inputs leaked its graph"


@pytest.mark.parametrize("name", TRANSFORMS)
def test_single_transform_matches_torch_func_and_leaks_no_graph(name):
    ours = _run(GG, [name])
    np.testing.assert_allclose(ours.numpy(), _run(TORCH, [name]).numpy(), rtol=1e-12)
    assert not ours.requires_grad and ours.grad_fn is None


def test_grad_of_grad_through_an_argument_outside_argnums():
    inner = gg.func.grad(lambda x, y: x * y, argnums=1)  # = x
    assert gg.func.grad(inner)(gg.tensor(2.0), gg.tensor(3.0)).item() == 1.0


def test_grad_through_a_closure_over_the_outer_input():
    # d/dx [x * d/dy (x y)] = d/dx x^2 = 2x
    out = gg.func.grad(lambda x: x * gg.func.grad(lambda y: x * y)(gg.tensor(2.0)))(
        gg.tensor(1.5))
    assert out.item() == 3.0


def test_jacrev_of_a_vjp_function_with_respect_to_its_cotangent():
    x = np.array([1.0, 2.0])
    v = np.array([1.0, -1.0])
    _, vjp_fn = gg.func.vjp(lambda x: gg.sin(x) * x[::-1], gg.tensor(x))
    ours = gg.func.jacrev(lambda v: vjp_fn(v)[0])(gg.tensor(v))
    _, vjp_t = torch.func.vjp(lambda x: torch.sin(x) * x.flip(0), torch.tensor(x))
    theirs = torch.func.jacrev(lambda v: vjp_t(v)[0])(torch.tensor(v))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


def test_vjp_of_the_identity_under_forward_mode():
    x, ones = gg.tensor(np.array([1.0, 2.0])), gg.ones(2, dtype=np.float64)
    out, tangent = gg.func.jvp(lambda x: gg.func.vjp(lambda y: y, x)[1](ones)[0],
                               (x,), (ones,))
    np.testing.assert_array_equal(out.numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(tangent.numpy(), [0.0, 0.0])


def test_hessian_on_plain_input_carries_no_graph():
    h = gg.func.hessian(lambda x: (x ** 3).sum())(gg.tensor(np.array([1.0, 2.0])))
    np.testing.assert_array_equal(h.numpy(), [[6.0, 0.0], [0.0, 12.0]])
    assert h.grad_fn is None and not h.requires_grad


@pytest.mark.parametrize("name", ["grad", "vjp", "jvp", "jacrev", "hessian", "grad_shadow"])
def test_backward_through_a_transform_of_an_input_that_requires_grad(name):
    xg = gg.tensor(X, requires_grad=True)
    out = TRANSFORMS[name](GG, _base(GG))(xg, gg.tensor(Y))
    out.sum().backward()
    xt = torch.tensor(X, requires_grad=True)
    ref = TRANSFORMS[name](TORCH, _base(TORCH))(xt, torch.tensor(Y))
    ref.sum().backward()
    np.testing.assert_allclose(xg.grad.numpy(), xt.grad.numpy(), rtol=1e-10)


def test_grad_of_grad_keeps_the_inner_variable_apart_from_the_outer_one():
    # g(x) = d/dy (y^2 x) at y = x = 2x^2, so g'(x) = 4x (not d/dx x^3 twice: 6x)
    x = np.array([0.3, -0.7, 1.1])
    ours = gg.func.grad(lambda x: gg.func.grad(lambda y: (y * y * x).sum())(x).sum())(
        gg.tensor(x))
    np.testing.assert_allclose(ours.numpy(), 4 * x, rtol=1e-12)


@pytest.mark.parametrize("name", ["grad", "vjp", "jacrev", "hessian", "grad_shadow"])
def test_transforms_under_no_grad_record_nothing_outside(name):
    # as torch.func: the transform still differentiates, but a closed-over tensor that
    # requires grad gets no graph when grad mode is off around the call
    def run(L, wrap, y):
        with (gg.no_grad() if L is GG else torch.no_grad()):
            return TRANSFORMS[name](L, _base(L))(wrap(X), y)

    ours = run(GG, GG["wrap"], gg.tensor(Y, requires_grad=True))
    theirs = run(TORCH, TORCH["wrap"], torch.tensor(Y, requires_grad=True))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10)
    assert not ours.requires_grad and ours.grad_fn is None


def test_jvp_of_a_vjp_function_recorded_inside_another_jvp():
    # vjp's graph keeps the duals of a jvp level that has closed; a later jvp opens a
    # level of the same depth, which must not take those tangents for its own
    x, v, tv = np.array([0.3, 0.9]), np.array([1.0, 2.0]), np.array([0.5, -1.0])

    def run(L, F):
        _, vjp_fn = F.vjp(lambda x: F.jvp(lambda x: L["exp"](x) * x, (x,),
                                          (L["ones_like"](x),))[1], L["wrap"](x))
        return F.jvp(lambda v: vjp_fn(v)[0], (L["wrap"](v),), (L["wrap"](tv),))

    for a, b in zip(run(GG, gg.func), run(TORCH, torch.func)):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12)
