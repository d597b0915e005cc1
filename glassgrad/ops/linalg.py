"""Linear algebra: matmul and einsum.

For a matrix product out = x @ y, out_ij = sum_k x_ik y_kj, so
d out_ij / d x_ik = y_kj and d out_ij / d y_kj = x_ik. Collecting terms:
gx = g @ y.T  and  gy = x.T @ g — each input's gradient is the product of the
cotangent with the *other* input, transposed so the shapes line up.
"""

from __future__ import annotations

import numpy as np

from ..backend import shape_of
from ..primitive import OpError, apply, primitive

__all__ = ["matmul", "einsum"]


def _mT(a):
    """Swap the last two axes (``.T`` is the cheap spelling for matrices)."""
    return a.T if a.ndim == 2 else np.swapaxes(a, -1, -2)


@primitive(save="x y", numpy=np.matmul, method=True)
class matmul:
    """out = x @ y (NumPy rules: batched over leading axes; 1-D operands promoted).

    d out_ij / d x_ik = y_kj and d out_ij / d y_kj = x_ik, so for 2-D operands
    VJP: gx = g @ y.T, gy = x.T @ g. A 1-D x acts as a row (1, n) and a
    1-D y as a column (n, 1): the rule promotes them, applies the 2-D formula, and drops
    the added axis again; broadcast batch axes are summed by the engine.
    JVP: t_out = tx @ y + x @ ty.
    """

    def forward(x, y):
        return np.matmul(x, y)

    def vjp_x(g, out, x, y):
        if x.ndim == 1 and y.ndim == 1:
            return g * y
        if x.ndim == 1:  # (n,) @ (..., n, m) -> (..., m)
            return (np.expand_dims(g, -2) @ _mT(y))[..., 0, :]
        if y.ndim == 1:  # (..., n, k) @ (k,) -> (..., n)
            return np.expand_dims(g, -1) * y
        return g @ _mT(y)

    def vjp_y(g, out, x, y):
        if x.ndim == 1 and y.ndim == 1:
            return g * x
        if y.ndim == 1:  # (..., n, k) @ (k,) -> (..., n)
            return (_mT(x) @ np.expand_dims(g, -1))[..., 0]
        if x.ndim == 1:  # (n,) @ (..., n, m) -> (..., m)
            return np.expand_dims(x, -1) * np.expand_dims(g, -2)
        return _mT(x) @ g

    def jvp_x(tx, out, x, y):
        return tx @ y

    def jvp_y(ty, out, x, y):
        return x @ ty

    def explain(err, x, y):
        xs, ys = np.shape(x), np.shape(y)
        if len(xs) == 0 or len(ys) == 0:
            return OpError(f"matmul: operands must be at least 1-D, got shapes {xs} and {ys}")
        inner_x = xs[-1]
        inner_y = ys[-2] if len(ys) > 1 else ys[0]
        if inner_x != inner_y:
            return OpError(
                f"matmul: shapes {xs} and {ys} are not aligned ({inner_x} != {inner_y}): "
                "the last axis of the first must equal the "
                f"{'second-to-last' if len(ys) > 1 else 'only'} axis of the second"
            )
        return OpError(f"matmul: batch shapes of {xs} and {ys} cannot be broadcast together")


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _parse(subscripts: str, ndims: list):
    """Explicit per-operand subscripts and output, with any '...' spelled out in letters.

    '...ij,...jk->...ik' on a 4-d and a 3-d operand becomes 'abij,bjk->abik': the
    ellipsis dimensions get fresh letters, aligned from the right as broadcasting does.
    """
    spec = subscripts.replace(" ", "")
    ins, arrow, out = spec.partition("->")
    parts = ins.split(",")
    if len(parts) != len(ndims):
        raise OpError(
            f"einsum: subscripts {subscripts!r} name {len(parts)} operands, got {len(ndims)}"
        )
    if any(c.isupper() for c in spec):
        raise NotImplementedError("einsum: use lower-case subscripts")
    used = set(spec)
    fresh = [c for c in _LETTERS if c not in used]
    width = max([nd - len(p.replace("...", "")) for p, nd in zip(parts, ndims) if "..." in p],
                default=0)
    if width > len(fresh):
        raise OpError("einsum: too many dimensions under '...'")
    ell = "".join(fresh[:width])
    parts = [
        p.replace("...", ell[width - (nd - len(p.replace("...", ""))):]) if "..." in p else p
        for p, nd in zip(parts, ndims)
    ]
    if arrow:
        out = out.replace("...", ell)
    else:  # implicit output: the ellipsis, then letters used once, in alphabetical order
        letters = "".join(parts)
        out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1
                                   and c not in ell))
    return parts, out


