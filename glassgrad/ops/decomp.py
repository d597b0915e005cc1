"""gg.linalg: inverse, determinants, solve and the decompositions (cholesky, qr, svd);
the norms are in :mod:`glassgrad.ops.norms`.

Every op works on the last two axes (the last one for vector norms) and is batched over
the leading ones, as in ``np.linalg``. The rules are matrix calculus in differentials:
write ``d out`` in terms of ``dx`` (that is the JVP), then move every factor off ``dx``
with the trace identity ``<G, A dx B> = <A^T G B^T, dx>`` (that is the VJP).

The rules call ``np.linalg.inv``, ``solve`` and ``svd``, and these cards mirror those
functions: on Tensors (``create_graph=True``) the rules record through the same cards, so
second and higher derivatives need no extra rules. Triangular masks and identities in the
rules are constants of the input's array type (``like=``); they are never written into.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..backend import array_of, branch_on, shape_of
from ..primitive import OpError, apply, primitive

__all__: list[str] = [
    "inv", "det", "slogdet", "solve", "cholesky", "qr", "svd", "svdvals", "LinAlgError",
]
"""Part of ``gg.linalg`` (with :mod:`glassgrad.ops.norms`): NumPy's ``np.linalg`` with
gradients, and its LinAlgError. The registry names are ``linalg.<name>``, exported by
:mod:`glassgrad.linalg`."""


class LinAlgError(OpError, np.linalg.LinAlgError):
    """A linear-algebra failure (a singular matrix, one not positive definite) that names
    the op. Catch it as ``np.linalg.LinAlgError`` (as with NumPy) or as ``OpError``."""


SlogdetResult = namedtuple("SlogdetResult", "sign logabsdet")
QRResult = namedtuple("QRResult", "Q R")
SVDResult = namedtuple("SVDResult", "U S Vh")


# --------------------------------------------------------------------------- helpers
def _mT(a):
    """Swap the last two axes: the (batched) matrix transpose."""
    return np.swapaxes(a, -1, -2)


def _col(v):
    """(..., n) -> (..., n, 1): ``_col(s) * X`` scales the rows of X (diag(s) @ X)."""
    return np.expand_dims(v, -1)


def _row(v):
    """(..., n) -> (..., 1, n): ``X * _row(s)`` scales the columns of X (X @ diag(s))."""
    return np.expand_dims(v, -2)


def _per_matrix(v):
    """(...) -> (..., 1, 1): one value per matrix, broadcast over that matrix."""
    return np.expand_dims(np.expand_dims(v, -1), -1)


def _eye(ref, n):
    """The identity (n, n), a constant of ``ref``'s array type and dtype."""
    raw = array_of(ref)
    return np.eye(n, dtype=raw.dtype, like=raw)


def _tri(ref, n, k):
    """Ones on and below diagonal ``k`` (k = -1: strictly lower), like ``ref``."""
    raw = array_of(ref)
    return np.tri(n, k=k, dtype=raw.dtype, like=raw)


def _square(name: str, x) -> tuple:
    """The shape of ``x``, which must be a (stack of) square matrices."""
    s = shape_of(x)
    if len(s) < 2 or s[-1] != s[-2]:
        raise OpError(f"gg.linalg.{name}: expected a square matrix or a stack of them, "
                      f"shape (..., n, n); got shape {s}")
    return s


def _matrix(name: str, x) -> tuple:
    s = shape_of(x)
    if len(s) < 2:
        raise OpError(f"gg.linalg.{name}: expected a matrix or a stack of them, shape "
                      f"(..., m, n); got shape {s}")
    return s


def _explain(name: str, what: str):
    """An ``explain`` hook turning NumPy's LinAlgError into one that names the op."""

    def explain(err, *args):
        if isinstance(err, np.linalg.LinAlgError):
            return LinAlgError(f"gg.linalg.{name}: {what} (input shape {np.shape(args[0])}; "
                               f"NumPy says: {err})")
        return None

    return explain


def _inverse(x, name: str):
    """``x^{-1}`` inside a rule (recorded through ``inv`` on Tensors), or an error naming
    the op whose gradient needed it."""
    try:
        return np.linalg.inv(x)
    except np.linalg.LinAlgError as err:
        raise LinAlgError(f"gg.linalg.{name}: the gradient needs the inverse of a singular "
                          f"matrix (shape {shape_of(x)}), and there is none ({err})") from None


