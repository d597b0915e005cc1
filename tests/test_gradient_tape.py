"""gg.GradientTape: TensorFlow's interface on glassgrad's engine, checked against the
PyTorch-style backward() on the same computation."""

import numpy as np
import pytest
import torch

import glassgrad as gg

rng = np.random.default_rng(3)


def _data():
    return rng.standard_normal((6, 3)), rng.standard_normal((6, 1)), rng.standard_normal((3, 1))


def test_tape_gradient_equals_backward_and_torch():
    X, y, w0 = _data()
    w = gg.tensor(w0, requires_grad=True)
    b = gg.tensor(np.zeros(1), requires_grad=True)
    with gg.GradientTape() as tape:
        loss = ((gg.tensor(X) @ w + b - gg.tensor(y)) ** 2).mean()
    dw, db = tape.gradient(loss, [w, b])
    assert w.grad is None and b.grad is None  # nothing accumulates

    wt = torch.tensor(w0, requires_grad=True)
    bt = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    ((torch.tensor(X) @ wt + bt - torch.tensor(y)) ** 2).mean().backward()
    np.testing.assert_allclose(dw.numpy(), wt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(db.numpy(), bt.grad.numpy(), rtol=1e-12)


def test_watch_a_constant_and_persistent_tape():
    x = gg.tensor(np.array([1.0, 2.0, 3.0]))
    with gg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        z = y * y
    np.testing.assert_allclose(tape.gradient(z.sum(), x).numpy(), 4 * x.numpy() ** 3)
    np.testing.assert_allclose(tape.gradient(y.sum(), x).numpy(), 2 * x.numpy())
    assert not x.requires_grad  # watching does not change the tensor for good


def test_non_persistent_tape_answers_once():
    x = gg.tensor(np.array([1.0]), requires_grad=True)
    with gg.GradientTape() as tape:
        y = (x * 3).sum()
    tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="persistent"):
        tape.gradient(y, x)


def test_unwatched_source_and_unconnected_source():
    x = gg.tensor(np.array([1.0]))
    w = gg.tensor(np.array([2.0]), requires_grad=True)
    u = gg.tensor(np.array([5.0]), requires_grad=True)
    with gg.GradientTape(persistent=True) as tape:
        y = (x * w).sum()
    with pytest.raises(ValueError, match="watch"):
        tape.gradient(y, x)
    assert tape.gradient(y, [w, u])[1] is None  # as TensorFlow: None when not connected


def test_watch_outside_the_block_is_an_error():
    tape = gg.GradientTape()
    with pytest.raises(RuntimeError, match="inside"):
        tape.watch(gg.tensor([1.0]))


def test_tape_records_even_inside_no_grad():
    w = gg.tensor(np.array([2.0]), requires_grad=True)
    with gg.no_grad():
        with gg.GradientTape() as tape:
            y = (w * w).sum()
        assert not gg.is_grad_enabled()
    np.testing.assert_allclose(tape.gradient(y, w).numpy(), [4.0])
