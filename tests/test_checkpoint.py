"""Activation checkpointing (``checkpoint``) and the saved-values inventory
(``saved_tensors_summary``): issue 10, part 4.

Scenarios ``_scn_*(lib)`` run with glassgrad and with PyTorch
(``torch.utils.checkpoint.checkpoint``) and are compared; the bit-identity of
checkpointed and plain gradients, and the inventory, are glassgrad-only tests.
"""

import numpy as np
import pytest
import torch
import torch.utils.checkpoint

import glassgrad as gg
from glassgrad.autograd.checkpoint import checkpoint, saved_tensors_summary

WIDTH = 5


def _np(t):
    if t is None:
        return None
    if isinstance(t, torch.Tensor):
        return t.detach().numpy().copy()
    return np.array(t.numpy() if isinstance(t, gg.Tensor) else t, copy=True)


def _ckpt(lib):
    if lib is torch:
        return lambda fn, *a: torch.utils.checkpoint.checkpoint(fn, *a, use_reentrant=False)
    return checkpoint


def _params(lib, n_layers, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_layers):
        w = lib.tensor(rng.normal(size=(WIDTH, WIDTH)) / np.sqrt(WIDTH), requires_grad=True)
        b = lib.tensor(rng.normal(size=WIDTH) * 0.1, requires_grad=True)
        out.append((w, b))
    return out


def _layer(lib, h, w, b):
    return lib.tanh(h @ w.T + b)


def _data(lib, requires_grad=True, seed=1):
    x = np.random.default_rng(seed).normal(size=(4, WIDTH))
    return lib.tensor(x, requires_grad=requires_grad)


def _mlp6(lib, use_ckpt, x_requires_grad=True):
    """6-layer tanh MLP; layers 1..4 (or all six when x needs no grad) in one segment."""
    params = _params(lib, 6)
    x = _data(lib, x_requires_grad)

    def segment(layers):
        def fn(h):
            for w, b in layers:
                h = _layer(lib, h, w, b)
            return h
        return fn

    if x_requires_grad:
        h = _layer(lib, x, *params[0])
        mid = segment(params[1:5])
        h = _ckpt(lib)(mid, h) if use_ckpt else mid(h)
        h = _layer(lib, h, *params[5])
    else:
        whole = segment(params)
        h = _ckpt(lib)(whole, x) if use_ckpt else whole(x)
    loss = (h * h).sum()
    loss.backward()
    grads = [p.grad for wb in params for p in wb]
    return [loss, x.grad if x_requires_grad else None, *grads]


def _two_outputs(lib, use_ckpt):
    (w, b), (v, c) = _params(lib, 2, seed=3)
    x = _data(lib)

    def fn(h):
        a = _layer(lib, h, w, b)
        return a, lib.sin(a @ v.T + c) * h

    p, q = _ckpt(lib)(fn, x) if use_ckpt else fn(x)
    loss = (p * 2.0).sum() + (q * q).sum()
    loss.backward()
    return [loss, p, q, x.grad, w.grad, b.grad, v.grad, c.grad]


def _one_of_two_outputs(lib, use_ckpt):
    (w, b), (v, c) = _params(lib, 2, seed=4)
    x = _data(lib)

    def fn(h):
        a = _layer(lib, h, w, b)
        return a, a @ v.T + c

    p, _unused = _ckpt(lib)(fn, x) if use_ckpt else fn(x)
    (p * p).sum().backward()
    return [x.grad, w.grad, b.grad, v.grad]


def _block_in_larger_graph(lib, use_ckpt):
    """Pre- and post-processing, a residual around the segment, x also used outside."""
    params = _params(lib, 3, seed=5)
    x = _data(lib)
    pre = lib.exp(x * 0.3) - x

    def block(h, scale):
        for w, b in params[:2]:
            h = _layer(lib, h, w, b)
        return h * scale

    scale = lib.tensor(np.linspace(0.5, 1.5, WIDTH), requires_grad=True)
    h = _ckpt(lib)(block, pre, scale) if use_ckpt else block(pre, scale)
    h = h + pre  # residual: pre feeds both the segment and the sum
    out = _layer(lib, h, *params[2]) * x
    loss = (out ** 2).sum()
    loss.backward()
    return [loss, x.grad, scale.grad, *[p.grad for wb in params for p in wb]]


def _scn_mlp6_checkpointed(lib):
    return _mlp6(lib, True)


def _scn_mlp6_checkpointed_from_raw_data(lib):
    return _mlp6(lib, True, x_requires_grad=False)


def _scn_two_outputs(lib):
    return _two_outputs(lib, True)


def _scn_one_of_two_outputs(lib):
    return _one_of_two_outputs(lib, True)