def _solve_rhs(a, rhs, vec: bool):
    """``a^{-1} rhs`` for a stack of vectors (``vec``) or of matrices, always with NumPy
    2's matrix convention inside (a batched vector is not mistaken for a matrix)."""
    if vec:
        return np.linalg.solve(a, _col(rhs))[..., 0]
    return np.linalg.solve(a, rhs)


def _right_solve(b, r, transposed=False):
    """``b @ r^{-1}`` (x r = b: x = (r^{-T} b^T)^T), or ``b @ r^{-T}`` if ``transposed``."""
    return _mT(np.linalg.solve(r if transposed else _mT(r), _mT(b)))


# --------------------------------------------------------------------------- inverse, det
@primitive(save="out", numpy=np.linalg.inv, name="linalg.inv")
class inv:
    """out = x^{-1};  d out = -out dx out.

    Differentiating x out = I gives dx out + x d out = 0, so d out = -x^{-1} dx out.
    VJP: gx = -out^T g out^T   (<g, -out dx out> = <-out^T g out^T, dx>).
    JVP: t_out = -out tx out.
    """

    def call(x):
        """The inverse of a (stack of) square matrices; LinAlgError if one is singular."""
        _square("inv", x)
        return apply(inv, (x,))

    def forward(x):
        return np.linalg.inv(x)

    def vjp_x(g, out, x):
        out_t = _mT(out)
        return -(out_t @ g @ out_t)

    def jvp_x(tx, out, x):
        return -(out @ tx @ out)

    explain = _explain("inv", "the matrix is singular and has no inverse")


_NEAR_SINGULAR = 1e-8
"""det's gradient (the cofactor matrix) is det(x) x^{-T} unless |det x| falls below this
fraction of Hadamard's bound prod_i |row_i| (then x^{-1} is too inaccurate, or absent)."""


def _cofactor(x, d):
    """The cofactor matrix C = adj(x)^T = det(x) x^{-T}, for singular x too.

    An invertible matrix uses the inverse. A (nearly) singular one uses its SVD x = U S Vh:
    adj(x) = adj(Vh) adj(S) adj(U) with adj(S) = diag(prod_{j != i} s_j), so
    C = det(U) det(Vh) U diag(prod_{j != i} s_j) Vh, with no division by s: finite
    (and right) at every rank, nonzero at rank n-1.
    """
    xv, dv = array_of(x), array_of(d)
    n = xv.shape[-1]
    bound = np.prod(np.sqrt(np.sum(xv * xv, axis=-1)), axis=-1)  # |det x| <= bound
    singular = np.abs(dv) <= _NEAR_SINGULAR * bound
    if not branch_on(np.any(singular)):
        return _per_matrix(d) * _mT(np.linalg.inv(x))
    flag = _per_matrix(singular)
    eye = _eye(xv, n)
    regular = _per_matrix(d) * _mT(np.linalg.inv(np.where(flag, eye, x)))
    u, s, vh = np.linalg.svd(x)
    sign = np.linalg.det(array_of(u)) * np.linalg.det(array_of(vh))  # +-1: a constant
    others = np.prod(np.where(eye > 0, 1.0, _row(s)), axis=-1)  # prod_{j != i} s_j
    return np.where(flag, (_per_matrix(sign) * u * _row(others)) @ vh, regular)


@primitive(save="x out", numpy=np.linalg.det, name="linalg.det")
class det:
    """out = det x;  d out = tr(adj(x) dx) = det(x) tr(x^{-1} dx)   (Jacobi's formula).

    The derivative of det in x_ij is its cofactor C_ij (expand det along row i), and
    C = adj(x)^T = det(x) x^{-T} for invertible x. At a singular x (det = 0) the cofactors
    are taken from the SVD instead (see ``_cofactor``): the gradient is finite and exact
    there too (rank n-1: nonzero; lower rank: 0). PyTorch agrees with this under
    ``create_graph=True``; its plain first-order backward returns 0 at an exactly
    singular matrix. A second derivative at a singular matrix goes through ``svd`` and
    needs its singular values distinct.
    VJP: gx = g * C.
    JVP: t_out = sum_ij C_ij tx_ij.
    """

    def call(x):
        """The determinant of a (stack of) square matrices."""
        _square("det", x)
        return apply(det, (x,))

    def forward(x):
        return np.linalg.det(x)

    def vjp_x(g, out, x):
        return _per_matrix(g) * _cofactor(x, out)

    def jvp_x(tx, out, x):
        return np.sum(_cofactor(x, out) * tx, axis=(-2, -1))


