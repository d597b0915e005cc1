"""Op-table rows: gg.linalg: norms, inverse, determinants, solve, decompositions.

Part of the one op table (``op_table.ROWS``): every row runs through the same checks
(forward, VJP, JVP vs PyTorch; gradcheck; gradgradcheck).

Inputs are built so that each op is differentiable at them, with margin for central
differences: well-conditioned matrices (inv, det, solve), symmetric positive-definite
ones re-symmetrized inside the callable (cholesky: a perturbed entry keeps the input
symmetric), distinct and well-separated singular values (svd), distinct magnitudes for
the inf-norms (no ties). qr and svd rows return one Tensor that combines the outputs,
each with its own weights; for svd only gauge-invariant products of U and Vh (each
singular vector pair is unique up to a joint sign), for qr Q and R themselves (NumPy and
PyTorch both take LAPACK's signs).
"""

from __future__ import annotations

import numpy as np
import torch
from op_table import NONZERO, REAL, Domain, T, names, row

import glassgrad as gg

names("linalg.norm", "linalg.vector_norm", "linalg.inv", "linalg.det", "linalg.slogdet",
      "linalg.solve", "linalg.cholesky", "linalg.qr", "linalg.svd", "linalg.svdvals")

L = gg.linalg
TL = torch.linalg
INF = np.inf


# ---- input builders --------------------------------------------------------------------
def _wellcond(*shapes, negate_first=True):
    """Square matrices near 2 I plus noise (well conditioned); with ``negate_first`` the
    first row of every other matrix is negated, so determinants of both signs appear."""

    def make(rng):
        out = []
        for s in shapes:
            n = s[-1]
            a = rng.uniform(-0.6, 0.6, size=s) + 2.0 * np.eye(n)
            if negate_first:  # matrices 0, 2, 4, ... of the stack get a negative det
                flip = np.ones(s[:-2] + (1, 1))
                flip.reshape(-1)[::2] = -1.0
                a[..., :1, :] *= flip
            out.append(a)
        return out

    return make


def _with_rhs(sa, sb):
    def make(rng):
        return [*_wellcond(sa)(rng), rng.uniform(-2.0, 2.0, size=sb)]

    return make


def _spd(*shape):
    """A A^T + n I: symmetric positive definite, comfortably."""

    def make(rng):
        a = rng.uniform(-1.0, 1.0, size=shape)
        return [a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])]

    return make


def _orthonormal(rng, batch, n, k):
    q, _ = np.linalg.qr(rng.standard_normal(batch + (n, k)))
    return q


def _separated(*shape):
    """U diag(s) Vh with distinct singular values, gaps >= 0.4, smallest >= 0.5."""

    def make(rng):
        batch, (m, n) = shape[:-2], shape[-2:]
        k = min(m, n)
        s = np.linspace(0.5 + 0.6 * (k - 1), 0.5, k) + rng.uniform(-0.1, 0.1, size=batch + (k,))
        u, v = _orthonormal(rng, batch, m, k), _orthonormal(rng, batch, n, k)
        return [(u * s[..., None, :]) @ np.swapaxes(v, -1, -2)]

    return make


def _rank_deficient(rng):
    """A 3 x 3 matrix of rank 2 (B C with B 3 x 2): det is 0 up to rounding."""
    return [rng.uniform(-1.0, 1.0, size=(3, 2)) @ rng.uniform(-1.0, 1.0, size=(2, 3))]


def _distinct_magnitudes(*shape):
    """Entries of distinct |x| (>= 0.1 apart, none near 0) with random signs: no ties
    for max / min of |x|."""

    def make(rng):
        n = int(np.prod(shape))
        mags = 0.3 + 0.15 * rng.permutation(n) + rng.uniform(-0.02, 0.02, size=n)
        return [(mags * rng.choice([-1.0, 1.0], size=n)).reshape(shape)]

    return make


def _zeros_in_slices(rng):
    """(3, 4) with row 1 all zeros (its 2-norm is 0) and a zero entry in row 0."""
    x = rng.uniform(-2.0, 2.0, size=(3, 4))
    x[1] = 0.0
    x[0, 2] = 0.0
    return [x]


def _cat(lib, parts):
    """Flatten and concatenate: one Tensor from several outputs."""
    if lib is torch:
        return torch.cat([p.reshape(-1) for p in parts])
    return gg.concatenate([p.reshape(-1) for p in parts])


