"""PyTorch's Tensor-method spellings on glassgrad Tensors (glassgrad/torch_surface.py).

Each ``_scn_<name>(lib)`` is written once and run with ``lib=gg`` and ``lib=torch``; the
results (values, gradients, dtypes, result types, shapes) are compared, torch being the
oracle. Plain tests cover glassgrad-only behaviour: ``x.size`` as an int and a method, the
in-place error cases, and the AttributeErrors that teach.
"""

import numpy as np
import pytest
import torch

import glassgrad as gg
from glassgrad.tensor import Size

_DT = {gg: {"f32": np.float32, "f64": np.float64, "i64": np.int64},
       torch: {"f32": torch.float32, "f64": torch.float64, "i64": torch.int64}}


def _dt(lib, name):
    return _DT[lib][name]


def _leaf(lib, arr, requires_grad=True):
    return lib.tensor(np.array(arr, dtype=np.float64), requires_grad=requires_grad)


def _norm(v):
    """A result as a comparable value: (kind, dtype, array) for tensors."""
    if isinstance(v, torch.Tensor):
        a = v.detach().numpy()
        return ("tensor", str(a.dtype), a.copy())
    if isinstance(v, gg.Tensor):
        a = np.asarray(v.numpy())
        return ("tensor", str(a.dtype), a.copy())
    if isinstance(v, torch.Size):
        return ("size", tuple(v))
    if isinstance(v, Size):
        return ("size", tuple(v))
    if isinstance(v, tuple) and hasattr(v, "_fields"):  # named tuples (torch.return_types)
        return ("named", tuple(v._fields), [_norm(x) for x in v])
    if type(v).__module__ == "torch.return_types":
        return ("named", ("values", "indices"), [_norm(x) for x in v])
    if isinstance(v, (list, tuple)):
        return (type(v).__name__, [_norm(x) for x in v])
    if isinstance(v, (bool, int, float, str)) or v is None:
        return (type(v).__name__, v)
    raise TypeError(f"cannot compare {type(v)}")


def _same(a, b, path="result"):
    assert a[0] == b[0], f"{path}: {a[0]} vs {b[0]}"
    if a[0] == "tensor":
        assert a[1] == b[1], f"{path}: dtype {a[1]} vs {b[1]}"
        assert a[2].shape == b[2].shape, f"{path}: shape {a[2].shape} vs {b[2].shape}"
        np.testing.assert_allclose(a[2], b[2], rtol=1e-6, atol=1e-7, err_msg=path)
    elif a[0] == "named":
        assert a[1] == b[1]
        for i, (x, y) in enumerate(zip(a[2], b[2])):
            _same(x, y, f"{path}.{a[1][i]}")
    elif a[0] in ("list", "tuple"):
        assert len(a[1]) == len(b[1]), f"{path}: {len(a[1])} vs {len(b[1])} items"
        for i, (x, y) in enumerate(zip(a[1], b[1])):
            _same(x, y, f"{path}[{i}]")
    else:
        assert a[1] == b[1], f"{path}: {a[1]!r} vs {b[1]!r}"


def _run_both(scn):
    ours, theirs = _norm(scn(gg)), _norm(scn(torch))
    _same(ours, theirs)


# --- 1. shapes, copies, dtypes ---------------------------------------------------------
def _scn_view(lib):
    x = _leaf(lib, np.arange(6.0).reshape(2, 3))
    y = x.view(3, 2)
    z = x.view(-1)
    w = x.view((1, 6))
    (y * lib.tensor(np.arange(6.0).reshape(3, 2))).sum().backward()
    return [y, z, w, x.grad]


def _scn_view_as_reshape_as(lib):
    x = _leaf(lib, np.arange(6.0))
    o = lib.zeros((3, 2))
    a, b = x.view_as(o), x.reshape_as(o)
    ((a * 2.0).sum() + (b * b).sum()).backward()
    return [a, b, x.grad]