def _scn_block_in_larger_graph(lib):
    return _block_in_larger_graph(lib, True)


def _run_both(scn):
    got = scn(gg)
    want = scn(torch)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        if w is None:
            assert g is None, f"{scn.__name__}[{i}]: torch gives None"
            continue
        assert g is not None, f"{scn.__name__}[{i}]: glassgrad gives None"
        g, w = _np(g), _np(w)
        assert g.dtype == w.dtype, f"{scn.__name__}[{i}]: dtype {g.dtype} != {w.dtype}"
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12, err_msg=f"{scn.__name__}[{i}]")


SCENARIOS = [_scn_mlp6_checkpointed, _scn_mlp6_checkpointed_from_raw_data, _scn_two_outputs,
             _scn_one_of_two_outputs, _scn_block_in_larger_graph]


@pytest.mark.parametrize("scn", SCENARIOS, ids=lambda s: s.__name__[5:])
def test_scenario_matches_torch(scn):
    _run_both(scn)


# --- bit-identity with the plain graph (glassgrad only) ---------------------------------


def _assert_identical(plain, ckpt):
    assert len(plain) == len(ckpt)
    for i, (a, b) in enumerate(zip(plain, ckpt)):
        if a is None:
            assert b is None
            continue
        np.testing.assert_array_equal(_np(a), _np(b), err_msg=f"result {i}")


@pytest.mark.parametrize("x_requires_grad", [True, False])
def test_mlp6_gradients_bit_identical(x_requires_grad):
    plain = _mlp6(gg, False, x_requires_grad)
    ckpt = _mlp6(gg, True, x_requires_grad)
    assert all(g is not None for g in ckpt[2:])  # every parameter got a gradient
    _assert_identical(plain, ckpt)


def test_two_outputs_bit_identical():
    _assert_identical(_two_outputs(gg, False), _two_outputs(gg, True))


def test_unused_output_bit_identical():
    _assert_identical(_one_of_two_outputs(gg, False), _one_of_two_outputs(gg, True))


def test_block_in_larger_graph_bit_identical():
    _assert_identical(_block_in_larger_graph(gg, False), _block_in_larger_graph(gg, True))


def _module_run(use_ckpt, seed=0):
    gg.manual_seed(seed)
    model = gg.nn.Sequential(*[m for _ in range(6)
                               for m in (gg.nn.Linear(8, 8), gg.nn.ReLU(), gg.nn.Dropout(0.3))])
    model = model.to(np.float64) if hasattr(model, "to") else model
    x = gg.tensor(np.random.default_rng(2).normal(size=(16, 8)))
    gg.manual_seed(seed + 1)
    first, rest = model[:9], model[9:]
    h = checkpoint(first, x) if use_ckpt else first(x)
    h = checkpoint(rest, h) if use_ckpt else rest(h)
    loss = (h * h).mean()
    loss.backward()
    after = gg.rand(3).numpy()  # the user's random stream after the step
    return [loss, *[p.grad for p in model.parameters()], after]


def test_module_with_dropout_replays_the_mask():
    plain = _module_run(False)
    ckpt = _module_run(True)
    # the dropout masks really differ between layers and the gradients are not all zero
    assert any(np.count_nonzero(_np(g)) for g in ckpt[1:-1])
    assert any((_np(g) == 0).any() for g in ckpt[1:-1:2])
    _assert_identical(plain, ckpt)  # also: the recomputation did not advance the stream


def test_retain_graph_backward_twice_accumulates():
    (w, b), = _params(gg, 1)
    x = _data(gg)
    y = checkpoint(lambda h: _layer(gg, h, w, b), x)
    loss = (y * y).sum()
    loss.backward(retain_graph=True)
    once_x, once_w = _np(x.grad), _np(w.grad)
    loss.backward()
    np.testing.assert_array_equal(_np(x.grad), once_x + once_x)
    np.testing.assert_array_equal(_np(w.grad), once_w + once_w)


def test_autograd_grad_through_checkpoint():
    (w, b), = _params(gg, 1)
    x = _data(gg)
    fn = lambda h: _layer(gg, h, w, b)  # noqa: E731
    (gx,) = gg.autograd.grad((checkpoint(fn, x) ** 2).sum(), x)
    w.grad = None
    (px,) = gg.autograd.grad((fn(x) ** 2).sum(), x)
    np.testing.assert_array_equal(_np(gx), _np(px))


def test_create_graph_raises_clear_error():
    x = _data(gg)
    y = checkpoint(lambda h: gg.tanh(h) * h, x).sum()
    with pytest.raises(RuntimeError, match="checkpoint.*create_graph=True"):
        gg.autograd.grad(y, x, create_graph=True)