def _weights(*shape, seed=0):
    return np.random.default_rng(seed).uniform(0.5, 1.5, size=shape)


# ---- vector_norm (torch.linalg.vector_norm semantics) -----------------------------------
for _variant, _ord, _axis, _keep, _shape, _dom in [
    ("ord=2,axis=None", 2, None, False, (3, 4), REAL),
    ("ord=2,axis=None,keepdims", 2, None, True, (2, 3), REAL),
    ("ord=2,axis=1", 2, 1, False, (3, 4), REAL),
    ("ord=2,axis=(0,2),keepdims", 2, (0, 2), True, (2, 3, 4), REAL),
    ("ord=2,1d", 2, None, False, (5,), REAL),
    ("ord=2,scalar-shaped", 2, None, False, (), NONZERO),
    ("ord=1,axis=-1", 1, -1, False, (3, 4), NONZERO),
    ("ord=3,axis=0", 3, 0, False, (3, 4), NONZERO),
    ("ord=0.5,axis=1", 0.5, 1, False, (3, 4), NONZERO),
    ("ord=-1,axis=1", -1, 1, False, (3, 4), NONZERO),
    ("ord=1.5,axis=None", 1.5, None, False, (2, 3), NONZERO),
    ("ord=0,axis=1", 0, 1, False, (3, 4), NONZERO),
]:
    row("linalg.vector_norm", _variant,
        lambda x, o=_ord, a=_axis, k=_keep: L.vector_norm(x, o, a, k),
        lambda x, o=_ord, a=_axis, k=_keep: TL.vector_norm(x, o, a, k), [_shape], _dom)
for _variant, _ord, _axis in [("ord=inf,axis=1", INF, 1), ("ord=-inf,axis=0", -INF, 0),
                              ("ord=inf,axis=None", INF, None)]:
    row("linalg.vector_norm", _variant, lambda x, o=_ord, a=_axis: L.vector_norm(x, o, a),
        lambda x, o=_ord, a=_axis: TL.vector_norm(x, o, a), make=_distinct_magnitudes(3, 4))
row("linalg.vector_norm", "keywords", lambda x: L.vector_norm(x, ord=1, axis=0, keepdims=True),
    lambda x: TL.vector_norm(x, ord=1, dim=0, keepdim=True), [(3, 4)], NONZERO)
row("linalg.vector_norm", "np.linalg.vector_norm(tensor)",
    lambda x: np.linalg.vector_norm(x, axis=-1), lambda x: TL.vector_norm(x, dim=-1), [(2, 3)])
# At x = 0 the 2-norm has no derivative: the gradient is the subgradient 0, as PyTorch's
# (finite, never NaN). Not differentiable there, so no central differences.
for _variant, _ord in [("ord=2,zero-rows", 2), ("ord=1,zero-rows", 1), ("ord=3,zero-rows", 3),
                       ("ord=inf,zero-rows", INF)]:
    row("linalg.vector_norm", _variant, lambda x, o=_ord: L.vector_norm(x, o, 1),
        lambda x, o=_ord: TL.vector_norm(x, o, 1), make=_zeros_in_slices,
        gradcheck=False, second_order=False)
row("linalg.vector_norm", "ord=2,all-zero", lambda x: L.vector_norm(x),
    lambda x: TL.vector_norm(x), make=lambda rng: [np.zeros((2, 3))],
    gradcheck=False, second_order=False)

# ---- norm (np.linalg.norm semantics; torch.linalg.norm has the same) ---------------------
for _variant, _ord, _axis, _keep, _shape, _dom in [
    ("default-flat-2d", None, None, False, (3, 4), REAL),
    ("default-flat-3d", None, None, False, (2, 3, 4), REAL),
    ("default-flat-keepdims", None, None, True, (2, 3, 4), REAL),
    ("1d-ord=1", 1, None, False, (5,), NONZERO),
    ("1d-ord=3", 3, None, False, (5,), NONZERO),
    ("axis=1", None, 1, False, (3, 4), REAL),
    ("axis=-1,ord=1,keepdims", 1, -1, True, (2, 3, 4), NONZERO),
    ("axis=0,ord=0", 0, 0, False, (3, 4), NONZERO),
    ("axis=(1,),ord=-2", -2, (1,), False, (3, 4), NONZERO),
    ("fro-2d", "fro", None, False, (3, 4), REAL),
    ("fro-axis=(0,2),keepdims", "fro", (0, 2), True, (2, 3, 4), REAL),
    ("matrix-default-axis=(-2,-1)", None, (-2, -1), False, (2, 3, 4), REAL),
]:
    row("linalg.norm", _variant, lambda x, o=_ord, a=_axis, k=_keep: L.norm(x, o, a, k),
        lambda x, o=_ord, a=_axis, k=_keep: TL.norm(x, o, a, k), [_shape], _dom)
