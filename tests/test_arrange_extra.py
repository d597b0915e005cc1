"""Arrangement and scan ops: what the op table's rows cannot express.

Exact agreement with NumPy's forward (dtypes, 0-d and empty inputs, list outputs), the
cumprod gradient at exact zeros to second order and on long axes, errors that name the
op, and a few behaviours (the triangles' zeros, ``sort`` leaving its input alone).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import glassgrad as gg
from glassgrad.primitive import OpError

_RNG = np.random.default_rng(0)
_ARRAYS = {
    "f64-3d": _RNG.standard_normal((3, 4, 5)),
    "f32-2d": _RNG.standard_normal((4, 5)).astype(np.float32),
    "int-3d": np.arange(24).reshape(2, 3, 4) - 7,
    "bool-3d": np.arange(24).reshape(2, 3, 4) % 3 == 0,
    "empty-2d": np.zeros((0, 3)),
    "1d": _RNG.standard_normal(5),
    "0d": np.array(2.5),
}

# (name, numpy call, glassgrad call): each on every array above where NumPy succeeds
_CASES = [
    ("cumsum", np.cumsum, gg.cumsum),
    ("cumsum-axis0", lambda x: np.cumsum(x, 0), lambda x: gg.cumsum(x, 0)),
    ("cumprod-axis-1", lambda x: np.cumprod(x, -1), lambda x: gg.cumprod(x, -1)),
    ("cumprod", np.cumprod, gg.cumprod),
    ("diff", np.diff, gg.diff),
    ("diff-n2-axis0", lambda x: np.diff(x, 2, axis=0), lambda x: gg.diff(x, 2, axis=0)),
    ("diff-n9", lambda x: np.diff(x, 9), lambda x: gg.diff(x, 9)),
    ("flip", np.flip, gg.flip),
    ("flip-axis1", lambda x: np.flip(x, 1), lambda x: gg.flip(x, 1)),
    ("roll", lambda x: np.roll(x, 3), lambda x: gg.roll(x, 3)),
    ("roll-axis1", lambda x: np.roll(x, -3, 1), lambda x: gg.roll(x, -3, 1)),
    ("roll-shifts-same-axis", lambda x: np.roll(x, (1, 2), 0), lambda x: gg.roll(x, (1, 2), 0)),
    ("roll-shifts-flat", lambda x: np.roll(x, (1, 2)), lambda x: gg.roll(x, (1, 2))),
    ("tile", lambda x: np.tile(x, (2, 1, 3)), lambda x: gg.tile(x, (2, 1, 3))),
    ("tile-empty-reps", lambda x: np.tile(x, ()), lambda x: gg.tile(x, ())),
    ("repeat", lambda x: np.repeat(x, 2), lambda x: gg.repeat(x, 2)),
    ("repeat-counts", lambda x: np.repeat(x, [1, 0, 2], axis=1),
     lambda x: gg.repeat(x, [1, 0, 2], axis=1)),
    ("repeat-zero", lambda x: np.repeat(x, 0, axis=0), lambda x: gg.repeat(x, 0, axis=0)),
    ("diagonal", np.diagonal, gg.diagonal),
    ("diagonal-offset-past-end", lambda x: np.diagonal(x, 5), lambda x: gg.diagonal(x, 5)),
    ("diagonal-axes", lambda x: np.diagonal(x, -1, 2, 1), lambda x: gg.diagonal(x, -1, 2, 1)),
    ("trace", np.trace, gg.trace),
    ("tril", np.tril, gg.tril),
    ("triu-k2", lambda x: np.triu(x, 2), lambda x: gg.triu(x, 2)),
    ("sort", np.sort, gg.sort),
    ("sort-flat", lambda x: np.sort(x, None), lambda x: gg.sort(x, None)),
    ("sort-axis0", lambda x: np.sort(x, 0), lambda x: gg.sort(x, 0)),
    ("vstack", lambda x: np.vstack([x, x]), lambda x: gg.vstack([x, x])),
    ("hstack", lambda x: np.hstack([x, x]), lambda x: gg.hstack([x, x])),
    ("array_split", lambda x: np.array_split(x, 4), lambda x: gg.array_split(x, 4)),
    ("array_split-indices", lambda x: np.array_split(x, [1, -1], axis=-1),
     lambda x: gg.array_split(x, [1, -1], axis=-1)),
]


def _same(want, got):
    assert isinstance(got, gg.Tensor)
    assert got.shape == want.shape and got.dtype == want.dtype, (got, want)
    np.testing.assert_array_equal(got.numpy(), want)


@pytest.mark.parametrize("name,np_fn,gg_fn", _CASES, ids=[c[0] for c in _CASES])
@pytest.mark.parametrize("key", list(_ARRAYS))
def test_forward_is_numpys(name, np_fn, gg_fn, key):
    """Values, shape and dtype as NumPy's; where NumPy refuses, an OpError naming the op."""
    a = _ARRAYS[key]
    try:
        want = np_fn(a)
    except (ValueError, TypeError, IndexError):
        with pytest.raises(OpError, match=name.split("-")[0]):
            gg_fn(gg.tensor(a))
        return
    got = gg_fn(gg.tensor(a))
    if isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want)
        for w, g in zip(want, got):
            _same(w, g)
    else:
        _same(want, got)


