"""PyTorch habits on glassgrad: each scenario is written once and run with ``lib=gg`` and
``lib=torch``; results (values, gradients, result types) must agree. These cover the
spellings that would otherwise diverge silently (see README, "For PyTorch users")."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import glassgrad as gg
import glassgrad.nn.functional as GF

A = np.arange(24.0).reshape(2, 3, 4) / 7 - 1.3
A[0, 1, 2] = 5.0  # one clear maximum per row somewhere


def _np(v):
    if isinstance(v, torch.Tensor):
        return v.detach().numpy()
    if isinstance(v, gg.Tensor):
        return v.numpy()
    if isinstance(v, (tuple, list)):
        return type(v)(_np(i) for i in v)
    return v


def _leaf(lib, a=A):
    return lib.tensor(a.copy(), requires_grad=True)


def _run_both(scn):
    ours, theirs = scn(gg), scn(torch)
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):
        o, t = _np(o), _np(t)
        if isinstance(o, tuple):
            assert isinstance(t, tuple) and len(o) == len(t)
            for a, b in zip(o, t):
                np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
        else:
            np.testing.assert_allclose(o, t, rtol=1e-12, atol=1e-12)


def _with_grad(lib, fn):
    x = _leaf(lib)
    out = fn(x)
    (out * out).sum().backward()
    return out, x.grad


def _scn_reductions_take_dim_and_keepdim(lib):
    results = []
    for name in ("sum", "mean", "prod"):
        results += _with_grad(lib, lambda x, m=name: getattr(x, m)(dim=1, keepdim=True))
    results += _with_grad(lib, lambda x: x.max(dim=1, keepdim=True).values)
    results += _with_grad(lib, lambda x: x.sum(dim=(0, 2)))
    results += _with_grad(lib, lambda x: lib.sum(x, dim=-1))
    results += _with_grad(lib, lambda x: lib.logsumexp(x, dim=2))
    return results


def _scn_max_with_dim_returns_values_and_indices(lib):
    x = _leaf(lib)
    values, indices = x.max(dim=1)
    low = x.min(dim=-1, keepdim=True)
    (values.sum() + low.values.sum()).backward()
    return values, indices, low.values, low.indices, x.grad


def _scn_argmax_takes_dim(lib):
    x = _leaf(lib)
    return x.argmax(dim=1), lib.argmin(x, dim=2, keepdim=True)


def _scn_std_var_take_unbiased_and_correction(lib):
    x = _leaf(lib)
    s, v, v0 = x.std(unbiased=True), x.var(dim=1, correction=0), x.var(dim=2, unbiased=False)
    (s + v.sum() + v0.sum()).backward()
    return s, v, v0, x.grad


def _scn_transpose_two_ints_swaps(lib):
    out = []
    for a in (A[0], A):  # 2-D and 3-D
        x = _leaf(lib, a)
        y = x.transpose(0, 1) if a.ndim == 2 else x.transpose(0, 2)
        (y * lib.tensor(np.arange(y.numel() if lib is torch else y.size, dtype=np.float64)
                        .reshape(tuple(y.shape)))).sum().backward()
        out += [y, x.grad]
    return out


def _scn_split_method_takes_split_size(lib):
    x = _leaf(lib, np.arange(10.0).reshape(5, 2))
    pieces = x.split(2)
    sized = x.split([1, 4])
    (pieces[0].sum() * 1 + pieces[2].sum() * 3 + sized[1].sum() * 5).backward()
    return tuple(pieces), tuple(sized), x.grad


def _scn_cat_stack_cumsum_take_dim(lib):
    x = _leaf(lib)
    cat = lib.cat if lib is torch else gg.concatenate
    y = cat([x, x * 2], dim=1)
    z = lib.stack([x, x], dim=-1)
    c = x.cumsum(dim=2)
    (y.sum() + (z * 2).sum() + (c * c).sum()).backward()
    return y, z, c, x.grad


def _scn_repeat_tiles_where_numpy_reading_is_impossible(lib):
    x = _leaf(lib, A[0])
    a, b, c = x.repeat(2, 2, 1), x.repeat(3, 4), x.repeat((2, 2))
    (a.sum() + (b * 2).sum() + (c * c).sum()).backward()
    return a, b, c, x.grad




def _scn_sort_method_returns_values_and_indices(lib):
    x = _leaf(lib, np.array([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]]))
    up = x.sort()
    down = x.sort(dim=0, descending=True)
    (up.values * lib.tensor(np.array([1.0, 2.0, 3.0]))).sum().backward()
    return up.values, up.indices, down.values, down.indices, x.grad


def _scn_flatten_start_end_dim(lib):
    x = _leaf(lib)
    a, b, c = x.flatten(1), x.flatten(0, 1), x.flatten()
    (a.sum() + (b * b).sum() + c[3]).backward()
    return a, b, c, x.grad


def _scn_flip_roll_diff_cross_take_torch_names(lib):
    x = _leaf(lib)
    cross = (lambda a, b: torch.linalg.cross(a, b, dim=1)) if lib is torch else (
        lambda a, b: gg.cross(a, b, dim=1))
    f = lib.flip(x, dims=[0, 2])
    r = lib.roll(x, shifts=1, dims=2)
    d = lib.diff(x, dim=1)
    c = cross(x, x * x + 1.0)  # axis 1 has length 3
    ((f * f).sum() + r[0, 0, 0] + d.sum() + (c * c).sum()).backward()
    return f, r, d, c, x.grad


SCENARIOS = [v for k, v in sorted(globals().items()) if k.startswith("_scn_")]


@pytest.mark.parametrize("scn", SCENARIOS, ids=lambda f: f.__name__[5:])
def test_scenario_matches_torch(scn):
    _run_both(scn)


def test_positional_max_stays_numpys_values_only():
    """The documented trap: x.max(1) is NumPy's (values only); dim= gives torch's pair."""
    x = gg.tensor(A)
    assert isinstance(x.max(1), gg.Tensor)
    assert isinstance(x.max(axis=1), gg.Tensor)
    assert x.max(dim=1).indices.dtype == np.int64


def test_gg_split_keeps_numpys_reading():
    x = gg.tensor(np.arange(6.0))
    assert [p.shape for p in gg.split(x, 2)] == [(3,), (3,)]  # two equal pieces
    assert [p.shape for p in x.split(2)] == [(2,), (2,), (2,)]  # pieces of size 2


def test_tuple_transpose_is_numpys_permutation():
    x = gg.tensor(A[0])
    np.testing.assert_array_equal(x.transpose((0, 1)).numpy(), A[0])
    np.testing.assert_array_equal(x.transpose((1, 0)).numpy(), A[0].T)
    np.testing.assert_array_equal(gg.tensor(A).transpose(1, 0, 2).numpy(), A.transpose(1, 0, 2))


def test_axis_and_dim_together_is_an_error():
    with pytest.raises(TypeError, match="not both"):
        gg.tensor(A).sum(axis=0, dim=1)
    with pytest.raises(TypeError, match="one of ddof"):
        gg.tensor(A).std(ddof=1, unbiased=True)


def test_softmax_without_dim_warns_as_torch():
    x = np.ones((2, 3))
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        a = GF.softmax(gg.tensor(x))
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        b = TF.softmax(torch.tensor(x))
    assert ours and theirs and "dim" in str(ours[0].message)
    np.testing.assert_allclose(a.numpy(), b.numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GF.softmax(gg.tensor(x), dim=1)


def test_repeat_with_numpys_reading_stays_numpys():
    x = gg.tensor(A[0])
    np.testing.assert_array_equal(x.repeat(2).numpy(), np.repeat(A[0], 2))
    np.testing.assert_array_equal(x.repeat(2, 1).numpy(), np.repeat(A[0], 2, axis=1))
    np.testing.assert_array_equal(np.repeat(x, repeats=2, axis=0).numpy(),
                                  np.repeat(A[0], 2, axis=0))


def test_init_functions_take_a_generator():
    w, v = gg.zeros(3, 4), gg.zeros(3, 4)
    for fill in (gg.nn.init.kaiming_uniform_, gg.nn.init.xavier_normal_, gg.nn.init.normal_):
        fill(w, generator=gg.Generator().manual_seed(7))
        fill(v, generator=gg.Generator().manual_seed(7))
        np.testing.assert_array_equal(w.numpy(), v.numpy())