for _variant, _ord, _axis, _keep in [
    ("ord=inf-1d", INF, None, False),
    ("ord=-inf,axis=0", -INF, 0, False),
]:
    row("linalg.norm", _variant, lambda x, o=_ord, a=_axis, k=_keep: L.norm(x, o, a, k),
        lambda x, o=_ord, a=_axis, k=_keep: TL.norm(x, o, a, k),
        make=_distinct_magnitudes(12) if _axis is None else _distinct_magnitudes(3, 4))
# Matrix norms built from column / row sums of |x| take their max / min: distinct
# magnitudes keep the sums apart (no ties).
for _variant, _ord, _axis, _keep, _shape in [
    ("matrix-ord=1", 1, None, False, (3, 4)),
    ("matrix-ord=-1", -1, None, False, (3, 4)),
    ("matrix-ord=inf", INF, None, False, (3, 4)),
    ("matrix-ord=-inf,axis=(1,0)", -INF, (1, 0), False, (3, 4)),
    ("matrix-ord=1,axis=(0,2),keepdims", 1, (0, 2), True, (2, 3, 4)),
]:
    row("linalg.norm", _variant, lambda x, o=_ord, a=_axis, k=_keep: L.norm(x, o, a, k),
        lambda x, o=_ord, a=_axis, k=_keep: TL.norm(x, o, a, k),
        make=_distinct_magnitudes(*_shape))
# Spectral and nuclear norms go through svdvals: distinct singular values.
for _variant, _ord, _axis, _keep, _shape in [
    ("matrix-ord=2", 2, None, False, (4, 3)),
    ("matrix-ord=-2", -2, None, False, (3, 4)),
    ("nuc", "nuc", None, False, (4, 3)),
    ("nuc-batched-axis=(-1,-2),keepdims", "nuc", (-1, -2), True, (2, 3, 4)),
    ("ord=2-batched-axis=(0,2)", 2, (0, 2), False, (3, 2, 4)),
]:
    row("linalg.norm", _variant, lambda x, o=_ord, a=_axis, k=_keep: L.norm(x, o, a, k),
        lambda x, o=_ord, a=_axis, k=_keep: TL.norm(x, o, a, k),
        make=_separated(*_shape) if _axis is None or _axis == (-1, -2) else
        (lambda rng, s=_shape: [np.moveaxis(_separated(s[1], s[0], s[2])(rng)[0], 0, 1)]))
row("linalg.norm", "np.linalg.norm(tensor,axis=1)", lambda x: np.linalg.norm(x, axis=1),
    lambda x: TL.norm(x, dim=1), [(3, 4)])
row("linalg.norm", "np.linalg.norm(tensor,'fro')", lambda x: np.linalg.norm(x, "fro"),
    lambda x: TL.norm(x, "fro"), [(3, 4)])
row("linalg.norm", "at-zero-rows", lambda x: L.norm(x, axis=1),
    lambda x: TL.norm(x, dim=1), make=_zeros_in_slices, gradcheck=False, second_order=False)
row("linalg.norm", "at-zero", lambda x: L.norm(x), lambda x: TL.norm(x),
    make=lambda rng: [np.zeros((3, 2))], gradcheck=False, second_order=False)

# ---- inv, det, slogdet -----------------------------------------------------------------
for _variant, _shape in [("(3,3)", (3, 3)), ("(1,1)", (1, 1)), ("batched-(2,3,3)", (2, 3, 3)),
                         ("batched-(2,2,4,4)", (2, 2, 4, 4))]:
    row("linalg.inv", _variant, L.inv, TL.inv, make=_wellcond(_shape))
    row("linalg.det", _variant, L.det, TL.det, make=_wellcond(_shape))
    row("linalg.slogdet", "logabsdet-" + _variant, lambda x: L.slogdet(x)[1],
        lambda x: TL.slogdet(x)[1], make=_wellcond(_shape))
row("linalg.inv", "np.linalg.inv(tensor)", lambda x: np.linalg.inv(x), TL.inv,
    make=_wellcond((3, 3)))
