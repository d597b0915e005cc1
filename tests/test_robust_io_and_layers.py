"""Robust checkpoints and strict layers.

* ``gg.load`` on broken input (empty, truncated, bit-flipped, lying sizes, malformed
  structure, not a checkpoint, a folder) raises one error type, ``CheckpointError``,
  naming the file, and leaves no file handle open; a missing path is FileNotFoundError.
* ``gg.save`` to a path is atomic: a failure at any point leaves the old file
  byte-identical and no temporary file behind.
* ``Module.load_state_dict`` is all or nothing, also when a live graph holds a parameter.
* ``Linear`` / ``Conv2d`` refuse an input whose dtype differs from their weight's, as torch.
"""

import gc
import io
import json
import os
import stat
import struct
import warnings
import zipfile

import numpy as np
import pytest
import torch

import glassgrad as gg
from glassgrad import nn
from glassgrad.serialization import CheckpointError

# --- a real checkpoint, and helpers that build broken ones -----------------------------------


def make_checkpoint() -> dict:
    """A model's and an optimizer-style state: every node type gg.save writes."""
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    return {"model": net.state_dict(),
            "optimizer": {"state": {0: {"step": 3, "exp_avg": np.arange(4.0)}},
                          "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999),
                                            "eps": float("inf"), "name": "body"}]},
            "epoch": np.int64(7), "requires": gg.ones(2, requires_grad=True)}


def checkpoint_bytes() -> bytes:
    buf = io.BytesIO()
    gg.save(make_checkpoint(), buf)
    return buf.getvalue()


def same(a, b) -> bool:
    """Structural equality of two loaded checkpoints (arrays by value, dtype and shape)."""
    if isinstance(a, (gg.Tensor, np.ndarray)):
        x, y = np.asarray(getattr(a, "_data", a)), np.asarray(getattr(b, "_data", b))
        return type(a) is type(b) and x.dtype == y.dtype and np.array_equal(x, y)
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    return type(a) is type(b) and a == b


def npz_with_meta(path, meta, **arrays) -> None:
    """A .npz whose structure entry holds ``meta`` (bytes, text or a JSON-able object)."""
    if not isinstance(meta, (bytes, str)):
        meta = json.dumps(meta)
    if isinstance(meta, str):
        meta = meta.encode()
    np.savez(path, __glassgrad__=np.frombuffer(meta, np.uint8), **arrays)


def wrapped(root) -> dict:
    return {"format": "glassgrad.npz", "version": 1, "root": root}


