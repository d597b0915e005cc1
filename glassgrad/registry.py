"""The op registry: the one list of glassgrad's public array operations.

Cards (``@primitive``) and composite functions (``@op``) enter themselves here when their
module is imported; the NumPy dispatch tables (:mod:`glassgrad.numpy_dispatch`), the Tensor
methods (:mod:`glassgrad.tensor_methods`) and a test (``tests/test_registry.py``) are made
from or checked against it, so no op's name is listed by hand anywhere else.
"""

from __future__ import annotations

__all__ = ["OPS", "NUMPY_MIRRORS", "METHODS", "register", "op"]

OPS: dict[str, object] = {}
"""Every public array operation by its name in ``gg`` (dotted for ``gg.linalg.*``)."""
NUMPY_MIRRORS: dict[object, object] = {}
"""NumPy callable (ufunc or function) -> the public op it dispatches to on Tensors."""
METHODS: dict[str, object] = {}
"""Tensor method name -> the public op (called with the Tensor first)."""


def register(name: str, entry, public, numpy, method) -> None:
    """Enter a public op in the registry (see the module docstring).

    ``entry`` is what ``gg.<name>`` is (the Primitive, or a composite function);
    ``public`` the callable the dispatch table and the Tensor method use (the card's
    ``call`` when it has one: one frame fewer than going through the Primitive).
    """
    if name in OPS:
        raise ValueError(f"op {name!r} declared twice")
    OPS[name] = entry
    mirrors = numpy if isinstance(numpy, tuple) else (numpy,) if numpy is not None else ()
    for np_callable in mirrors:
        if np_callable in NUMPY_MIRRORS:
            raise ValueError(f"op {name!r}: {np_callable} already mirrored by another op")
        NUMPY_MIRRORS[np_callable] = public
    if method:
        for m in (name,) if method is True else (method,) if isinstance(method, str) else method:
            if m in METHODS:
                raise ValueError(f"op {name!r}: Tensor method {m!r} declared twice")
            METHODS[m] = public


def op(*, numpy=None, method=False, name=None):
    """Decorator registering a public function composed of primitives (see :data:`OPS`).

    ``numpy``: the NumPy callable(s) it mirrors; ``method``: True (or a name, or names)
    to make it a Tensor method too; ``name``: its name in ``gg`` if not the function's.
    """

    def decorate(fn):
        register(name or fn.__name__, fn, fn, numpy, method)
        return fn

    return decorate
