"""``gg.nn.Module`` against ``torch.nn.Module``: registration, traversal, state dicts,
train/eval, hooks, containers and printing, on the same architectures."""

import copy
import doctest

import numpy as np
import pytest
import torch

import glassgrad as gg
from glassgrad import nn


class Tanh(nn.Module):
    """An activation from plain glassgrad ops (keeps these tests independent of
    activation.py); torch's counterpart is ``torch.nn.Tanh``."""

    def forward(self, x):
        return x.tanh()


def to_torch(gmod, tmod):
    """Copy glassgrad's weights into the torch module through its state dict."""
    tmod.load_state_dict({k: torch.tensor(v.numpy()) for k, v in gmod.state_dict().items()})
    return tmod


def mlp_pair():
    g = nn.Sequential(nn.Linear(3, 5), Tanh(), nn.Linear(5, 2))
    t = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    return g, to_torch(g, t)


class GNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(4, 6)
        self.layers = nn.ModuleList([nn.Linear(6, 6), nn.Linear(6, 6, bias=False)])
        self.head = nn.Sequential(nn.Identity(), nn.Linear(6, 2))
        self.register_buffer("running", gg.zeros(6))
        self.register_buffer("count", gg.tensor(np.array(0, dtype=np.int64)))
        self.register_buffer("scratch", gg.zeros(2), persistent=False)
        self.scale = nn.Parameter(gg.ones(1))

    def forward(self, x):
        h = self.embed(x)
        for layer in self.layers:
            h = layer(h).tanh()
        return self.head(h) * self.scale


class TNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Linear(4, 6)
        self.layers = torch.nn.ModuleList([torch.nn.Linear(6, 6),
                                           torch.nn.Linear(6, 6, bias=False)])
        self.head = torch.nn.Sequential(torch.nn.Identity(), torch.nn.Linear(6, 2))
        self.register_buffer("running", torch.zeros(6))
        self.register_buffer("count", torch.tensor(0))
        self.register_buffer("scratch", torch.zeros(2), persistent=False)
        self.scale = torch.nn.Parameter(torch.ones(1))

    def forward(self, x):
        h = self.embed(x)
        for layer in self.layers:
            h = torch.tanh(layer(h))
        return self.head(h) * self.scale


def shapes(sd):
    return {k: tuple(v.shape) for k, v in sd.items()}


# --- registration and traversal -----------------------------------------------------------
def test_state_dict_keys_order_and_shapes_match_torch():
    g, t = GNet(), TNet()
    assert list(g.state_dict()) == list(t.state_dict())
    assert shapes(g.state_dict()) == shapes(t.state_dict())
    assert [n for n, _ in g.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in g.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in g.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in g.named_children()] == [n for n, _ in t.named_children()]
    assert len(list(g.parameters(recurse=False))) == 1
    assert len(list(g.modules())) == len(list(t.modules()))


