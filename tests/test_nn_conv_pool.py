"""conv2d, max_pool2d, avg_pool2d (fused primitives) and their modules.

Each primitive is checked against PyTorch (values and every gradient, float32 and
float64), against its composite made of existing glassgrad ops, with gradcheck and
gradgradcheck in float64, and in forward mode against ``torch.func.jvp``. That includes
conv2d's ``dilation`` and ``groups`` (depthwise too) and max-pooling's ``ceil_mode``,
``dilation`` and ``return_indices`` (indices equal to PyTorch's, ties included).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from nn_torch_compare import check_grads, compare, compare_jvp, copy_module_params

import glassgrad as gg
import glassgrad.nn.functional as F
from glassgrad.nn import _conv_ops
from glassgrad.nn._conv_ops import col2im, im2col

# (N, C_in, H, W, C_out, kernel, stride, padding)
CONV_CASES = [
    (2, 3, 7, 6, 4, 3, 1, 0),
    (2, 2, 8, 9, 3, (3, 2), (2, 1), (1, 2)),
    (1, 1, 5, 5, 2, 5, 2, 2),
    (3, 2, 6, 6, 2, 1, 1, 0),
    (1, 2, 9, 7, 3, 3, 3, 1),
]
CONV_IDS = ["3x3", "rect-stride-pad", "kernel=input", "1x1", "stride>1"]


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _conv_data(case, dtype=np.float64, seed=0):
    n, c, h, w, o, k, s, p = case
    rng = np.random.default_rng(seed)
    kh, kw = _pair(k)
    return ([rng.standard_normal((n, c, h, w)).astype(dtype),
             rng.standard_normal((o, c, kh, kw)).astype(dtype),
             rng.standard_normal(o).astype(dtype)], s, p)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CONV_CASES, ids=CONV_IDS)
def test_conv2d_matches_torch(case, dtype):
    arrays, s, p = _conv_data(case, dtype)
    compare(lambda x, w, b: F.conv2d(x, w, b, s, p), lambda x, w, b: TF.conv2d(x, w, b, s, p),
            arrays, grad=(0, 1, 2), rtol=1e-4 if dtype == np.float32 else None,
            atol=1e-4 if dtype == np.float32 else None)


def test_conv2d_without_bias_and_string_padding():
    arrays, _, _ = _conv_data(CONV_CASES[0])
    compare(lambda x, w: F.conv2d(x, w, padding="same"),
            lambda x, w: TF.conv2d(x, w, padding="same"), arrays[:2], grad=(0, 1))
    compare(lambda x, w: F.conv2d(x, w, padding="valid"),
            lambda x, w: TF.conv2d(x, w, padding="valid"), arrays[:2], grad=(0, 1))


def _conv_composite(x, w, b, stride, padding):
    """The same convolution from existing ops: pad, strided slices, stack, einsum."""
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    o, c, kh, kw = w.shape
    xp = gg.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    ho = (x.shape[2] + 2 * ph - kh) // sh + 1
    wo = (x.shape[3] + 2 * pw - kw) // sw + 1
    cols = gg.stack([xp[:, :, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw]
                     for i in range(kh) for j in range(kw)], axis=2)
    out = gg.einsum("nckhw,ock->nohw", cols, w.reshape(o, c, kh * kw))
    return out + b.reshape(1, o, 1, 1)


@pytest.mark.parametrize("case", CONV_CASES, ids=CONV_IDS)
def test_conv2d_fused_matches_composite(case):
    arrays, s, p = _conv_data(case)
    xs = [gg.tensor(a, requires_grad=True) for a in arrays]
    ys = [gg.tensor(a, requires_grad=True) for a in arrays]
    fused, comp = F.conv2d(*xs, s, p), _conv_composite(*ys, s, p)
    np.testing.assert_allclose(fused.numpy(), comp.numpy(), rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(3).standard_normal(fused.shape)
    fused.backward(g)
    comp.backward(g)
    for a, b in zip(xs, ys):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", [(1, 2, 4, 4, 2, 2, 1, 0), (1, 1, 5, 4, 2, 3, 2, 1)],
                         ids=["plain", "stride-pad"])
def test_conv2d_gradcheck_and_second_order(case):
    arrays, s, p = _conv_data(case, seed=1)
    check_grads(lambda x, w, b: F.conv2d(x, w, b, s, p), arrays, grad=(0, 1, 2))


@pytest.mark.parametrize("case", CONV_CASES[:2], ids=CONV_IDS[:2])
def test_conv2d_jvp_matches_torch(case):
    arrays, s, p = _conv_data(case, seed=2)
    compare_jvp(lambda x, w, b: F.conv2d(x, w, b, s, p),
                lambda x, w, b: TF.conv2d(x, w, b, s, p), arrays, tangent_idx=(0, 1, 2))


def test_im2col_and_col2im_are_adjoint():
    """<im2col(x), c> = <x, col2im(c)>: col2im is exactly im2col's transpose."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 7, 8))
    cols = im2col(x, (3, 2), (2, 1), (1, 1))
    c = rng.standard_normal(cols.shape)
    back = col2im(c, x.shape, (3, 2), (2, 1), (1, 1))
    assert back.shape == x.shape
    np.testing.assert_allclose(np.sum(cols * c), np.sum(x * back), rtol=1e-12)
    check_grads(lambda t: im2col(t, 2, 1, 1), [rng.standard_normal((1, 2, 3, 3))])
    check_grads(lambda t: col2im(t, (1, 2, 3, 3), 2, 1, 1),
                [rng.standard_normal((1, 2, 2, 2, 4, 4))])
    with pytest.raises(gg.OpError, match=r"must have shape \(1, 2, 2, 2, 4, 4\)"):
        col2im(c, (1, 2, 3, 3), 2, 1, 1)


