"""Errors in the user's terms, numerically stable formulations, and protection of the
values a graph saved for backward (never a silently wrong gradient)."""

import warnings

import numpy as np
import pytest
import torch

import glassgrad as gg


def _arr(t):
    return np.array(t.data, copy=True)


def _nows(s):
    return "".join(s.split())


def _assert_names_shapes(exc_info, *shapes):
    msg = _nows(str(exc_info.value))
    for shape in shapes:
        assert _nows(str(shape)) in msg, f"{shape} not named in: {exc_info.value}"


# --------------------------------------------------------------------------------------
# Shape errors
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "a_shape, b_shape",
    [((3, 5), (4, 2)), ((3,), (4,)), ((2, 3, 4), (2, 5, 6)), ((3, 5), (4,)), ((4,), (3, 5))],
)
def test_matmul_shape_mismatch_names_both_shapes(a_shape, b_shape):
    a = gg.ones(a_shape, requires_grad=True)
    b = gg.ones(b_shape)
    with pytest.raises(ValueError) as info:
        a @ b
    _assert_names_shapes(info, a_shape, b_shape)
    with pytest.raises(ValueError) as info:
        gg.matmul(a, b)
    _assert_names_shapes(info, a_shape, b_shape)


def test_matmul_error_names_shapes_with_spaces_as_python_prints_them():
    with pytest.raises(ValueError) as info:
        gg.ones((3, 5)) @ gg.ones((4, 2))
    assert "(3, 5)" in str(info.value) and "(4, 2)" in str(info.value)


@pytest.mark.parametrize(
    "op",
    [
        lambda a, b: a + b,
        lambda a, b: a * b,
        lambda a, b: a - b,
        lambda a, b: a / b,
        lambda a, b: gg.maximum(a, b),
    ],
    ids=["add", "mul", "sub", "div", "maximum"],
)
def test_non_broadcastable_elementwise_names_both_shapes(op):
    a = gg.ones((2, 3), requires_grad=True)
    b = gg.ones((4,))
    with pytest.raises(ValueError) as info:
        op(a, b)
    _assert_names_shapes(info, (2, 3), (4,))


# --------------------------------------------------------------------------------------
# Numerical stability: no RuntimeWarning, no NaN, values and gradients as torch
# --------------------------------------------------------------------------------------


def _run_quietly(fn):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        out = fn()
    runtime = [str(w.message) for w in rec if issubclass(w.category, RuntimeWarning)]
    assert not runtime, f"RuntimeWarnings: {runtime}"
    return out


def _value_and_grad(gg_fn, values, dtype):
    def run():
        x = gg.tensor(np.asarray(values, dtype=dtype), requires_grad=True)
        y = gg_fn(x)
        y.sum().backward()
        return _arr(y), _arr(x.grad)

    return _run_quietly(run)


def _torch_value_and_grad(t_fn, values, dtype):
    x = torch.tensor(np.asarray(values, dtype=dtype), requires_grad=True)
    y = t_fn(x)
    y.sum().backward()
    return y.detach().numpy(), x.grad.numpy()