def test_under_no_grad_is_a_plain_call():
    x = _data(gg)
    with gg.no_grad():
        y = checkpoint(gg.tanh, x)
    assert not y.requires_grad
    np.testing.assert_array_equal(_np(y), np.tanh(_np(x)))


def test_nothing_inside_the_segment_is_recorded():
    params = _params(gg, 4)
    x = _data(gg)

    def fn(h):
        for w, b in params:
            h = _layer(gg, h, w, b)
        return h

    y = checkpoint(fn, x)
    names = [n.name for n in gg.autograd.walk([y])]
    assert names == ["_Checkpoint"]


def test_non_tensor_output_is_an_error():
    with pytest.raises(TypeError, match="checkpoint: fn must return a Tensor"):
        checkpoint(lambda h: (h * 2, 3), _data(gg))


# --- saved_tensors_summary ---------------------------------------------------------------


def test_summary_of_a_graph_counted_by_hand():
    x = gg.tensor(np.ones((3, 4)), requires_grad=True)
    w = gg.tensor(np.ones((4, 5)) * 0.1, requires_grad=True)
    h = x @ w            # saves x (96 B) and w (160 B): leaf arrays
    t = gg.tanh(h)       # saves its output t (120 B)
    s = gg.sin(t)        # saves its input: t again, counted once
    e = gg.exp(s)        # saves its output (120 B)
    loss = e.sum()       # saves nothing
    summary = saved_tensors_summary(loss)
    assert summary.total_bytes == 96 + 160 + 120 + 120
    assert summary.arrays == 4
    assert summary.leaf_bytes == 96 + 160
    assert summary.nodes == 5
    rows = {r.op: (r.count, r.bytes) for r in summary.rows}
    assert rows == {"matmul": (1, 256), "tanh": (1, 120), "sin": (1, 0), "exp": (1, 120),
                    "sum": (1, 0)}
    assert summary.rows[0].op == "matmul"  # largest first
    text = str(summary)
    assert "matmul" in text and "total" in text and "496 B" in text
    loss.backward()
    assert saved_tensors_summary(loss).total_bytes == 0  # freed by backward


def test_summary_counts_custom_function_saved_tensors():
    class Cube(gg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            out = x ** 3
            ctx.save_for_backward(x, out)
            return out

        @staticmethod
        def backward(ctx, g):
            x, _ = ctx.saved_tensors
            return 3 * x ** 2 * g

    x = gg.tensor(np.ones(10), requires_grad=True)  # 80 B
    y = Cube.apply(x)                                # output 80 B, saved
    summary = saved_tensors_summary(y)
    assert summary.total_bytes == 160
    assert [(r.op, r.count, r.bytes) for r in summary.rows] == [("Cube", 1, 160)]


def test_summary_shrinks_when_a_segment_is_checkpointed():
    def build(use_ckpt):
        params = _params(gg, 6)
        x = _data(gg)
        h = _layer(gg, x, *params[0])

        def mid(h):
            for w, b in params[1:5]:
                h = _layer(gg, h, w, b)
            return h

        h = checkpoint(mid, h) if use_ckpt else mid(h)
        return (_layer(gg, h, *params[5]) ** 2).sum()

    plain = saved_tensors_summary(build(False))
    ckpt = saved_tensors_summary(build(True))
    assert ckpt.total_bytes < plain.total_bytes
    assert ckpt.nodes < plain.nodes
    assert "_Checkpoint" in {r.op for r in ckpt.rows}


def test_closure_over_an_outside_non_leaf_is_a_clear_error():
    x = _data(gg)
    outside = gg.exp(x)  # a non-leaf from the outer graph, read by closure

    y = checkpoint(lambda h: h * outside, x)
    with pytest.raises(RuntimeError, match="checkpoint: fn uses a tensor computed outside.*exp"):
        y.sum().backward()


def test_keyword_arguments_and_nested_checkpoints_bit_identical():
    (w, b), (v, c) = _params(gg, 2, seed=7)
    s = gg.tensor(1.5, requires_grad=True)  # a leaf passed by keyword: gets .grad

    def inner(h, scale=1.0):
        return _layer(gg, h, v, c) * scale

    def outer(h, use_ckpt):
        h = _layer(gg, h, w, b)
        return checkpoint(inner, h, scale=s) if use_ckpt else inner(h, scale=s)

    results = []
    for use_ckpt in (False, True):
        for p in (w, b, v, c, s):
            p.grad = None
        x = _data(gg)
        y = checkpoint(outer, x, use_ckpt) if use_ckpt else outer(x, False)
        (y ** 2).sum().backward()
        results.append([x.grad, w.grad, b.grad, v.grad, c.grad, s.grad])
    assert results[1][-1] is not None
    _assert_identical(*results)
