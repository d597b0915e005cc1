"""Ops at the edges of their domain: singular points, odd shapes and arguments, all
against torch (or NumPy where torch has no such op)."""

import warnings

import numpy as np
import pytest
import torch

import glassgrad as gg

# x, lo, hi: inside, below, above, at each bound, and lo > hi (hi wins) with every x;
# lo == hi with x on it and above it (x below it: test_clip_below_equal_bounds_...)
CLIP_CASES = [(0.5, 0, 1), (-1, 0, 1), (2, 0, 1), (0, 0, 1), (1, 0, 1), (0.5, 1, 0),
              (2, 1, 0), (-1, 1, 0), (1, 1, 0), (0, 1, 0), (1, 1, 1), (2, 1, 1)]


def _clip_arrays():
    return [np.array([c[i] for c in CLIP_CASES], np.float64) for i in range(3)]


def test_clip_with_tensor_bounds_routes_gradients_as_torch_clamp():
    x, lo, hi = (gg.tensor(a, requires_grad=True) for a in _clip_arrays())
    out = gg.clip(x, lo, hi)
    out.sum().backward()
    xt, lot, hit = (torch.tensor(a, requires_grad=True) for a in _clip_arrays())
    ref = torch.clamp(xt, lot, hit)
    ref.sum().backward()
    np.testing.assert_array_equal(out.data, ref.detach().numpy())
    for ours, theirs in [(x, xt), (lo, lot), (hi, hit)]:
        np.testing.assert_array_equal(ours.grad.data, theirs.grad.numpy())


@pytest.mark.parametrize("which", [0, 1, 2], ids=["tx", "tlo", "thi"])
def test_clip_jvp_matches_torch_func(which):
    arrays = _clip_arrays()
    tangents = [np.zeros_like(a) for a in arrays]
    tangents[which] = np.arange(1.0, len(CLIP_CASES) + 1)
    _, ours = gg.func.jvp(lambda x, lo, hi: gg.clip(x, lo, hi),
                          tuple(gg.tensor(a) for a in arrays),
                          tuple(gg.tensor(t) for t in tangents))
    _, theirs = torch.func.jvp(lambda x, lo, hi: torch.clamp(x, lo, hi),
                               tuple(torch.tensor(a) for a in arrays),
                               tuple(torch.tensor(t) for t in tangents))
    np.testing.assert_array_equal(ours.data, theirs.numpy())


def test_clip_below_equal_bounds_gives_the_gradient_to_lo_as_torch_jvp():
    """x < lo == hi: out = lo = hi. torch.func.jvp sends lo's tangent through (its rule
    is where(lo > hi, t_hi, where(x < lo, t_lo, ...))), while torch 2.13's VJP gives no
    gradient to x, lo or hi there. A VJP must be the transpose of the JVP, so ours
    follows torch's JVP in both modes."""
    x, lo, hi = np.array([0.0]), np.array([1.0]), np.array([1.0])
    xg, log_, hig = (gg.tensor(a, requires_grad=True) for a in (x, lo, hi))
    gg.clip(xg, log_, hig).backward(gg.tensor(np.array([1.0])))
    assert (xg.grad.item(), log_.grad.item(), hig.grad.item()) == (0.0, 1.0, 0.0)
    for which, expected in enumerate([0.0, 1.0, 0.0]):
        tangents = [np.zeros(1), np.zeros(1), np.zeros(1)]
        tangents[which] = np.ones(1)
        _, ours = gg.func.jvp(gg.clip, (gg.tensor(x), gg.tensor(lo), gg.tensor(hi)),
                              tuple(gg.tensor(t) for t in tangents))
        _, theirs = torch.func.jvp(torch.clamp, tuple(torch.tensor(a) for a in (x, lo, hi)),
                                   tuple(torch.tensor(t) for t in tangents))
        assert ours.item() == theirs.item() == expected


@pytest.mark.parametrize("bound", ["min", "max"])
def test_clip_with_one_tensor_bound_matches_torch(bound):
    x, lo, _ = _clip_arrays()
    xg, bg = gg.tensor(x, requires_grad=True), gg.tensor(lo, requires_grad=True)
    xt, bt = torch.tensor(x, requires_grad=True), torch.tensor(lo, requires_grad=True)
    gg.clip(xg, **{bound: bg}).sum().backward()
    torch.clamp(xt, **{bound: bt}).sum().backward()
    np.testing.assert_array_equal(xg.grad.data, xt.grad.numpy())
    np.testing.assert_array_equal(bg.grad.data, bt.grad.numpy())