@primitive(save="x", outputs=2, numpy=np.linalg.slogdet, name="linalg.slogdet")
class slogdet:
    """(sign, logabsdet) with det x = sign * exp(logabsdet);  d logabsdet = tr(x^{-1} dx).

    Jacobi's formula d det = det tr(x^{-1} dx) divided by det: d log|det x| =
    tr(x^{-1} dx) = <x^{-T}, dx>. The sign is piecewise constant: no gradient (its
    cotangent is ignored, its tangent is 0). At a singular x, logabsdet = -inf has no
    gradient: the backward raises LinAlgError.
    VJP: gx = g_logabsdet * x^{-T}.
    JVP: t_sign = 0, t_logabsdet = sum_ij (x^{-T})_ij tx_ij.
    """

    def call(x):
        """``(sign, logabsdet)`` of a (stack of) square matrices, as ``np.linalg.slogdet``."""
        _square("slogdet", x)
        return SlogdetResult(*apply(slogdet, (x,)))

    def forward(x):
        sign, logabsdet = np.linalg.slogdet(x)
        return sign, logabsdet

    def vjp_x(g, out, x):
        return _per_matrix(g[1]) * _mT(_inverse(x, "slogdet"))

    def jvp_x(tx, out, x):
        return out[0] * 0, np.sum(_mT(_inverse(x, "slogdet")) * tx, axis=(-2, -1))


# --------------------------------------------------------------------------- solve
@primitive(save="a out", params="vec", numpy=np.linalg.solve, name="linalg.solve")
class solve:
    """out = a^{-1} b;  d out = a^{-1} (db - da out).

    Differentiating a out = b gives da out + a d out = db. So the cotangent of b is
    a^{-T} g (one solve with the transpose), and a's is minus that times out^T.
    NumPy 2 semantics: b is a vector (..., M) only when b.ndim == 1, else (..., M, K);
    batch axes broadcast (the engine sums the gradients back).
    VJP: gb = solve(a^T, g),  ga = -gb out^T   (for a vector b: -outer(gb, out)).
    JVP: t_out = solve(a, tb - ta out).
    """

    def call(a, b):
        """The solution x of ``a @ x = b``, as ``np.linalg.solve``."""
        sa, sb = _square("solve", a), shape_of(b)
        vec = len(sb) == 1
        if not sb or sb[-1 if vec else -2] != sa[-1]:
            want = f"({sa[-1]},) or (..., {sa[-1]}, K)"
            raise OpError(f"gg.linalg.solve: a has shape {sa}, so b must have shape {want};"
                          f" got {sb}")
        return apply(solve, (a, b), (vec,))

    def forward(a, b, vec):
        return np.linalg.solve(a, b)

    def vjp_a(g, out, a, b, vec):
        gb = _solve_rhs(_mT(a), g, vec)
        if vec:
            return -(_col(gb) * _row(out))
        return -(gb @ _mT(out))

    def vjp_b(g, out, a, b, vec):
        return _solve_rhs(_mT(a), g, vec)

    def jvp_a(ta, out, a, b, vec):
        if vec:
            return -_solve_rhs(a, (ta @ _col(out))[..., 0], vec)
        return -_solve_rhs(a, ta @ out, vec)

    def jvp_b(tb, out, a, b, vec):
        return _solve_rhs(a, tb, vec)

    explain = _explain("solve", "a is singular: the system has no unique solution")


# --------------------------------------------------------------------------- cholesky
def _phi(m):
    """The lower triangle of m with its diagonal halved (so phi(S) + phi(S)^T = S for a
    symmetric S)."""
    n = shape_of(m)[-1]
    return m * (_tri(m, n, 0) - 0.5 * _eye(m, n))


