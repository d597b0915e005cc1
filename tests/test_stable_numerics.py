"""Log-domain losses and reductions stay exact for extreme (finite) inputs, as torch's."""

import warnings

import numpy as np
import pytest
import torch

import glassgrad as gg

F = gg.nn.functional
TF = torch.nn.functional
BIG = [1e3, 1e6, 1e7, 1e8, 1e16, 1e30]
DTYPES = [np.float32, np.float64]


def _both(make_gg, make_torch, *arrays):
    """Value and gradient (of the sum) of one loss in both libraries; torch computes in
    float64 on the same (already rounded) values: the reference the issue asks for."""
    xs = [gg.tensor(a, requires_grad=True) for a in arrays]
    out = make_gg(*xs)
    out.sum().backward()
    ts = [torch.tensor(np.asarray(a, np.float64), requires_grad=True) for a in arrays]
    ref = make_torch(*ts)
    ref.sum().backward()
    return (out, [x.grad.data for x in xs]), (ref.detach().numpy(),
                                              [t.grad.numpy() for t in ts])


def _close(ours, ref, dtype):
    """Ours (in ``dtype``) against the float64 reference: a few units in the last place."""
    tol = 2e-6 if dtype == np.float32 else 1e-12
    assert ours.dtype == dtype
    np.testing.assert_allclose(ours, ref, rtol=tol, atol=tol / 10)


def _stable_logsumexp(t, dim):
    """torch.logsumexp's value with a gradient torch gets right for huge inputs.

    torch's own backward is exp(x - logsumexp(x)), which rounds to exp(0) = 1 for
    [1e16, 1e16, 0] in float64 (and [1e8, 1e8, 0] in float32): gradient [1, 1, 0]
    instead of the softmax [0.5, 0.5, 0]. Shifting by the (constant) max first is exact.
    """
    m = t.detach().amax(dim, keepdim=True)
    return (m + torch.log(torch.exp(t - m).sum(dim, keepdim=True))).squeeze(dim)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("z", BIG)
