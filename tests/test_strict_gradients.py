"""Gradients returned by user code (custom Functions, tensor hooks, module hooks) are
checked, never silently reshaped or cast; and the registries behind them do not leak."""

import gc
import weakref

import numpy as np
import pytest
import torch

import glassgrad as gg
from glassgrad import broadcast


def _gg_function(grad_shape, grad_dtype=np.float32, value=None):
    class Double(gg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return np.ones(grad_shape, grad_dtype) if value is None else value

    return Double


def _torch_function(grad_shape):
    class Double(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return torch.ones(grad_shape)

    return Double


@pytest.mark.parametrize("grad_shape", [(3, 2), (6, 1), (2, 3, 2), (1, 3), (6,), (3,)])
def test_function_gradient_of_wrong_shape_is_an_error_as_in_torch(grad_shape):
    x = torch.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="invalid gradient at index 0"):
        _torch_function(grad_shape).apply(x).sum().backward()

    x = gg.ones((2, 3), requires_grad=True)
    with pytest.raises(RuntimeError) as info:
        _gg_function(grad_shape).apply(x).sum().backward()
    msg = str(info.value)
    assert "Function Double.backward" in msg and "invalid gradient at index 0" in msg
    assert str(grad_shape) in msg and "(2, 3)" in msg
    assert x.grad is None


@pytest.mark.parametrize("grad_shape", [(2, 3), (1, 2, 3), (4, 2, 3)])
def test_function_gradient_the_input_broadcasts_to_is_summed_as_in_torch(grad_shape):
    xt = torch.ones(2, 3, requires_grad=True)
    _torch_function(grad_shape).apply(xt).sum().backward()
    x = gg.ones((2, 3), requires_grad=True)
    _gg_function(grad_shape).apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, xt.grad.numpy())


def test_function_gradient_of_other_dtype_is_cast_as_in_torch():
    x = gg.ones((2, 3), requires_grad=True)
    _gg_function((2, 3), np.float64).apply(x).sum().backward()
    assert x.grad.dtype == np.float32  # torch casts to the input's dtype too


@pytest.mark.parametrize("value", ["abc", [object()], {"a": 1}])
def test_function_returning_a_non_array_says_so(value):
    x = gg.ones((2, 3), requires_grad=True)
    with pytest.raises(TypeError) as info:
        _gg_function(None, value=value).apply(x).sum().backward()
    assert "Double.backward" in str(info.value)
    assert "a gradient must be a Tensor or a numeric array" in str(info.value)


def test_wrong_shape_from_a_broadcasting_op_rule_is_caught_at_the_root():
    # The same check guards every rule, not only Functions: sum_to refuses reshapes.
    with pytest.raises(ValueError, match="does not broadcast"):
        broadcast.sum_to(np.ones((3, 2)), (2, 3))
    np.testing.assert_array_equal(broadcast.sum_to(np.ones((4, 2, 3)), (1, 3)),
                                  np.full((1, 3), 8.0))


# --- tensor hooks ---------------------------------------------------------------------


@pytest.mark.parametrize("leaf", [True, False], ids=["leaf", "non-leaf"])
def test_hook_changing_dtype_raises_as_in_torch(leaf):
    def to_double(g):
        return g.astype(np.float64) if isinstance(g, gg.Tensor) else g.double()

    with pytest.raises(RuntimeError, match="changed the type"):
        _torch_backward(leaf, to_double)

    x = gg.ones((2, 3), requires_grad=True)
    target = x if leaf else x * 1
    target.register_hook(to_double)
    with pytest.raises(RuntimeError) as info:
        (target * 2).sum().backward()
    msg = str(info.value)
    assert "'test_hook_changing_dtype_raises_as_in_torch.<locals>.to_double'" in msg
    assert "float64" in msg and "float32" in msg
    assert x.grad is None


def _torch_backward(leaf, hook):
    x = torch.ones(2, 3, requires_grad=True)
    t = x if leaf else x * 1
    t.register_hook(hook)
    (t * 2).sum().backward()


def test_hook_changing_shape_names_the_hook():
    x = gg.ones((2, 3), requires_grad=True)

    def transpose_it(g):
        return g.T

    x.register_hook(transpose_it)
    with pytest.raises(RuntimeError, match="'.*transpose_it' changed the shape"):
        (x * 2).sum().backward()


def test_hook_returning_a_string_says_it_is_not_an_array():
    x = gg.ones((2, 3), requires_grad=True)
    x.register_hook(lambda g: "oops")
    with pytest.raises(TypeError, match="returned a str as the gradient"):
        (x * 2).sum().backward()


# --- module backward hooks ------------------------------------------------------------


def test_module_backward_hook_with_wrong_shape_names_hook_and_module():
    layer = gg.nn.Linear(3, 2)

    def bad_hook(module, grad_input, grad_output):
        return (gg.ones((5, 5)),)

    layer.register_full_backward_hook(bad_hook)
    x = gg.ones((4, 3), requires_grad=True)
    with pytest.raises(RuntimeError) as info:
        layer(x).sum().backward()
    msg = str(info.value)
    assert "bad_hook" in msg and "Linear" in msg and "(5, 5)" in msg and "(4, 3)" in msg
    assert "_Catch" not in msg


def test_module_backward_hook_returning_a_string_names_hook():
    layer = gg.nn.Linear(3, 2)
    layer.register_full_backward_hook(lambda m, gi, go: ("junk",))
    x = gg.ones((4, 3), requires_grad=True)
    with pytest.raises(TypeError, match=r"backward hook '.*<lambda>' of Linear returned a str"):
        layer(x).sum().backward()


