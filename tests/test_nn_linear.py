"""Linear, Identity, Flatten, Residual, Dropout and Embedding against PyTorch with the
same weights: outputs, input gradients and parameter gradients."""

import numpy as np
import pytest
import torch

import glassgrad as gg
from glassgrad import nn

RNG = np.random.default_rng(0)


def arr(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def to_torch(gmod, tmod):
    tmod.load_state_dict({k: torch.tensor(v.numpy()) for k, v in gmod.state_dict().items()})
    return tmod


def run_both(gmod, tmod, x, rtol=1e-5, atol=1e-6):
    """Forward both on x, backward a random weighting of the output; compare all."""
    gx, tx = gg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    gy, ty = gmod(gx), tmod(tx)
    np.testing.assert_allclose(gy.numpy(), ty.detach().numpy(), rtol=rtol, atol=atol)
    w = RNG.standard_normal(gy.shape).astype(gy.dtype)
    (gy * gg.tensor(w)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=rtol, atol=atol)
    tparams = dict(tmod.named_parameters())
    gparams = dict(gmod.named_parameters())
    assert list(gparams) == list(tparams)
    for name, p in gparams.items():
        np.testing.assert_allclose(p.grad.numpy(), tparams[name].grad.numpy(),
                                   rtol=rtol, atol=atol, err_msg=name)
    return gy


# --- Linear -----------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3,), (5, 3), (2, 4, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(shape, bias):
    g = nn.Linear(3, 4, bias=bias)
    t = to_torch(g, torch.nn.Linear(3, 4, bias=bias))
    assert g.weight.shape == (4, 3) and (g.bias is None) == (not bias)
    y = run_both(g, t, arr(*shape))
    assert y.shape == shape[:-1] + (4,)


def test_linear_float64_gradcheck():
    g = nn.Linear(3, 2).double()
    x = gg.randn(4, 3, dtype=np.float64, requires_grad=True)
    assert gg.autograd.gradcheck(lambda x: g(x), (x,))
    assert gg.autograd.gradcheck(lambda w: x @ w.T + g.bias, (g.weight,))


def test_linear_default_init_is_torch_uniform_bound():
    gg.manual_seed(0)
    layer = nn.Linear(400, 300)
    bound = 1 / np.sqrt(400)
    w, b = layer.weight.numpy(), layer.bias.numpy()
    assert w.dtype == np.float32 and np.abs(w).max() <= bound and np.abs(b).max() <= bound
    # U(-a, a): mean 0, variance a^2 / 3; tolerance from the sampling error (5 sigma)
    n = w.size
    assert abs(w.mean()) < 5 * bound / np.sqrt(3 * n)
    var = bound**2 / 3
    assert abs(w.var() - var) < 5 * var * np.sqrt(0.8 / n)  # Var(U^2) = 4/5 var^2
    assert np.abs(w).max() > 0.99 * bound  # the whole range is used
    gg.manual_seed(0)
    np.testing.assert_array_equal(nn.Linear(400, 300).weight.numpy(), w)


def test_linear_shape_error_names_the_layer():
    with pytest.raises(ValueError, match=r"Linear\(in_features=3, out_features=4\).*\(2, 5\)"):
        nn.Linear(3, 4)(gg.zeros(2, 5))


# --- Identity, Flatten, Residual --------------------------------------------------------------
def test_identity():
    x = gg.randn(2, 3)
    assert nn.Identity(54, unused="x")(x) is x


@pytest.mark.parametrize("dims", [(1, -1), (0, -1), (1, 2), (2, 3), (-3, -2), (0, 0)])
def test_flatten_matches_torch(dims):
    g, t = nn.Flatten(*dims), torch.nn.Flatten(*dims)
    run_both(g, t, arr(2, 3, 4, 5))


def test_flatten_errors():
    with pytest.raises(IndexError, match="out of range"):
        nn.Flatten(4)(gg.zeros(2, 3))
    with pytest.raises(ValueError, match="start_dim"):
        nn.Flatten(2, 1)(gg.zeros(2, 3, 4))


class TorchResidual(torch.nn.Module):
    def __init__(self, block):
        super().__init__()
        self.block = block

    def forward(self, x):
        return x + self.block(x)


class Tanh(nn.Module):
    def forward(self, x):
        return x.tanh()


def test_residual_and_sequential_match_torch():
    g = nn.Sequential(nn.Linear(4, 6),
                      nn.Residual(nn.Sequential(nn.Linear(6, 6), Tanh(), nn.Linear(6, 6))),
                      nn.Flatten(0), nn.Identity())
    t = torch.nn.Sequential(torch.nn.Linear(4, 6),
                            TorchResidual(torch.nn.Sequential(torch.nn.Linear(6, 6),
                                                              torch.nn.Tanh(),
                                                              torch.nn.Linear(6, 6))),
                            torch.nn.Flatten(0), torch.nn.Identity())
    assert list(g.state_dict()) == list(t.state_dict())
    to_torch(g, t)
    run_both(g, t, arr(3, 4))


def test_residual_shape_error():
    with pytest.raises(ValueError, match=r"Residual.*\(2, 3\) to \(2, 4\)"):
        nn.Residual(nn.Linear(3, 4))(gg.zeros(2, 3))


# --- Dropout ------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_statistics(p):
    gg.manual_seed(1)
    n = 200_000
    x = gg.ones(n, requires_grad=True)
    drop = nn.Dropout(p)
    y = drop(x)
    out = y.numpy()
    zeroed = (out == 0).mean()
    assert abs(zeroed - p) < 5 * np.sqrt(p * (1 - p) / n)  # 5 sigma of a binomial fraction
    kept = out[out != 0]
    np.testing.assert_allclose(kept, 1 / (1 - p), rtol=1e-6)  # inverted scaling
    assert abs(out.mean() - 1) < 5 * np.sqrt(p / (1 - p) / n)  # the mean is preserved
    w = RNG.standard_normal(n).astype(np.float32)
    (y * gg.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), w * out, rtol=1e-6)  # same mask backward


