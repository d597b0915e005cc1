"""detect_anomaly: the first NaN/Inf in a forward or backward names the op and the
line of user code that created it."""

import numpy as np
import pytest

import glassgrad as gg


def test_forward_nan_names_the_op_and_the_user_line():
    x = gg.tensor(np.array([-1.0, 1.0]), requires_grad=True)
    with pytest.raises(gg.autograd.AnomalyError) as info:
        with gg.autograd.detect_anomaly():
            gg.log(x)  # the birthplace of the NaN
    msg = str(info.value)
    assert "log" in msg and "NaN" in msg
    assert "test_anomaly.py" in msg and "the birthplace of the NaN" in msg


def test_backward_inf_names_the_op_and_where_it_was_created():
    x = gg.tensor(np.array([0.0, 4.0]), requires_grad=True)
    with gg.autograd.detect_anomaly():
        y = gg.sqrt(x)  # finite forward, infinite derivative at 0
        with pytest.raises(gg.autograd.AnomalyError) as info:
            y.sum().backward()
    msg = str(info.value)
    assert "backward of sqrt" in msg
    assert "y = gg.sqrt(x)" in msg


def test_without_anomaly_mode_nan_passes_silently_as_in_numpy():
    x = gg.tensor(np.array([0.0]), requires_grad=True)
    with np.errstate(divide="ignore"):
        gg.sqrt(x).sum().backward()
    assert np.isinf(x.grad.numpy()).all()


def test_anomaly_mode_restores_state_and_finite_runs_pass():
    x = gg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    with gg.autograd.detect_anomaly():
        (gg.exp(x) * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([1.0, 2.0]) * (1 + np.array([1.0, 2.0])))
    from glassgrad import anomaly

    assert anomaly.is_anomaly_enabled() is False