def test_conv2d_errors_name_the_shapes():
    x, w = gg.zeros(1, 3, 8, 8), gg.zeros(4, 2, 3, 3)
    with pytest.raises(gg.OpError, match=r"3 channels.*expects 2"):
        F.conv2d(x, w)
    with pytest.raises(gg.OpError, match=r"4-D .*\(3, 8, 8\)"):
        F.conv2d(gg.zeros(3, 8, 8), gg.zeros(4, 3, 3, 3))
    with pytest.raises(gg.OpError, match="larger than the padded input"):
        F.conv2d(gg.zeros(1, 1, 2, 2), gg.zeros(1, 1, 3, 3))
    with pytest.raises(gg.OpError, match=r"groups=2 expects 1 x 2 = 2"):
        F.conv2d(gg.zeros(1, 3, 4, 4), gg.zeros(2, 1, 3, 3), groups=2)
    with pytest.raises(ValueError, match=r"Conv2d\(3, 4, kernel_size=\(3, 3\)\): input has 2 "
                                         r"channels \(shape \(1, 2, 8, 8\)\)"):
        gg.nn.Conv2d(3, 4, 3)(gg.zeros(1, 2, 8, 8))
    with pytest.raises(ValueError, match=r"MaxPool2d: input must be 4-D.*\(2, 8\)"):
        gg.nn.MaxPool2d(2)(gg.zeros(2, 8))


# --- Conv2d module -------------------------------------------------------------------------

def test_conv2d_module_matches_torch_module():
    torch.manual_seed(0)
    tm = torch.nn.Conv2d(3, 5, (3, 2), stride=(2, 1), padding=1).double()
    gm = gg.nn.Conv2d(3, 5, (3, 2), stride=(2, 1), padding=1, dtype=np.float64)
    assert list(gm.state_dict()) == list(tm.state_dict())
    for k, v in tm.state_dict().items():
        assert gm.state_dict()[k].shape == tuple(v.shape)
    copy_module_params(gm, tm)
    x = np.random.default_rng(5).standard_normal((2, 3, 9, 7))
    xg, xt = gg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, tout = gm(xg), tm(xt)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_allclose(xg.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-12)
    for (name, p), (_, tp) in zip(gm.named_parameters(), tm.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-12, atol=1e-12,
                                   err_msg=name)
    assert repr(gm) == repr(tm)


def test_conv2d_default_init_statistics():
    """weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default."""
    gg.manual_seed(0)
    conv = gg.nn.Conv2d(16, 64, 3)
    bound = 1 / math.sqrt(16 * 9)
    w = conv.weight.numpy()
    assert w.dtype == np.float32 and w.shape == (64, 16, 3, 3)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound  # U(-a, a) has std a/sqrt 3
    assert abs(w.mean()) < 0.02 * bound
    assert np.abs(conv.bias.numpy()).max() <= bound
    gg.manual_seed(0)
    np.testing.assert_array_equal(gg.nn.Conv2d(16, 64, 3).weight.numpy(), w)  # seeded
    assert gg.nn.Conv2d(2, 3, 3, bias=False).bias is None


# --- pooling ---------------------------------------------------------------------------------

# (N, C, H, W, kernel, stride, padding)
POOL_CASES = [
    (2, 3, 8, 8, 2, None, 0),
    (2, 2, 7, 9, 3, 2, 1),
    (1, 2, 6, 5, (3, 2), (1, 2), (1, 1)),
    (2, 1, 5, 5, 3, 1, 0),
]
POOL_IDS = ["2x2", "overlap-pad", "rect", "stride1"]


