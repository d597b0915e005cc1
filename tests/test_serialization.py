"""``gg.save`` / ``gg.load``: round trips of module and optimizer-style state dicts as
``.npz``, and the refusals (pickles, object arrays, unsupported objects, bad keys)."""

import io
import json
import pickle
import zipfile

import numpy as np
import pytest
import torch

import glassgrad as gg
from glassgrad import nn


class Tanh(nn.Module):
    def forward(self, x):
        return x.tanh()


def make_net():
    net = nn.Sequential(nn.Linear(3, 5), Tanh(), nn.Linear(5, 2))
    net.register_buffer("steps", gg.tensor(np.array(4, dtype=np.int64)))
    return net


def test_module_state_dict_round_trip(tmp_path):
    net = make_net()
    path = tmp_path / "net.npz"
    gg.save(net.state_dict(), path)
    sd = gg.load(path)
    assert list(sd) == list(net.state_dict())
    for k, v in net.state_dict().items():
        assert isinstance(sd[k], gg.Tensor) and sd[k].dtype == v.dtype
        np.testing.assert_array_equal(sd[k].numpy(), v.numpy())
    other = make_net()
    other.load_state_dict(sd)
    x = gg.randn(4, 3)
    np.testing.assert_array_equal(other(x).numpy(), net(x).numpy())


def test_file_is_a_snapshot_and_path_is_used_as_given(tmp_path):
    net = make_net()
    path = tmp_path / "model.pt"  # no ".npz" appended behind the user's back
    gg.save(net.state_dict(), str(path))
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]
    saved = net[0].weight.numpy().copy()
    with gg.no_grad():
        net[0].weight.data[...] = 0
    np.testing.assert_array_equal(gg.load(str(path))["0.weight"].numpy(), saved)


def test_file_holds_no_object_arrays(tmp_path):
    path = tmp_path / "a.npz"
    gg.save({"w": gg.randn(2, 2), "meta": {"name": "x", "n": [1, 2.5, None]}}, path)
    with np.load(path, allow_pickle=False) as npz:  # every entry readable without pickle
        dtypes = {name: npz[name].dtype for name in npz.files}
    assert all(not dt.hasobject for dt in dtypes.values())
    assert dtypes["__glassgrad__"] == np.uint8


def test_optimizer_style_nested_state_round_trip(tmp_path):
    state = {
        "state": {0: {"step": 3, "momentum_buffer": gg.randn(3, 2)},
                  1: {"step": gg.tensor(5.0), "exp_avg": np.arange(4.0),
                      "exp_avg_sq": np.ones(4, np.float32)}},
        "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-8, "nesterov": False,
                          "foreach": None, "params": [0, 1], "name": "body"}],
        "extras": {"inf": float("inf"), "ninf": -float("inf"), (1, "a"): "tuple key",
                   2.5: "float key", None: "none key", True: [], "np": np.float32(2.5),
                   "i64": np.int64(7), "empty": {}, "nested": [[1, [2, (3,)]]]},
    }
    path = tmp_path / "opt.npz"
    gg.save(state, path)
    back = gg.load(path)
    assert back["param_groups"] == state["param_groups"]
    assert back["state"][0]["step"] == 3 and isinstance(back["state"][0]["step"], int)
    np.testing.assert_array_equal(back["state"][0]["momentum_buffer"].numpy(),
                                  state["state"][0]["momentum_buffer"].numpy())
    assert isinstance(back["state"][1]["step"], gg.Tensor)
    assert isinstance(back["state"][1]["exp_avg"], np.ndarray)
    assert back["state"][1]["exp_avg_sq"].dtype == np.float32
    ex = back["extras"]
    assert ex["inf"] == float("inf") and ex["ninf"] == -float("inf")
    assert ex[(1, "a")] == "tuple key" and ex[2.5] == "float key" and ex[None] == "none key"
    assert ex[True] == [] and ex["empty"] == {} and ex["nested"] == [[1, [2, (3,)]]]
    assert ex["np"] == np.float32(2.5) and type(ex["i64"]) is np.int64
    nan = gg.load(_saved(tmp_path, {"x": float("nan")}))["x"]
    assert nan != nan