# --- leaks ----------------------------------------------------------------------------


def test_function_classes_defined_in_a_function_are_freed():
    refs = []
    for _ in range(5):
        cls = _gg_function((2, 3))
        x = gg.ones((2, 3), requires_grad=True)
        cls.apply(x).sum().backward()
        refs.append(weakref.ref(cls))
        del cls, x
    gc.collect()
    assert all(r() is None for r in refs), "Function classes kept alive by glassgrad"


def test_broadcast_plan_cache_is_bounded():
    for n in range(1, broadcast._MAX_PLANS + 500):
        broadcast.sum_to(np.ones((2, n)), (1, n))
    assert len(broadcast._plans) <= broadcast._MAX_PLANS


# --- writes into saved arrays -----------------------------------------------------------


def test_saved_by_names_the_op_behind_numpys_read_only_error():
    w = gg.ones((2, 2), requires_grad=True)
    loss = (w * w).sum()
    with pytest.raises(ValueError, match="read-only"):
        w.data[0] -= 1  # NumPy's own error: glassgrad cannot see this write
    assert gg.autograd.saved_by(w) == "mul"
    assert gg.autograd.saved_by(w.data) == "mul"
    with pytest.raises(RuntimeError, match="saved for the backward of mul"):
        w.copy_(np.zeros((2, 2), np.float32))  # a write glassgrad sees: named at once
    loss.backward()
    assert gg.autograd.saved_by(w) is None
    w.data[0] -= 1  # writable again after backward


# --- no RuntimeWarnings from our own code ---------------------------------------------


@pytest.mark.parametrize("name, kwargs", [
    ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.1)),
    ("Adam", dict(lr=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.1)),
    ("RMSprop", dict(lr=0.1, momentum=0.5, centered=True)),
])
def test_optimizers_with_nan_gradients_match_torch_without_warnings(name, kwargs):
    import warnings

    grad = np.array([np.nan, np.inf, -np.inf, 1.0], np.float32)
    p = gg.ones(4, requires_grad=True)
    opt = getattr(gg.optim, name)([p], **kwargs)
    pt = torch.ones(4, requires_grad=True)
    opt_t = getattr(torch.optim, name)([pt], **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(2):
            p.grad = gg.tensor(grad.copy())
            opt.step()
            pt.grad = torch.tensor(grad)
            opt_t.step()
    np.testing.assert_array_equal(np.isnan(p.data), np.isnan(pt.detach().numpy()))
    np.testing.assert_allclose(p.data, pt.detach().numpy(), rtol=1e-6)


# --- load_state_dict is all or nothing ---------------------------------------------------


def test_failed_load_state_dict_changes_nothing():
    model = gg.nn.Sequential(gg.nn.Linear(3, 4), gg.nn.Tanh(), gg.nn.Linear(4, 2))
    before = {k: np.array(v.data) for k, v in model.state_dict().items()}
    new = {k: np.full(v.shape, 7.0, np.float32) for k, v in before.items()}
    # a live graph holds the *last* layer's weight (saved by its matmul)
    out = model[2](gg.ones((1, 4)))
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(new)
    assert "2.weight" in str(info.value) and "backward of" in str(info.value)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.data, before[k], err_msg=k)
    del out  # graph dropped: now it loads
    model.load_state_dict(new)
    assert all(np.all(v.data == 7.0) for v in model.state_dict().values())


# --- layer input dtypes -----------------------------------------------------------------


@pytest.mark.parametrize("in_dtype", [np.int64, np.float64, np.bool_])
@pytest.mark.parametrize("layer", ["linear", "conv2d"])
def test_layer_refuses_an_input_of_another_dtype_as_torch(layer, in_dtype):
    if layer == "linear":
        ours, theirs, shape = gg.nn.Linear(3, 2), torch.nn.Linear(3, 2), (4, 3)
    else:
        ours, theirs = gg.nn.Conv2d(1, 2, 3), torch.nn.Conv2d(1, 2, 3)
        shape = (1, 1, 5, 5)
    x = np.ones(shape, in_dtype)
    with pytest.raises(RuntimeError):
        theirs(torch.tensor(x))
    with pytest.raises(TypeError) as info:
        ours(gg.tensor(x))
    msg = str(info.value)
    assert type(ours).__name__ in msg and str(np.dtype(in_dtype)) in msg
    assert "float32" in msg and "x.astype(np.float32)" in msg
    with pytest.raises(TypeError):
        ours(x)  # a raw array too


def test_float64_layer_takes_float64_input():
    layer = gg.nn.Linear(3, 2).to(np.float64)
    out = layer(gg.tensor(np.ones((4, 3))))
    assert out.dtype == np.float64


def test_functional_linear_refuses_mixed_dtypes_as_torch():
    with pytest.raises(RuntimeError):
        torch.nn.functional.linear(torch.ones(2, 3, dtype=torch.float64), torch.ones(4, 3))
    with pytest.raises(TypeError, match="linear: the input has dtype float64"):
        gg.nn.functional.linear(gg.tensor(np.ones((2, 3))), gg.ones((4, 3)))


def test_checkpoint_error_is_exported_and_a_value_error(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    with pytest.raises(gg.CheckpointError, match="empty.npz"):
        gg.load(path)
    assert issubclass(gg.CheckpointError, ValueError)
