"""PyTorch habits, module level (issue 9): ``gg.cat``/``concat``/``unsqueeze``,
``from_numpy``/``as_tensor``, ``linspace``/``empty``/``randint``/``randn_like``/``rand_like``,
``allclose``, the dtype names, ``gg.Generator``, ``inference_mode``,
``autograd.set_detect_anomaly``, ``grad_fn.next_functions``/``name()``, ``F.pad``,
``F.one_hot`` and ``DataLoader(num_workers=...)``.

Each ``_scn_*(lib)`` runs once with ``lib=gg`` and once with ``lib=torch`` (the oracle);
the results (values, dtypes, shapes, gradients) are compared. Plain tests cover what is
glassgrad's own (seeded streams, memory sharing, the in-process loader).
"""

import doctest

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
import torch.utils.data as tdata

import glassgrad as gg
import glassgrad.nn.functional as GF
from glassgrad.data import DataLoader, TensorDataset

# --------------------------------------------------------------------------------------
# Running a scenario in both libraries
# --------------------------------------------------------------------------------------


def _F(lib):
    return GF if lib is gg else TF


def _dtype_name(dt) -> str:
    if isinstance(dt, torch.dtype):
        return str(dt).split(".")[-1]
    return np.dtype(dt).name


def _norm(v):
    """A result made comparable: tensors -> (array, dtype name); containers recursively."""
    if isinstance(v, torch.Tensor):
        return ("tensor", v.detach().numpy().copy(), _dtype_name(v.dtype))
    if isinstance(v, gg.Tensor):
        return ("tensor", np.array(v.numpy()), _dtype_name(v.dtype))
    if isinstance(v, (torch.dtype, np.dtype)):
        return ("dtype", _dtype_name(v))
    if isinstance(v, torch.Size):
        return tuple(v)
    if isinstance(v, (list, tuple)):
        return type(v)(_norm(x) for x in v) if not isinstance(v, torch.Size) else tuple(v)
    if isinstance(v, dict):
        return {k: _norm(x) for k, x in v.items()}
    return v


def _compare(a, b, where="result"):
    if isinstance(a, tuple) and a and a[0] == "tensor":
        assert isinstance(b, tuple) and b[0] == "tensor", f"{where}: {a} vs {b}"
        assert a[2] == b[2], f"{where}: dtype {a[2]} (gg) vs {b[2]} (torch)"
        assert a[1].shape == b[1].shape, f"{where}: shape {a[1].shape} vs {b[1].shape}"
        np.testing.assert_allclose(a[1], b[1], rtol=1e-6, atol=1e-7, err_msg=where)
        return
    if isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), f"{where}: {a} vs {b}"
        for i, (x, y) in enumerate(zip(a, b)):
            _compare(x, y, f"{where}[{i}]")
        return
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _compare(a[k], b[k], f"{where}[{k!r}]")
        return
    assert a == b, f"{where}: {a!r} (gg) vs {b!r} (torch)"


def _run_both(scn):
    ours = _norm(scn(gg))
    theirs = _norm(scn(torch))
    _compare(ours, theirs, scn.__name__)


# --------------------------------------------------------------------------------------
# Scenarios (torch is the oracle)
# --------------------------------------------------------------------------------------


def _scn_cat_dim_gradients(lib):
    x = lib.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = lib.tensor(np.ones((2, 2)), requires_grad=True)
    w = lib.tensor(np.arange(10.0).reshape(2, 5))
    z = lib.cat([x, y], dim=1)
    z2 = lib.concat((x, x), dim=0)
    z3 = lib.cat([x, y], -1)
    ((z * w).sum() + (z2 * z2).sum() + z3.sum()).backward()
    return [z, z2, z3, x.grad, y.grad]


def _scn_unsqueeze_gradients(lib):
    x = lib.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    outs = [lib.unsqueeze(x, d) for d in (0, 1, 2, -1, -3)]
    total = sum((o * (i + 1.0)).sum() for i, o in enumerate(outs))
    total.backward()
    return [tuple(o.shape) for o in outs] + [x.grad]