def _scn_unsqueeze(lib):
    x = _leaf(lib, [[1.0, 2.0, 3.0]])
    outs = [x.unsqueeze(0), x.unsqueeze(1), x.unsqueeze(2), x.unsqueeze(-1), x.unsqueeze(-3)]
    sum(o.sum() * float(i + 1) for i, o in enumerate(outs)).backward()
    return [*[tuple(o.shape) for o in outs], x.grad]


def _scn_permute(lib):
    x = _leaf(lib, np.arange(24.0).reshape(2, 3, 4))
    y = x.permute(2, 0, 1)
    z = x.permute((1, 2, 0))
    w = lib.tensor(np.arange(24.0).reshape(4, 2, 3))
    (y * w).sum().backward()
    return [y, z, x.grad]


def _scn_t(lib):
    x = _leaf(lib, np.arange(6.0).reshape(2, 3))
    v = _leaf(lib, [1.0, 2.0])
    s = _leaf(lib, 3.0)
    y = x.t()
    (y * lib.tensor(np.arange(6.0).reshape(3, 2))).sum().backward()
    return [y, v.t(), s.t(), x.grad]


def _scn_expand(lib):
    x = _leaf(lib, [[1.0], [2.0]])
    y = x.expand(2, 3)
    z = x.expand(4, -1, 5)
    u = x.expand((2, 2))
    (y.sum() + 2.0 * z.sum() + u.sum()).backward()
    return [y, tuple(z.shape), u, x.grad]


def _scn_expand_as(lib):
    x = _leaf(lib, [1.0, 2.0, 3.0])
    y = x.expand_as(lib.zeros((2, 3)))
    (y * lib.tensor(np.arange(6.0).reshape(2, 3))).sum().backward()
    return [y, x.grad]


def _scn_clone(lib):
    x = _leaf(lib, [1.0, -2.0])
    y = x.clone()
    with lib.no_grad():
        x.mul_(10.0)  # the clone has its own values
    (y * y).sum().backward()
    return [y, x.grad, y.requires_grad, y.is_leaf]


def _scn_contiguous_cpu(lib):
    x = _leaf(lib, [1.0, 2.0])
    return [x.contiguous() is x, x.cpu() is x, x.to("cpu") is x]


def _scn_dtype_methods(lib):
    x = _leaf(lib, [1.5, -2.5, 0.0])
    f, d, h = x.float(), x.double(), x.half()
    lo, i, b = x.long(), x.int(), x.bool()
    (f.sum() * 2.0).backward()
    return [f, d, h, lo, i, b, f.requires_grad, lo.requires_grad, b.requires_grad,
            d is x, x.grad]


def _scn_type_as_and_to(lib):
    x = _leaf(lib, [1.5, -2.5])
    o = lib.tensor(np.array([1, 2], dtype=np.int64))
    f = lib.tensor(np.array([1.0], dtype=np.float32))
    a = x.type_as(f)
    b = x.type_as(o)
    c = x.to(_dt(lib, "f32"))
    d = x.to(f)
    e = x.to("cpu", _dt(lib, "f32"))
    g = x.to(dtype=_dt(lib, "i64"))
    (a.sum() + c.sum() * 2.0 + d.sum() * 3.0).backward()
    return [a, b, c, d, e, g, x.to(_dt(lib, "f64")) is x, x.grad]


def _scn_counts(lib):
    x = lib.zeros((2, 3, 4), dtype=_dt(lib, "f32"))
    y = lib.tensor(np.zeros((2,), np.float64))
    i = lib.tensor(np.zeros((2,), np.int64))
    return [x.dim(), x.numel(), x.nelement(), x.element_size(), y.element_size(),
            i.element_size(), lib.tensor(3.0).dim(), lib.tensor(3.0).numel()]


def _scn_size(lib):
    x = lib.zeros((2, 3, 4))
    return [x.size(), x.size(0), x.size(1), x.size(-1), x.size(-3), tuple(x.size()),
            lib.tensor(1.0).size()]


def _scn_format(lib):
    loss = _leaf(lib, 0.123456)
    return [f"{loss:.3f}", f"{loss * 2.0:.2e}", f"{loss:>10.4f}", f"{loss}",
            format(lib.tensor(np.array(7, np.int64)) * 1.0, ".2f"),
            f"{lib.tensor(np.array(7, np.int64)):d}"]