# --------------------------------------------------------------------------- power
# Bases and exponents around every singular point of x**y: 0 (both signs), negative bases
# with integer exponents, infinities, the exponent 0 and negative exponents.
POW_X = [0.0, -0.0, -2.0, -1.0, 0.5, 2.0, np.inf, -np.inf]
POW_Y = [-2.0, -1.0, 0.0, 0.5, 1.0, 2.0, 3.0]


def _grid():
    x, y = np.meshgrid(np.array(POW_X), np.array(POW_Y), indexing="ij")
    return x.ravel(), y.ravel()


def _same(ours, theirs, what=""):
    """Equal up to rounding, with the same infinities (and signs) and NaNs in the same places."""
    ours = ours.data if isinstance(ours, gg.Tensor) else np.asarray(ours)
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    assert ours.shape == theirs.shape, what
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0, equal_nan=True, err_msg=what)


def test_pow_tensor_exponent_vjp_matches_torch_at_singular_points():
    """d/dx of x**0 is 0 also at x = ±inf; d/dy of 0**y is 0 for y >= 0 but ±inf for
    y < 0 (out * log 0); log of a negative base is NaN: all as torch."""
    x, y = _grid()
    with np.errstate(all="ignore"):  # 0**-1 in the forward: the user's value
        xg, yg = gg.tensor(x, requires_grad=True), gg.tensor(y, requires_grad=True)
        out = xg**yg
        out.backward(gg.tensor(np.ones_like(x)))
    xt, yt = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    ref = xt**yt
    ref.backward(torch.ones_like(ref))
    _same(out, ref, "value")
    _same(xg.grad, xt.grad, "gx")
    _same(yg.grad, yt.grad, "gy")


@pytest.mark.parametrize("which", ["tx", "ty", "both"])
def test_pow_tensor_exponent_jvp_matches_torch_at_singular_points(which):
    x, y = _grid()
    ones, zeros = np.ones_like(x), np.zeros_like(x)
    tx = zeros if which == "ty" else ones
    ty = zeros if which == "tx" else 2 * ones
    with np.errstate(all="ignore"):
        _, ours = gg.func.jvp(lambda a, b: a**b, (gg.tensor(x), gg.tensor(y)),
                              (gg.tensor(tx), gg.tensor(ty)))
    _, theirs = torch.func.jvp(lambda a, b: a**b, (torch.tensor(x), torch.tensor(y)),
                               (torch.tensor(tx), torch.tensor(ty)))
    _same(ours, theirs)
    # torch's other forward-mode API agrees with torch.func
    import torch.autograd.forward_ad as fwAD

    with fwAD.dual_level():
        dual = fwAD.make_dual(torch.tensor(x), torch.tensor(tx)) ** fwAD.make_dual(
            torch.tensor(y), torch.tensor(ty))
        _same(ours, fwAD.unpack_dual(dual).tangent)


def _scalar_exponent_bases(c):
    # torch computes x**0.5 as sqrt and x**-0.5 as rsqrt, so its slope at -0.0 is -inf and
    # at -inf NaN, where pow's IEEE values give +inf and 0: those two bases are left out
    # for fractional exponents (see the module notes).
    if float(c).is_integer():
        return np.array(POW_X)
    return np.array([b for b in POW_X if not (b == 0 and np.signbit(b)) and b != -np.inf])


@pytest.mark.parametrize("c", POW_Y + [-0.5, 1.5])
def test_pow_scalar_exponent_matches_torch_at_singular_points(c):
    """x**c with a Python number c: x**0 has slope 0 at x = 0 and x = ±inf."""
    x = _scalar_exponent_bases(c)
    with np.errstate(all="ignore"):
        xg = gg.tensor(x, requires_grad=True)
        out = xg**c
        out.backward(gg.tensor(np.ones_like(x)))
        _, t_ours = gg.func.jvp(lambda a: a**c, (gg.tensor(x),), (gg.tensor(np.ones_like(x)),))
    xt = torch.tensor(x, requires_grad=True)
    ref = xt**c
    ref.backward(torch.ones_like(ref))
    _, t_theirs = torch.func.jvp(lambda a: a**c, (torch.tensor(x),),
                                 (torch.ones_like(torch.tensor(x)),))
    _same(out, ref, "value")
    _same(xg.grad, xt.grad, "gx")
    _same(t_ours, t_theirs, "jvp")