row("linalg.inv", "used-twice", lambda x: L.inv(x) @ x @ L.inv(x),
    lambda x: TL.inv(x) @ x @ TL.inv(x), make=_wellcond((3, 3)))
row("linalg.det", "np.linalg.det(tensor)", lambda x: np.linalg.det(x), TL.det,
    make=_wellcond((2, 3, 3)))
row("linalg.det", "positive-det", L.det, TL.det, make=_wellcond((3, 3), negate_first=False))
# Rank 2 in 3 x 3: the cofactors come from the SVD (det x^{-T} is numerically useless
# there); det is a polynomial, so central differences are exact at singular points too.
row("linalg.det", "rank-deficient", L.det, TL.det, make=_rank_deficient)
row("linalg.slogdet", "sign*exp(logabsdet)-batched",
    lambda x: L.slogdet(x)[0] * gg.exp(L.slogdet(x)[1]),
    lambda x: TL.slogdet(x)[0] * torch.exp(TL.slogdet(x)[1]), make=_wellcond((2, 3, 3)))
row("linalg.slogdet", "field-logabsdet", lambda x: L.slogdet(x).logabsdet,
    lambda x: TL.slogdet(x).logabsdet, make=_wellcond((3, 3)))
row("linalg.slogdet", "np.linalg.slogdet(tensor)", lambda x: np.linalg.slogdet(x)[1],
    lambda x: TL.slogdet(x)[1], make=_wellcond((2, 2, 2)))

# ---- solve (NumPy 2: b is a vector only when b.ndim == 1) -------------------------------
for _variant, _sa, _sb in [
    ("matrix-rhs", (3, 3), (3, 2)),
    ("vector-rhs", (3, 3), (3,)),
    ("batched", (2, 3, 3), (2, 3, 2)),
    ("batched-a,vector-b", (2, 3, 3), (3,)),
    ("a-broadcast-over-b", (3, 3), (2, 3, 4)),
    ("both-broadcast", (2, 1, 3, 3), (4, 3, 2)),
    ("(1,1)", (1, 1), (1,)),
]:
    row("linalg.solve", _variant, L.solve, TL.solve, make=_with_rhs(_sa, _sb))
row("linalg.solve", "b-no-grad", L.solve, TL.solve, make=_with_rhs((2, 3, 3), (3, 2)),
    diff=(True, False))
row("linalg.solve", "a-no-grad", L.solve, TL.solve, make=_with_rhs((3, 3), (3,)),
    diff=(False, True))
row("linalg.solve", "np.linalg.solve(tensor)", lambda a, b: np.linalg.solve(a, b), TL.solve,
    make=_with_rhs((2, 3, 3), (3, 1)))
_A33 = _wellcond((3, 3))(np.random.default_rng(3))[0]
row("linalg.solve", "ndarray-a", lambda b: L.solve(_A33, b), lambda b: TL.solve(T(_A33), b),
    [(3, 2)])


# ---- cholesky: symmetrized inside the callable, so central differences stay SPD ---------
def _sym(x):
    return (x + x.mT) * 0.5


for _variant, _shape in [("(3,3)", (3, 3)), ("(1,1)", (1, 1)), ("batched-(2,4,4)", (2, 4, 4))]:
    row("linalg.cholesky", _variant, lambda x: L.cholesky(_sym(x)),
        lambda x: TL.cholesky(_sym(x)), make=_spd(*_shape))
row("linalg.cholesky", "upper=True", lambda x: L.cholesky(_sym(x), upper=True),
    lambda x: TL.cholesky(_sym(x), upper=True), make=_spd(2, 3, 3))
row("linalg.cholesky", "np.linalg.cholesky(tensor)", lambda x: np.linalg.cholesky(_sym(x)),
    lambda x: TL.cholesky(_sym(x)), make=_spd(3, 3))
row("linalg.cholesky", "L@L.T-roundtrip", lambda x: L.cholesky(_sym(x)) @ L.cholesky(_sym(x)).mT,
    lambda x: TL.cholesky(_sym(x)) @ TL.cholesky(_sym(x)).mT, make=_spd(3, 3))