def test_numpy_functions_dispatch_to_the_ops():
    x = gg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    outs = [np.cumsum(x, axis=1), np.cumprod(x), np.diff(x), np.flip(x), np.roll(x, 1),
            np.tile(x, 2), np.repeat(x, 2), np.diagonal(x), np.trace(x), np.tril(x),
            np.triu(x), np.sort(x), np.vstack([x, x]), np.hstack([x, x]),
            *np.array_split(x, 2)]
    assert all(isinstance(o, gg.Tensor) and o.requires_grad for o in outs)


# --- cumprod: exact at zeros, to second order -------------------------------------------------
_ZEROS = [np.array([0.5, 0.0, -1.5, 2.0, 0.0, 1.2]), np.array([0.0, 0.0, 3.0, -1.0]),
          np.array([1.5, -2.0, 0.7, 0.0])]


@pytest.mark.parametrize("x", _ZEROS, ids=["two-apart", "two-leading", "last"])
def test_cumprod_jacobians_and_hessian_at_zeros_match_torch(x):
    w = np.linspace(1.0, 2.0, x.size)
    t = torch.tensor(x)
    jac = torch.func.jacrev(lambda v: torch.cumprod(v, 0))(t).numpy()
    np.testing.assert_allclose(gg.func.jacrev(gg.cumprod)(gg.tensor(x)).numpy(), jac,
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gg.func.jacfwd(gg.cumprod)(gg.tensor(x)).numpy(), jac,
                               rtol=1e-12, atol=1e-14)
    hess = torch.func.hessian(lambda v: (torch.cumprod(v, 0) * torch.tensor(w)).sum())(t)
    ours = gg.func.hessian(lambda v: (gg.cumprod(v) * gg.tensor(w)).sum())(gg.tensor(x))
    np.testing.assert_allclose(ours.numpy(), hess.numpy(), rtol=1e-12, atol=1e-14)


def test_cumprod_gradient_on_a_long_axis_matches_torch():
    rng = np.random.default_rng(1)
    x = rng.uniform(0.9, 1.1, size=(3, 1000))
    x[0, 10] = x[1, 5] = x[1, 500] = 0.0
    g = rng.standard_normal(x.shape)
    t = gg.tensor(x, requires_grad=True)
    gg.cumprod(t, axis=1).backward(gg.tensor(g))
    tt = torch.tensor(x, requires_grad=True)
    torch.cumprod(tt, 1).backward(torch.tensor(g))
    np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("op", [gg.cumsum, gg.cumprod])
@pytest.mark.parametrize("shape,axis", [((0, 3), 0), ((3, 0), 1), ((0,), None)])
def test_scans_of_empty_axes_have_empty_gradients(op, shape, axis):
    x = gg.tensor(np.zeros(shape), requires_grad=True)
    out = op(x, axis)
    out.sum().backward()
    assert x.grad.shape == shape
    _, t = gg.func.jvp(lambda v: op(v, axis), (gg.tensor(np.zeros(shape)),),
                       (gg.tensor(np.zeros(shape)),))
    assert t.shape == out.shape