# --- 2. selections, masks, norms ---------------------------------------------------------
def _scn_chunk(lib):
    x = _leaf(lib, np.arange(10.0).reshape(5, 2))
    a = x.chunk(2)  # sizes 3, 2
    b = x.chunk(3, dim=0)  # 2, 2, 1
    c = x.chunk(4)  # 2, 2, 1 (fewer than 4)
    d = x.chunk(2, dim=1)
    e = x.chunk(6)  # 1 each, 5 pieces
    total = sum(float(k + 1) * p.sum() for k, p in enumerate(a + b + c + d + e))
    total.backward()
    empty = [tuple(p.shape) for p in lib.zeros((0, 3)).chunk(3)]
    return [list(a), list(b), list(c), list(d), len(e), x.grad, empty]


def _scn_narrow(lib):
    x = _leaf(lib, np.arange(12.0).reshape(3, 4))
    a = x.narrow(0, 1, 2)
    b = x.narrow(1, -3, 2)
    c = x.narrow(-1, 0, 0)
    (a.sum() + 3.0 * b.sum() + c.sum()).backward()
    return [a, b, tuple(c.shape), x.grad]


def _scn_masked_fill(lib):
    x = _leaf(lib, [[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]])
    y = x.masked_fill(x < 0, 0.0)
    z = x.masked_fill(lib.tensor(np.array([True, False, True])), -1e9)
    i = lib.tensor(np.array([1, 2, 3], np.int64)).masked_fill(
        lib.tensor(np.array([False, True, False])), 7)
    (y * y).sum().backward(retain_graph=True)
    (z * 2.0).sum().backward()
    return [y, z, i, x.grad]


def _scn_masked_fill_tensor_value(lib):
    x = _leaf(lib, [1.0, 2.0, 3.0])
    v = _leaf(lib, 5.0)
    y = x.masked_fill(lib.tensor(np.array([True, False, True])), v)
    (y * lib.tensor(np.array([1.0, 2.0, 3.0]))).sum().backward()
    return [y, x.grad, v.grad]


def _scn_clamp(lib):
    x = _leaf(lib, [-2.0, -0.5, 0.0, 0.5, 1.0, 2.0])
    a = x.clamp(-0.5, 1.0)
    b = x.clamp(min=0.0)
    c = x.clamp(max=0.5)
    (a.sum() + 2.0 * b.sum() + 4.0 * c.sum()).backward()
    return [a, b, c, x.grad]


def _scn_clamp_inplace(lib):
    x = _leaf(lib, [-2.0, 0.3, 2.0])
    y = x * 2.0
    r = y.clamp_(-1.0, 1.0)
    (y * y).sum().backward()
    z = lib.tensor(np.array([-3.0, 0.0, 3.0]))
    z.clamp_(min=-1.0)
    return [r is y, y, x.grad, z]


def _scn_norm(lib):
    x = _leaf(lib, [[3.0, -4.0, 1.0], [0.5, 2.0, -1.0]])
    outs = [x.norm(), x.norm(dim=1), x.norm(p=1, dim=0), x.norm(2, 1, True),
            x.norm(p=float("inf"), dim=1), x.norm(p="fro")]
    sum(o.sum() * float(i + 1) for i, o in enumerate(outs)).backward()
    return [*outs, x.grad]


# --- 3. in-place arithmetic ------------------------------------------------------------
def _scn_inplace_arith_no_grad(lib):
    x = lib.tensor(np.array([1.0, -2.0, 3.0]))
    r = x.add_(1.0)
    x.add_(lib.tensor(np.array([1.0, 1.0, 1.0])), alpha=2.0)
    x.sub_(0.5).sub_(lib.tensor(np.array([1.0, 2.0, 3.0])), alpha=0.5)
    x.mul_(2.0).div_(4.0)
    a = x.clone().neg_()
    b = x.clone().abs_()
    c = x.clone().pow_(2.0)
    d = x.clone().exp_()
    return [r is x, x, a, b, c, d]