# ---- qr: Q and R with their own weights, in one Tensor ----------------------------------
def _qr_rows(variant, shape, mode="reduced"):
    m, n = shape[-2:]
    k = min(m, n)
    wq, wr = _weights(*shape[:-2], m, k, seed=1), _weights(*shape[:-2], k, n, seed=2)

    def f(lib, qr):
        def call(x):
            q, r = qr(x)
            return _cat(lib, [q * (wq if lib is gg else T(wq)), r * (wr if lib is gg else T(wr))])

        return call

    row("linalg.qr", variant, f(gg, lambda x: L.qr(x, mode)),
        f(torch, lambda x: TL.qr(x, mode)), [shape])


_qr_rows("tall-(5,3)", (5, 3))
_qr_rows("square-(3,3)", (3, 3))
_qr_rows("wide-(3,5)", (3, 5))
_qr_rows("batched-(2,4,3)", (2, 4, 3))
_qr_rows("batched-wide-(2,2,4)", (2, 2, 4))
_qr_rows("complete-wide-(3,4)", (3, 4), mode="complete")
row("linalg.qr", "mode=r", lambda x: L.qr(x, "r") * 1.5, lambda x: TL.qr(x).R * 1.5, [(4, 3)])
row("linalg.qr", "np.linalg.qr(tensor)-R", lambda x: np.linalg.qr(x)[1],
    lambda x: TL.qr(x)[1], [(2, 4, 3)])
row("linalg.qr", "Q-only", lambda x: L.qr(x).Q, lambda x: TL.qr(x).Q, [(4, 3)])
row("linalg.qr", "Q@R", lambda x: L.qr(x)[0] @ L.qr(x)[1], lambda x: TL.qr(x)[0] @ TL.qr(x)[1],
    [(4, 3)])


# ---- svd: gauge-invariant products of U and Vh, and S ------------------------------------
def _svd_rows(variant, shape, full=False, method=None):
    m, n = shape[-2:]
    k = min(m, n)
    batch = shape[:-2]
    w1, w2, w3, w4 = (_weights(*batch, k, seed=s) for s in (3, 4, 5, 6))

    def f(lib, svd):
        c = (lambda a: a) if lib is gg else T

        def call(x):
            u, s, vh = svd(x)
            u, vh = u[..., :, :k], vh[..., :k, :]  # the full form's extra vectors dropped
            diag_u = lambda w: (u * c(w)[..., None, :]) @ u.mT  # noqa: E731
            return _cat(lib, [(u * c(w1)[..., None, :]) @ vh, diag_u(w2),
                              (vh.mT * c(w3)[..., None, :]) @ vh, s * c(w4)])

        return call

    gg_svd = method or (lambda x: L.svd(x, full_matrices=full))
    row("linalg.svd", variant, f(gg, gg_svd),
        f(torch, lambda x: TL.svd(x, full_matrices=full)), make=_separated(*shape))


_svd_rows("tall-(5,3)", (5, 3))
_svd_rows("wide-(3,5)", (3, 5))
_svd_rows("square-(4,4)-full_matrices-default", (4, 4), full=True,
          method=lambda x: L.svd(x))
_svd_rows("batched-(2,4,3)", (2, 4, 3))
_svd_rows("batched-wide-(2,2,3)", (2, 2, 3))
_svd_rows("np.linalg.svd(tensor)", (4, 3),
          method=lambda x: np.linalg.svd(x, full_matrices=False))
row("linalg.svd", "compute_uv=False", lambda x: L.svd(x, compute_uv=False),
    lambda x: TL.svdvals(x), make=_separated(4, 3))
row("linalg.svd", "U@diag(S)@Vh", lambda x: (lambda u, s, vh: (u * s[..., None, :]) @ vh)(
    *L.svd(x, full_matrices=False)),
    lambda x: (lambda u, s, vh: (u * s[..., None, :]) @ vh)(*TL.svd(x, full_matrices=False)),
    make=_separated(2, 3, 4))
row("linalg.svd", "S-only", lambda x: L.svd(x, full_matrices=False)[1],
    lambda x: TL.svd(x, full_matrices=False)[1], make=_separated(5, 3))

row("linalg.svdvals", "(4,3)", L.svdvals, TL.svdvals, make=_separated(4, 3))
row("linalg.svdvals", "batched-(2,3,5)", L.svdvals, TL.svdvals, make=_separated(2, 3, 5))
row("linalg.svdvals", "np.linalg.svdvals(tensor)", lambda x: np.linalg.svdvals(x) * 2.0,
    lambda x: TL.svdvals(x) * 2.0, make=_separated(3, 3))
row("linalg.svdvals", "random-(3,4)", L.svdvals, TL.svdvals, [(3, 4)], Domain(-1.0, 1.0))