def _distinct(shape, seed=0):
    """Values with no ties within a window (and none near one): a permutation."""
    rng = np.random.default_rng(seed)
    return (rng.permutation(int(np.prod(shape))).reshape(shape) / 7.0 - 3.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", POOL_CASES, ids=POOL_IDS)
def test_max_pool2d_matches_torch(case, dtype):
    n, c, h, w, k, s, p = case
    compare(lambda x: F.max_pool2d(x, k, s, p), lambda x: TF.max_pool2d(x, k, s, p),
            [_distinct((n, c, h, w)).astype(dtype)])


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("case", POOL_CASES, ids=POOL_IDS)
def test_avg_pool2d_matches_torch(case, count_include_pad):
    n, c, h, w, k, s, p = case
    x = np.random.default_rng(1).standard_normal((n, c, h, w))
    compare(lambda t: F.avg_pool2d(t, k, s, p, count_include_pad=count_include_pad),
            lambda t: TF.avg_pool2d(t, k, s, p, count_include_pad=count_include_pad), [x])
    compare(lambda t: F.avg_pool2d(t, k, s, p, divisor_override=5),
            lambda t: TF.avg_pool2d(t, k, s, p, divisor_override=5), [x])


def test_max_pool2d_ties_send_the_gradient_to_the_first_maximum():
    """As PyTorch: the whole gradient to one element, the first in row-major order."""
    x = np.array([[[[1.0, 1.0, 0.0, 2.0],
                    [1.0, 0.0, 2.0, 2.0],
                    [0.0, 0.0, 3.0, 1.0],
                    [0.0, 0.0, 1.0, 3.0]]]])
    out = compare(lambda t: F.max_pool2d(t, 2), lambda t: TF.max_pool2d(t, 2), [x])
    xg = gg.tensor(x, requires_grad=True)
    F.max_pool2d(xg, 2).sum().backward()
    assert xg.grad.numpy().sum() == out.size  # one element per window, nothing split
    # overlapping windows that share a tied maximum accumulate at that element
    compare(lambda t: F.max_pool2d(t, 2, 1), lambda t: TF.max_pool2d(t, 2, 1), [x])
    compare(lambda t: F.max_pool2d(t, 3, 1, 1), lambda t: TF.max_pool2d(t, 3, 1, 1), [x])


def test_max_pool2d_nan_propagates_like_torch():
    x = np.array([[[[1.0, np.nan, 0.5, 4.0], [np.nan, 0.0, 2.0, 3.0]]]])
    xg, xt = gg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, tout = F.max_pool2d(xg, 2), TF.max_pool2d(xt, 2)
    np.testing.assert_array_equal(out.numpy(), tout.detach().numpy())
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_array_equal(xg.grad.numpy(), xt.grad.numpy())


def _pool_composite(x, kernel, stride, padding, reduce):
    (kh, kw), (sh, sw), (ph, pw) = _pair(kernel), _pair(stride), _pair(padding)
    xp = gg.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    ho = (x.shape[2] + 2 * ph - kh) // sh + 1
    wo = (x.shape[3] + 2 * pw - kw) // sw + 1
    stack = gg.stack([xp[:, :, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw]
                      for i in range(kh) for j in range(kw)], axis=-1)
    return reduce(stack, axis=-1)


@pytest.mark.parametrize("case", [c for c in POOL_CASES if c[6] == 0], ids=["2x2", "stride1"])
def test_pools_fused_match_composites(case):
    n, c, h, w, k, s, p = case
    x = _distinct((n, c, h, w), seed=2)
    for fused, reduce in ((F.max_pool2d, gg.max), (F.avg_pool2d, gg.mean)):
        a, b = gg.tensor(x, requires_grad=True), gg.tensor(x, requires_grad=True)
        out, comp = fused(a, k, s, p), _pool_composite(b, k, k if s is None else s, p, reduce)
        np.testing.assert_allclose(out.numpy(), comp.numpy(), rtol=1e-13, atol=1e-13)
        g = np.random.default_rng(0).standard_normal(out.shape)
        out.backward(g)
        comp.backward(g)
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("case", [(1, 2, 4, 4, 2, None, 0), (1, 1, 5, 4, 3, 2, 1)],
                         ids=["2x2", "overlap-pad"])
def test_pools_gradcheck_and_second_order(case):
    n, c, h, w, k, s, p = case
    x = _distinct((n, c, h, w), seed=3)
    check_grads(lambda t: F.max_pool2d(t, k, s, p), [x])
    check_grads(lambda t: F.avg_pool2d(t, k, s, p), [x])
    check_grads(lambda t: F.avg_pool2d(t, k, s, p, count_include_pad=False), [x])


def test_pools_jvp_match_torch():
    x = _distinct((2, 2, 5, 6), seed=4)
    compare_jvp(lambda t: F.max_pool2d(t, 3, 2, 1), lambda t: TF.max_pool2d(t, 3, 2, 1), [x])
    compare_jvp(lambda t: F.avg_pool2d(t, 3, 2, 1), lambda t: TF.avg_pool2d(t, 3, 2, 1), [x])


def test_pool_modules_match_torch_and_validate():
    x = _distinct((2, 3, 9, 8), seed=5)
    for gm, tm in ((gg.nn.MaxPool2d(3, 2, 1), torch.nn.MaxPool2d(3, 2, 1)),
                   (gg.nn.AvgPool2d(2), torch.nn.AvgPool2d(2)),
                   (gg.nn.AvgPool2d(3, 1, 1, count_include_pad=False),
                    torch.nn.AvgPool2d(3, 1, 1, count_include_pad=False))):
        compare(gm, tm, [x])
        assert list(gm.state_dict()) == []
    with pytest.raises(gg.OpError, match="at most half the kernel"):
        F.max_pool2d(gg.zeros(1, 1, 8, 8), 2, padding=2)
    with pytest.raises(gg.OpError, match=r"4-D.*\(8, 8\)"):
        F.avg_pool2d(gg.zeros(8, 8), 2)
    with pytest.raises(NotImplementedError, match="ceil_mode"):
        F.avg_pool2d(gg.zeros(1, 1, 8, 8), 2, ceil_mode=True)


def test_stashed_columns_are_freed_by_backward_and_kept_by_retain_graph():
    """conv2d's forward hands its im2col columns to its backward (a stash): a second
    backward with retain_graph reuses them, a plain backward frees them."""
    arrays, s, p = _conv_data(CONV_CASES[0])
    x, w, b = (gg.tensor(a, requires_grad=True) for a in arrays)
    out = F.conv2d(x, w, b, s, p)
    stash = out.grad_fn.params[-1]
    assert stash.values is not None
    out.sum().backward(retain_graph=True)
    first = w.grad.numpy().copy()
    assert stash.values is not None
    out.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * first, rtol=1e-12)
    assert stash.values is None
    with pytest.raises(RuntimeError, match="second time"):
        out.sum().backward()