@primitive(save="out", numpy=np.linalg.cholesky, name="linalg.cholesky")
class cholesky:
    """out = L, lower triangular with x = L L^T;  dL = L phi(L^{-1} dx L^{-T}).

    dx = dL L^T + L dL^T, so L^{-1} dx L^{-T} = L^{-1} dL + (L^{-1} dL)^T, a symmetric
    matrix whose lower half is the lower-triangular L^{-1} dL: L^{-1} dL = phi(...) with
    phi = "lower triangle, diagonal halved". Transposing the JVP (phi is self-adjoint):
    gx = L^{-T} phi(L^T g) L^{-1}. x ranges over symmetric matrices, so both rules see
    only the symmetric part: the VJP is symmetrized (as PyTorch's) and the JVP reads the
    symmetric part of tx (PyTorch's JVP does not; they agree for symmetric tangents).
    The inverse of L is taken with ``inv`` (differentiable on Tensors: higher order).
    VJP: gx = sym(L^{-T} phi(L^T g) L^{-1}),  sym(m) = (m + m^T) / 2.
    JVP: t_out = L phi(L^{-1} sym(tx) L^{-T}).
    """

    def call(x, upper=False):
        """The Cholesky factor of a (stack of) symmetric positive-definite matrices: lower
        L with x = L @ L.T, or ``upper=True`` for U = L.T (x = U.T @ U)."""
        _square("cholesky", x)
        low = apply(cholesky, (x,))
        return np.swapaxes(low, -1, -2) if upper else low

    def forward(x):
        return np.linalg.cholesky(x)

    def vjp_x(g, out, x):
        l_inv = _inverse(out, "cholesky")
        gx = _mT(l_inv) @ _phi(_mT(out) @ g) @ l_inv
        return (gx + _mT(gx)) * 0.5

    def jvp_x(tx, out, x):
        l_inv = _inverse(out, "cholesky")
        return out @ _phi(l_inv @ ((tx + _mT(tx)) * 0.5) @ _mT(l_inv))

    explain = _explain("cholesky", "the matrix is not symmetric positive definite "
                       "(Cholesky needs x = x^T with all eigenvalues > 0, e.g. "
                       "a @ a.T + eps * I)")


# --------------------------------------------------------------------------- qr
def _qr_vjp_tall(q, r, gq, gr):
    """The QR VJP for m >= n (q: m x n, r: n x n); see ``qr``."""
    n = shape_of(r)[-1]
    nn = gr @ _mT(r) - _mT(q) @ gq
    upper = nn * (1.0 - _tri(r, n, -1))  # triu(N)
    strict = nn * (1.0 - _tri(r, n, 0))  # triu(N, 1)
    return _right_solve(gq + q @ (upper + _mT(strict)), r, transposed=True)


def _qr_jvp_tall(q, r, ta):
    """The QR JVP for m >= n: (dQ, dR); see ``qr``."""
    n = shape_of(r)[-1]
    ta_rinv = _right_solve(ta, r)  # dA R^{-1}
    c = _mT(q) @ ta_rinv
    low = c * _tri(r, n, -1)
    c_up = c - (low - _mT(low))  # C - Omega = dR R^{-1}, upper triangular
    return ta_rinv - q @ c_up, c_up @ r