def _scn_inplace_arith_recorded(lib):
    x = _leaf(lib, [1.0, -2.0, 3.0])
    w = _leaf(lib, [0.5, 0.25, 2.0])
    y = x * 1.0
    y.add_(w, alpha=3.0)
    y.mul_(x)
    y.sub_(w)
    y.div_(2.0)
    y.pow_(2.0)
    y.neg_()
    y.abs_()
    y.exp_()
    y.sum().backward()
    return [y, x.grad, w.grad, y.is_leaf]


def _scn_zero_fill_copy(lib):
    x = lib.tensor(np.array([1.0, 2.0, 3.0]))
    z = x.clone().zero_()
    f = x.clone().fill_(2.5)
    c = x.clone().copy_(lib.tensor(np.array([7.0, 8.0, 9.0])))
    cb = lib.zeros((2, 3), dtype=_dt(lib, "f64")).copy_(x)
    i = lib.tensor(np.array([1, 2], np.int64)).fill_(2.7)
    ci = lib.tensor(np.array([1, 2], np.int64)).copy_(lib.tensor(np.array([3.9, -1.2])))
    return [z, f, c, cb, i, ci]


def _scn_zero_fill_copy_recorded(lib):
    x = _leaf(lib, [1.0, 2.0, 3.0])
    s = _leaf(lib, [4.0, 5.0, 6.0])
    a = x * 2.0
    a.zero_()
    b = x * 3.0
    b.fill_(1.5)
    c = x * 4.0
    c.copy_(s * s)
    (a.sum() + b.sum() + (c * c).sum() + (x * x).sum()).backward()
    return [a, b, c, a.requires_grad, x.grad, s.grad]


def _scn_fill_tensor_value_recorded(lib):
    x = _leaf(lib, [1.0, 2.0])
    v = _leaf(lib, 3.0)
    y = x * 1.0
    y.fill_(v)
    (y * lib.tensor(np.array([1.0, 2.0]))).sum().backward()
    return [y, x.grad, v.grad]


def _scn_inplace_under_no_grad_on_parameter(lib):
    w = _leaf(lib, [1.0, 2.0])
    (w * w).sum().backward()
    with lib.no_grad():
        w.sub_(w.grad, alpha=0.1)
        w.clamp_(max=1.5)
    w.grad.zero_()
    return [w, w.grad, w.requires_grad, w.is_leaf]


# --- 4. sorting, searching, comparing ------------------------------------------------------
def _scn_topk(lib):
    x = _leaf(lib, [[0.3, 1.2, -0.5, 2.0], [4.0, -1.0, 0.7, 0.1]])
    a = x.topk(2)
    b = x.topk(1, dim=0)
    c = x.topk(3, dim=1, largest=False)
    values, indices = x.topk(2, -1)
    (a.values * 1.0).sum().backward(retain_graph=True)
    (b.values.sum() * 2.0 + (c[0] * c[0]).sum()).backward()
    return [a, b, c, values, indices, x.grad]


def _scn_argsort(lib):
    x = lib.tensor(np.array([[0.3, 1.2, -0.5], [4.0, -1.0, 0.7]]))
    return [x.argsort(), x.argsort(dim=0), x.argsort(descending=True),
            x.argsort(dim=1, descending=True)]


def _scn_nonzero(lib):
    x = lib.tensor(np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]]))
    rows, cols = x.nonzero(as_tuple=True)
    return [x.nonzero(), rows, cols, lib.tensor(np.array([0.0, 3.0])).nonzero(),
            lib.zeros((2, 2)).nonzero()]


def _scn_allclose_equal(lib):
    a = lib.tensor(np.array([1.0, 2.0]))
    b = lib.tensor(np.array([1.0, 2.0 + 1e-9]))
    c = lib.tensor(np.array([1.0, 2.1]))
    return [a.allclose(b), a.allclose(c), a.allclose(c, atol=0.2), a.allclose(c, rtol=0.1),
            a.equal(a.clone()), a.equal(b), a.equal(lib.tensor(np.array([[1.0, 2.0]])))]