# --- conv2d: dilation and groups ------------------------------------------------------------

# (N, C_in, H, W, C_out, kernel, stride, padding, dilation, groups)
DG_CASES = [
    (2, 3, 9, 8, 4, 3, 1, 0, 2, 1),
    (2, 2, 10, 9, 3, (3, 2), (2, 1), (2, 1), (2, 1), 1),
    (2, 4, 7, 8, 6, 3, 1, 1, 1, 2),
    (1, 4, 9, 9, 4, (2, 3), 2, (1, 2), (1, 2), 2),
    (2, 3, 8, 7, 3, 3, 1, 1, 1, 3),
    (2, 3, 9, 10, 6, 3, (2, 1), 2, 2, 3),
    (1, 6, 11, 9, 4, (3, 2), (1, 3), (0, 2), (3, 2), 2),
]
DG_IDS = ["dil2", "dil21-rect-stride", "groups2-pad", "groups2-dil-stride", "depthwise",
          "depthwise-x2-dil-stride", "groups2-dil32"]


def _dg_data(case, dtype=np.float64, seed=0):
    n, c, h, w, o, k, s, p, d, g = case
    rng = np.random.default_rng(seed)
    kh, kw = _pair(k)
    return ([rng.standard_normal((n, c, h, w)).astype(dtype),
             rng.standard_normal((o, c // g, kh, kw)).astype(dtype),
             rng.standard_normal(o).astype(dtype)], dict(stride=s, padding=p, dilation=d,
                                                          groups=g))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", DG_CASES, ids=DG_IDS)
def test_conv2d_dilation_groups_match_torch(case, dtype):
    arrays, kw = _dg_data(case, dtype)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else {}
    compare(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: TF.conv2d(x, w, b, **kw),
            arrays, grad=(0, 1, 2), **tol)
    compare(lambda x, w: F.conv2d(x, w, **kw), lambda x, w: TF.conv2d(x, w, **kw),
            arrays[:2], grad=(0, 1), **tol)


@pytest.mark.parametrize("case", [(1, 2, 6, 5, 2, 2, 1, 1, 2, 1), (1, 4, 5, 6, 4, 3, 2, 1, 1, 2),
                                  (1, 2, 6, 6, 2, (2, 3), 1, (1, 2), (2, 1), 2)],
                         ids=["dil2", "groups2-stride", "depthwise-dil"])
def test_conv2d_dilation_groups_gradcheck_and_second_order(case):
    arrays, kw = _dg_data(case, seed=1)
    check_grads(lambda x, w, b: F.conv2d(x, w, b, **kw), arrays, grad=(0, 1, 2))
    check_grads(lambda x, w: F.conv2d(x, w, **kw), arrays[:2], grad=(0, 1))


@pytest.mark.parametrize("case", DG_CASES, ids=DG_IDS)
def test_conv2d_dilation_groups_jvp_match_torch(case):
    arrays, kw = _dg_data(case, seed=2)
    compare_jvp(lambda x, w, b: F.conv2d(x, w, b, **kw),
                lambda x, w, b: TF.conv2d(x, w, b, **kw), arrays, tangent_idx=(0, 1, 2))
    compare_jvp(lambda x, w: F.conv2d(x, w, **kw), lambda x, w: TF.conv2d(x, w, **kw),
                arrays[:2], tangent_idx=(1,))


def test_grouped_conv2d_is_per_group_convolutions():
    """groups=G is G independent convolutions on the channel blocks, concatenated."""
    arrays, kw = _dg_data(DG_CASES[3])
    x, w, b = (gg.tensor(a) for a in arrays)
    got = F.conv2d(x, w, b, **kw).numpy()
    kw1 = dict(kw, groups=1)
    parts = [F.conv2d(x[:, 2 * i:2 * i + 2], w[2 * i:2 * i + 2], b[2 * i:2 * i + 2],
                      **kw1).numpy() for i in range(2)]
    np.testing.assert_allclose(got, np.concatenate(parts, axis=1), rtol=1e-12, atol=1e-12)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("kernel,dilation", [(3, 2), (2, 1), ((2, 3), (1, 2)), (4, 3), (2, 2)],
                         ids=["odd-dil2", "even", "even-odd-dil", "even-dil3", "even-dil2"])
def test_conv2d_same_padding_with_dilation_matches_torch(kernel, dilation):
    """'same' keeps the size at stride 1; an odd total d*(k - 1) pads the extra row and
    column at the bottom/right, as PyTorch."""
    rng = np.random.default_rng(6)
    kh, kw = _pair(kernel)
    x = rng.standard_normal((2, 4, 7, 8))
    kwargs = dict(padding="same", dilation=dilation)
    out = compare(lambda x, w, b: F.conv2d(x, w, b, groups=2, **kwargs),
                  lambda x, w, b: TF.conv2d(x, w, b, groups=2, **kwargs),
                  [x, rng.standard_normal((4, 2, kh, kw)), rng.standard_normal(4)],
                  grad=(0, 1, 2))
    assert out.shape == (2, 4, 7, 8)
    w = rng.standard_normal((3, 4, kh, kw))
    compare_jvp(lambda x, w: F.conv2d(x, w, **kwargs), lambda x, w: TF.conv2d(x, w, **kwargs),
                [x, w], tangent_idx=(0, 1))
    check_grads(lambda x, w: F.conv2d(x, w, **kwargs), [x[:1, :, :5, :6], w], grad=(0, 1))
    with pytest.raises(gg.OpError, match="strided"):
        F.conv2d(gg.zeros(1, 4, 7, 8), gg.zeros(3, 4, kh, kw), padding="same", stride=2)


@pytest.mark.parametrize("kwargs", [dict(dilation=2), dict(dilation=(2, 1), padding=(1, 2)),
                                    dict(groups=2, stride=2), dict(groups=4, dilation=2,
                                                                   bias=False),
                                    dict(groups=2, padding="same", dilation=(1, 2))],
                         ids=["dil2", "dil21-pad", "groups2", "depthwise", "same"])
def test_conv2d_module_with_dilation_and_groups_matches_torch(kwargs):
    torch.manual_seed(1)
    tm = torch.nn.Conv2d(4, 8, (3, 2), **kwargs).double()
    gm = gg.nn.Conv2d(4, 8, (3, 2), dtype=np.float64, **kwargs)
    assert repr(gm) == repr(tm)
    assert [p.shape for p in gm.parameters()] == [tuple(p.shape) for p in tm.parameters()]
    copy_module_params(gm, tm)
    x = np.random.default_rng(7).standard_normal((2, 4, 9, 8))
    compare(gm, tm, [x])
    out = gm(gg.tensor(x))
    (out * out).sum().backward()
    tout = tm(torch.tensor(x))
    (tout * tout).sum().backward()
    for (name, p), (_, tp) in zip(gm.named_parameters(), tm.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=name)


def test_conv2d_module_init_uses_the_grouped_fan_in():
    gg.manual_seed(0)
    conv = gg.nn.Conv2d(16, 32, 3, groups=4)
    bound = 1 / math.sqrt(16 // 4 * 9)
    w = conv.weight.numpy()
    assert w.shape == (32, 4, 3, 3)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound


def test_conv2d_groups_and_dilation_errors():
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        gg.nn.Conv2d(3, 6, 3, groups=2)
    with pytest.raises(ValueError, match="out_channels must be divisible by groups"):
        gg.nn.Conv2d(4, 3, 3, groups=2)
    with pytest.raises(gg.OpError, match="groups must be a positive integer"):
        gg.nn.Conv2d(4, 4, 3, groups=0)
    with pytest.raises(gg.OpError, match="groups must be a positive integer"):
        F.conv2d(gg.zeros(1, 4, 5, 5), gg.zeros(4, 4, 3, 3), groups=1.5)
    # weight shape mismatch: axis 1 is in_channels / groups
    with pytest.raises(gg.OpError, match=r"4 channels \(shape \(1, 4, 5, 5\)\).*weight of "
                                         r"shape \(4, 1, 3, 3\) with groups=2 expects 1 x 2"):
        F.conv2d(gg.zeros(1, 4, 5, 5), gg.zeros(4, 1, 3, 3), groups=2)
    with pytest.raises(gg.OpError, match=r"out_channels must be divisible by 2.*\(3, 2, 3, 3\)"):
        F.conv2d(gg.zeros(1, 4, 5, 5), gg.zeros(3, 2, 3, 3), groups=2)
    with pytest.raises(ValueError, match=r"Conv2d\(4, 4, kernel_size=\(3, 3\)\): input has 2 "
                                         r"channels.*groups=2 expects 2 x 2 = 4"):
        gg.nn.Conv2d(4, 4, 3, groups=2)(gg.zeros(1, 2, 8, 8))
    with pytest.raises(gg.OpError, match=r"spanning \(5, 5\) with dilation \(2, 2\)"):
        F.conv2d(gg.zeros(1, 1, 4, 4), gg.zeros(1, 1, 3, 3), dilation=2)
    with pytest.raises(gg.OpError, match="dilation must be >= 1"):
        F.conv2d(gg.zeros(1, 1, 4, 4), gg.zeros(1, 1, 3, 3), dilation=0)


@pytest.mark.parametrize("chunk", [None, 64], ids=["whole", "chunked"])
def test_im2col_col2im_with_dilation_are_adjoint_and_match_loops(chunk, monkeypatch):
    """col2im (written without accumulation: overlap-adds, stride phases, disjoint blocks,
    a few images at a time for big batches) against the obvious loop, and adjointness."""
    if chunk is not None:
        monkeypatch.setattr(_conv_ops, "_CHUNK_BYTES", chunk)
    rng = np.random.default_rng(8)
    for shape, k, s, p, d in [((2, 3, 9, 8), (3, 2), (2, 1), (1, 1), (2, 3)),
                              ((1, 2, 7, 7), 2, 3, 1, 1), ((1, 1, 6, 9), 3, 1, 0, (1, 2)),
                              ((2, 2, 8, 8), 1, 2, 0, 1), ((1, 2, 10, 10), 3, 2, 2, 2),
                              ((3, 2, 11, 12), (4, 3), (3, 2), (1, 1), (2, 3)),
                              ((3, 2, 9, 9), (5, 4), (4, 3), (2, 1), (3, 2)),
                              ((3, 1, 8, 9), 2, (2, 3), 0, 1)]:
        cols = im2col(rng.standard_normal(shape), k, s, p, d)
        c = rng.standard_normal(cols.shape)
        back = col2im(c, shape, k, s, p, d)
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = map(_pair, (k, s, p, d))
        want = np.zeros((shape[0], shape[1], shape[2] + 2 * ph, shape[3] + 2 * pw))
        for i in range(kh):
            for j in range(kw):
                for a in range(c.shape[4]):
                    for b in range(c.shape[5]):
                        want[:, :, a * sh + i * dh, b * sw + j * dw] += c[:, :, i, j, a, b]
        want = want[:, :, ph:ph + shape[2], pw:pw + shape[3]]
        np.testing.assert_allclose(back, want, rtol=1e-12, atol=1e-12)
        x = rng.standard_normal(shape)
        np.testing.assert_allclose(np.sum(im2col(x, k, s, p, d) * c), np.sum(x * back),
                                   rtol=1e-12)
    check_grads(lambda t: im2col(t, 2, 1, 1, 2), [rng.standard_normal((1, 2, 4, 4))])
    check_grads(lambda t: col2im(t, (1, 1, 5, 5), 2, 2, 0, 2),
                [rng.standard_normal((1, 1, 2, 2, 2, 2))])


# --- max_pool2d: ceil_mode, dilation, return_indices ------------------------------------------

# (N, C, H, W, kernel, stride, padding, dilation, ceil_mode): each ceil case changes the size
CEIL_CASES = [
    (2, 2, 5, 5, 2, 2, 0, 1),
    (2, 1, 6, 7, 3, 2, 1, 1),
    (1, 2, 8, 9, 3, 2, 0, 1),
    (1, 2, 9, 9, (3, 2), (3, 2), (1, 1), 1),
    (2, 1, 7, 6, 2, 3, 0, 1),
    (1, 2, 10, 10, 2, 2, 1, (2, 1)),
    (1, 1, 9, 8, 3, 2, 1, 2),
]
CEIL_IDS = ["2x2-odd", "3s2p1", "3s2", "rect-pad", "k<s", "dilated", "dilated-pad"]


def _ceil_kw(case, ceil_mode=True):
    return dict(kernel_size=case[4], stride=case[5], padding=case[6], dilation=case[7],
                ceil_mode=ceil_mode)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CEIL_CASES, ids=CEIL_IDS)
def test_max_pool2d_ceil_mode_matches_torch(case, dtype):
    x = _distinct(case[:4], seed=9).astype(dtype)
    floor = F.max_pool2d(gg.tensor(x), **_ceil_kw(case, False)).shape
    out = compare(lambda t: F.max_pool2d(t, **_ceil_kw(case)),
                  lambda t: TF.max_pool2d(t, **_ceil_kw(case)), [x])
    assert out.shape != floor, "each case is one where ceil_mode changes the output size"
    assert out.shape == tuple(TF.max_pool2d(torch.tensor(x), **_ceil_kw(case)).shape)


@pytest.mark.parametrize("case", CEIL_CASES[:4], ids=CEIL_IDS[:4])
def test_max_pool2d_ceil_mode_gradcheck_and_jvp(case):
    x = _distinct(case[:4], seed=10)
    check_grads(lambda t: F.max_pool2d(t, **_ceil_kw(case)), [x])
    compare_jvp(lambda t: F.max_pool2d(t, **_ceil_kw(case)),
                lambda t: TF.max_pool2d(t, **_ceil_kw(case)), [x])


def test_max_pool2d_ceil_mode_drops_a_window_starting_past_the_input():
    """PyTorch's rule: the last window must start inside the input or its left padding.
    (H=5, kernel 2, stride 2, padding 1: ceil would give 4 windows, the 4th starting at
    padded row 6 > 5 + 1, so 3.)"""
    x = _distinct((1, 1, 5, 5), seed=11)
    out = compare(lambda t: F.max_pool2d(t, 2, 2, 1, ceil_mode=True),
                  lambda t: TF.max_pool2d(t, 2, 2, 1, ceil_mode=True), [x])
    assert out.shape == (1, 1, 3, 3)
    out = compare(lambda t: F.max_pool2d(t, 3, 3, 1, ceil_mode=True),
                  lambda t: TF.max_pool2d(t, 3, 3, 1, ceil_mode=True),
                  [_distinct((1, 1, 4, 7), seed=12)])
    assert out.shape == (1, 1, 2, 3)


@pytest.mark.parametrize("kw", [dict(kernel_size=3, dilation=2), dict(kernel_size=(2, 3),
                                stride=1, padding=1, dilation=(3, 1)),
                                dict(kernel_size=2, stride=1, dilation=2, ceil_mode=True)],
                         ids=["dil2", "dil31-pad", "dil-ceil"])
def test_max_pool2d_dilation_matches_torch(kw):
    x = _distinct((2, 2, 9, 8), seed=13)
    compare(lambda t: F.max_pool2d(t, **kw), lambda t: TF.max_pool2d(t, **kw), [x])
    check_grads(lambda t: F.max_pool2d(t, **kw), [x[:1, :1]])
    compare_jvp(lambda t: F.max_pool2d(t, **kw), lambda t: TF.max_pool2d(t, **kw), [x])


def _ties(shape, seed):
    """Few distinct values (many ties in every window), some windows all equal."""
    return np.random.default_rng(seed).integers(0, 3, shape).astype(np.float64)


INDEX_CASES = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
               dict(kernel_size=2, ceil_mode=True),
               dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 1)),
               dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
               dict(kernel_size=2, stride=3, padding=1, ceil_mode=True),
               dict(kernel_size=3, stride=1, dilation=2, padding=1)]


