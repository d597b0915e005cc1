"""The op registry is the one list of array operations: everything else is generated
from it or checked against it. These tests name any op a card declares but that is
missing from ``gg``, from the NumPy dispatch tables or from the Tensor methods."""

from __future__ import annotations

import numpy as np
import pytest
from op_table import OP_NAMES

import glassgrad as gg
from glassgrad import numpy_dispatch
from glassgrad.primitive import METHODS, NUMPY_MIRRORS, OPS, PRIMITIVES, Primitive


def _resolve(name: str):
    obj = gg
    for part in name.split("."):
        obj = getattr(obj, part, None)
    return obj


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_registered_op_is_exported_by_gg(name):
    assert _resolve(name) is OPS[name], (
        f"op {name!r} is declared but gg.{name} is {_resolve(name)!r}: add it to its "
        "family module's __all__ (and, for a new family, to glassgrad/ops/__init__.py)")


@pytest.mark.parametrize("np_callable", list(NUMPY_MIRRORS), ids=lambda f: f.__name__)
def test_every_numpy_mirror_dispatches(np_callable):
    table = (numpy_dispatch._UFUNCS if isinstance(np_callable, np.ufunc)
             else numpy_dispatch._FUNCTIONS)
    assert np_callable in table, f"np.{np_callable.__name__} is declared but not dispatched"


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_declared_method_is_on_tensor(name):
    assert callable(getattr(gg.Tensor, name, None)), f"Tensor.{name} is declared, not attached"


# ops named like a NumPy function that are deliberately not its mirror
_NOT_MIRRORED = {"astype"}  # np.astype only exists from NumPy 2.1; t.astype is the method
# ndarray-named ops whose Tensor method is deliberately not the op: gg.sort returns
# NumPy's values, while Tensor.sort is PyTorch's (values, indices) (ndarray.sort sorts in
# place and returns None, which a Tensor method cannot mirror)
_NOT_METHODS = {"sort"}


@pytest.mark.parametrize("name", sorted(n for n in OPS if "." not in n))
def test_an_op_named_like_numpy_mirrors_it(name):
    """gg.<name> and np.<name>(tensor) must agree: a card named after a NumPy function
    declares ``numpy=`` for it, and one named after an ndarray method is a method."""
    fn = getattr(np, name, None)
    if fn is not None and callable(fn) and name not in _NOT_MIRRORED:
        assert fn in NUMPY_MIRRORS, f"gg.{name} does not declare numpy=np.{name}"
    if hasattr(np.ndarray, name) and name not in _NOT_METHODS:
        assert name in METHODS, f"gg.{name} is an ndarray method but not a Tensor method"


def test_np_call_on_a_tensor_records_the_op():
    x = gg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    for np_callable in NUMPY_MIRRORS:
        assert np_callable in numpy_dispatch._UFUNCS or np_callable in numpy_dispatch._FUNCTIONS
    out = np.sum(np.exp(x) * 2, axis=0)
    assert isinstance(out, gg.Tensor) and out.requires_grad
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(x.numpy()))


def test_table_names_are_registered_ops():
    assert not [n for n in OP_NAMES if n not in OPS], "op-table names not in the registry"


def test_every_primitive_names_where_its_rules_are():
    for prim in PRIMITIVES.values():
        assert isinstance(prim, Primitive)
        if prim.vjp is not None and any(r is not None for r in (
                prim.vjp if isinstance(prim.vjp, tuple) else (prim.vjp,))):
            assert ".py:" in repr(prim), repr(prim)


def test_a_new_card_needs_nothing_else():
    """Declaring a card makes it a gg-style op, a Tensor method and an np.* mirror at
    once (checked on a throwaway registry entry, removed again)."""
    from glassgrad.primitive import SAME, primitive

    ufunc = np.frompyfunc(lambda v: v, 1, 1)  # a ufunc no real op mirrors
    try:
        @primitive(save="x", jvp=SAME, numpy=ufunc, method="_triple_for_test")
        class _triple_for_test:
            """out = 3x;  d out/dx = 3.      VJP: gx = 3 g.      JVP: t_out = 3 tx."""

            def forward(x):
                return 3 * x

            def vjp_x(g, out, x):
                return 3 * g

        numpy_dispatch.build()
        from glassgrad import tensor_methods

        gg.Tensor._triple_for_test = tensor_methods._method("_triple_for_test", _triple_for_test)
        x = gg.tensor([1.0, 2.0], requires_grad=True)
        x._triple_for_test().sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])
        assert ufunc(x).requires_grad  # the ufunc dispatches to the card
        _, t = gg.func.jvp(_triple_for_test, (gg.tensor([1.0]),), (gg.tensor([2.0]),))
        np.testing.assert_allclose(t.numpy(), [6.0])
    finally:
        for table in (OPS, PRIMITIVES, METHODS):
            table.pop("_triple_for_test", None)
        NUMPY_MIRRORS.pop(ufunc, None)
        if hasattr(gg.Tensor, "_triple_for_test"):
            del gg.Tensor._triple_for_test
        numpy_dispatch.build()


def test_zeros_like_and_ones_like_on_tensors_are_constants_with_numpy_arguments():
    t = gg.tensor([[1.0, np.inf, 3.0]], requires_grad=True)
    z = np.zeros_like(t, shape=(2,), dtype=np.float32)
    o = np.ones_like(t)
    assert isinstance(z, gg.Tensor) and z.shape == (2,) and z.dtype == np.float32
    np.testing.assert_array_equal(z.numpy(), [0.0, 0.0])  # no inf * 0 = NaN
    np.testing.assert_array_equal(o.numpy(), np.ones((1, 3)))
    assert not z.requires_grad
