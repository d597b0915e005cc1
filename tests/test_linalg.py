"""gg.linalg beyond the op table (tests/rows_linalg.py): NumPy dispatch, errors, the norm
gradient at 0, det at exactly singular matrices, and the forms that have no gradient."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import glassgrad as gg

L = gg.linalg
A3 = np.array([[2.0, 0.5, -0.3], [0.1, 1.5, 0.4], [-0.2, 0.3, 1.8]])


def _grad(fn, x):
    t = gg.tensor(np.array(x, dtype=np.float64), requires_grad=True)
    fn(t).backward()
    return t.grad.numpy()


def _torch_grad(fn, x, create_graph=False):
    t = torch.tensor(np.array(x, dtype=np.float64), requires_grad=True)
    (g,) = torch.autograd.grad(fn(t), t, create_graph=create_graph)
    return g.detach().numpy()


# --------------------------------------------------------------------------- dispatch
def test_np_linalg_functions_on_tensors_record_the_gg_ops():
    x = gg.tensor(A3.copy(), requires_grad=True)
    for np_fn, gg_fn in [(np.linalg.inv, L.inv), (np.linalg.det, L.det),
                         (np.linalg.norm, L.norm), (np.linalg.svdvals, L.svdvals)]:
        out = np_fn(x)
        assert isinstance(out, gg.Tensor) and out.requires_grad, np_fn.__name__
        np.testing.assert_allclose(out.numpy(), gg_fn(x).numpy(), rtol=1e-12)
    out = np.linalg.inv(x)
    assert out.grad_fn is not None and "linalg.inv" in repr(out.grad_fn)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), _torch_grad(lambda t: torch.linalg.inv(t).sum(),
                                                           A3), rtol=1e-10)


def test_results_are_named_tuples_like_numpy():
    x = gg.tensor(A3)
    sign, logabsdet = L.slogdet(x)
    assert L.slogdet(x).logabsdet.numpy() == logabsdet.numpy()
    np.testing.assert_allclose([sign.numpy(), logabsdet.numpy()], np.linalg.slogdet(A3))
    q, r = L.qr(x)
    assert L.qr(x).Q.shape == q.shape and L.qr(x).R.shape == r.shape
    u, s, vh = L.svd(x)
    np.testing.assert_allclose(L.svd(x).S.numpy(), np.linalg.svd(A3).S)
    np.testing.assert_allclose((u.numpy() * s.numpy()) @ vh.numpy(), A3, atol=1e-12)
    np.testing.assert_allclose(L.qr(x, mode="r").numpy(), np.linalg.qr(A3, mode="r"))
    np.testing.assert_allclose(L.svd(x, compute_uv=False).numpy(),
                               np.linalg.svd(A3, compute_uv=False))


def test_integer_input_gives_float_norms_as_numpy():
    x = np.array([[3, 4], [0, -12]])
    for kw in [{}, {"axis": 1}, {"ord": 1, "axis": 0}, {"ord": "fro"}, {"ord": np.inf},
               {"ord": 0, "axis": 1}]:
        out = L.norm(gg.tensor(x), **kw)
        assert out.dtype == np.float64, kw
        np.testing.assert_allclose(out.numpy(), np.linalg.norm(x, **kw), err_msg=str(kw))


def test_full_svd_and_complete_qr_forward_match_numpy():
    x = np.random.default_rng(0).standard_normal((4, 2))
    u, s, vh = L.svd(gg.tensor(x))
    assert u.shape == (4, 4) and vh.shape == (2, 2)
    np.testing.assert_allclose(np.abs(u.numpy()), np.abs(np.linalg.svd(x)[0]), atol=1e-12)
    q, r = L.qr(gg.tensor(x), mode="complete")
    assert q.shape == (4, 4) and r.shape == (4, 2)
    np.testing.assert_allclose(q.numpy() @ r.numpy(), x, atol=1e-12)


# --------------------------------------------------------------------------- norms at 0
@pytest.mark.parametrize("ord", [None, 2, 1, 3, 0.5, np.inf])
def test_norm_gradient_at_zero_is_finite_and_equals_torch(ord):
    x = np.zeros((2, 3))
    x[1] = [0.5, -1.0, 2.0]  # one row at 0, one not

    def gg_fn(t):
        return L.norm(t, ord, axis=1).sum()

    def t_fn(t):
        return torch.linalg.norm(t, ord, dim=1).sum()

    got = _grad(gg_fn, x)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, _torch_grad(t_fn, x), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(got[0], 0.0)


def test_two_norm_of_zero_vector_has_zero_gradient_also_flattened_and_second_order():
    """First order: 0, as PyTorch. Second order: 0 as well (PyTorch gives NaN there;
    the rule divides by a norm made safe at 0, so no 0/0 enters the graph)."""
    x = gg.tensor(np.zeros((2, 2)), requires_grad=True)
    (g,) = gg.autograd.grad(L.norm(x), x, create_graph=True)
    np.testing.assert_array_equal(g.numpy(), 0.0)
    (g2,) = gg.autograd.grad(g.sum(), x)
    np.testing.assert_array_equal(g2.numpy(), 0.0)
    assert np.isfinite(_grad(lambda t: L.vector_norm(t, 2), np.zeros(5))).all()


# --------------------------------------------------------------------------- det
SINGULAR = [np.array([[1.0, 2.0], [2.0, 4.0]]),
            np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]),  # rank 2
            np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [3.0, 6.0, 9.0]]),  # rank 1
            np.zeros((3, 3)), np.zeros((1, 1))]


def _adjugate_t(a):
    """The cofactor matrix by its definition: signed minors."""
    n = a.shape[0]
    c = np.empty_like(a)
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(a, i, 0), j, 1)
            c[i, j] = (-1) ** (i + j) * (np.linalg.det(minor) if minor.size else 1.0)
    return c


@pytest.mark.parametrize("a", SINGULAR, ids=lambda a: f"{a.shape}-rank{np.linalg.matrix_rank(a)}")
def test_det_gradient_at_singular_matrices_is_the_cofactor_matrix(a):
    """The gradient of det is its cofactor matrix at every matrix, singular ones too.
    PyTorch agrees under create_graph=True (its SVD path); its plain first-order
    backward returns 0 at an exactly singular matrix, which is not the derivative."""
    assert np.linalg.det(a) == 0.0
    got = _grad(L.det, a)
    np.testing.assert_allclose(got, _adjugate_t(a), atol=1e-12)
    np.testing.assert_allclose(got, _torch_grad(torch.linalg.det, a, create_graph=True),
                               atol=1e-12)
    # the same in a batch with an invertible matrix, and through forward mode
    batch = np.stack([a, np.eye(len(a)) * 2.0])
    np.testing.assert_allclose(_grad(lambda t: L.det(t).sum(), batch)[0], got, atol=1e-12)
    tangent = np.random.default_rng(0).standard_normal(a.shape)
    _, t_out = gg.func.jvp(L.det, (gg.tensor(a),), (gg.tensor(tangent),))
    np.testing.assert_allclose(t_out.numpy(), np.sum(_adjugate_t(a) * tangent), atol=1e-12)


def test_det_second_derivative_at_a_rank_deficient_matrix_matches_torch():
    a = SINGULAR[1]  # rank 2, distinct singular values: the SVD path is differentiable
    x = gg.tensor(a.copy(), requires_grad=True)
    (g,) = gg.autograd.grad(L.det(x), x, create_graph=True)
    w = np.arange(9.0).reshape(3, 3) / 9.0
    (g * gg.tensor(w)).sum().backward()
    xt = torch.tensor(a, requires_grad=True)
    (gt,) = torch.autograd.grad(torch.linalg.det(xt), xt, create_graph=True)
    (gt * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), atol=1e-10)


def test_hessian_of_logabsdet_matches_torch():
    def t_fn(t):
        return torch.linalg.slogdet(t)[1]

    h = gg.func.hessian(lambda t: L.slogdet(t)[1])(gg.tensor(A3))
    np.testing.assert_allclose(h.numpy(), torch.func.hessian(t_fn)(torch.tensor(A3)).numpy(),
                               rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("name", ["inv", "det", "slogdet", "cholesky"])
def test_non_square_input_is_an_op_error_naming_the_op(name):
    with pytest.raises(gg.OpError, match=rf"gg\.linalg\.{name}: .*square.*\(2, 3\)"):
        getattr(L, name)(gg.tensor(np.ones((2, 3))))
    with pytest.raises(gg.OpError, match=rf"gg\.linalg\.{name}"):
        getattr(L, name)(gg.tensor(np.ones(3)))


def test_singular_inverse_is_a_linalg_error_naming_inv():
    with pytest.raises(np.linalg.LinAlgError, match=r"gg\.linalg\.inv: .*singular"):
        L.inv(gg.tensor(SINGULAR[0]))
    with pytest.raises(gg.OpError, match=r"gg\.linalg\.solve"):
        L.solve(gg.tensor(SINGULAR[0]), gg.tensor(np.ones(2)))


def test_non_spd_cholesky_is_a_linalg_error_naming_cholesky():
    bad = np.array([[1.0, 2.0], [2.0, 1.0]])  # symmetric, eigenvalues 3 and -1
    for err in (np.linalg.LinAlgError, gg.OpError, L.LinAlgError):
        with pytest.raises(err, match=r"gg\.linalg\.cholesky: .*not symmetric positive "
                                      r"definite"):
            L.cholesky(gg.tensor(bad, requires_grad=True))


def test_slogdet_of_a_singular_matrix_has_no_gradient():
    x = gg.tensor(SINGULAR[0], requires_grad=True)
    sign, logabsdet = L.slogdet(x)
    assert sign.numpy() == 0.0 and logabsdet.numpy() == -np.inf
    with pytest.raises(np.linalg.LinAlgError, match=r"gg\.linalg\.slogdet: .*singular"):
        logabsdet.backward()


def test_solve_shape_errors_name_the_shapes():
    a = gg.tensor(A3)
    with pytest.raises(gg.OpError, match=r"gg\.linalg\.solve: a has shape \(3, 3\).*\(4,\)"):
        L.solve(a, gg.tensor(np.ones(4)))
    with pytest.raises(gg.OpError, match=r"gg\.linalg\.solve: a has shape \(3, 3\).*\(2, 3\)"):
        L.solve(a, gg.tensor(np.ones((2, 3))))  # NumPy 2: a 2-d b is a matrix (M, K)


def test_full_svd_of_non_square_matrix_has_no_gradient():
    x = gg.tensor(np.random.default_rng(1).standard_normal((4, 3)), requires_grad=True)
    u, s, vh = L.svd(x)  # the forward is fine
    with pytest.raises(gg.OpError, match=r"gg\.linalg\.svd: .*full_matrices=False"):
        s.sum().backward()
    with pytest.raises(gg.OpError, match=r"gg\.linalg\.svd: .*full_matrices=False"):
        gg.func.jvp(lambda t: L.svd(t)[1], (gg.tensor(x.numpy()),), (gg.tensor(x.numpy()),))
    u, s, vh = L.svd(x, full_matrices=False)
    s.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), u.numpy() @ vh.numpy(), atol=1e-12)


def test_complete_qr_of_tall_matrix_has_no_gradient():
    x = gg.tensor(np.random.default_rng(2).standard_normal((4, 2)), requires_grad=True)
    q, r = L.qr(x, mode="complete")
    with pytest.raises(gg.OpError, match=r"gg\.linalg\.qr: mode='complete'.*mode='reduced'"):
        r.sum().backward()


@pytest.mark.parametrize("call, match", [
    (lambda x: L.norm(x, "fro", axis=0), r"gg\.linalg\.norm: invalid norm order 'fro' for "
                                         r"vectors"),
    (lambda x: L.norm(x, 3), r"gg\.linalg\.norm: invalid norm order 3 for matrices"),
    (lambda x: L.norm(x, 2, axis=(0, 0)), r"gg\.linalg\.norm: duplicate axes"),
    (lambda x: L.norm(x[None], 1), r"gg\.linalg\.norm: ord=1 with axis=None needs a 1-d or"),
    (lambda x: L.vector_norm(x, "fro"), r"gg\.linalg\.vector_norm: ord must be a number"),
    (lambda x: L.qr(x, "raw"), r"gg\.linalg\.qr: mode must be"),
    (lambda x: L.svd(x, hermitian=True), r"gg\.linalg\.svd: hermitian=True"),
    (lambda x: L.svdvals(x[0]), r"gg\.linalg\.svdvals: expected a matrix"),
])
def test_bad_arguments_are_op_errors(call, match):
    with pytest.raises(gg.OpError, match=match):
        call(gg.tensor(A3))