@pytest.mark.parametrize("kw", INDEX_CASES, ids=["2x2", "3s2p1", "ceil-2x2", "rect", "ceil",
                                                 "ceil-k<s", "dilated"])
@pytest.mark.parametrize("data", ["distinct", "ties"])
def test_max_pool2d_return_indices_equal_torch(kw, data):
    x = _distinct((2, 3, 9, 8), seed=14) if data == "distinct" else _ties((2, 3, 9, 8), 15)
    xg, xt = gg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, idx = F.max_pool2d(xg, return_indices=True, **kw)
    tout, tidx = TF.max_pool2d(xt, return_indices=True, **kw)
    np.testing.assert_array_equal(out.numpy(), tout.detach().numpy())
    assert idx.dtype == np.int64 and not idx.requires_grad
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    g = np.random.default_rng(0).standard_normal(out.shape)
    out.backward(g)
    tout.backward(torch.tensor(g))
    # ties as PyTorch (the same elements; overlapping windows may sum in another order)
    np.testing.assert_allclose(xg.grad.numpy(), xt.grad.numpy(), rtol=1e-13, atol=1e-15)
    # the module form returns the same pair
    mout, midx = gg.nn.MaxPool2d(return_indices=True, **kw)(gg.tensor(x))
    np.testing.assert_array_equal(midx.numpy(), tidx.numpy())
    np.testing.assert_array_equal(mout.numpy(), tout.detach().numpy())