# --- behaviours -------------------------------------------------------------------------------
def test_triangles_zero_the_other_part_even_where_it_is_inf():
    a = np.array([[1.0, np.inf], [-np.inf, 2.0]])
    x = gg.tensor(a, requires_grad=True)
    np.testing.assert_array_equal(gg.tril(x).numpy(), np.tril(a))
    np.testing.assert_array_equal(gg.triu(x).numpy(), np.triu(a))
    gg.tril(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 0.0], [1.0, 1.0]])
    x.grad = None
    gg.triu(x, 1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 1.0], [0.0, 0.0]])


def test_sort_leaves_its_input_alone_and_routes_gradients_through_the_permutation():
    a = np.array([[3.0, 1.0, 2.0], [0.5, -1.0, 4.0]])
    x = gg.tensor(a.copy(), requires_grad=True)
    out = gg.sort(x, axis=1)
    np.testing.assert_array_equal(x.numpy(), a)
    np.testing.assert_array_equal(out.numpy(), np.sort(a, axis=1))
    (out * gg.tensor([1.0, 10.0, 100.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[100.0, 1.0, 10.0], [10.0, 1.0, 100.0]])


def test_sort_ties_send_each_cotangent_to_one_element():
    x = gg.tensor([2.0, 1.0, 2.0, 1.0], requires_grad=True)
    (gg.sort(x) * gg.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    # stable: the first 1.0 is rank 0, the second rank 1; likewise the 2.0s
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 1.0, 4.0, 2.0])


def test_diff_of_booleans_and_of_order_zero():
    b = np.array([True, True, False, True])
    np.testing.assert_array_equal(gg.diff(gg.tensor(b)).numpy(), np.diff(b))
    x = gg.tensor([1.0, 4.0, 9.0])
    assert gg.diff(x, 0) is x


def test_array_split_pieces_share_the_gradient():
    x = gg.tensor(np.arange(7.0), requires_grad=True)
    pieces = gg.array_split(x, 3)
    assert [p.shape for p in pieces] == [(3,), (2,), (2,)]
    sum(p.sum() * (k + 1) for k, p in enumerate(pieces)).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 1, 1, 2, 2, 3, 3])


def test_repeat_counts_add_the_copies_back():
    x = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    gg.repeat(x, [3, 0, 2]).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0, 2.0])


@pytest.mark.parametrize("call,match", [
    (lambda x: gg.cumsum(x, 2), "cumsum: axis 2"),
    (lambda x: gg.cumprod(x, axis=1.5), "cumprod: axis must be an integer"),
    (lambda x: gg.diff(x, -1), "diff: the order n must be non-negative"),
    (lambda x: gg.flip(x, (0, 0)), "flip: axis .* repeats"),
    (lambda x: gg.roll(x, (1, 2), (0, 1, 0)), "roll: shift"),
    (lambda x: gg.tile(x, (-1,)), "tile: reps must be non-negative"),
    (lambda x: gg.repeat(x, [1, 2], axis=0), "repeat: 2 repeat counts for axis 0 of length 3"),
    (lambda x: gg.repeat(x, -1), "repeat: repeats must be non-negative"),
    (lambda x: gg.repeat(x, 1.5), "repeat: repeats must be an int"),
    (lambda x: gg.diagonal(x, 0, 1, -1), "diagonal: axis1 and axis2 are the same"),
    (lambda x: gg.diagonal(x[0]), "diagonal: needs an input of at least 2"),
    (lambda x: gg.trace(x[0]), "trace: needs an input of at least 2"),
    (lambda x: gg.array_split(x, 0), "array_split: the number of sections"),
    (lambda x: gg.sort(x, order="a"), "sort: order="),
    (lambda x: gg.vstack([x, gg.ones((2, 5))]), "vstack: .*must match"),
    (lambda x: gg.hstack([x, gg.ones((2, 5))]), "hstack: .*must match"),
])
def test_bad_arguments_name_the_op(call, match):
    x = gg.tensor(np.ones((3, 4)))
    with pytest.raises((OpError, TypeError), match=match):
        call(x)