def _scn_pad_last_dim_first(lib):
    F = _F(lib)
    x = lib.tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    a = F.pad(x, (1, 2))
    b = F.pad(x, (0, 1, 2, 0), value=-1.5)
    c = F.pad(x, (1, 1, 1, 1, 1, 1), mode="constant", value=0)
    d = F.pad(x, (-1, 1, 0, -2))  # negative widths crop
    w = [lib.tensor(np.linspace(-1, 1, int(np.prod(t.shape))).reshape(tuple(t.shape)))
         for t in (a, b, c, d)]
    sum((t * wt).sum() for t, wt in zip((a, b, c, d), w)).backward()
    return [a, b, c, d, x.grad]


def _scn_pad_keeps_dtype(lib):
    F = _F(lib)
    x = lib.ones(2, 2, dtype=lib.float32)
    n = lib.tensor([[1, 2], [3, 4]])
    return [F.pad(x, (1, 1), value=2), F.pad(n, (0, 1, 1, 0), value=7)]


def _scn_one_hot(lib):
    F = _F(lib)
    y = lib.tensor([0, 2, 1, 2])
    m = lib.tensor([[0, 3], [1, 1]])
    return [F.one_hot(y), F.one_hot(y, 5), F.one_hot(m, num_classes=4),
            F.one_hot(y, num_classes=-1)]


def _scn_linspace_empty(lib):
    a = lib.linspace(0, 1, 5)
    b = lib.linspace(-2.0, 3.0, steps=11, dtype=lib.float64)
    c = lib.linspace(3, -3, 1)
    e1, e2 = lib.empty(2, 3), lib.empty((4,), dtype=lib.int64)
    return [a, b, c, (tuple(e1.shape), e1.dtype), (tuple(e2.shape), e2.dtype)]


def _scn_random_shapes_dtypes(lib):
    lib.manual_seed(0)
    x64 = lib.zeros(3, 2, dtype=lib.float64)
    r1 = lib.randint(10, (3,))
    r2 = lib.randint(2, 5, (4, 2))
    r3 = lib.randint(0, 3, size=(2,), dtype=lib.int32)
    rn, ru = lib.randn_like(x64), lib.rand_like(x64, dtype=lib.float32)
    ok = bool((r1 >= 0).all() and (r1 < 10).all() and (r2 >= 2).all() and (r2 < 5).all()
              and (ru >= 0).all() and (ru < 1).all())
    return [(tuple(t.shape), t.dtype) for t in (r1, r2, r3, rn, ru)] + [ok]


def _scn_allclose(lib):
    a = lib.tensor([1.0, 2.0, 3.0])
    return [lib.allclose(a, a + 1e-7), lib.allclose(a, a + 1e-3),
            lib.allclose(a, a + 1e-3, atol=1e-2), lib.allclose(a, a * 1.001, rtol=1e-2),
            lib.allclose(lib.tensor([float("nan")]), lib.tensor([float("nan")])),
            lib.allclose(lib.tensor([float("nan")]), lib.tensor([float("nan")]),
                         equal_nan=True)]


_DTYPE_NAMES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
                "bool", "half", "float", "double", "short", "int", "long"]


def _scn_dtype_names(lib):
    out = []
    for name in _DTYPE_NAMES:
        dt = getattr(lib, name)
        out.append((name, lib.zeros(2, dtype=dt).dtype, lib.ones(1, dtype=dt).dtype))
    x = lib.tensor([1.5, -2.0])
    out.append(lib.tensor([1, 2], dtype=lib.float64))
    out.append(lib.full((2,), 3, dtype=lib.int16))
    out.append(lib.arange(3, dtype=lib.float32))
    out.append(lib.zeros_like(x, dtype=lib.int64))
    return out


def _scn_from_numpy_shares(lib):
    a = np.zeros(3, dtype=np.float32)
    t = lib.from_numpy(a)
    a[0] = 5.0
    i = np.arange(4)
    ti = lib.from_numpy(i)
    return [t, ti, np.shares_memory(t.numpy(), a)]


def _scn_as_tensor(lib):
    a = np.arange(4.0)
    t = lib.as_tensor(a)
    t32 = lib.as_tensor(a, dtype=lib.float32)
    a[1] = 10.0
    existing = lib.tensor([1.0, 2.0])
    return [t, t32, lib.as_tensor([1.0, 2.0]), lib.as_tensor([1, 2]),
            lib.as_tensor(existing) is existing, np.shares_memory(t.numpy(), a),
            lib.as_tensor(existing, dtype=lib.float64)]


