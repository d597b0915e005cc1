"""Property tests: broadcasting of binary ops, and NumPy indexing with its gradient.

(a) random mutually broadcastable shapes for add/sub/mul/div/pow/maximum/minimum/where:
    forward and
    every input's gradient vs PyTorch, gradient shapes equal input shapes;
(b) random index expressions (integer arrays with repeats and negative entries, boolean
    masks, slices with negative steps, mixed): forward and gradient vs NumPy itself
    (``x[idx]`` and ``np.add.at``), the exact reference for NumPy indexing semantics.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import glassgrad as gg

RTOL, ATOL = 1e-7, 1e-10
SETTINGS = settings(max_examples=40, deadline=None)

# Small integers give exact ties for maximum (0.5 to each side, as PyTorch) and repeats.
REALS = st.integers(-3, 3).map(float) | st.floats(-3.0, 3.0, allow_nan=False, width=64)
NONZERO = st.floats(0.25, 3.0, width=64) | st.floats(-3.0, -0.25, width=64)
POSITIVE = st.floats(0.25, 3.0, width=64)

BINARY = {
    "add": (lambda x, y: x + y, lambda x, y: x + y),
    "sub": (lambda x, y: x - y, lambda x, y: x - y),
    "mul": (lambda x, y: x * y, lambda x, y: x * y),
    "div": (lambda x, y: x / y, lambda x, y: x / y),
    "pow": (lambda x, y: x**y, lambda x, y: x**y),
    "maximum": (lambda x, y: gg.maximum(x, y), torch.maximum),
    "minimum": (lambda x, y: gg.minimum(x, y), torch.minimum),
}


def _close(actual, expected, what: str) -> None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, err_msg=what)


def _check_vs_torch(gg_fn, torch_fn, arrays, consts=(), g_seed=0) -> None:
    """Forward and the gradient of every array in `arrays` vs PyTorch. `consts` are
    extra leading non-differentiable arguments (NumPy arrays)."""
    xs = [gg.tensor(a.copy(), requires_grad=True) for a in arrays]
    out = gg_fn(*[gg.tensor(c) for c in consts], *xs)
    txs = [torch.tensor(a, requires_grad=True) for a in arrays]
    tout = torch_fn(*[torch.as_tensor(c) for c in consts], *txs)
    _close(out.numpy(), tout.detach().numpy(), "forward")

    g = np.asarray(np.random.default_rng(g_seed).standard_normal(tout.shape))
    out.backward(gradient=gg.tensor(g))
    want = torch.autograd.grad(tout, txs, grad_outputs=torch.tensor(g))
    for i, (x, w) in enumerate(zip(xs, want)):
        assert x.grad is not None, f"input {i} got no gradient"
        assert tuple(x.grad.shape) == x.shape, f"input {i}: grad shape {x.grad.shape} != {x.shape}"
        _close(x.grad.numpy(), w.numpy(), f"gradient of input {i}")


# --------------------------------------------------------------------------- (a) broadcasting
@pytest.mark.parametrize("name", sorted(BINARY))
@SETTINGS
@given(data=st.data())
def test_binary_broadcasting(name, data):
    shapes = data.draw(
        hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3),
        label="shapes",
    ).input_shapes
    x = data.draw(
        hnp.arrays(np.float64, shapes[0], elements=POSITIVE if name == "pow" else REALS),
        label="x",
    )
    y = data.draw(
        hnp.arrays(np.float64, shapes[1], elements=NONZERO if name == "div" else REALS),
        label="y",
    )
    gg_fn, torch_fn = BINARY[name]
    _check_vs_torch(gg_fn, torch_fn, [x, y], g_seed=data.draw(st.integers(0, 2**16)))


@SETTINGS
@given(data=st.data())
def test_where_broadcasting(data):
    shapes = data.draw(
        hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=3),
        label="shapes",
    ).input_shapes
    cond = data.draw(hnp.arrays(np.bool_, shapes[0]), label="cond")
    x = data.draw(hnp.arrays(np.float64, shapes[1], elements=REALS), label="x")
    y = data.draw(hnp.arrays(np.float64, shapes[2], elements=REALS), label="y")
    _check_vs_torch(gg.where, torch.where, [x, y], consts=(cond,))


# --------------------------------------------------------------------------- (b) indexing
@st.composite
def index_case(draw):
    """An array shape and a NumPy index into it: per leading axis one of int, slice
    (any step sign), or integer array (repeats, negatives); or a boolean mask."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    kind = draw(st.sampled_from(["mixed", "mask", "slice+mask", "mask+array"]))
    if kind == "mask":
        k = draw(st.integers(1, len(shape)))
        return shape, draw(hnp.arrays(np.bool_, shape[:k]))
    if kind == "slice+mask" and len(shape) >= 2:
        return shape, (slice(None), draw(hnp.arrays(np.bool_, shape[1:2])))
    if kind == "mask+array" and len(shape) >= 2:
        # The mask's nonzero() array broadcasts against the integer array.
        mask = draw(hnp.arrays(np.bool_, shape[:1]))
        length = draw(st.sampled_from(sorted({1, int(mask.sum())})))
        ints = st.lists(st.integers(-shape[1], shape[1] - 1), min_size=length, max_size=length)
        return shape, (mask, np.array(draw(ints), dtype=np.intp))
    n_idx = draw(st.integers(1, len(shape)))
    n_arr = draw(st.integers(0, 4))  # common length of all integer arrays (broadcast)
    index = []
    for n in shape[:n_idx]:
        part = draw(st.sampled_from(["int", "slice", "array"]))
        if part == "int":
            index.append(draw(st.integers(-n, n - 1)))
        elif part == "slice":
            bound = st.none() | st.integers(-n - 1, n + 1)
            step = draw(st.none() | st.integers(-3, 3).filter(lambda s: s != 0))
            index.append(slice(draw(bound), draw(bound), step))
        else:
            ints = st.lists(st.integers(-n, n - 1), min_size=n_arr, max_size=n_arr)
            index.append(np.array(draw(ints), dtype=np.intp))
    return shape, tuple(index)