def npy_bytes(header: dict, data: bytes) -> bytes:
    """An .npy entry with a header of our choosing (it may lie about the data)."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue() + data  # the header writer includes the magic


def zip_of(path, members: dict, compression=zipfile.ZIP_STORED) -> None:
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)


def expect_checkpoint_error(path, match=None) -> CheckpointError:
    """gg.load(path) raises exactly CheckpointError, naming the file."""
    with pytest.raises(CheckpointError, match=match) as info:
        gg.load(path)
    assert type(info.value) is CheckpointError
    assert str(path) in str(info.value)
    return info.value


# --- gg.load: one error type for every broken file --------------------------------------------


def test_checkpoint_error_is_a_value_error():
    # Code that caught the ValueError gg.load raised before keeps working.
    assert issubclass(CheckpointError, ValueError)


def test_real_checkpoint_round_trips(tmp_path):
    data = checkpoint_bytes()
    path = tmp_path / "ckpt.npz"
    path.write_bytes(data)
    back = gg.load(path)
    assert same(back, gg.load(io.BytesIO(data)))
    assert back["requires"].requires_grad and back["epoch"] == 7
    back["model"]["0.weight"].data[...] = 0  # loaded arrays are writable, as np.load's


def test_empty_file(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    expect_checkpoint_error(path, "empty")


def test_truncated_at_every_7th_byte_and_near_the_end(tmp_path):
    data = checkpoint_bytes()
    cuts = sorted(set(range(1, len(data), 7)) | set(range(len(data) - 40, len(data))))
    path = tmp_path / "cut.npz"
    for cut in cuts:
        path.write_bytes(data[:cut])
        with pytest.raises(CheckpointError) as info:
            gg.load(path)
        assert type(info.value) is CheckpointError, cut
        assert str(path) in str(info.value), cut


def test_bit_flips_anywhere_raise_or_load_the_same():
    """A flipped bit at any offset (each of the 8 bit positions in turn) is caught (the
    zip CRCs cover every entry's bytes, the end record's count every entry) or lands
    where it changes nothing (a timestamp); it never yields other data or a raw error."""
    data = checkpoint_bytes()
    original = gg.load(io.BytesIO(data))
    caught = 0
    for offset in range(len(data)):
        flipped = bytearray(data)
        flipped[offset] ^= 1 << (offset % 8)
        try:
            back = gg.load(io.BytesIO(bytes(flipped)))
        except CheckpointError as err:
            assert type(err) is CheckpointError and "the file object" in str(err), offset
            caught += 1
        else:
            assert same(back, original), f"flip at byte {offset} changed the loaded data"
    assert caught > 0.8 * len(data)


@pytest.mark.parametrize("shape", [(10**12,), (10**6, 10**6), (2**62, 2**62, 2**62)])
def test_header_declaring_a_huge_array_is_refused_before_allocating(tmp_path, shape):
    path = tmp_path / "huge.npz"
    entry = npy_bytes({"descr": "<f8", "fortran_order": False, "shape": shape}, bytes(16))
    zip_of(path, {"arr_0.npy": entry,
                  "__glassgrad__.npy": _meta_npy(wrapped({"t": "ndarray", "ref": "arr_0"}))})
    # np.empty(10**12 * 8 bytes) would raise MemoryError (or swap): refused first
    expect_checkpoint_error(path, r"declares shape .* but holds 16 bytes")


def _meta_npy(meta: dict) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.frombuffer(json.dumps(meta).encode(), np.uint8))
    return buf.getvalue()


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_zip_directory_declaring_a_huge_entry_is_refused(tmp_path, compression):
    """The archive's table of contents lies: it claims a 4 GB entry in a tiny file."""
    path = tmp_path / "lying.npz"
    zip_of(path, {"w.npy": npy_bytes({"descr": "<f4", "fortran_order": False, "shape": (4,)},
                                     bytes(16))}, compression)
    data = bytearray(path.read_bytes())
    central = data.rindex(b"PK\x01\x02")  # the central directory record of w.npy
    data[central + 24:central + 28] = struct.pack("<I", 0xFFFFFFF0)  # uncompressed size
    path.write_bytes(bytes(data))
    expect_checkpoint_error(path, "cannot hold")


def test_deflated_and_plain_npz_still_load(tmp_path):
    """The checks refuse lies, not legitimate files: np.savez_compressed of torch weights
    (a 1000:1 deflate ratio) and a Fortran-ordered, big-endian and a 0-d array."""
    tnet = torch.nn.Linear(3, 2)
    path = tmp_path / "torch.npz"
    sd = {k: v.numpy() for k, v in tnet.state_dict().items()}
    np.savez_compressed(path, zeros=np.zeros(10**6), **sd)
    back = gg.load(path)
    assert np.array_equal(back["weight"].numpy(), sd["weight"])
    assert back["zeros"].shape == (10**6,)
    odd = {"f": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
           "be": np.arange(3, dtype=">i4"), "zero_d": np.array(2.5), "s": np.array(["ab"])}
    gg.save(odd, tmp_path / "odd.npz")
    assert same(gg.load(tmp_path / "odd.npz"), odd)


DEEP_JSON = "[" * 100_000 + "]" * 100_000


def _nested(depth: int) -> dict:
    node = 1
    for _ in range(depth):
        node = {"t": "list", "items": [node]}
    return node


BAD_META = {
    "not json": b"{not json",
    "not utf-8": b"\xff\xfe\x00",
    "json list": [1, 2],
    "missing root": {"format": "glassgrad.npz", "version": 1},
    "missing format": {"version": 1, "root": 1},
    "version as text": {"format": "glassgrad.npz", "version": "1", "root": 1},
    "bare list root": wrapped([1, 2]),
    "items not a list": wrapped({"t": "dict", "items": 5}),
    "item not a pair": wrapped({"t": "dict", "items": [[1]]}),
    "unhashable key": wrapped({"t": "dict", "items": [[{"t": "list", "items": []}, 1]]}),
    "missing ref": wrapped({"t": "tensor", "ref": "arr_9"}),
    "ref of wrong type": wrapped({"t": "ndarray", "ref": 5}),
    "npscalar not 0-d": wrapped({"t": "npscalar", "ref": "arr_0"}),
    "bad float": wrapped({"t": "float", "v": "abc"}),
    "unknown tag": wrapped({"t": "bogus"}),
    "untagged object": wrapped({"x": 1}),
    "requires_grad of int": wrapped({"t": "tensor", "ref": "arr_1", "requires_grad": True}),
    "requires_grad not bool": wrapped({"t": "tensor", "ref": "arr_0", "requires_grad": "y"}),
    "deep JSON (RecursionError)": DEEP_JSON,
    "deep tagged structure": wrapped(_nested(150)),
    "very deep tagged structure": '{"format": "glassgrad.npz", "version": 1, "root": '
                                  + '{"t": "list", "items": [' * 5000 + "1" + "]}" * 5000 + "}",
}