STABLE_CASES = {
    "sigmoid": (gg.sigmoid, torch.sigmoid, [-1000.0, -100.0, -20.0, 0.0, 20.0, 100.0, 1000.0]),
    "tanh": (gg.tanh, torch.tanh, [-1000.0, -100.0, -20.0, 0.0, 20.0, 100.0, 1000.0]),
    "log1p": (gg.log1p, torch.log1p, [1e-30, 1e-10, -0.5, 0.0, 3.0, 1e10]),
    "logsumexp_big": (gg.logsumexp, lambda t: torch.logsumexp(t, dim=0), [1000.0, 1000.0]),
    "logsumexp_small": (gg.logsumexp, lambda t: torch.logsumexp(t, dim=0), [-1000.0, -1000.0]),
    "logsumexp_mixed": (gg.logsumexp, lambda t: torch.logsumexp(t, dim=0), [-1000.0, 1000.0]),
    "logsumexp_neg_inf": (
        gg.logsumexp,
        lambda t: torch.logsumexp(t, dim=0),
        [-np.inf, 0.0, 1.0],
    ),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", list(STABLE_CASES))
def test_stable_formulations_match_torch_without_warnings(name, dtype):
    gg_fn, t_fn, values = STABLE_CASES[name]
    y, g = _value_and_grad(gg_fn, values, dtype)
    # the reference is torch in float64 on the same values: torch's own float32 answer is
    # off by more than our tolerance in places (its logsumexp gradient at [1000, 1000]
    # is 0.4999855, where 0.5 is exact and is what we give)
    yt, gt = _torch_value_and_grad(t_fn, np.asarray(values, dtype).astype(np.float64),
                                   np.float64)
    assert not np.isnan(y).any() and not np.isnan(g).any()
    assert y.dtype == dtype and g.dtype == dtype
    tol = dict(rtol=1e-6, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(y, yt, **tol)
    np.testing.assert_allclose(g, gt, **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", list(STABLE_CASES))
def test_stable_formulations_second_order_match_torch(name, dtype):
    gg_fn, t_fn, values = STABLE_CASES[name]
    vals = np.asarray(values, dtype=dtype)

    def run():
        x = gg.tensor(vals, requires_grad=True)
        (g,) = gg.autograd.grad(gg_fn(x).sum(), x, create_graph=True)
        (h,) = gg.autograd.grad(g.sum(), x)
        return _arr(h)

    h = _run_quietly(run)
    xt = torch.tensor(vals.astype(np.float64), requires_grad=True)  # float64 reference
    (gt,) = torch.autograd.grad(t_fn(xt).sum(), xt, create_graph=True)
    (ht,) = torch.autograd.grad(gt.sum(), xt)
    assert not np.isnan(h).any()
    # torch's float64 second derivative of logsumexp at [1000, 1000] is -2.75e-14 where
    # 0 is exact (ours): an absolute tolerance at that level
    tol = dict(rtol=1e-5, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(h, ht.numpy(), **tol)


def test_sigmoid_of_plus_minus_1000():
    y, g = _value_and_grad(gg.sigmoid, [-1000.0, 1000.0], np.float32)
    np.testing.assert_array_equal(y, [0.0, 1.0])
    np.testing.assert_array_equal(g, [0.0, 0.0])


def test_logsumexp_of_large_and_small_values():
    y, g = _value_and_grad(gg.logsumexp, [1000.0, 1000.0], np.float64)
    np.testing.assert_allclose(y, 1000.0 + np.log(2.0), rtol=1e-14)
    np.testing.assert_allclose(g, [0.5, 0.5], rtol=1e-12)
    y, g = _value_and_grad(gg.logsumexp, [-1000.0, -1000.0], np.float64)
    np.testing.assert_allclose(y, -1000.0 + np.log(2.0), rtol=1e-14)
    np.testing.assert_allclose(g, [0.5, 0.5], rtol=1e-12)


@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_with_axis_is_stable_and_matches_torch(keepdims):
    vals = np.array([[1000.0, 1000.0, 0.0], [-1000.0, -1000.0, -1000.0], [0.5, -2.0, 3.0]])

    def run():
        x = gg.tensor(vals, requires_grad=True)
        y = gg.logsumexp(x, axis=1, keepdims=keepdims)
        (y * gg.tensor(np.arange(1.0, 4.0).reshape(y.shape))).sum().backward()
        return _arr(y), _arr(x.grad)

    y, g = _run_quietly(run)
    xt = torch.tensor(vals, requires_grad=True)
    yt = torch.logsumexp(xt, dim=1, keepdim=keepdims)
    (yt * torch.arange(1.0, 4.0, dtype=torch.float64).reshape(yt.shape)).sum().backward()
    assert y.shape == tuple(yt.shape)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_logsumexp_second_order_is_finite_for_large_inputs():
    def run():
        x = gg.tensor(np.array([1000.0, 999.0, -1000.0]), requires_grad=True)
        (g,) = gg.autograd.grad(gg.logsumexp(x), x, create_graph=True)
        (h,) = gg.autograd.grad((g * g).sum(), x)
        return _arr(h)

    h = _run_quietly(run)
    xt = torch.tensor([1000.0, 999.0, -1000.0], dtype=torch.float64, requires_grad=True)
    (gt,) = torch.autograd.grad(torch.logsumexp(xt, dim=0), xt, create_graph=True)
    (ht,) = torch.autograd.grad((gt * gt).sum(), xt)
    np.testing.assert_allclose(h, ht.numpy(), rtol=1e-10, atol=1e-15)


# --------------------------------------------------------------------------------------
# Values saved for backward are protected
# --------------------------------------------------------------------------------------
#
# Each case builds `loss` from leaves; `mutate` changes a tensor that the op saved. The
# engine may refuse the mutation or refuse the backward (ValueError / RuntimeError), or
# may compute the right gradient anyway (it kept its own copy); a silently wrong gradient
# fails the test.

_RNG = np.random.default_rng(99)
_X = _RNG.uniform(-1.0, 1.0, size=(2, 3))
_W = _RNG.uniform(1.5, 3.0, size=(2, 3))
_WM = _RNG.uniform(-1.0, 1.0, size=(3, 4))


def _build_mul():
    x, w = gg.tensor(_X, requires_grad=True), gg.tensor(_W, requires_grad=True)
    return {"x": x, "w": w, "loss": (w * x).sum()}


def _build_div():
    x, w = gg.tensor(_X, requires_grad=True), gg.tensor(_W, requires_grad=True)
    return {"x": x, "w": w, "loss": (x / w).sum()}


def _build_matmul():
    x, w = gg.tensor(_X, requires_grad=True), gg.tensor(_WM, requires_grad=True)
    return {"x": x, "w": w, "loss": (x @ w).sum()}


def _build_sin():
    x = gg.tensor(_X, requires_grad=True)
    return {"x": x, "loss": gg.sin(x).sum()}


def _build_exp():
    x = gg.tensor(_X, requires_grad=True)
    y = gg.exp(x)
    return {"x": x, "y": y, "loss": y.sum()}


def _build_tanh():
    x = gg.tensor(_X, requires_grad=True)
    y = gg.tanh(x)
    return {"x": x, "y": y, "loss": y.sum()}


def _build_sin_of_intermediate():
    x = gg.tensor(_X, requires_grad=True)
    h = x * 1.5  # a non-leaf that sin saves
    return {"x": x, "h": h, "loss": gg.sin(h).sum()}


def _build_matmul_of_intermediate():
    x, w = gg.tensor(_X, requires_grad=True), gg.tensor(_WM, requires_grad=True)
    h = w * 2.0  # a non-leaf that matmul saves
    return {"x": x, "w": w, "h": h, "loss": (x @ h).sum()}


# case -> (builder, the tensor to mutate, the leaves whose gradients we check, the op
# that saved it)
SAVED_CASES = {
    "mul": (_build_mul, "w", ("x", "w"), "mul"),
    "div": (_build_div, "w", ("x", "w"), "div"),
    "matmul": (_build_matmul, "w", ("x", "w"), "matmul"),
    "sin": (_build_sin, "x", ("x",), "sin"),
    "exp": (_build_exp, "y", ("x",), "exp"),
    "tanh": (_build_tanh, "y", ("x",), "tanh"),
    "sin_of_intermediate": (_build_sin_of_intermediate, "h", ("x",), "sin"),
    "matmul_of_intermediate": (_build_matmul_of_intermediate, "h", ("x", "w"), "matmul"),
}


def _data_fill(t):
    t.data[...] = 0.5


def _data_isub(t):
    t.data -= 1.0


def _data_setitem(t):
    t.data[0] = 0.5


def _inplace_isub(t):
    with gg.no_grad():
        t -= 1.0


def _inplace_setitem(t):
    with gg.no_grad():
        t[0] = 5.0


def _detached(mutation):
    # detach() shares values with its source, so mutating the detached tensor mutates
    # what the graph saved (torch catches the in-place-op forms with its version counter)
    def mutate(t):
        mutation(t.detach())

    return mutate


MUTATIONS = {
    "data_fill": (_data_fill, False),
    "data_isub": (_data_isub, False),
    "data_setitem": (_data_setitem, False),
    "inplace_isub": (_inplace_isub, True),
    "inplace_setitem": (_inplace_setitem, True),
    "detached_data_fill": (_detached(_data_fill), False),
    "detached_inplace_isub": (_detached(_inplace_isub), True),
    "detached_inplace_setitem": (_detached(_inplace_setitem), True),
}


def _check_message(exc, op_name, must_name_op):
    if must_name_op:
        assert op_name in str(exc).lower(), (
            f"the error should name the op ({op_name!r}) that saved the tensor: {exc}"
        )


@pytest.mark.parametrize("mutation", list(MUTATIONS))
@pytest.mark.parametrize("case", list(SAVED_CASES))
def test_mutating_a_saved_value_is_prevented_or_detected(case, mutation):
    build, target, leaves, op_name = SAVED_CASES[case]
    mutate, must_name_op = MUTATIONS[mutation]

    env = build()
    env["loss"].backward()
    reference = {n: _arr(env[n].grad) for n in leaves}

    env = build()
    try:
        mutate(env[target])
    except (ValueError, RuntimeError) as exc:  # prevented
        _check_message(exc, op_name, must_name_op)
        return
    try:
        env["loss"].backward()
    except (ValueError, RuntimeError) as exc:  # detected
        _check_message(exc, op_name, must_name_op)
        return
    for n in leaves:
        np.testing.assert_allclose(
            _arr(env[n].grad),
            reference[n],
            rtol=1e-12,
            err_msg=f"{mutation} of {target!r} after {op_name} gave a silently wrong "
            f"gradient for {n!r}",
        )


def test_exp_output_mutated_through_data_before_backward():
    x = gg.tensor(np.array([0.1, 0.2, 0.3]), requires_grad=True)
    y = gg.exp(x)
    try:
        y.data[0] = 100.0
        y.sum().backward()
    except (ValueError, RuntimeError):
        return
    np.testing.assert_allclose(_arr(x.grad), np.exp([0.1, 0.2, 0.3]), rtol=1e-12)


def test_inplace_update_of_weight_between_forward_and_backward_names_mul():
    w = gg.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    x = gg.tensor(np.array([4.0, 5.0, 6.0]), requires_grad=True)
    loss = (w * x).sum()
    try:
        with gg.no_grad():
            w -= 1.0
        loss.backward()
    except (ValueError, RuntimeError) as exc:
        assert "mul" in str(exc).lower(), str(exc)
        return
    np.testing.assert_allclose(_arr(x.grad), [1.0, 2.0, 3.0])


def test_inplace_op_on_leaf_requiring_grad_outside_no_grad_raises():
    # As torch: "a leaf Variable that requires grad is being used in an in-place operation".
    w = gg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises((RuntimeError, ValueError)):
        w -= 1.0


# --------------------------------------------------------------------------------------
# Optimizer-style updates after backward keep working
# --------------------------------------------------------------------------------------

_XD = np.random.default_rng(5).normal(size=(16, 3))
_YD = _XD @ np.array([[1.0], [-2.0], [0.5]]) + 0.3


def _loss(w, b):
    return ((gg.tensor(_XD) @ w + b - gg.tensor(_YD)) ** 2).mean()


def _train(update, steps=8):
    w = gg.tensor(np.zeros((3, 1)), requires_grad=True)
    b = gg.tensor(np.zeros((1,)), requires_grad=True)
    w_obj, b_obj = w, b
    losses = []
    loss = None
    for _ in range(steps):
        loss = _loss(w, b)  # the previous graph is still referenced until this line
        losses.append(loss.item())
        loss.backward()
        before = _arr(w)
        w = update(w)
        b = update(b)
        assert w is w_obj and b is b_obj, "the update must change the same Tensor in place"
        assert not np.array_equal(_arr(w), before)
        assert w.requires_grad and w.is_leaf and w.grad_fn is None
        w.grad = None
        b.grad = None
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    return losses


def _data_update(p):
    p.data -= 0.1 * p.grad.data
    return p


def _no_grad_update(p):
    with gg.no_grad():
        p -= 0.1 * p.grad
    return p


def test_optimizer_style_update_through_data_after_backward():
    _train(_data_update)


def test_optimizer_style_inplace_update_under_no_grad_after_backward():
    _train(_no_grad_update)


def test_update_after_backward_then_a_new_forward_and_backward():
    w = gg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    loss = (w * w).sum()
    loss.backward()
    with gg.no_grad():
        w -= 0.5 * w.grad
    np.testing.assert_allclose(_arr(w), [0.0, 0.0])
    w.grad = None
    (w * w + w).sum().backward()
    np.testing.assert_allclose(_arr(w.grad), [1.0, 1.0])


def test_dropping_a_graph_without_backward_frees_leaves_for_updates():
    w = gg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    x = gg.tensor(np.array([3.0, 4.0]))
    loss = (w * x).sum()  # e.g. an evaluation forward outside no_grad
    del loss
    w.data -= 1.0
    with gg.no_grad():
        w -= 1.0
    np.testing.assert_allclose(_arr(w), [-1.0, 0.0])


def test_retained_graph_frees_leaves_for_updates_once_dropped():
    w = gg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    x = gg.tensor(np.array([3.0, 4.0]))
    loss = (w * x).sum()
    loss.backward(retain_graph=True)
    del loss
    with gg.no_grad():
        w -= 0.5 * w.grad
    np.testing.assert_allclose(_arr(w), [-0.5, 0.0])


def test_updates_after_autograd_grad():
    w = gg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    loss = (w * w).sum()
    (g,) = gg.autograd.grad(loss, w)
    w.data -= 0.25 * g.data
    np.testing.assert_allclose(_arr(w), [0.5, 1.0])