@primitive(variadic=True, save="xs", params="parts out_sub", numpy=np.einsum)
class einsum:
    """out = einsum(spec, x_1, ..., x_n): a sum of products over the repeated letters.

    The result is linear in each operand, so d out/d x_k contracts the cotangent with
    all the other operands, producing x_k's letters.
    VJP: gx_k = einsum("out,others->k", g, others).
    Letters that only x_k has (summed over in the forward) get the gradient broadcast
    along them; a letter repeated inside one operand ('ii', 'iii': a diagonal) is spread
    back onto that diagonal with one identity matrix per extra repeat.
    JVP: t_out = sum_k einsum(spec, x_1, .., t_k, .., x_n).
    """

    def call(subscripts: str, *operands):
        """Einstein summation over the operands, as ``np.einsum`` (``...`` included)."""
        ndims = [len(shape_of(x)) for x in operands]
        parts, out_sub = _parse(subscripts, ndims)
        for p, nd in zip(parts, ndims):
            if len(p) != nd:
                raise OpError(f"einsum: operand with subscripts {p!r} has {nd} dimensions")
        return apply(einsum, operands, (tuple(parts), out_sub))

    def forward(xs, parts, out_sub):
        return np.einsum(",".join(parts) + "->" + out_sub, *xs)

    def vjp(g, out, xs, parts, out_sub):
        return tuple(_einsum_grad(g, xs, parts, out_sub, k) for k in range(len(xs)))

    def jvp(txs, out, xs, parts, out_sub):
        spec = ",".join(parts) + "->" + out_sub
        total = None
        for k, tk in enumerate(txs):
            if tk is None:
                continue
            term = np.einsum(spec, *(tk if i == k else x for i, x in enumerate(xs)))
            total = term if total is None else total + term
        return total


def _einsum_grad(g, xs, parts, out_sub, k):
    target = parts[k]
    others = [(p, x) for i, (p, x) in enumerate(zip(parts, xs)) if i != k]
    available = set(out_sub).union(*[set(p) for p, _ in others])
    unique = "".join(dict.fromkeys(target))  # letters of x_k, first occurrences
    present = "".join(c for c in unique if c in available)
    spec = ",".join([out_sub] + [p for p, _ in others]) + "->" + present
    r = np.einsum(spec, g, *[x for _, x in others])
    # letters only x_k had were summed in the forward: broadcast the gradient along them
    sizes = dict(zip(target, xs[k].shape))
    full = tuple(sizes[c] for c in unique)
    r = np.broadcast_to(
        r.reshape(tuple(sizes[c] if c in present else 1 for c in unique)), full
    )
    if len(unique) == len(target):
        return r.transpose(tuple(unique.index(c) for c in target)) if unique != target else r
    # A letter repeated inside x_k (a diagonal, 'ii', 'iii', ...): the forward read only
    # the elements whose indices agree, so the gradient goes back onto that diagonal and
    # is 0 elsewhere. Every repeat after the first gets a fresh letter t and an identity
    # matrix eye[c, t]; their product is 1 exactly where all the copies of c agree, for
    # any number of repeats ('iii' -> 'iab' with eye[i, a] and eye[i, b]).
    used = set("".join(parts) + out_sub)
    fresh = iter(c for c in _LETTERS if c not in used)
    marked, eyes, specs, seen = [], [], [], set()
    for c in target:
        if c not in seen:
            seen.add(c)
            marked.append(c)
            continue
        t = next(fresh, None)
        if t is None:
            raise OpError(f"einsum: too many repeated subscripts in {target!r} to "
                          "differentiate (no free letters left)")
        marked.append(t)
        specs.append(c + t)
        eyes.append(np.eye(sizes[c], dtype=xs[k].dtype))
    spec_back = ",".join([unique] + specs) + "->" + "".join(marked)
    return np.einsum(spec_back, r, *eyes)
