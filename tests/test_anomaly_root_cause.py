"""Anomaly mode names the root cause of a NaN/Inf, not its first symptom."""

from __future__ import annotations

import numpy as np
import pytest

import glassgrad as gg
from glassgrad.autograd import AnomalyError, detect_anomaly


def test_forward_names_the_op_the_call_site_and_the_input_statistics():
    x = gg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        y = x * 2.0
        gg.log(y)  # the NaN is born here
    err = info.value
    assert err.op == "log" and err.phase == "forward"
    assert err.filename == __file__ and err.lineno == _line_of_the_log_call()
    (row,) = err.inputs
    assert row["shape"] == (3,) and row["min"] == -4.0 and row["max"] == 6.0
    assert row["nan"] == 0 and "born" in str(err)


def _line_of_the_log_call():  # the line of ``gg.log(y)`` above, kept next to it
    import inspect
    src = inspect.getsource(test_forward_names_the_op_the_call_site_and_the_input_statistics)
    first = test_forward_names_the_op_the_call_site_and_the_input_statistics.__code__
    offset = next(i for i, line in enumerate(src.splitlines()) if "gg.log(y)" in line)
    return first.co_firstlineno + offset


def test_backward_blames_the_rule_not_the_nodes_that_pass_the_nan_on():
    x = gg.tensor([0.0, 1.0], requires_grad=True)
    with detect_anomaly():
        y = gg.sqrt(x)  # d sqrt/dx at 0 is inf: the cause
        for _ in range(20):  # 20 more ops between the cause and the loss
            y = gg.tanh(y * 0.9 + 0.1)
        loss = y.sum()
        with pytest.raises(AnomalyError) as info:
            loss.backward()
    err = info.value
    assert err.op == "sqrt" and err.phase == "backward" and not err.masked
    assert err.filename == __file__
    g = next(r for r in err.inputs if r["name"].startswith("g"))
    assert g["nan"] == 0 and g["inf"] == 0  # a finite cotangent came in


def test_the_masked_branch_trap_is_recognised_and_explained():
    x = gg.tensor([-1.0, 0.0, 4.0], requires_grad=True)
    with detect_anomaly():
        y = gg.where(x > 0, gg.sqrt(gg.maximum(x, 0.0)), 0.0)
        with pytest.raises(AnomalyError) as info:
            y.sum().backward()
    err = info.value
    assert err.op == "sqrt" and err.masked
    assert "sqrt(where(x > 0, x, 1))" in str(err)
    # the fix the message suggests works
    x.grad = None
    with detect_anomaly():
        safe = gg.where(x > 0, gg.sqrt(gg.where(x > 0, x, 1.0)), 0.0)
        safe.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.0, 0.25])


def test_a_mask_multiply_is_the_same_trap():
    x = gg.tensor([0.0, 4.0], requires_grad=True)
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        (gg.sqrt(x) * gg.tensor([0.0, 1.0])).sum().backward()
    assert info.value.masked


def test_a_bad_seed_is_not_blamed_on_an_op():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    with detect_anomaly():
        y = x * 3.0
        with pytest.raises(AnomalyError, match="seed gradient"):
            y.backward(gg.tensor([np.nan, 1.0]))


def test_quiet_when_everything_is_finite():
    x = gg.tensor([0.5, 1.5], requires_grad=True)
    with detect_anomaly():
        (gg.log(x) * gg.exp(x)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([0.5, 1.5]) * (1 / np.array([0.5, 1.5])
                                                                      + np.log([0.5, 1.5])))