@pytest.mark.parametrize("meta", list(BAD_META.values()), ids=list(BAD_META))
def test_malformed_structure(tmp_path, meta):
    path = tmp_path / "meta.npz"
    npz_with_meta(path, meta, arr_0=np.ones(3), arr_1=np.arange(2))
    expect_checkpoint_error(path)


@pytest.mark.parametrize("meta", [np.ones(3), np.zeros((2, 2), np.uint8)], ids=["float", "2-d"])
def test_structure_entry_of_the_wrong_kind(tmp_path, meta):
    path = tmp_path / "meta.npz"
    np.savez(path, __glassgrad__=meta)
    expect_checkpoint_error(path, "__glassgrad__")


@pytest.mark.parametrize("header", [
    b"{'descr': '<f8', 'fortran_order': False, 'shape': (-1,)}",
    b"{'descr': '<f8', 'fortran_order': 0, 'shape': (1,)}",
    b"{'descr': 'nonsense', 'fortran_order': False, 'shape': (1,)}",
    b"{'descr': '<f8', 'shape': (1,)}",
    b"{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x': __import__('os')}",
    b"(" * 5000 + b")" * 5000,
    b"not a dict",
], ids=["negative", "fortran int", "descr", "missing key", "call", "deep", "text"])
def test_malformed_npy_header(tmp_path, header):
    raw = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + bytes(8)
    path = tmp_path / "header.npz"
    zip_of(path, {"w.npy": raw})
    expect_checkpoint_error(path)


def _png(path):
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))


NOT_CHECKPOINTS = {
    "text": lambda p: p.write_text("hello, world\n"),
    "png": _png,
    "json": lambda p: p.write_text(json.dumps(wrapped(1))),
    "pickle": lambda p: p.write_bytes(__import__("pickle").dumps({"w": [1.0]})),
    "torch.save": lambda p: torch.save({"w": torch.ones(2)}, p),
    "zip of text": lambda p: zip_of(p, {"readme.txt": b"hi"}),
    "single npy": lambda p: np.save(open(p, "wb"), np.ones(3)),
    "zip magic only": lambda p: p.write_bytes(b"PK\x03\x04" + bytes(40)),
    "bzip2 entry": lambda p: zip_of(p, {"w.npy": _meta_npy({})}, zipfile.ZIP_BZIP2),
    "object array": lambda p: np.savez(p, a=np.array([None, 1], dtype=object)),
    "datetime array": lambda p: np.savez(p, a=np.array(["2020-01-01"], "datetime64[D]")),
}


@pytest.mark.parametrize("make", list(NOT_CHECKPOINTS.values()), ids=list(NOT_CHECKPOINTS))
def test_files_that_are_not_checkpoints(tmp_path, make):
    path = tmp_path / "thing.npz"  # np.savez appends ".npz" to any other name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # the "single npy" maker's open
        make(path)
    gc.collect()
    expect_checkpoint_error(path)


def test_folder_and_missing_path(tmp_path):
    expect_checkpoint_error(tmp_path, "folder")
    with pytest.raises(FileNotFoundError):  # as open() raises it: the conventional error
        gg.load(tmp_path / "nope.npz")


def test_file_object_input_is_checked_and_left_open():
    buf = io.BytesIO(checkpoint_bytes()[:-10])
    with pytest.raises(CheckpointError, match="the file object"):
        gg.load(buf)
    assert not buf.closed


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_no_file_handle_left_open_after_any_failure(tmp_path):
    data = checkpoint_bytes()
    broken = [b"", data[:100], data[:-1], b"PK\x03\x04" + bytes(40), b"garbage" * 10]
    broken += [bytes(b ^ 0xFF if i == off else b for i, b in enumerate(data))
               for off in range(0, len(data), 97)]
    gc.collect()
    before = _open_fds()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for i, blob in enumerate(broken):
            path = tmp_path / f"b{i}.npz"
            path.write_bytes(blob)
            try:
                gg.load(path)
            except CheckpointError:
                pass
        gc.collect()
    assert _open_fds() == before
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