@pytest.mark.parametrize("c", POW_X)
def test_pow_scalar_base_matches_torch_at_singular_points(c):
    """c**y with a Python number c: 0**y has slope 0 for y >= 0, -inf for y < 0."""
    y = np.array(POW_Y)
    with np.errstate(all="ignore"):
        yg = gg.tensor(y, requires_grad=True)
        out = c**yg
        out.backward(gg.tensor(np.ones_like(y)))
        _, t_ours = gg.func.jvp(lambda b: c**b, (gg.tensor(y),), (gg.tensor(np.ones_like(y)),))
    yt = torch.tensor(y, requires_grad=True)
    ref = c**yt
    ref.backward(torch.ones_like(ref))
    _, t_theirs = torch.func.jvp(lambda b: c**b, (torch.tensor(y),),
                                 (torch.ones_like(torch.tensor(y)),))
    _same(out, ref, "value")
    _same(yg.grad, yt.grad, "gy")
    _same(t_ours, t_theirs, "jvp")


def test_pow_second_order_has_no_nan_leaking_through_the_mask():
    """d/dx x**y is 0 for every x where y == 0, so its own x-derivative is 0 there too.

    The masked branch computes x**1, not x**-1: at x = 0 that would be inf, and 0 * inf
    = NaN would come back through the mask (torch 2.13 gives NaN here; see the notes).
    """
    x = gg.tensor(np.array([0.0, 0.0, 2.0]), requires_grad=True)
    y = np.array([0.0, 2.0, 0.0])
    (gx,) = gg.autograd.grad((x**y).sum(), (x,), create_graph=True)
    (gxx,) = gg.autograd.grad(gx.sum(), (x,))
    np.testing.assert_array_equal(gxx.data, [0.0, 2.0, 0.0])  # y (y - 1) x**(y - 2)


# --------------------------------------------------------------------------- transpose
@pytest.mark.parametrize("axes", [0, -1, (0,), [-1], np.int64(0)])
def test_transpose_1d_accepts_an_int_axis_as_numpy(axes):
    a = np.arange(4.0)
    x = gg.tensor(a, requires_grad=True)
    out = gg.transpose(x, axes)
    np.testing.assert_array_equal(out.data, np.transpose(a, axes))
    out.backward(gg.tensor(np.arange(1.0, 5.0)))
    np.testing.assert_array_equal(x.grad.data, np.arange(1.0, 5.0))
    np.testing.assert_array_equal(np.transpose(x, axes).data, a)  # NumPy's own spelling


@pytest.mark.parametrize("axes, error, message", [
    (0, ValueError, r"transpose: axes \(0,\) don't match an input of shape \(3, 4\)"),
    ((0, 2), ValueError, r"transpose: axis 2 is out of range for an input of shape \(3, 4\)"),
    ((-3, 0), ValueError, r"transpose: axis -3 is out of range .* shape \(3, 4\)"),
    ((1, -1), ValueError, r"transpose: axes \(1, 1\) repeat an axis \(input shape \(3, 4\)\)"),
    ((0.0, 1), TypeError, r"transpose: axes must be integers"),
])
def test_transpose_bad_axes_name_the_op_and_shape(axes, error, message):
    a = np.zeros((3, 4))
    with pytest.raises((ValueError, TypeError)):  # NumPy refuses them too
        np.transpose(a, axes)
    with pytest.raises(error, match=message):
        gg.transpose(gg.tensor(a), axes)


# --------------------------------------------------------------------------- warnings
# A rule that divides by 0 or takes log(0) at a singular point does it on purpose: the
# inf/NaN is the derivative (as torch). Such rules must not warn; a forward still warns
# about the user's values exactly as NumPy does. Each case: the function in glassgrad,
# NumPy and torch, and its input; all gradients and tangents are compared with torch.
_Z = np.zeros(4)
_NEG2 = np.full(4, -2.0)
WARNING_CASES = {
    "sqrt-at-0": (gg.sqrt, np.sqrt, torch.sqrt, [0.0, 0.0, 4.0, 1.0]),
    "sqrt-negative": (gg.sqrt, np.sqrt, torch.sqrt, [-1.0, 0.0, 4.0, 1.0]),
    "log-at-0": (gg.log, np.log, torch.log, [0.0, 2.0, -1.0, 1.0]),
    "log1p-at-minus-1": (gg.log1p, np.log1p, torch.log1p, [-1.0, 0.0, 1.0, -2.0]),
    "x/0": (lambda x: x / _Z, lambda x: x / _Z, lambda x: x / torch.tensor(_Z),
            [1.0, -1.0, 0.0, 2.0]),
    "1/y-at-0": (lambda y: 1.0 / y, lambda y: 1.0 / y, lambda y: 1.0 / y,
                 [0.0, 2.0, -1.0, 0.5]),
    "x**0.5-at-0": (lambda x: x**0.5, lambda x: x**0.5, lambda x: x**0.5,
                    [0.0, 1.0, 4.0, 0.0]),
    "x**-1-at-0": (lambda x: x**-1, lambda x: x**-1.0, lambda x: x**-1,
                   [0.0, 1.0, 4.0, -2.0]),
    "x**y-at-0": (lambda x: x ** np.array([0.5, 0.0, -1.0, 2.0]),
                  lambda x: x ** np.array([0.5, 0.0, -1.0, 2.0]),
                  lambda x: x ** torch.tensor([0.5, 0.0, -1.0, 2.0]), [0.0, 0.0, 0.0, 0.0]),
    "0**y": (lambda y: _Z**y, lambda y: _Z**y, lambda y: torch.tensor(_Z) ** y,
             [0.5, 0.0, -1.0, 2.0]),
    "(-2)**y": (lambda y: _NEG2**y, lambda y: _NEG2**y, lambda y: torch.tensor(_NEG2) ** y,
                [2.0, 3.0, -1.0, 0.0]),
}