def test_mlp_state_dict_and_forward_backward_match_torch():
    g, t = mlp_pair()
    assert list(g.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    x = np.random.default_rng(0).standard_normal((7, 3)).astype(np.float32)
    gy, ty = g(gg.tensor(x)), t(torch.tensor(x))
    np.testing.assert_allclose(gy.numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    (gy * gy).sum().backward()
    (ty * ty).sum().backward()
    for (gn, gp), (tn, tp) in zip(g.named_parameters(), t.named_parameters()):
        assert gn == tn
        np.testing.assert_allclose(gp.grad.numpy(), tp.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_shared_module_counted_once_in_parameters_but_twice_in_state_dict():
    gl, tl = nn.Linear(2, 2), torch.nn.Linear(2, 2)
    g, t = nn.Sequential(gl, gl), torch.nn.Sequential(tl, tl)
    assert len(list(g.parameters())) == len(list(t.parameters())) == 2
    assert list(g.state_dict()) == list(t.state_dict())
    assert [n for n, _ in g.named_modules()] == [n for n, _ in t.named_modules()]


def test_registration_rules():
    m = nn.Module()
    m.w = nn.Parameter(gg.zeros(2))
    m.sub = nn.Linear(2, 2)
    m.plain = gg.zeros(3)  # a plain Tensor is an ordinary attribute, not a parameter
    assert [n for n, _ in m.named_parameters()] == ["w", "sub.weight", "sub.bias"]
    with pytest.raises(TypeError, match="parameter 'w'"):
        m.w = gg.zeros(2)
    m.w = None
    assert "w" not in dict(m.named_parameters())
    m.sub = nn.Parameter(gg.zeros(1))  # re-registering a name moves it between kinds
    assert list(m.children()) == [] and "sub" in dict(m.named_parameters())
    del m.sub
    assert not hasattr(m, "sub")
    m.register_buffer("buf", gg.ones(2))
    m.buf = gg.zeros(2)
    assert m.buf.numpy().tolist() == [0, 0] and "buf" in m.state_dict()
    with pytest.raises(KeyError):
        m.register_buffer("a.b", gg.zeros(1))
    with pytest.raises(KeyError, match="already exists"):
        m.register_parameter("plain", None)
    assert "buf" in dir(m)


def test_assigning_before_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.lin = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Bad()

    class Forgot(nn.Module):
        def __init__(self):
            pass

        def forward(self, x):
            return x

    with pytest.raises(AttributeError, match=r"before Module.__init__\(\) ran"):
        Forgot()(gg.zeros(1))


def test_missing_forward_and_missing_attribute():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(gg.zeros(1))
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'wieght'"):
        nn.Linear(2, 2).wieght  # noqa: B018


def test_parameter_is_a_leaf_tensor_requiring_grad():
    t = gg.randn(2, 3)
    p = nn.Parameter(t)
    assert isinstance(p, gg.Tensor) and p.requires_grad and p.is_leaf
    assert p.data is t.data  # shares, as torch.nn.Parameter(t)
    assert not nn.Parameter(t, requires_grad=False).requires_grad
    assert repr(p).startswith("Parameter containing:\ntensor(")
    with pytest.raises(TypeError, match="floating"):
        nn.Parameter(np.arange(3))
    y = p * 2
    assert type(y) is gg.Tensor


# --- modes and gradients --------------------------------------------------------------------
def test_train_eval_propagate_like_torch():
    g, t = GNet(), TNet()
    for mode in (False, True):
        g.train(mode)
        t.train(mode)
        assert [m.training for m in g.modules()] == [m.training for m in t.modules()]
    assert g.eval() is g and not g.head[1].training
    with pytest.raises(ValueError, match="bool"):
        g.train("yes")


def test_zero_grad_and_requires_grad():
    g, _ = mlp_pair()
    g(gg.randn(4, 3)).sum().backward()
    grads = [p.grad for p in g.parameters()]
    g.zero_grad(set_to_none=False)
    assert all(p.grad is old and not p.grad.numpy().any() for p, old in
               zip(g.parameters(), grads))
    g.zero_grad()
    assert all(p.grad is None for p in g.parameters())
    assert g.requires_grad_(False) is g
    assert not any(p.requires_grad for p in g.parameters())
    assert not g(gg.randn(2, 3)).requires_grad


def test_apply_visits_children_first_like_torch():
    g, t = GNet(), TNet()
    gorder, torder = [], []
    g.apply(lambda m: gorder.append(type(m).__name__))
    t.apply(lambda m: torder.append(type(m).__name__))
    assert gorder[:-1] == torder[:-1] and (gorder[-1], torder[-1]) == ("GNet", "TNet")


def test_to_double_keeps_parameter_objects():
    g, _ = mlp_pair()
    before = list(g.parameters())
    assert g.double() is g
    assert all(p is q and p.dtype == np.float64 for p, q in zip(g.parameters(), before))
    assert g(gg.randn(2, 3, dtype=np.float64)).dtype == np.float64


def test_deepcopy_gives_an_independent_model():
    g, _ = mlp_pair()
    h = copy.deepcopy(g)
    assert list(h.state_dict()) == list(g.state_dict())
    with gg.no_grad():
        h[0].weight.data[...] = 0
    assert g[0].weight.numpy().any()
    assert isinstance(h[0].weight, nn.Parameter)


# --- load_state_dict ----------------------------------------------------------------------
def test_load_state_dict_from_torch_numpy_values():
    g, t = GNet(), TNet()
    with torch.no_grad():
        t.running.normal_()
        t.count.fill_(7)
    ref = {k: v.numpy().copy() for k, v in t.state_dict().items()}
    held = list(g.parameters())  # as an optimizer would hold them
    result = g.load_state_dict(ref)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for k, v in g.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), ref[k])
        assert v.dtype == np.dtype(ref[k].dtype)
    assert all(p is q for p, q in zip(g.parameters(), held))
    x = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_allclose(g(gg.tensor(x)).numpy(), t(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    # and back: torch loads glassgrad's state dict
    t2 = to_torch(g, TNet())
    for k, v in t2.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), ref[k])


def test_load_state_dict_errors_name_keys_and_shapes_and_copy_nothing():
    g = GNet()
    sd = {k: v.numpy().copy() + 1 for k, v in g.state_dict().items()}
    before = {k: v.numpy().copy() for k, v in g.state_dict().items()}
    bad = dict(sd)
    del bad["layers.1.weight"]
    bad["extra.bias"] = np.zeros(3)
    bad["head.1.weight"] = np.zeros((3, 6))
    with pytest.raises(RuntimeError) as info:
        g.load_state_dict(bad)
    msg = str(info.value)
    assert '"layers.1.weight"' in msg and "Missing" in msg
    assert '"extra.bias"' in msg and "Unexpected" in msg
    assert "head.1.weight" in msg and "(3, 6)" in msg and "(2, 6)" in msg
    for k, v in g.state_dict().items():  # checked before copying: nothing changed
        np.testing.assert_array_equal(v.numpy(), before[k])
    # strict=False: report the keys, still refuse wrong shapes
    del bad["head.1.weight"]
    bad["head.1.weight"] = sd["head.1.weight"]
    result = g.load_state_dict(bad, strict=False)
    assert result.missing_keys == ["layers.1.weight"]
    assert result.unexpected_keys == ["extra.bias"]
    np.testing.assert_array_equal(g.head[1].weight.numpy(), sd["head.1.weight"])
    bad["embed.bias"] = np.zeros(7)
    with pytest.raises(RuntimeError, match=r"embed.bias.*\(7,\).*\(6,\)"):
        g.load_state_dict(bad, strict=False)


def test_state_dict_shares_memory_like_torch():
    g, t = nn.Linear(2, 2), torch.nn.Linear(2, 2)
    gsd, tsd = g.state_dict(), t.state_dict()
    with gg.no_grad():
        g.weight.data[...] = 5
    with torch.no_grad():
        t.weight.fill_(5)
    assert (gsd["weight"].numpy() == 5).all() and (tsd["weight"].numpy() == 5).all()
    assert not gsd["weight"].requires_grad
    assert g.state_dict(keep_vars=True)["weight"] is g.weight


def test_load_into_array_saved_by_a_live_graph_is_refused():
    lin = nn.Linear(2, 2)
    loss = lin(gg.randn(3, 2, requires_grad=True)).sum()
    sd = {k: v.numpy() + 1 for k, v in lin.state_dict().items()}
    with pytest.raises(RuntimeError, match="load_state_dict"):
        lin.load_state_dict(sd)
    loss.backward()
    lin.load_state_dict(sd)
    np.testing.assert_array_equal(lin.bias.numpy(), sd["bias"])


# --- hooks ------------------------------------------------------------------------------
def test_forward_hooks_like_torch():
    g, t = mlp_pair()
    seen = {}

    def ghook(mod, args, out):
        seen["g"] = (type(mod).__name__, args[0].shape, out.shape)
        return out * 2

    def thook(mod, args, out):
        seen["t"] = (type(mod).__name__, tuple(args[0].shape), tuple(out.shape))
        return out * 2

    gh, th = g[0].register_forward_hook(ghook), t[0].register_forward_hook(thook)
    g[2].register_forward_pre_hook(lambda mod, args: (args[0] + 1,))
    t[2].register_forward_pre_hook(lambda mod, args: (args[0] + 1,))
    x = np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(g(gg.tensor(x)).numpy(), t(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    assert seen["g"] == seen["t"]
    gh.remove()
    th.remove()
    np.testing.assert_allclose(g(gg.tensor(x)).numpy(), t(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


class GMul(nn.Module):
    """Two tensor inputs and a non-tensor one, to check grad_input's layout."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)

    def forward(self, x, y, k):
        return self.lin(x) * y * k


class TMul(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 3)

    def forward(self, x, y, k):
        return self.lin(x) * y * k


def _grads(gs):
    return [None if g is None else np.asarray(g.numpy() if hasattr(g, "numpy") else g)
            for g in gs]


@pytest.mark.parametrize("x_requires_grad", [True, False])
def test_full_backward_hook_matches_torch(x_requires_grad):
    g = GMul()
    t = to_torch(g, TMul())
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3)).astype(np.float32)
    y = rng.standard_normal((2, 3)).astype(np.float32)
    got = {}
    g.register_full_backward_hook(lambda m, gi, go: got.__setitem__("g", (gi, go)))
    t.register_full_backward_hook(lambda m, gi, go: got.__setitem__("t", (gi, go)))
    gx, gy = gg.tensor(x, requires_grad=x_requires_grad), gg.tensor(y, requires_grad=True)
    tx, ty = torch.tensor(x, requires_grad=x_requires_grad), torch.tensor(y, requires_grad=True)
    w = rng.standard_normal((2, 3)).astype(np.float32)
    (g(gx, gy, 3.0) * gg.tensor(w)).sum().backward()
    (t(tx, ty, 3.0) * torch.tensor(w)).sum().backward()
    (ggi, ggo), (tgi, tgo) = got["g"], got["t"]
    assert len(ggi) == len(tgi) == 3 and len(ggo) == len(tgo) == 1
    for a, b in zip(_grads(ggi) + _grads(ggo), _grads(tgi) + _grads(tgo)):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
def test_full_backward_hook_without_input_grads_and_replacement():
    g, t = mlp_pair()
    calls = {"g": [], "t": []}
    for name, model in (("g", g), ("t", t)):
        model[0].register_full_backward_hook(
            lambda m, gi, go, name=name: calls[name].append((gi, go)))
    x = np.ones((2, 3), np.float32)
    g(gg.tensor(x)).sum().backward()
    t(torch.tensor(x)).sum().backward()
    (ggi, ggo), (tgi, tgo) = calls["g"][0], calls["t"][0]
    assert ggi == (None,) and tgi == (None,)
    np.testing.assert_allclose(ggo[0].numpy(), tgo[0].numpy(), rtol=1e-5, atol=1e-6)

    # a hook's return value replaces grad_input, upstream sees it
    g2, t2 = mlp_pair()
    h = g2[2].register_full_backward_hook(lambda m, gi, go: (gi[0] * 3,))
    t2[2].register_full_backward_hook(lambda m, gi, go: (gi[0] * 3,))
    gx, tx = gg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    g2(gx).sum().backward()
    t2(tx).sum().backward()
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g2[0].weight.grad.numpy(), t2[0].weight.grad.numpy(),
                               rtol=1e-5, atol=1e-6)
    h.remove()
    gx.grad = None
    g2(gx).sum().backward()
    assert not np.allclose(gx.grad.numpy(), tx.grad.numpy())
    with g2[2].register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0])):
        with pytest.raises(RuntimeError, match="returned 2 gradients, expected 1"):
            g2(gx).sum().backward()
    assert not g2[2]._backward_hooks  # the with-block removed it


def test_backward_hook_with_create_graph():
    lin = nn.Linear(2, 1)
    seen = []
    lin.register_full_backward_hook(lambda m, gi, go: seen.append(gi[0]))
    x = gg.randn(3, 2, requires_grad=True)
    (gx,) = gg.autograd.grad((lin(x) ** 2).sum(), [x], create_graph=True)
    assert gx.requires_grad and len(seen) == 1
    np.testing.assert_allclose(seen[0].numpy(), gx.numpy())


# --- containers -------------------------------------------------------------------------
def test_sequential_indexing_slicing_and_editing_like_torch():
    mods = [(nn.Linear(2, 3), torch.nn.Linear(2, 3)), (Tanh(), torch.nn.Tanh()),
            (nn.Linear(3, 4), torch.nn.Linear(3, 4)), (nn.Identity(), torch.nn.Identity())]
    g = nn.Sequential(*[m for m, _ in mods])
    t = torch.nn.Sequential(*[m for _, m in mods])
    assert len(g) == len(t) == 4
    assert g[-2] is mods[2][0] and g[0] is mods[0][0]
    assert [type(m).__name__ for m in g] == ["Linear", "Tanh", "Linear", "Identity"]
    assert list(g[1:3].state_dict()) == list(t[1:3].state_dict()) == ["2.weight", "2.bias"]
    with pytest.raises(IndexError, match="out of range"):
        g[4]  # noqa: B018
    del g[1]
    del t[1]
    assert list(g.state_dict()) == list(t.state_dict())
    g.append(nn.Linear(4, 1))
    t.append(torch.nn.Linear(4, 1))
    assert list(g.state_dict()) == list(t.state_dict())
    g[0] = nn.Linear(2, 3, bias=False)
    assert list(g.state_dict())[0:2] == ["0.weight", "1.weight"]
    od = nn.Sequential({"enc": nn.Linear(2, 2), "dec": nn.Linear(2, 1)})
    assert list(od.state_dict()) == ["enc.weight", "enc.bias", "dec.weight", "dec.bias"]


def test_module_list_like_torch():
    g = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
    t = torch.nn.ModuleList([torch.nn.Linear(1, 1) for _ in range(3)])
    g.insert(1, nn.Linear(1, 2))
    t.insert(1, torch.nn.Linear(1, 2))
    g += [nn.Linear(2, 2)]
    t += [torch.nn.Linear(2, 2)]
    assert shapes(g.state_dict()) == shapes(t.state_dict())
    del g[0]
    del t[0]
    assert shapes(g.state_dict()) == shapes(t.state_dict())
    assert shapes(g[1:].state_dict()) == shapes(t[1:].state_dict())
    assert len(g) == 4 and g[-1].weight.shape == (2, 2)
    with pytest.raises(NotImplementedError):
        g(gg.zeros(1))


def test_repr_like_torch():
    g = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.Identity(), nn.Flatten()),
                      nn.Dropout(0.25), nn.Linear(3, 1, bias=False), nn.Embedding(5, 2))
    t = torch.nn.Sequential(torch.nn.Linear(2, 3),
                            torch.nn.Sequential(torch.nn.Identity(), torch.nn.Flatten()),
                            torch.nn.Dropout(0.25), torch.nn.Linear(3, 1, bias=False),
                            torch.nn.Embedding(5, 2))
    assert repr(g) == repr(t)


@pytest.mark.parametrize("modname", ["module", "linear", "init", "utils"])
def test_docstring_examples_run(modname):
    import importlib

    mod = importlib.import_module(f"glassgrad.nn.{modname}")
    result = doctest.testmod(mod, extraglobs={"gg": gg}, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_public_namespace_has_the_api():
    names = """Module Parameter Sequential ModuleList Linear Conv2d MaxPool2d AvgPool2d
        BatchNorm1d BatchNorm2d LayerNorm Dropout Embedding Flatten Identity Residual ReLU
        LeakyReLU Sigmoid Tanh GELU Softmax Softplus ELU MSELoss BCELoss BCEWithLogitsLoss
        CrossEntropyLoss NLLLoss functional init utils""".split()
    for name in names:
        assert name in nn.__all__ and hasattr(nn, name), name
    assert gg.save is gg.serialization.save and gg.load is gg.serialization.load