@primitive(save="out", params="mode", outputs=2, numpy=np.linalg.qr, name="linalg.qr")
class qr:
    """(Q, R) = qr(x), x = Q R;  dR = (C - Omega) R,  dQ = dx R^{-1} - Q (C - Omega).

    Q has orthonormal columns (Q^T Q = I) and R is upper triangular.

    For m >= n (reduced: Q m x n, R n x n), C = Q^T dx R^{-1} = Q^T dQ + dR R^{-1}: an
    antisymmetric part Omega = Q^T dQ plus an upper-triangular one, so Omega is read off
    the strict lower triangle of C: Omega = tril(C, -1) - tril(C, -1)^T. Transposing
    (the adjoint of C -> C - Omega is "copy the upper triangle to the lower", copyutl):
    gx = [gQ + Q copyutl(N)] R^{-T},  N = gR R^T - Q^T gQ.
    For m < n, x = [X | Y], R = [U | V]: (Q, U) = qr(X) as above and V = Q^T Y, so
    gQ gains Y gV^T and gY = Q gV. R^{-1} is applied by ``solve`` (higher order too).
    mode='complete' on a tall matrix (m > n) has no gradient: the extra columns of Q
    are any basis of the complement. The signs are LAPACK's (as NumPy and PyTorch).
    VJP: gx = [gQ + Q copyutl(gR R^T - Q^T gQ)] R^{-T}   (m >= n).
    JVP: C = Q^T tx R^{-1},  t_R = (C - Omega) R,  t_Q = tx R^{-1} - Q (C - Omega).
    """

    def call(x, mode="reduced"):
        """``(Q, R)`` with ``x = Q @ R`` as ``np.linalg.qr``; ``mode`` 'reduced',
        'complete' or 'r' (R only)."""
        m, n = _matrix("qr", x)[-2:]
        if mode not in ("reduced", "complete", "r"):
            raise OpError(f"gg.linalg.qr: mode must be 'reduced', 'complete' or 'r', got "
                          f"{mode!r}")
        if mode == "r":
            return apply(qr, (x,), ("reduced",))[1]
        if mode == "complete" and m <= n:  # the same factors as the reduced form
            mode = "reduced"
        return QRResult(*apply(qr, (x,), (mode,)))

    def forward(x, mode):
        q, r = np.linalg.qr(x, mode=mode)
        return q, r

    def vjp_x(g, out, x, mode):
        _qr_differentiable(mode, out)
        (q, r), (gq, gr) = out, g
        m, n = shape_of(q)[-2], shape_of(r)[-1]
        if m >= n:
            return _qr_vjp_tall(q, r, gq, gr)
        u, v, gu, gv = r[..., :, :m], r[..., :, m:], gr[..., :, :m], gr[..., :, m:]
        gx = _qr_vjp_tall(q, u, gq + (q @ v) @ _mT(gv), gu)
        return np.concatenate([gx, q @ gv], axis=-1)

    def jvp_x(tx, out, x, mode):
        _qr_differentiable(mode, out)
        q, r = out
        m, n = shape_of(q)[-2], shape_of(r)[-1]
        if m >= n:
            return _qr_jvp_tall(q, r, tx)
        dq, du = _qr_jvp_tall(q, r[..., :, :m], tx[..., :, :m])
        dv = _mT(dq) @ (q @ r[..., :, m:]) + _mT(q) @ tx[..., :, m:]
        return dq, np.concatenate([du, dv], axis=-1)


def _qr_differentiable(mode, out):
    if mode == "complete":
        raise OpError(f"gg.linalg.qr: mode='complete' of a tall matrix (Q {shape_of(out[0])})"
                      " has no gradient (the extra columns of Q are not unique); use "
                      "mode='reduced'")


# --------------------------------------------------------------------------- svd
def _gap_inverse(s):
    """F_ij = 1 / (s_j^2 - s_i^2) off the diagonal, 0 on it (finite there, no 0/0)."""
    k = shape_of(s)[-1]
    s2 = s * s
    eye = _eye(s, k)
    return (1.0 - eye) / (_row(s2) - _col(s2) + eye)


@primitive(save="out", params="full_matrices", outputs=3, numpy=np.linalg.svd,
           name="linalg.svd")