def _saved(tmp_path, obj, name="x.npz"):
    path = tmp_path / name
    gg.save(obj, path)
    return path


def test_file_objects_and_requires_grad(tmp_path):
    buf = io.BytesIO()
    w = gg.randn(3, requires_grad=True)
    gg.save([w, "text"], buf)
    buf.seek(0)
    back = gg.load(buf)
    assert back[1] == "text" and back[0].requires_grad and back[0].is_leaf
    np.testing.assert_array_equal(back[0].numpy(), w.numpy())


def test_torch_weights_via_plain_npz(tmp_path):
    """A plain .npz of named arrays (the way to bring PyTorch weights over) loads as a
    dict of Tensors that load_state_dict accepts."""
    tnet = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    path = tmp_path / "torch.npz"
    np.savez(path, **{k: v.numpy() for k, v in tnet.state_dict().items()})
    sd = gg.load(path)
    net = nn.Sequential(nn.Linear(3, 5), Tanh(), nn.Linear(5, 2))
    net.load_state_dict(sd)
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(net(gg.tensor(x)).numpy(), tnet(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


# --- refusals --------------------------------------------------------------------------------
class Boom:
    """Unpickling this would run code: the reason gg.load never unpickles."""

    def __reduce__(self):
        return (exec, ("raise SystemExit('unpickled!')",))


def test_object_arrays_are_refused(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, weights=np.ones(2), payload=np.array([Boom()], dtype=object))
    with pytest.raises(ValueError, match=r"object array \('payload'\).*never unpickles"):
        gg.load(path)
    # also inside a gg.save file whose structure does not even reference it
    path2 = tmp_path / "sneaky.npz"
    gg.save({"w": np.ones(2)}, path2)
    with zipfile.ZipFile(path2, "a") as z:
        b = io.BytesIO()
        np.save(b, np.array([Boom()], dtype=object), allow_pickle=True)
        z.writestr("extra.npy", b.getvalue())
    with pytest.raises(ValueError, match="object array"):
        gg.load(path2)


def test_pickles_and_torch_files_are_refused(tmp_path):
    p = tmp_path / "state.pkl"
    p.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(ValueError, match="never unpickles"):
        gg.load(p)
    t = tmp_path / "state.pt"
    torch.save({"w": torch.ones(2)}, t)
    with pytest.raises(ValueError, match="not a NumPy array"):
        gg.load(t)
    n = tmp_path / "one.npy"
    np.save(n, np.ones(3))
    with pytest.raises(ValueError, match="single .npy"):
        gg.load(n)


def test_unsupported_objects_are_refused_naming_where(tmp_path):
    with pytest.raises(TypeError, match=r"cannot store set at obj\['a'\]\[1\]"):
        gg.save({"a": [1, {2}]}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match=r"gg.save\(obj.state_dict\(\), path\)"):
        gg.save(nn.Linear(2, 2), tmp_path / "x.npz")
    with pytest.raises(TypeError, match="dtype object"):
        gg.save({"a": np.array([None])}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="dict key"):
        gg.save({frozenset(): 1}, tmp_path / "x.npz")


def test_newer_format_is_refused(tmp_path):
    path = _saved(tmp_path, {"a": 1})
    meta = json.dumps({"format": "glassgrad.npz", "version": 99, "root": 1})
    np.savez(path, __glassgrad__=np.frombuffer(meta.encode(), np.uint8))
    with pytest.raises(ValueError, match="version 99"):
        gg.load(path)


def test_bad_state_dicts_name_the_keys_after_a_round_trip(tmp_path):
    sd = make_net().state_dict()
    sd.pop("2.bias")
    sd["3.weight"] = gg.zeros(1)
    sd["0.weight"] = gg.zeros(4, 3)
    back = gg.load(_saved(tmp_path, sd))
    with pytest.raises(RuntimeError) as info:
        make_net().load_state_dict(back)
    msg = str(info.value)
    assert '"2.bias"' in msg and '"3.weight"' in msg
    assert "0.weight" in msg and "(4, 3)" in msg and "(5, 3)" in msg


def test_docstring_example_runs():
    import doctest

    result = doctest.testmod(gg.serialization, extraglobs={"gg": gg})
    assert result.failed == 0 and result.attempted > 0
