"""Grad mode (no_grad / enable_grad as contexts and decorators), detach and
requires_grad_, against PyTorch.

Part of the PyTorch autograd-semantics suite (split by topic; shared helpers in
``_autograd_helpers.py``). Where PyTorch has the same concept, torch is the oracle.
"""

import numpy as np
import pytest
from _autograd_helpers import (
    _arr,
    _close,
    _t,
    x64_fixture,  # noqa: F401 (fixtures)
)

import glassgrad as gg

# --------------------------------------------------------------------------------------
# Grad mode
# --------------------------------------------------------------------------------------


def test_no_grad_context_builds_no_graph():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    assert gg.is_grad_enabled()
    with gg.no_grad():
        assert not gg.is_grad_enabled()
        y = x * 2.0 + gg.exp(x)
    assert gg.is_grad_enabled()
    assert not y.requires_grad
    assert y.grad_fn is None
    assert y.is_leaf


def test_grad_mode_contexts_nest_and_restore():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    with gg.no_grad():
        assert not gg.is_grad_enabled()
        with gg.enable_grad():
            assert gg.is_grad_enabled()
            y = x * 2.0
            assert y.requires_grad and y.grad_fn is not None
            with gg.no_grad():
                assert not gg.is_grad_enabled()
                assert not (x * 2.0).requires_grad
            assert gg.is_grad_enabled()
        assert not gg.is_grad_enabled()
        with gg.no_grad():
            assert not gg.is_grad_enabled()
        assert not gg.is_grad_enabled()
    assert gg.is_grad_enabled()
    y.sum().backward()
    np.testing.assert_allclose(_arr(x.grad), [2.0, 2.0])


def test_grad_mode_is_restored_after_an_exception():
    with pytest.raises(KeyError):
        with gg.no_grad():
            raise KeyError("boom")
    assert gg.is_grad_enabled()
    with gg.no_grad():
        with pytest.raises(KeyError):
            with gg.enable_grad():
                raise KeyError("boom")
        assert not gg.is_grad_enabled()
    assert gg.is_grad_enabled()


def test_no_grad_as_decorator():
    x = gg.tensor([1.0, 2.0], requires_grad=True)

    @gg.no_grad()
    def f(t):
        """doc"""
        assert not gg.is_grad_enabled()
        return t * 2.0

    y = f(x)
    assert not y.requires_grad and y.grad_fn is None
    np.testing.assert_allclose(_arr(y), [2.0, 4.0])
    assert gg.is_grad_enabled()
    assert f.__name__ == "f"


def test_no_grad_as_bare_decorator_like_torch():
    # torch >= 2.0 accepts @torch.no_grad without parentheses.
    x = gg.tensor([1.0, 2.0], requires_grad=True)

    @gg.no_grad
    def f(t):
        return t * 2.0

    y = f(x)
    assert not y.requires_grad
    np.testing.assert_allclose(_arr(y), [2.0, 4.0])
    assert gg.is_grad_enabled()


def test_enable_grad_as_decorator_inside_no_grad():
    x = gg.tensor([1.0, 2.0], requires_grad=True)

    @gg.enable_grad()
    def f(t):
        assert gg.is_grad_enabled()
        return t * t

    with gg.no_grad():
        y = f(x)
        assert not gg.is_grad_enabled()
    assert y.requires_grad
    y.sum().backward()
    np.testing.assert_allclose(_arr(x.grad), [2.0, 4.0])


def test_decorated_function_restores_mode_on_exception():
    @gg.no_grad()
    def f():
        raise ValueError("x")

    with pytest.raises(ValueError):
        f()
    assert gg.is_grad_enabled()


def test_tensor_created_under_no_grad_can_require_grad():
    with gg.no_grad():
        w = gg.tensor([1.0, 2.0], requires_grad=True)
    assert w.requires_grad and w.is_leaf
    (w * w).sum().backward()
    np.testing.assert_allclose(_arr(w.grad), [2.0, 4.0])


# --------------------------------------------------------------------------------------
# detach, requires_grad_
# --------------------------------------------------------------------------------------


def test_detach_cuts_the_graph_and_shares_values(x64):
    x = gg.tensor(x64, requires_grad=True)
    y = x * 2.0
    d = y.detach()
    assert not d.requires_grad
    assert d.grad_fn is None
    assert d.is_leaf
    np.testing.assert_array_equal(_arr(d), _arr(y))
    assert np.shares_memory(d.data, y.data)


def test_gradient_does_not_flow_through_detach(x64):
    x = gg.tensor(x64, requires_grad=True)
    (x * x.detach()).sum().backward()
    xt = _t(x64, requires_grad=True)
    (xt * xt.detach()).sum().backward()
    _close(x.grad, xt.grad)
    np.testing.assert_allclose(_arr(x.grad), x64)


def test_requires_grad_underscore_sets_flag_and_returns_self():
    x = gg.tensor([1.0, 2.0])
    assert not x.requires_grad
    r = x.requires_grad_()
    assert r is x
    assert x.requires_grad and x.is_leaf
    (x * x).sum().backward()
    np.testing.assert_allclose(_arr(x.grad), [2.0, 4.0])
    assert x.requires_grad_(False) is x
    assert not x.requires_grad
    assert not (x * x).requires_grad