def _scn_squeeze_dim(lib):
    x = _leaf(lib, np.arange(6.0).reshape(2, 1, 3, 1))
    a = x.squeeze(dim=1)
    b = x.squeeze(dim=0)  # not of length one: a no-op, as torch
    c = x.squeeze(dim=-1)
    d = x.squeeze(dim=(1, 3))
    e = x.squeeze(dim=(0, 1))
    (a.sum() + 2.0 * b.sum() + 3.0 * c.sum() + 4.0 * d.sum() + e.sum()).backward()
    return [a, b, c, d, e, x.grad]


def _scn_any_all_dim(lib):
    x = lib.tensor(np.array([[[True, False, True]], [[False, False, True]]]))
    return [x.any(), x.all(), x.any(dim=2), x.all(dim=0), x.any(dim=-1, keepdim=True),
            x.all(dim=1, keepdim=True), (x.float() > 0.5).any(dim=0)]


SCENARIOS = [v for k, v in sorted(globals().items()) if k.startswith("_scn_")]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[f.__name__[5:] for f in SCENARIOS])
def test_scenario_matches_torch(scenario):
    _run_both(scenario)


# --- glassgrad-only behaviour --------------------------------------------------------------
def test_size_is_numpys_int_and_torchs_method():
    x = gg.zeros((2, 3, 4))
    assert x.size == 24 and isinstance(x.size, int)
    assert x.size + 1 == 25 and x.size * 2 == 48 and range(x.size)[-1] == 23
    assert np.zeros(x.size).shape == (24,) and f"{x.size}" == "24" and repr(x.size) == "24"
    assert x.size() == (2, 3, 4) and isinstance(x.size(), tuple)
    assert x.size(1) == 3 and x.size(-1) == 4 and x.size(-3) == 2
    assert x.size().numel() == 24
    with pytest.raises(IndexError, match="out of range for a tensor of shape"):
        x.size(3)
    with pytest.raises(IndexError):
        x.size(-4)
    import pickle
    assert pickle.loads(pickle.dumps(x.size)) == 24


def test_a_torch_spelling_never_replaces_a_numpy_method():
    from glassgrad.registry import METHODS
    from glassgrad.tensor_methods import _Methods
    from glassgrad.torch_surface import TorchMethods

    for name in vars(TorchMethods):
        if name in METHODS or name in vars(_Methods):
            assert getattr(gg.Tensor, name) is not vars(TorchMethods)[name], name
    x = gg.tensor(np.arange(6.0).reshape(2, 3))
    assert x.transpose(1, 0).shape == (3, 2)  # NumPy's transpose(*axes), unchanged
    assert x.max(axis=1).shape == (2,)


def test_squeeze_and_any_keep_numpys_axis():
    x = gg.ones((2, 1, 3))
    with pytest.raises(ValueError, match="squeeze: axis 0"):
        x.squeeze(0)  # NumPy's: an axis that is not of length one is an error
    assert x.squeeze(1).shape == (2, 3) and x.squeeze(axis=1).shape == (2, 3)
    assert (x > 0).any(axis=0, keepdims=True).shape == (1, 1, 3)
    with pytest.raises(TypeError, match="not both"):
        x.squeeze(1, dim=1)
    with pytest.raises(TypeError, match="not both"):
        (x > 0).any(0, dim=1)


def test_view_dtype_teaches():
    x = gg.zeros((2,))
    with pytest.raises(TypeError, match=r"astype"):
        x.view(np.int32)
    with pytest.raises(TypeError, match=r"numpy\(\)\.view"):
        x.view("float16")


def test_shape_errors_name_the_op_and_shapes():
    x = gg.zeros((2, 3))
    with pytest.raises(ValueError, match=r"expand: the size of dim 1 \(3\)"):
        x.expand(2, 4)
    with pytest.raises(ValueError, match="t\\(\\) expects"):
        gg.zeros((2, 2, 2)).t()
    with pytest.raises(IndexError, match="unsqueeze: dim 3 is out of range"):
        x.unsqueeze(3)
    with pytest.raises(IndexError, match="narrow"):
        x.narrow(1, 2, 2)
    with pytest.raises(ValueError, match="permute"):
        x.permute(0, 0)
    with pytest.raises(ValueError, match="to\\('cuda'\\): glassgrad runs on NumPy"):
        x.to("cuda")
    with pytest.raises(ValueError, match="clamp: at least one"):
        x.clamp()
    with pytest.raises(ValueError, match="topk: k=4"):
        x.topk(4)
    with pytest.raises(TypeError, match="mask must be bool"):
        x.masked_fill(gg.ones((2, 3)), 0.0)