def test_dropout_modes_and_edges():
    x = gg.randn(50, 40)
    drop = nn.Dropout(0.5)
    assert drop.eval()(x) is x
    assert not drop.training
    drop.train()
    a = drop(x).numpy()
    assert not np.array_equal(a, drop(x).numpy())  # a fresh mask each call
    gg.manual_seed(3)
    a = drop(x).numpy()
    gg.manual_seed(3)
    np.testing.assert_array_equal(a, drop(x).numpy())  # the seed fixes the mask
    assert nn.Dropout(0.0)(x) is x
    assert not nn.Dropout(1.0)(x).numpy().any()
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)
    # model.eval() reaches nested dropout
    net = nn.Sequential(nn.Linear(40, 40), nn.Dropout(0.9))
    net.eval()
    np.testing.assert_array_equal(net(x).numpy(), net[0](x).numpy())


# --- Embedding ------------------------------------------------------------------------------
def test_embedding_matches_torch_with_repeated_indices():
    g = nn.Embedding(10, 4)
    t = to_torch(g, torch.nn.Embedding(10, 4))
    idx = np.array([[1, 3, 3], [9, 1, 1]])
    gy, ty = g(gg.tensor(idx)), t(torch.tensor(idx))
    assert gy.shape == (2, 3, 4)
    np.testing.assert_array_equal(gy.numpy(), ty.detach().numpy())
    w = arr(2, 3, 4)
    (gy * gg.tensor(w)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(g.weight.grad.numpy(), t.weight.grad.numpy(), rtol=1e-6)
    assert g.weight.grad.numpy()[1].any()  # row 1 was used three times: summed


def test_embedding_padding_idx_matches_torch():
    g = nn.Embedding(6, 3, padding_idx=2)
    assert not g.weight.numpy()[2].any()
    with gg.no_grad():
        g.weight.data[2] = 1.5  # a non-zero padding row: still no gradient
    t = to_torch(g, torch.nn.Embedding(6, 3, padding_idx=2))
    idx = [0, 2, 5, 2]
    gy, ty = g(idx), t(torch.tensor(idx))
    np.testing.assert_array_equal(gy.numpy(), ty.detach().numpy())
    gy.sum().backward()
    ty.sum().backward()
    np.testing.assert_array_equal(g.weight.grad.numpy(), t.weight.grad.numpy())


def test_embedding_init_and_errors():
    gg.manual_seed(0)
    w = nn.Embedding(500, 200).weight.numpy()
    n = w.size
    assert abs(w.mean()) < 5 / np.sqrt(n)  # N(0, 1)
    assert abs(w.std() - 1) < 5 / np.sqrt(2 * n)
    emb = nn.Embedding(5, 2)
    with pytest.raises(IndexError, match=r"index 5 is out of range.*0\.\.4"):
        emb(gg.tensor([0, 5]))
    with pytest.raises(IndexError, match="index -1"):
        emb(np.array([-1]))
    with pytest.raises(TypeError, match="integers"):
        emb(gg.tensor([0.0, 1.0]))