# --- gg.save: atomic --------------------------------------------------------------------------


@pytest.fixture
def old_checkpoint(tmp_path):
    path = tmp_path / "model.npz"
    gg.save({"w": np.arange(5.0)}, path)
    return path, path.read_bytes()


def _assert_untouched(path, old_bytes):
    assert path.read_bytes() == old_bytes
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp file left
    assert np.array_equal(gg.load(path)["w"], np.arange(5.0))


def _write_half_then_fail(real):
    calls = []

    def write_array(fp, array, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the second entry: half its bytes go out, then the disk fills
            fp.write(array.tobytes()[: array.nbytes // 2])
            raise OSError(28, "No space left on device")
        return real(fp, array, *args, **kwargs)
    return write_array


@pytest.mark.parametrize("fail", ["write", "fsync", "replace", "interrupt"])
def test_failed_save_leaves_the_old_file_and_no_temp_file(monkeypatch, old_checkpoint, fail):
    path, old_bytes = old_checkpoint
    if fail == "write":
        monkeypatch.setattr(np.lib.format, "write_array",
                            _write_half_then_fail(np.lib.format.write_array))
        expected = OSError
    elif fail == "fsync":
        def fsync(fd):
            raise OSError(5, "Input/output error")
        monkeypatch.setattr(os, "fsync", fsync)
        expected = OSError
    elif fail == "replace":
        def replace(src, dst):
            raise PermissionError(13, "Permission denied")
        monkeypatch.setattr(os, "replace", replace)
        expected = PermissionError
    else:
        def write_array(*args, **kwargs):
            raise KeyboardInterrupt
        monkeypatch.setattr(np.lib.format, "write_array", write_array)
        expected = KeyboardInterrupt
    with pytest.raises(expected):
        gg.save({"w": np.zeros(1000), "b": np.ones(1000)}, path)
    monkeypatch.undo()
    _assert_untouched(path, old_bytes)


def test_unsavable_object_leaves_the_old_file(old_checkpoint):
    path, old_bytes = old_checkpoint
    with pytest.raises(TypeError):
        gg.save({"w": np.zeros(3), "bad": {1, 2}}, path)
    _assert_untouched(path, old_bytes)


def test_save_fsyncs_before_replacing(monkeypatch, tmp_path):
    order = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (order.append("fsync"), real_fsync(fd)))
    monkeypatch.setattr(os, "replace", lambda a, b: (order.append("replace"), real_replace(a, b)))
    gg.save({"w": np.ones(2)}, tmp_path / "a.npz")
    assert order[:2] == ["fsync", "replace"]


def test_save_into_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        gg.save({"w": 1}, tmp_path / "no" / "a.npz")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits and symlinks")
def test_save_keeps_permissions_and_writes_through_symlinks(tmp_path, old_checkpoint):
    path, _ = old_checkpoint
    os.chmod(path, 0o640)
    link = tmp_path / "latest.npz"
    link.symlink_to(path.name)
    gg.save({"w": np.arange(2.0)}, link)
    assert link.is_symlink() and stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert np.array_equal(gg.load(path)["w"], np.arange(2.0))


def test_save_refuses_what_load_would_refuse_as_too_deep(tmp_path):
    deep = 1
    for _ in range(150):
        deep = [deep]
    with pytest.raises(ValueError, match="nested more than 100 levels"):
        gg.save(deep, tmp_path / "deep.npz")
    assert list(tmp_path.iterdir()) == []


# --- load_state_dict: all or nothing ----------------------------------------------------------


def _mlp():
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))


def _snapshot(model) -> dict:
    return {k: np.array(v.data) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("held", ["first", "last", "both"])
def test_load_state_dict_refused_by_a_live_graph_changes_nothing(held):
    """A live graph saved a weight for its backward, so it cannot be overwritten. torch
    would copy and fail later, at backward ("modified by an inplace operation", see the
    reference test below); we refuse up front, before copying anything."""
    model = _mlp()
    before = _snapshot(model)
    new = {k: np.full(v.shape, 7.0, np.float32) for k, v in before.items()}
    if held == "first":
        out = model[0](gg.ones((1, 3)))
    elif held == "last":  # the bug: 0.weight and 0.bias were already overwritten
        out = model[2](gg.ones((1, 4)))
    else:
        out = model(gg.ones((1, 3)))
    with pytest.raises(RuntimeError, match="backward of") as info:
        model.load_state_dict(new)
    names = {"first": ["0.weight"], "last": ["2.weight"], "both": ["0.weight", "2.weight"]}
    assert all(n in str(info.value) for n in names[held])
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.data, before[k], err_msg=k)
    out.sum().backward()  # the graph's saved values were intact: backward works, then loads
    model.load_state_dict(new)
    assert all(np.all(v.data == 7.0) for v in model.state_dict().values())


