"""Indexing: reading ``x[index]`` and writing ``x[index] = v`` inside the graph.

Reading copies elements out, so the VJP scatters the cotangent back into a zero array of
x's shape. With integer-array indices an element may be read several times
(``x[[0, 0, 1]]``); its cotangent is then the *sum* over the reads, which is why the
scatter uses ``np.add.at`` (an unbuffered add) and not plain assignment.
"""

from __future__ import annotations

import numpy as np

from ..backend import asarray, shape_of
from ..primitive import LINEAR, apply, primitive
from ..tensor import Tensor

__all__ = ["getitem", "index_put", "unwrap_index"]


def unwrap_index(index):
    """Replace Tensors inside an index by their arrays (NumPy then does the indexing)."""
    if isinstance(index, tuple):
        return tuple(_unwrap_one(i) for i in index)
    return _unwrap_one(index)


def _unwrap_one(i):
    data = getattr(i, "_data", None)
    if data is not None:
        return data
    if isinstance(i, list):
        arr = np.asarray(i)
        # ``x[[]]`` selects nothing: an empty list is an (empty) integer index, not float
        return arr.astype(np.intp) if arr.size == 0 else arr
    return i


def _is_advanced(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(getattr(i, "ndim", 0) > 0 and i.dtype != np.bool_ for i in items)


def _scatter_into_zeros(g, index, shape):
    """zeros(shape) with g added at ``index`` (repeats accumulate).

    On Tensors (create_graph) it is the recorded ``scatter_add``, whose forward is this
    same function on arrays. (Filling a fresh array here is the one write in a rule:
    the scatter is the primitive itself, and ``scatter_add`` is how a tracer sees it.)
    """
    if isinstance(g, Tensor):
        return apply(scatter_add, (g,), (index, shape))
    g = asarray(g)
    gx = np.zeros_like(g, shape=shape)
    if _is_advanced(index):
        np.add.at(gx, index, g)
    else:
        gx[index] = g  # basic slices and boolean masks never repeat an element
    return gx


@primitive(params="index shape", jvp=LINEAR)
class getitem:
    """out = x[index];  each out element is one x element, so d out/dx is a selection.

    VJP: gx = zeros like x, with g added at ``index`` (repeated indices accumulate).
    JVP: t_out = tx[index].
    """

    def call(x, index):
        """``x[index]`` with NumPy's basic and advanced indexing; gradients scatter back."""
        index = unwrap_index(index)
        shape = shape_of(x)
        return apply(getitem, (x,), (index, shape))

    def forward(x, index, shape):
        return x[index]

    def vjp_x(g, out, x, index, shape):
        return _scatter_into_zeros(g, index, shape)


@primitive(params="index shape", jvp=LINEAR, public=False)
class scatter_add:
    """out = zeros(shape) with x added at ``index`` (the adjoint of indexing).

    VJP: gx = g[index].     JVP: t_out = scatter_add(tx).
    """

    def forward(x, index, shape):
        return _scatter_into_zeros(x, index, shape)

    def vjp_x(g, out, x, index, shape):
        return g[index]


@primitive(params="index vndim")
class index_put:
    """out = x with out[index] = v;  the overwritten x elements no longer matter.

    v may have more axes than ``x[index]`` if the extra ones lead and have length 1
    (NumPy and PyTorch drop them): ``t[0] = v`` with t (3, 4) and v (1, 1, 4).
    VJP: gx = g with zeros at ``index``;  gv = g[index], given v's leading 1-axes back
    (then summed to v's shape by the engine).
    JVP: t_out = tx with t_out[index] = tv (tv's extra leading 1-axes dropped).
    """

    def call(x, index, value):
        """A new tensor equal to ``x`` except ``out[index] = value`` (used by ``t[i] = v``)."""
        vndim = np.ndim(value._data if hasattr(value, "_data") else value)
        return apply(index_put, (x, value), (unwrap_index(index), vndim))

    def forward(x, v, index, vndim):
        out = x.astype(np.result_type(x, v), copy=True)  # astype keeps x's array type
        out[index] = v
        return out

    def vjp_x(g, out, x, v, index, vndim):
        return g * _kept_mask(g.shape, index)

    def vjp_v(g, out, x, v, index, vndim):
        gv = g[index]
        extra = vndim - gv.ndim
        return gv.reshape((1,) * extra + gv.shape) if extra > 0 else gv

    def jvp_x(tx, out, x, v, index, vndim):
        return tx * _kept_mask(tx.shape, index)

    def jvp_v(tv, out, x, v, index, vndim):
        target = out[index].shape
        extra = tv.ndim - len(target)
        if extra > 0:  # leading axes of length 1 (the forward checked)
            tv = tv.reshape(tv.shape[extra:])
        return _scatter_into_zeros(np.broadcast_to(tv, target), index, out.shape)


def _kept_mask(shape, index):
    keep = np.ones(shape, dtype=np.bool_)  # a constant mask (host: an index, not data)
    keep[index] = False
    return keep


def gather_along(x, indices: np.ndarray, axis: int):
    """``x`` picked along ``axis`` at integer ``indices`` (``np.take_along_axis``), by
    advanced indexing: the gradient scatters back through ``getitem``. ``indices`` has
    x's number of axes; along the others it is broadcast against ``arange``."""
    nd = indices.ndim
    index = tuple(indices if a == axis else
                  np.arange(indices.shape[a]).reshape([-1 if i == a else 1 for i in range(nd)])
                  for a in range(nd))
    return getitem(x, index)