def _reference_grad(shape, index, g: np.ndarray) -> np.ndarray:
    """The VJP of x[index]: scatter-add g into zeros (repeated indices accumulate)."""
    if not isinstance(index, tuple):
        index = (index,)
    flat = []
    for part in index:  # np.add.at wants integer arrays; a mask is its nonzero() arrays
        if isinstance(part, np.ndarray) and part.dtype == np.bool_:
            flat.extend(np.nonzero(part))
        else:
            flat.append(part)
    gx = np.zeros(shape)
    np.add.at(gx, tuple(flat), g)
    return gx


@SETTINGS
@given(case=index_case(), seed=st.integers(0, 2**16))
def test_getitem_matches_numpy(case, seed):
    shape, index = case
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    expected = a[index]

    x = gg.tensor(a.copy(), requires_grad=True)
    out = x[index]
    _close(out.numpy(), expected, "forward")

    g = np.asarray(rng.standard_normal(expected.shape))
    out.backward(gradient=gg.tensor(g))
    assert x.grad is not None
    _close(x.grad.numpy(), _reference_grad(shape, index, g), "gradient")


@SETTINGS
@given(
    n=st.integers(1, 5),
    idx=st.lists(st.integers(-5, 4), min_size=0, max_size=10),
    seed=st.integers(0, 2**16),
)
def test_repeated_integer_index_matches_torch(n, idx, seed):
    """x[idx] on a (n, 3) array with repeated/negative indices vs PyTorch's gradient."""
    idx = np.array([i % n - n * (i < 0) for i in idx], dtype=np.int64)  # valid, keeps sign
    a = np.random.default_rng(seed).standard_normal((n, 3))
    _check_vs_torch(lambda x: x[idx], lambda x: x[torch.as_tensor(idx)], [a], g_seed=seed)