def test_torch_reference_loading_under_a_live_graph_breaks_backward():
    tmodel = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    out = tmodel[2](torch.ones(1, 4, requires_grad=True))
    tmodel.load_state_dict({k: torch.full_like(v, 7.0) for k, v in tmodel.state_dict().items()})
    with pytest.raises(RuntimeError, match="inplace operation"):
        out.sum().backward()


def test_load_state_dict_read_only_target_and_bad_values_change_nothing():
    model = _mlp()
    before = _snapshot(model)
    new = {k: np.full(v.shape, 7.0, np.float32) for k, v in before.items()}
    model[2].bias.data.setflags(write=False)  # a user's read-only array
    with pytest.raises(RuntimeError, match=r"2\.bias.*read-only"):
        model.load_state_dict(new)
    model[2].bias.data.setflags(write=True)
    for bad in ([[1.0, 2.0], [3.0]], np.ones(2, np.complex64), "text"):
        with pytest.raises(RuntimeError, match="2.bias"):
            model.load_state_dict({**new, "2.bias": bad})
    assert all(np.array_equal(v.data, before[k]) for k, v in model.state_dict().items())


def test_load_state_dict_reads_every_value_before_writing_any():
    """Values that alias the module's own arrays (swapping two layers' weights) load as
    they were at the call. (torch copies one by one, so there both end up equal.)"""
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    w0, w1 = _snapshot(model)["0.weight"], _snapshot(model)["1.weight"]
    sd = model.state_dict()
    sd["0.weight"], sd["1.weight"] = sd["1.weight"], sd["0.weight"]
    model.load_state_dict(sd)
    np.testing.assert_array_equal(model[0].weight.data, w1)
    np.testing.assert_array_equal(model[1].weight.data, w0)


# --- layers refuse an input of another dtype, as torch ----------------------------------------

IN_DTYPES = [np.int64, np.int32, np.uint8, np.bool_, np.float64, np.float16]


def _layers():
    return {"Linear": (nn.Linear(3, 2), torch.nn.Linear(3, 2), (4, 3)),
            "Conv2d": (nn.Conv2d(1, 2, 3), torch.nn.Conv2d(1, 2, 3), (1, 1, 5, 5))}


@pytest.mark.parametrize("in_dtype", IN_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("layer", ["Linear", "Conv2d"])
def test_float32_layer_refuses_other_input_dtypes_as_torch(layer, in_dtype):
    ours, theirs, shape = _layers()[layer]
    x = np.ones(shape, in_dtype)
    with pytest.raises(RuntimeError):  # torch: "mat1 and mat2 must have the same dtype"
        theirs(torch.from_numpy(x))
    for given in (gg.tensor(x), x):  # a Tensor or a raw array
        with pytest.raises(TypeError) as info:
            ours(given)
        msg = str(info.value)
        assert repr(ours).split("(")[0] + "(" in msg  # the layer, e.g. "Linear(in_features=3"
        assert np.dtype(in_dtype).name in msg and "float32" in msg
        assert "x.astype(np.float32)" in msg


def test_linear_error_names_the_layer_with_its_sizes():
    with pytest.raises(TypeError, match=r"Linear\(in_features=3, out_features=2"):
        nn.Linear(3, 2)(gg.tensor(np.ones((1, 3))))


def test_functional_conv2d_refuses_mixed_dtypes_as_torch():
    w = np.ones((2, 1, 3, 3), np.float32)
    with pytest.raises(RuntimeError):
        torch.nn.functional.conv2d(torch.ones(1, 1, 5, 5, dtype=torch.float64),
                                   torch.from_numpy(w))
    with pytest.raises(TypeError, match="float64"):
        nn.functional.conv2d(gg.tensor(np.ones((1, 1, 5, 5))), gg.tensor(w))


@pytest.mark.parametrize("layer", ["Linear", "Conv2d"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matching_dtypes_still_work_and_match_torch(layer, dtype):
    ours, theirs, shape = _layers()[layer]
    ours.to(dtype)
    theirs.to(torch.float64 if dtype == np.float64 else torch.float32)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    out = ours(gg.tensor(x))
    assert out.dtype == dtype
    np.testing.assert_allclose(out.numpy(), theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