def test_max_pool2d_indices_with_nan_and_all_minus_inf_windows():
    """NaN wins (the last NaN of a window); a window of -inf and padding sends its
    gradient (and index) to its first real element, as PyTorch."""
    x = np.array([[[[1.0, np.nan, 0.5, -np.inf, -np.inf],
                    [np.nan, 0.0, 2.0, -np.inf, -np.inf],
                    [0.0, 3.0, np.nan, 1.0, -np.inf]]]])
    for kw in (dict(kernel_size=2, padding=1), dict(kernel_size=2, stride=2, ceil_mode=True),
               dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)):
        xg, xt = gg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out, idx = F.max_pool2d(xg, return_indices=True, **kw)
        tout, tidx = TF.max_pool2d(xt, return_indices=True, **kw)
        np.testing.assert_array_equal(out.numpy(), tout.detach().numpy())
        np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
        out.sum().backward()
        tout.sum().backward()
        np.testing.assert_array_equal(xg.grad.numpy(), xt.grad.numpy())
    x = np.full((1, 1, 3, 3), -np.inf)
    xg, xt = gg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, idx = F.max_pool2d(xg, 2, 2, 1, return_indices=True)
    tout, tidx = TF.max_pool2d(xt, 2, 2, 1, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_array_equal(xg.grad.numpy(), xt.grad.numpy())


def test_max_pool2d_ties_with_ceil_mode_and_second_order():
    x = _ties((1, 2, 7, 7), 16)
    for kw in (dict(kernel_size=2, ceil_mode=True), dict(kernel_size=3, stride=2,
                                                         padding=1, ceil_mode=True)):
        compare(lambda t, kw=kw: F.max_pool2d(t, **kw),
                lambda t, kw=kw: TF.max_pool2d(t, **kw), [x])
        compare_jvp(lambda t, kw=kw: F.max_pool2d(t, **kw),
                    lambda t, kw=kw: TF.max_pool2d(t, **kw), [x])
    # create_graph: the second backward runs through the same argmax (d/dx of
    # sum(pool(x)**2) is 2 * pool(x) routed to the winners, whose own gradient is 2)
    xg = gg.tensor(_ties((1, 1, 5, 5), 17), requires_grad=True)
    xt = torch.tensor(xg.numpy(), requires_grad=True)
    (g,) = gg.autograd.grad((F.max_pool2d(xg, 2, ceil_mode=True) ** 2).sum(), xg,
                            create_graph=True)
    (tg,) = torch.autograd.grad((TF.max_pool2d(xt, 2, ceil_mode=True) ** 2).sum(), xt,
                                create_graph=True)
    np.testing.assert_array_equal(g.numpy(), tg.detach().numpy())
    g.sum().backward()
    tg.sum().backward()
    np.testing.assert_array_equal(xg.grad.numpy(), xt.grad.numpy())


def test_max_pool2d_module_ceil_mode_repr_and_validation():
    gm, tm = gg.nn.MaxPool2d(3, 2, 1, ceil_mode=True), torch.nn.MaxPool2d(3, 2, 1, ceil_mode=True)
    assert repr(gm) == repr(tm)
    assert repr(gg.nn.MaxPool2d((3, 2), dilation=(2, 1))) == repr(
        torch.nn.MaxPool2d((3, 2), dilation=(2, 1)))
    compare(gm, tm, [_distinct((2, 2, 8, 9), seed=18)])
    with pytest.raises(gg.OpError, match=r"larger than the padded input"):
        F.max_pool2d(gg.zeros(1, 1, 4, 4), 3, dilation=2)
    with pytest.raises(gg.OpError, match="dilation must be >= 1"):
        F.max_pool2d(gg.zeros(1, 1, 4, 4), 2, dilation=0)