class svd:
    """(U, S, Vh) = svd(x), x = U diag(S) Vh;  U^T dx V = Omega_U S + dS - S Omega_V.

    With dP = U^T dx V (k x k, k = min(m, n)) and the antisymmetric Omega_U = U^T dU,
    Omega_V = V^T dV, the diagonal gives dS = diag(dP) and the off-diagonal pairs (i, j),
    (j, i) solve to Omega_U = F o (dP S + S dP^T), Omega_V = F o (S dP + dP^T S), with
    F_ij = 1 / (s_j^2 - s_i^2) (F_ii = 0). A tall x (m > k) adds (I - U U^T) dx V S^{-1}
    to dU, a wide one (I - V V^T) dx^T U S^{-1} to dV. Transposing each term:
    VJP: gx = U [diag(gS) + (J + J^T) S + S (K + K^T)] Vh + (I - U U^T) gU S^{-1} Vh
             + U S^{-1} gVh (I - V Vh),  J = F o (U^T gU), K = F o (Vh gVh^T).
    JVP: dS = diag(dP), dU = U Omega_U (+ tall term), dVh = (V Omega_V (+ wide term))^T.
    Only gauge-invariant functions of (U, Vh) have a gradient (u_i, v_i -> -u_i, -v_i
    changes nothing else), and the singular values must be distinct (F) and, for the
    tall / wide terms, nonzero. The full SVD of a non-square x (full_matrices=True, the
    NumPy default) has no gradient: its extra columns are any basis of the complement.
    """

    def call(x, full_matrices=True, compute_uv=True, hermitian=False):
        """``(U, S, Vh)`` with ``x = U @ (S[..., None] * Vh)``, as ``np.linalg.svd``;
        ``compute_uv=False`` returns S only (:func:`svdvals`). Differentiable for
        ``full_matrices=False`` or square inputs."""
        if hermitian:
            raise OpError("gg.linalg.svd: hermitian=True is not supported; use the default")
        if not compute_uv:
            return svdvals(x)
        m, n = _matrix("svd", x)[-2:]
        return SVDResult(*apply(svd, (x,), (bool(full_matrices) and m != n,)))

    def forward(x, full_matrices):
        u, s, vh = np.linalg.svd(x, full_matrices=full_matrices)
        return u, s, vh

    def vjp_x(g, out, x, full_matrices):
        _svd_differentiable(full_matrices, out)
        (u, s, vh), (gu, gs, gvh) = out, g
        m, k, n = shape_of(u)[-2], shape_of(s)[-1], shape_of(vh)[-1]
        f = _gap_inverse(s)
        j = f * (_mT(u) @ gu)
        kk = f * (vh @ _mT(gvh))
        inner = _eye(s, k) * _row(gs) + (j + _mT(j)) * _row(s) + _col(s) * (kk + _mT(kk))
        gx = u @ inner @ vh
        if m > k:
            gx = gx + ((gu - u @ (_mT(u) @ gu)) / _row(s)) @ vh
        if n > k:
            gx = gx + u @ ((gvh - (gvh @ _mT(vh)) @ vh) / _col(s))
        return gx

    def jvp_x(tx, out, x, full_matrices):
        _svd_differentiable(full_matrices, out)
        u, s, vh = out
        m, k, n = shape_of(u)[-2], shape_of(s)[-1], shape_of(vh)[-1]
        v = _mT(vh)
        f = _gap_inverse(s)
        tx_v = tx @ v
        dp = _mT(u) @ tx_v
        ds = np.sum(dp * _eye(s, k), axis=-1)
        du = u @ (f * (dp * _row(s) + _col(s) * _mT(dp)))
        dv = v @ (f * (_col(s) * dp + _mT(dp) * _row(s)))
        if m > k:
            du = du + (tx_v - u @ dp) / _row(s)
        if n > k:
            dv = dv + (_mT(tx) @ u - v @ _mT(dp)) / _row(s)
        return du, ds, _mT(dv)


def _svd_differentiable(full_matrices, out):
    if full_matrices:
        raise OpError(f"gg.linalg.svd: the full SVD of a non-square matrix (U "
                      f"{shape_of(out[0])}, Vh {shape_of(out[2])}) has no gradient (the extra "
                      "singular vectors are not unique); use svd(x, full_matrices=False)")


@primitive(save="x", numpy=np.linalg.svdvals, name="linalg.svdvals")
class svdvals:
    """out = s, the singular values of x (descending);  ds_i = u_i^T dx v_i.

    From x = U diag(s) Vh: U^T dx V = U^T dU S + dS + S dV^T V, whose first and last
    terms vanish on the diagonal (U^T dU, V^T dV are antisymmetric). The product
    u_i v_i^T does not depend on the signs of the singular vectors, so neither does
    the rule (distinct singular values make it the gradient; repeated ones, a
    subgradient). U and Vh are recomputed from x (by ``svd``: higher order too).
    VJP: gx = U diag(g) Vh.
    JVP: t_out_i = u_i^T tx v_i.
    """

    def call(x):
        """The singular values of a (stack of) matrices, descending (no U, Vh)."""
        _matrix("svdvals", x)
        return apply(svdvals, (x,))

    def forward(x):
        return np.linalg.svd(x, compute_uv=False)

    def vjp_x(g, out, x):
        u, _, vh = np.linalg.svd(x, full_matrices=False)
        return (u * _row(g)) @ vh

    def jvp_x(tx, out, x):
        u, _, vh = np.linalg.svd(x, full_matrices=False)
        return np.sum(u * (tx @ _mT(vh)), axis=-2)