def test_inplace_on_a_leaf_that_requires_grad_is_refused():
    w = gg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    for call in (lambda: w.add_(1.0), lambda: w.mul_(2.0), lambda: w.neg_(),
                 lambda: w.clamp_(0.0, 1.0), lambda: w.zero_(), lambda: w.fill_(1.0),
                 lambda: w.copy_(np.zeros(2)), lambda: w.exp_()):
        with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
            call()
    assert w.tolist() == [1.0, 2.0]
    with gg.no_grad():
        w.add_(1.0)
    assert w.tolist() == [2.0, 3.0]


def test_inplace_into_a_saved_array_is_refused_naming_the_op():
    w = gg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    loss = (w * w).sum()
    with gg.no_grad():
        with pytest.raises(RuntimeError, match="saved for the backward of mul"):
            w.add_(1.0)
    with pytest.raises(RuntimeError, match="saved for the backward of mul"):
        w.copy_(np.zeros(2))
    loss.backward()
    with gg.no_grad():
        w.sub_(w.grad, alpha=0.5)
    assert w.tolist() == [0.0, 0.0]


def test_inplace_while_recording_keeps_the_saved_values():
    x = gg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * 1.0
    z = y * y  # saves y
    y.mul_(10.0).add_(1.0)  # re-pointed: z's backward still sees the old y
    (z.sum() + y.sum()).backward()
    assert x.grad.tolist() == [12.0, 14.0]


def _scn_inplace_ops_in_forward_mode(lib):
    def f(x):
        y = x * 1.0
        y.mul_(3.0).add_(x, alpha=2.0)
        y.clamp_(max=9.0)
        return y

    x = lib.tensor(np.array([1.0, 2.0]))
    return list(lib.func.jvp(f, (x,), (lib.tensor(np.array([1.0, 1.0])),)))


@pytest.mark.parametrize("scenario", [_scn_inplace_ops_in_forward_mode])
def test_forward_mode_scenario_matches_torch(scenario):
    _run_both(scenario)


def test_format_of_a_bigger_tensor():
    assert f"{gg.tensor([[2.5]]):.1f}" == "2.5"  # any one-element tensor (torch: 0-d only)
    x = gg.tensor(np.array([1.0, 2.0]))
    assert f"{x}" == str(x)
    with pytest.raises(TypeError, match="one-element tensors"):
        f"{x:.3f}"


def test_errors_that_teach():
    x = gg.zeros((2,))
    with pytest.raises(AttributeError, match="'Tensor' object has no attribute 'cuda'; "
                                             "glassgrad runs on NumPy arrays"):
        x.cuda()
    with pytest.raises(AttributeError, match="data_ptr.*NumPy arrays"):
        x.data_ptr()
    with pytest.raises(AttributeError, match="detach_.*t = t.detach\\(\\)"):
        x.detach_()
    with pytest.raises(AttributeError, match="did you mean t.unsqueeze"):
        x.unsqeeze(0)
    with pytest.raises(AttributeError, match="did you mean t.requires_grad_"):
        x.requires_grad__()
    with pytest.raises(AttributeError) as e:
        _ = x.qqqqzzzz
    assert str(e.value) == "'Tensor' object has no attribute 'qqqqzzzz'"
    assert not hasattr(x, "cuda")


def test_private_names_fail_fast_for_the_engine():
    x = gg.zeros((2,))
    assert getattr(x, "_level", 0) == 0
    assert getattr(x, "_grad", None) is None and getattr(x, "_hooks", None) is None
    with pytest.raises(AttributeError) as e:
        _ = x._nothing_here
    assert str(e.value) == "_nothing_here"
    assert x.grad is None