def _runtime_warnings(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn()
    return result, sorted(str(w.message) for w in caught if issubclass(w.category,
                                                                        RuntimeWarning))


def _numpy_warnings(np_fn, a):
    return _runtime_warnings(lambda: np_fn(a))[1]


@pytest.mark.parametrize("case", list(WARNING_CASES))
def test_backward_warns_only_what_the_numpy_forward_warns(case):
    gg_fn, np_fn, torch_fn, values = WARNING_CASES[case]
    a = np.array(values)
    x = gg.tensor(a, requires_grad=True)
    seed = np.array([1.0, -2.0, 0.5, 3.0])

    def run():
        out = gg_fn(x)
        out.backward(gg.tensor(seed))
        return out

    out, caught = _runtime_warnings(run)
    assert caught == _numpy_warnings(np_fn, a)  # the forward's own, nothing from the rules
    xt = torch.tensor(a, requires_grad=True)
    ref = torch_fn(xt)
    ref.backward(torch.tensor(seed))
    _same(out, ref, "value")
    _same(x.grad, xt.grad, "grad")


@pytest.mark.parametrize("case", list(WARNING_CASES))
def test_create_graph_backward_warns_only_what_the_numpy_forward_warns(case):
    gg_fn, np_fn, torch_fn, values = WARNING_CASES[case]
    a = np.array(values)
    x = gg.tensor(a, requires_grad=True)
    seed = np.array([1.0, -2.0, 0.5, 3.0])
    (g,), caught = _runtime_warnings(lambda: gg.autograd.grad(
        gg_fn(x), (x,), grad_outputs=(gg.tensor(seed),), create_graph=True))
    assert caught == _numpy_warnings(np_fn, a)
    xt = torch.tensor(a, requires_grad=True)
    (gt,) = torch.autograd.grad(torch_fn(xt), (xt,), grad_outputs=(torch.tensor(seed),),
                                create_graph=True)
    _same(g, gt)


@pytest.mark.parametrize("case", list(WARNING_CASES))
def test_jvp_warns_only_what_the_numpy_forward_warns(case):
    gg_fn, np_fn, torch_fn, values = WARNING_CASES[case]
    a = np.array(values)
    t = np.array([1.0, -2.0, 0.5, 3.0])
    (out, tangent), caught = _runtime_warnings(
        lambda: gg.func.jvp(gg_fn, (gg.tensor(a),), (gg.tensor(t),)))
    assert caught == _numpy_warnings(np_fn, a)
    ref, ref_t = torch.func.jvp(torch_fn, (torch.tensor(a),), (torch.tensor(t),))
    _same(out, ref, "value")
    _same(tangent, ref_t, "tangent")


def test_forward_still_warns_about_the_users_values():
    """Where the user's own values are out of the domain, glassgrad warns as NumPy."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fn, v in [(gg.log, 0.0), (gg.log, -1.0), (gg.sqrt, -1.0),
                      (lambda x: x / 0.0, 1.0), (lambda x: x**-1, 0.0)]:
            with pytest.raises(RuntimeWarning):
                fn(gg.tensor(v, requires_grad=True))


def test_where_with_only_a_condition_returns_the_indices_as_numpy():
    cond = np.array([[True, False, True], [False, False, True]])
    for c in (cond, gg.tensor(cond), gg.tensor(cond.astype(np.float64))):
        got = gg.where(c)
        want = np.nonzero(np.asarray(cond))
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            assert isinstance(g, gg.Tensor) and not g.requires_grad
            np.testing.assert_array_equal(g.numpy(), w)
    assert [t.numpy().tolist() for t in np.where(gg.tensor(cond))] == [[0, 0, 1], [0, 2, 2]]
    with pytest.raises(TypeError, match="both x and y"):
        gg.where(cond, gg.tensor(1.0))