def _scn_generator_api(lib):
    g = lib.Generator()
    same = g.manual_seed(3) is g
    s = g.initial_seed()
    a = lib.randn(4, generator=g)
    g.manual_seed(3)
    b = lib.randn(4, generator=g)
    c = lib.rand(2, 2, generator=g)
    d = lib.randint(0, 5, (3,), generator=g)
    e = lib.randn_like(a, generator=g) if lib is gg else torch.randn(a.shape, generator=g)
    return [same, s, bool((a == b).all()), tuple(c.shape), d.dtype, tuple(e.shape),
            type(lib.manual_seed(1)).__name__.endswith("Generator")]


def _scn_inference_mode(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    with lib.inference_mode():
        a = x * 2
        made = lib.ones(2)
        inside = lib.is_inference_mode_enabled()

    @lib.inference_mode()
    def f(t):
        return t * 3

    @lib.inference_mode
    def g(t):
        return t * 3

    with lib.inference_mode(False):
        b = x * 2
    after = (x * 2).requires_grad
    return [a.requires_grad, made.requires_grad, inside, f(x).requires_grad,
            g(x).requires_grad, b.requires_grad, after, lib.is_inference_mode_enabled()]


def _anomaly_on(lib):
    return gg.autograd.is_anomaly_enabled() if lib is gg else torch.is_anomaly_enabled()


def _scn_set_detect_anomaly(lib):
    states = [_anomaly_on(lib)]
    lib.autograd.set_detect_anomaly(True)
    states.append(_anomaly_on(lib))
    lib.autograd.set_detect_anomaly(False)
    states.append(_anomaly_on(lib))
    with lib.autograd.set_detect_anomaly(True):
        states.append(_anomaly_on(lib))
    states.append(_anomaly_on(lib))
    return states


def _walk(fn, depth, leaves, kinds, widths):
    """Graph-walking code as written for PyTorch: recursion over next_functions."""
    if fn is None:
        return 0
    kinds.add(type(fn).__name__)
    assert isinstance(fn.name(), str)
    if hasattr(fn, "variable"):
        leaves[id(fn.variable)] = fn.variable
        return depth
    widths.append(len(fn.next_functions))
    assert all(idx == 0 for _, idx in fn.next_functions)
    return max([depth] + [_walk(n, depth + 1, leaves, kinds, widths)
                          for n, _ in fn.next_functions])


def _scn_next_functions_walk(lib):
    a = lib.tensor([1.0, 2.0], requires_grad=True)
    b = lib.tensor([3.0, 4.0], requires_grad=True)
    c = lib.tensor([5.0, 6.0])  # needs no gradient: (None, 0)
    y = ((a * b + c).exp() * a).sum()
    leaves, kinds, widths = {}, set(), []
    depth = _walk(y.grad_fn, 1, leaves, kinds, widths)
    found = sorted("a" if v is a else "b" if v is b else "?" for v in leaves.values())
    nones = [n is None for n, _ in y.grad_fn.next_functions[0][0].next_functions[0][0]
             .next_functions[0][0].next_functions]
    seen = set()  # AccumulateGrad objects dedupe in a set, as torch's do
    stack = [y.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        stack.extend(n for n, _ in fn.next_functions)
    n_acc = sum(hasattr(fn, "variable") for fn in seen)
    return [depth, found, "AccumulateGrad" in kinds, widths, nones, n_acc, len(seen),
            lib.tensor([1.0]).grad_fn is None]


def _scn_dataloader_workers(lib):
    if lib is gg:
        ds = TensorDataset(np.arange(20.0).reshape(10, 2), np.arange(10))
        Loader = DataLoader
    else:
        ds = tdata.TensorDataset(torch.arange(20.0, dtype=torch.float64).reshape(10, 2),
                                 torch.arange(10))
        Loader = tdata.DataLoader
    batches = []
    for kw in [dict(num_workers=0), dict(num_workers=2, prefetch_factor=2,
                                         persistent_workers=True, pin_memory=False)]:
        loader = Loader(ds, batch_size=4, shuffle=False, **kw)
        batches.append([list(b) for b in loader])
    errors = []
    for kw in [dict(num_workers=-1), dict(prefetch_factor=2), dict(persistent_workers=True)]:
        try:
            Loader(ds, **kw)
            errors.append(None)
        except ValueError:
            errors.append("ValueError")
    return batches + [errors]


SCENARIOS = [v for k, v in sorted(globals().items()) if k.startswith("_scn_")]


@pytest.mark.parametrize("scn", SCENARIOS, ids=lambda f: f.__name__[5:])
def test_scenario_matches_torch(scn):
    _run_both(scn)


# --------------------------------------------------------------------------------------
# glassgrad's own behaviour
# --------------------------------------------------------------------------------------


def test_default_stream_unchanged():
    """``gg.manual_seed(0); gg.randn(3)`` keeps giving the numbers it gave before."""
    gg.manual_seed(0)
    a = gg.randn(3).numpy()
    expect = np.random.default_rng(0).standard_normal(3).astype(np.float32)
    np.testing.assert_array_equal(a, expect)
    gg.manual_seed(0)
    np.testing.assert_array_equal(gg.rand(2).numpy(),
                                  np.random.default_rng(0).random(2).astype(np.float32))


def test_generator_same_seed_same_stream_and_independent():
    g1, g2 = gg.Generator().manual_seed(7), gg.Generator().manual_seed(7)
    np.testing.assert_array_equal(gg.randn(5, generator=g1).numpy(),
                                  gg.randn(5, generator=g2).numpy())
    # Independent: drawing from g1 does not advance g2, nor the default stream.
    gg.manual_seed(0)
    ref = gg.randn(3).numpy()
    gg.manual_seed(0)
    g3 = gg.Generator().manual_seed(7)
    x = gg.randn(4, generator=g1).numpy()
    gg.randint(0, 9, (5,), generator=g1)
    y = gg.randn(4, generator=g3).numpy()
    np.testing.assert_array_equal(gg.randn(3).numpy(), ref)
    g4 = gg.Generator().manual_seed(7)
    gg.randn(5, generator=g4)
    np.testing.assert_array_equal(gg.randn(4, generator=g4).numpy(), x)
    # g3 starts fresh with the same seed: y is the seed's first draw, not g1's later ones
    np.testing.assert_array_equal(
        y, np.random.default_rng(7).standard_normal(4).astype(np.float32))
    assert g1.initial_seed() == 7
    assert isinstance(g1.rng, np.random.Generator)


def test_generator_in_like_and_randint():
    g = gg.Generator().manual_seed(1)
    t = gg.zeros(2, 3)
    a = gg.randn_like(t, generator=g).numpy()
    b = gg.rand_like(t, generator=g).numpy()
    c = gg.randint(10, (4,), generator=g).numpy()
    g.manual_seed(1)
    np.testing.assert_array_equal(gg.randn_like(t, generator=g).numpy(), a)
    np.testing.assert_array_equal(gg.rand_like(t, generator=g).numpy(), b)
    np.testing.assert_array_equal(gg.randint(10, (4,), generator=g).numpy(), c)
    # A NumPy Generator works too.
    gg.randn(2, generator=np.random.default_rng(0))
    with pytest.raises(TypeError, match="randn: generator must be a gg.Generator"):
        gg.randn(2, generator=3)


def test_default_generator_from_manual_seed():
    g = gg.manual_seed(11)
    assert g.initial_seed() == 11
    a = gg.randn(3, generator=g).numpy()  # the default stream itself
    gg.manual_seed(11)
    np.testing.assert_array_equal(gg.randn(3).numpy(), a)
    assert g.manual_seed(12) is not None
    np.testing.assert_array_equal(
        gg.randn(2).numpy(), np.random.default_rng(12).standard_normal(2).astype(np.float32))


def test_dataloader_generator_shuffle_reproducible():
    ds = TensorDataset(np.arange(24.0).reshape(12, 2), np.arange(12))
    g = gg.Generator().manual_seed(4)
    first = [yb.tolist() for _, yb in DataLoader(ds, batch_size=5, shuffle=True, generator=g)]
    g.manual_seed(4)
    again = [yb.tolist() for _, yb in DataLoader(ds, batch_size=5, shuffle=True, generator=g,
                                                  num_workers=2)]
    assert first == again
    assert sorted(sum(first, [])) == list(range(12))
    gg.manual_seed(0)
    w0 = [yb.tolist() for _, yb in DataLoader(ds, batch_size=3, shuffle=True)]
    gg.manual_seed(0)
    w2 = [yb.tolist() for _, yb in DataLoader(ds, batch_size=3, shuffle=True, num_workers=2,
                                              persistent_workers=True, prefetch_factor=4,
                                              pin_memory=True)]
    assert w0 == w2


def test_from_numpy_shares_memory_both_ways():
    a = np.zeros((2, 2))
    t = gg.from_numpy(a)
    assert t.dtype == np.float64 and np.shares_memory(t.numpy(), a)
    t.numpy()[0, 0] = 3.0
    assert a[0, 0] == 3.0
    t.fill_(4.0)
    assert a[1, 1] == t.numpy()[1, 1] != 0
    with pytest.raises(TypeError, match="from_numpy: expected np.ndarray"):
        gg.from_numpy([1.0, 2.0])


def test_dtype_names_are_numpy_dtypes_and_builtins_untouched():
    assert gg.float32 == np.float32 and gg.long == np.int64 and gg.int == np.int32
    assert gg.float == np.float32 and gg.double == np.float64 and gg.bool == np.bool_
    x = gg.tensor([1.5, 2.5])
    assert x.astype(gg.float64).dtype == np.float64
    ns = {}
    exec("from glassgrad import *", ns)
    assert "float" not in ns and "int" not in ns and "bool" not in ns
    assert ns["float32"] == np.float32


def test_unsqueeze_errors_name_the_spelling():
    x = gg.zeros(2, 3)
    with pytest.raises(IndexError, match=r"unsqueeze: dim 3 out of range .*\(2, 3\)"):
        gg.unsqueeze(x, 3)
    with pytest.raises(TypeError, match="gg.expand_dims"):
        gg.unsqueeze(x, (0, 1))


def test_randint_needs_size():
    with pytest.raises(TypeError, match=r"gg.randint\(high, size\)"):
        gg.randint(5)


def test_randn_like_integer_needs_dtype():
    with pytest.raises(TypeError, match="randn_like: needs a floating dtype"):
        gg.randn_like(gg.tensor([1, 2]))
    assert gg.randn_like(gg.tensor([1, 2]), dtype=gg.float64).dtype == np.float64


def test_set_detect_anomaly_catches_nan():
    x = gg.tensor([0.0], requires_grad=True)
    with gg.autograd.set_detect_anomaly(True):
        y = gg.sqrt(x)
        with pytest.raises(gg.autograd.AnomalyError, match="sqrt"):
            y.sum().backward()
    assert not gg.autograd.is_anomaly_enabled()
    gg.autograd.set_detect_anomaly(True)
    try:
        assert gg.autograd.is_anomaly_enabled()
    finally:
        gg.autograd.set_detect_anomaly(False)
    assert not gg.autograd.is_anomaly_enabled()


def test_node_name_is_attribute_and_method():
    x = gg.tensor([1.0], requires_grad=True)
    node = (x * x).grad_fn
    assert node.name == "mul" and node.name() == "mul"
    assert f"{node.name}" == "mul" and isinstance(node.name, str)
    acc = node.next_functions[0][0]
    assert acc.variable is x and acc.next_functions == () and acc.name() == "AccumulateGrad"
    assert acc == node.next_functions[1][0] and len({acc, node.next_functions[1][0]}) == 1


def test_pad_errors():
    x = gg.zeros(2, 3)
    with pytest.raises(NotImplementedError, match="mode='reflect'"):
        GF.pad(x, (1, 1), mode="reflect")
    with pytest.raises(gg.OpError, match="even length"):
        GF.pad(x, (1, 1, 1))
    with pytest.raises(gg.OpError, match="even length"):
        GF.pad(x, (1, 1, 1, 1, 1, 1))


def test_inference_mode_restores_on_error():
    with pytest.raises(ValueError):
        with gg.inference_mode():
            raise ValueError("boom")
    assert gg.is_grad_enabled() and not gg.is_inference_mode_enabled()


@pytest.mark.parametrize("module", [gg.creation, gg.grad_mode, gg.nn.functional],
                         ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for test in doctest.DocTestFinder().find(module, globs={"gg": gg, "np": np, "F": GF}):
        runner.run(test)
    assert runner.failures == 0