def test_cross_entropy_of_two_large_equal_logits_is_log_2(z, dtype):
    logits = np.array([[z, z, 0.0]], dtype)
    x = gg.tensor(logits, requires_grad=True)
    loss = F.cross_entropy(x, gg.tensor([0]))
    loss.backward()
    np.testing.assert_allclose(loss.item(), np.log(2), rtol=1e-6)
    np.testing.assert_allclose(x.grad.data, [[-0.5, 0.5, 0.0]], atol=1e-7)
    assert abs(float(x.grad.data.sum())) < 1e-7


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("z", BIG)
@pytest.mark.parametrize("kwargs", [
    {}, {"label_smoothing": 0.1}, {"reduction": "sum"}, {"reduction": "none"},
    {"weight": [1.0, 2.0, 0.5]}, {"ignore_index": 1},
], ids=["plain", "smoothing", "sum", "none", "weight", "ignore"])
def test_cross_entropy_matches_torch_for_large_logits(z, dtype, kwargs):
    logits = np.array([[z, z, 0.0], [0.0, -z, z / 2], [1.0, 2.0, 3.0]], dtype)
    target = np.array([0, 1, 2])
    kw_gg = dict(kwargs)
    kw_t = dict(kwargs)
    if "weight" in kwargs:
        kw_gg["weight"] = gg.tensor(np.array(kwargs["weight"], dtype))
        kw_t["weight"] = torch.tensor(np.array(kwargs["weight"], np.float64))
    (out, (g,)), (ref, (gref,)) = _both(
        lambda x: F.cross_entropy(x, gg.tensor(target), **kw_gg),
        lambda x: TF.cross_entropy(x, torch.tensor(target), **kw_t), logits)
    _close(out.data, ref, dtype)
    _close(g, gref, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("z", BIG)
def test_cross_entropy_second_order_matches_torch_for_large_logits(z, dtype):
    logits = np.array([[z, z, 0.0]], dtype)
    x = gg.tensor(logits, requires_grad=True)
    (g,) = gg.autograd.grad(F.cross_entropy(x, gg.tensor([0]), label_smoothing=0.1), [x],
                            create_graph=True)
    (g * g).sum().backward()
    xt = torch.tensor(logits.astype(np.float64), requires_grad=True)
    (gt,) = torch.autograd.grad(TF.cross_entropy(xt, torch.tensor([0]), label_smoothing=0.1),
                                [xt], create_graph=True)
    (gt * gt).sum().backward()
    _close(g.data, gt.detach().numpy(), dtype)
    _close(x.grad.data, xt.grad.numpy(), dtype)


def _t64(a):
    return torch.tensor(np.asarray(a, np.float64))


Y = np.array([[0.0, 1.0, 0.5], [1.0, 0.0, 0.25]])
W = np.array([[1.0, 2.0, 3.0]])
LOG_DOMAIN = {
    "log_softmax": (lambda x: F.log_softmax(x, 1) * gg.tensor(W.astype(x.dtype)),
                    lambda x: TF.log_softmax(x, 1) * _t64(W)),
    "softmax": (lambda x: F.softmax(x, 1) * gg.tensor(W.astype(x.dtype)),
                lambda x: TF.softmax(x, 1) * _t64(W)),
    "logsumexp": (lambda x: gg.logsumexp(x, axis=1), lambda x: _stable_logsumexp(x, 1)),
    "logsumexp-all": (lambda x: gg.logsumexp(x), lambda x: _stable_logsumexp(x.reshape(-1), 0)),
    "softplus": (F.softplus, TF.softplus),
    "softplus-beta": (lambda x: F.softplus(x, beta=2.0, threshold=5.0),
                      lambda x: TF.softplus(x, beta=2.0, threshold=5.0)),
    "bce_with_logits": (
        lambda x: F.binary_cross_entropy_with_logits(x, gg.tensor(Y.astype(x.dtype)),
                                                     reduction="none"),
        lambda x: TF.binary_cross_entropy_with_logits(x, _t64(Y), reduction="none")),
    "bce_with_logits-pos_weight": (
        lambda x: F.binary_cross_entropy_with_logits(
            x, gg.tensor(Y.astype(x.dtype)), pos_weight=gg.tensor(W[0].astype(x.dtype)),
            reduction="none"),
        lambda x: TF.binary_cross_entropy_with_logits(
            x, _t64(Y), pos_weight=_t64(W[0]), reduction="none")),
    "bce_with_logits-weight-mean": (
        lambda x: F.binary_cross_entropy_with_logits(
            x, gg.tensor(Y.astype(x.dtype)), weight=gg.tensor(W.astype(x.dtype)),
            pos_weight=gg.tensor(W[0].astype(x.dtype))),
        lambda x: TF.binary_cross_entropy_with_logits(
            x, _t64(Y), weight=_t64(W), pos_weight=_t64(W[0]))),
    "nll": (lambda x: F.nll_loss(F.log_softmax(x, 1), gg.tensor([0, 2])),
            lambda x: TF.nll_loss(TF.log_softmax(x, 1), torch.tensor([0, 2]))),
    "cross_entropy-class-dim-0": (lambda x: F.cross_entropy(x[0], gg.tensor(1)),
                                  lambda x: TF.cross_entropy(x[0], torch.tensor(1))),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("z", BIG)
@pytest.mark.parametrize("name", LOG_DOMAIN)
def test_log_domain_ops_match_torch_float64_for_large_inputs(name, z, dtype):
    a = np.array([[z, z, 0.0], [-z, 1.0, z / 2]], dtype)
    (out, (g,)), (ref, (gref,)) = _both(*LOG_DOMAIN[name], a)
    _close(out.data, ref, dtype)
    _close(g, gref, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("z", BIG)
def test_logsumexp_gradient_is_the_softmax_for_large_inputs_in_every_mode(z, dtype):
    # the VJP, the JVP and the create_graph VJP (and its own derivative) all evaluate the
    # softmax from max-shifted values: float32 [1e8, 1e8, 0] gives [0.5, 0.5, 0], not the
    # [1, 1, 0] of exp(x - logsumexp(x)) (torch's own rule, wrong there in both dtypes)
    a = np.array([[z, z, 0.0], [-z, 1.0, z / 2]], dtype)
    soft = TF.softmax(_t64(a), 1).numpy()
    x = gg.tensor(a, requires_grad=True)
    (g,) = gg.autograd.grad(gg.logsumexp(x, axis=1).sum(), [x], create_graph=True)
    _close(g.data, soft, dtype)
    tangent = np.array([[1.0, -2.0, 3.0], [0.5, 1.0, -1.0]], dtype)
    _, t_out = gg.func.jvp(lambda v: gg.logsumexp(v, axis=1), (gg.tensor(a),),
                           (gg.tensor(tangent),))
    _close(t_out.data, (soft * tangent).sum(1), dtype)
    (g * gg.tensor(tangent)).sum().backward()  # Hessian-vector product: diag(p) - p p^T
    xt = torch.tensor(a.astype(np.float64), requires_grad=True)
    (gt,) = torch.autograd.grad(_stable_logsumexp(xt, 1).sum(), [xt], create_graph=True)
    (gt * _t64(tangent)).sum().backward()
    _close(x.grad.data, xt.grad.numpy(), dtype)


@pytest.mark.parametrize("name, fn", [
    ("logsumexp", lambda x: gg.logsumexp(x, axis=1)),
    ("softmax", lambda x: F.softmax(x, 1)),
    ("log_softmax", lambda x: F.log_softmax(x, 1)),
])
def test_log_sum_exp_family_takes_integer_inputs_as_numpy(name, fn):
    # an integer max has no -inf: the shift must not assume a float
    a = np.array([[1, 2, 3], [0, 0, 5]])
    ref = {"logsumexp": lambda t: torch.logsumexp(t, 1), "softmax": lambda t: TF.softmax(t, 1),
           "log_softmax": lambda t: TF.log_softmax(t, 1)}[name](_t64(a)).numpy()
    np.testing.assert_allclose(fn(a if name == "logsumexp" else gg.tensor(a)).data, ref,
                               rtol=1e-12)


# --- var and std: exact zeros, no overflow or underflow, the same in every mode ----------

def _spread_reference(name, values, axis, ddof):
    """torch in float64 on the values scaled to magnitude ~1 (exact: a power of two),
    scaled back: std is homogeneous of degree 1, var of degree 2, their slopes of 0, 1."""
    scale = 2.0 ** np.floor(np.log2(float(np.abs(values).max())))
    t = torch.tensor(values.astype(np.float64) / scale, requires_grad=True)
    out = getattr(torch, name)(t, dim=axis, correction=ddof)
    out.sum().backward()
    power = 1 if name == "std" else 2
    with np.errstate(over="ignore"):  # a var beyond the float range is inf, as it must be
        return (out.detach().numpy() * np.float64(scale) ** power,
                t.grad.numpy() * np.float64(scale) ** (power - 1))


MIXED = {  # one row per kind of trouble, all in one call (the checks are per row)
    np.float32: np.array([[0.1, 0.1, 0.1, 0.1], [1e-30, 2e-30, 4e-30, -1e-30],
                          [3e38, -3e38, 1e38, 2e38], [1.0, 2.0, 3.0, 5.0]], np.float32),
    np.float64: np.array([[0.1, 0.1, 0.1, 0.1], [1e-200, 2e-200, 4e-200, -1e-200],
                          [1.7e308, -1.7e308, 1e308, 2e307], [1.0, 2.0, 3.0, 5.0]]),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ddof", [0, 1])
@pytest.mark.parametrize("name", ["std", "var"])
def test_spread_rows_of_equal_tiny_huge_and_plain_values_match_torch_float64(name, ddof,
                                                                             dtype):
    values = MIXED[dtype]
    x = gg.tensor(values, requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = getattr(gg, name)(x, axis=1, ddof=ddof)
        out.sum().backward()
    # the var of the huge row is beyond the float range: NumPy's overflow warning, about
    # the user's values, is kept; nothing else (our own intermediates) may warn
    expected = ["overflow encountered in multiply"] if name == "var" else []
    assert [str(w.message) for w in caught] == expected
    refs = [_spread_reference(name, row, 0, ddof) for row in values]
    limit = np.finfo(dtype).max
    for i, (ref, gref) in enumerate(refs):
        if abs(ref) > limit:  # the var of the huge row is beyond the float range
            assert np.isinf(out.data[i])
        else:  # (the var of the tiny float32 row, 3e-60, is below the range: 0)
            np.testing.assert_allclose(out.data[i], ref, rtol=2e-6,
                                       atol=np.finfo(dtype).smallest_subnormal)
        np.testing.assert_allclose(x.grad.data[i], gref, rtol=2e-6, atol=0)
    assert out.data[0] == 0 and np.all(x.grad.data[0] == 0)


@pytest.mark.parametrize("values", [np.array([3e38, -3e38], np.float32),
                                    np.array([1.7e308, -1.7e308])], ids=["float32", "float64"])
def test_std_beyond_the_float_range_is_inf_but_its_slopes_are_finite(values):
    # std = |x| sqrt 2 overflows (NumPy warns: the user's values); d std / dx does not
    x = gg.tensor(values, requires_grad=True)
    with pytest.warns(RuntimeWarning, match="overflow"):
        out = gg.std(x, ddof=1)
    assert np.isinf(out.item())
    out.backward()
    _, gref = _spread_reference("std", values, 0, 1)
    np.testing.assert_allclose(x.grad.data, gref, rtol=1e-6)
    with pytest.warns(RuntimeWarning, match="overflow"):
        (graphed,) = gg.autograd.grad(gg.std(x, ddof=1), [x], create_graph=True)
    np.testing.assert_allclose(graphed.data, gref, rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["std", "var"])
def test_spread_gradient_is_the_same_with_create_graph_and_in_forward_mode(name, dtype):
    values = MIXED[dtype]
    x = gg.tensor(values, requires_grad=True)
    plain = gg.autograd.grad(getattr(gg, name)(x, axis=1).sum(), [x])[0].data
    (graphed,) = gg.autograd.grad(getattr(gg, name)(x, axis=1).sum(), [x], create_graph=True)
    # the Tensor form pivots and scales too: equal values give exactly 0 (not -2e-9 from
    # a rounded float32 mean), huge ones finite slopes (not 0 from an overflowed std)
    np.testing.assert_allclose(graphed.data, plain, rtol=1e-6, atol=0)
    assert np.all(graphed.data[0] == 0)
    tangent = np.ones_like(values)
    tangent[:, 0] = 2.0
    _, t_out = gg.func.jvp(lambda v: getattr(gg, name)(v, axis=1), (gg.tensor(values),),
                           (gg.tensor(tangent),))
    with np.errstate(over="ignore"):
        expected = (plain.astype(np.float64) * tangent).sum(1)
    np.testing.assert_allclose(t_out.data, expected, rtol=1e-6)


@pytest.mark.parametrize("ddof", [0, 1])
def test_var_second_order_matches_torch(ddof):
    values = np.array([[0.5, -1.0, 2.0, 0.25], [3.0, 3.0, 3.0, 3.0]])
    x = gg.tensor(values, requires_grad=True)
    (g,) = gg.autograd.grad(gg.var(x, axis=1, ddof=ddof).sum(), [x], create_graph=True)
    (g * g).sum().backward()
    xt = torch.tensor(values, requires_grad=True)
    (gt,) = torch.autograd.grad(torch.var(xt, 1, correction=ddof).sum(), [xt],
                                create_graph=True)
    (gt * gt).sum().backward()
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ["std", "var"])
def test_spread_of_integers_is_a_float64_as_numpy(name):
    a = np.array([[1, 2, 4], [7, 7, 7]])
    np.testing.assert_allclose(getattr(gg, name)(a, axis=1).data, getattr(np, name)(a, axis=1),
                               rtol=1e-15)


@pytest.mark.parametrize("name", ["std", "var"])
def test_spread_warns_about_the_users_inf_but_not_about_nan_as_numpy(name):
    with pytest.warns(RuntimeWarning):
        ref = getattr(np, name)(np.array([np.inf, 1.0]))
    with pytest.warns(RuntimeWarning):
        out = getattr(gg, name)(np.array([np.inf, 1.0]))
    assert np.isnan(out.item()) and np.isnan(ref)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(getattr(gg, name)(np.array([np.nan, 1.0])).item())


@pytest.mark.parametrize("name", ["std", "var"])
def test_spread_with_ddof_beyond_the_count_is_numpys(name):
    # NumPy divides by max(N - ddof, 0): inf (NaN for 0 / 0), with its warning
    a = np.array([[1.0, 2.0], [3.0, 3.0]])
    with pytest.warns(RuntimeWarning):
        ref = getattr(np, name)(a, axis=1, ddof=3)
    with pytest.warns(RuntimeWarning, match="degrees of freedom"):
        out = getattr(gg, name)(a, axis=1, ddof=3)
    np.testing.assert_array_equal(out.data, ref)


# --- no RuntimeWarnings from our own arithmetic, NaN still NaN ---------------------------

def test_softplus_with_a_huge_beta_warns_nothing_and_matches_torch():
    a = np.array([1e30, -1e30, 3e38, -3e38, 0.5, -0.5], np.float32)
    x = gg.tensor(a, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # beta x overflows to +-inf: both branches are right
        out = F.softplus(x, beta=1e10)
        out.sum().backward()
    xt = torch.tensor(a, requires_grad=True)
    ref = TF.softplus(xt, beta=1e10)
    ref.sum().backward()
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-6)


NEG_INF_CASES = {
    "log_softmax": (lambda x: F.log_softmax(x, 1), lambda x: TF.log_softmax(x, 1)),
    "softmax": (lambda x: F.softmax(x, 1), lambda x: TF.softmax(x, 1)),
    "logsumexp": (lambda x: gg.logsumexp(x, axis=1), lambda x: torch.logsumexp(x, 1)),
    "cross_entropy": (lambda x: F.cross_entropy(x, gg.tensor([1, 2])),
                      lambda x: TF.cross_entropy(x, torch.tensor([1, 2]))),
    "cross_entropy-smoothing": (
        lambda x: F.cross_entropy(x, gg.tensor([1, 2]), label_smoothing=0.1),
        lambda x: TF.cross_entropy(x, torch.tensor([1, 2]), label_smoothing=0.1)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NEG_INF_CASES)
def test_masked_logits_warn_nothing_and_match_torch(name, dtype):
    # -inf logits (masked classes) are ordinary inputs: exp(-inf) = 0, no warning
    a = np.array([[-np.inf, 0.0, 1.0], [-np.inf, -np.inf, 0.0]], dtype)
    ours, theirs = NEG_INF_CASES[name]
    x = gg.tensor(a, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = ours(x)
        out.sum().backward()
    xt = torch.tensor(a, requires_grad=True)
    ref = theirs(xt)
    ref.sum().backward()
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_logsumexp_of_all_masked_is_minus_inf_without_a_warning():
    x = gg.tensor(np.full((2, 3), -np.inf), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = gg.logsumexp(x, axis=1)
    np.testing.assert_array_equal(out.data, [-np.inf, -np.inf])
    out.sum().backward()  # torch: NaN (0 / 0); so are we
    assert np.all(np.isnan(x.grad.data))


@pytest.mark.parametrize("name, fn", [
    ("gelu", F.gelu), ("gelu-tanh", lambda x: F.gelu(x, approximate="tanh")),
    ("softplus", F.softplus), ("log_softmax", lambda x: F.log_softmax(x, 0)),
    ("logsumexp", gg.logsumexp), ("std", gg.std), ("var", gg.var),
    ("bce_with_logits", lambda x: F.binary_cross_entropy_with_logits(
        x, gg.tensor(np.ones(3)), reduction="none")),
])
def test_a_nan_input_still_gives_nan(name, fn):
    x = gg.tensor(np.array([np.nan, 1.0, 2.0]), requires_grad=True)
    out = fn(x)
    assert np.isnan(out.data).any()
    out.sum().backward()
    assert np.isnan(x.grad.data).any()
