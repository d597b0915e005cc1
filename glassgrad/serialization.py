"""``gg.save`` / ``gg.load``: state dicts as ``.npz`` files that never unpickle.

``torch.save`` pickles, and unpickling a file can run any code its author chose. Here a
file is a plain NumPy ``.npz`` archive holding only numeric arrays:

* every array or Tensor in the saved object becomes one entry, ``arr_0``, ``arr_1``, ...;
* the object's *structure* (nested dicts, lists, tuples, numbers, strings, ``None``,
  with each array replaced by a reference to its entry) is one more entry,
  ``__glassgrad__``: JSON text stored as a ``uint8`` array of its UTF-8 bytes.

Nothing in a file is ever executed: the ``.npy`` headers are read as Python literals
and the structure as JSON, and an archive holding object arrays (which only unpickling
could read) is refused with an error that says so. A plain ``.npz`` of named arrays
(e.g. written with ``np.savez(path, **{k: v.numpy() for k, v in torch_sd.items()})``,
compressed or not) loads as a dict of name -> Tensor, ready for ``load_state_dict``.

Safety. ``save`` to a path is atomic: it writes a temporary file in the same folder,
flushes and fsyncs it, then ``os.replace``-s it onto the target, so an error or a crash
leaves the old checkpoint (or none), never half a file. ``load`` treats the file as
untrusted input: every way it can be damaged (empty, truncated, bit flips, sizes that
lie, malformed structure) raises one error type, :class:`CheckpointError`, naming the
file and what is wrong, and every size is checked against the bytes actually present
*before* anything is allocated. A path that does not exist raises FileNotFoundError.

JSON node forms (containers are tagged objects, scalars are plain JSON values)::

    {"t": "dict", "items": [[key, value], ...]}   keys: str, int, float, bool, None, tuple
    {"t": "list", "items": [...]}    {"t": "tuple", "items": [...]}
    {"t": "tensor", "ref": "arr_3", "requires_grad": false}
    {"t": "ndarray", "ref": "arr_4"}   {"t": "npscalar", "ref": "arr_5"}
    {"t": "float", "v": "nan" | "inf" | "-inf"}     (JSON has no such numbers)
"""

from __future__ import annotations

import ast
import errno
import json
import math
import os
import secrets
import stat
import struct
import zipfile
import zlib

import numpy as np

from .tensor import Tensor

__all__ = ["save", "load", "CheckpointError"]

_META = "__glassgrad__"
_FORMAT = "glassgrad.npz"
_VERSION = 1
_MAX_DEPTH = 100  # nesting of the saved structure; real checkpoints nest 3-5 levels
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header; an empty archive
_MAX_NPY_HEADER = 65536  # np.save writes a few hundred bytes
_DEFLATE_MAX_RATIO = 1032  # no deflate stream expands more than this (RFC 1951 limits)
_CHUNK = 1 << 24  # bytes read per call while filling an array
_STORABLE_KINDS = "biufcUS"  # bool, ints, floats, complex, str, bytes: no pickling


class CheckpointError(ValueError):
    """``gg.load`` cannot read a file: it is damaged, truncated, or not a checkpoint.

    The one error ``gg.load`` raises for bad contents, whatever part of the file is
    broken; the message names the file and what is wrong. A ``ValueError``, so code that
    caught ``ValueError`` keeps working. A path that does not exist raises
    ``FileNotFoundError`` instead, as ``open`` does.
    """


# --- saving --------------------------------------------------------------------------------
class _Encoder:
    """Walks the object, collecting arrays and returning its JSON structure."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def _store(self, arr: np.ndarray, where: str) -> str:
        if arr.dtype.hasobject or arr.dtype.kind not in _STORABLE_KINDS:
            raise TypeError(
                f"gg.save: the array at {where} has dtype {arr.dtype}, which can only be "
                "stored by pickling; convert it to a numeric array first"
            )
        ref = f"arr_{len(self.arrays)}"
        self.arrays[ref] = arr
        return ref

    def encode(self, obj, where: str, depth: int = 0):
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return obj
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"t": "float", "v": repr(obj)}
        if isinstance(obj, Tensor):
            return {"t": "tensor", "ref": self._store(obj._data, where),
                    "requires_grad": bool(obj.requires_grad)}
        if isinstance(obj, np.ndarray):
            return {"t": "ndarray", "ref": self._store(obj, where)}
        if isinstance(obj, np.generic):
            return {"t": "npscalar", "ref": self._store(np.asarray(obj), where)}
        if isinstance(obj, (dict, list, tuple)):
            _check_depth(depth, where)
        if isinstance(obj, dict):
            return {"t": "dict", "items": [
                [self.key(k, where, depth + 1), self.encode(v, f"{where}[{k!r}]", depth + 1)]
                for k, v in obj.items()]}
        if isinstance(obj, (list, tuple)):
            return {"t": "tuple" if isinstance(obj, tuple) else "list",
                    "items": [self.encode(v, f"{where}[{i}]", depth + 1)
                              for i, v in enumerate(obj)]}
        hint = ""
        if hasattr(obj, "state_dict"):
            hint = "; save its state instead: gg.save(obj.state_dict(), path)"
        raise TypeError(
            f"gg.save: cannot store {type(obj).__name__} at {where} (only dicts, lists, "
            f"tuples, numbers, strings, None, arrays and Tensors can be saved){hint}"
        )

    def key(self, k, where: str, depth: int):
        if k is None or isinstance(k, (str, bool, int, float)):
            return self.encode(k, where)
        if isinstance(k, tuple):
            _check_depth(depth, where)
            return {"t": "tuple", "items": [self.key(i, where, depth + 1) for i in k]}
        raise TypeError(f"gg.save: cannot store a dict key of type {type(k).__name__} "
                        f"at {where}")


def _check_depth(depth: int, where: str) -> None:
    # gg.load refuses deeper structures (a crafted file could exhaust the stack), so
    # never write one it would refuse.
    if depth >= _MAX_DEPTH:
        raise ValueError(f"gg.save: the object at {where} is nested more than {_MAX_DEPTH} "
                         "levels deep, which gg.load refuses; flatten it")


def save(obj, path) -> None:
    """Save a state dict (or a nested structure of them) to ``path`` as ``.npz``.

    Atomic for paths: the archive is written to a temporary file in the target's
    folder, flushed and fsynced, then moved onto ``path`` with ``os.replace``. If
    anything fails (an unsupported object, a full disk, Ctrl-C) the temporary file is
    removed and an existing file at ``path`` is left exactly as it was. A file object
    is written in place (there is nothing to replace atomically).

    Parameters
    ----------
    obj : dict, list, tuple, Tensor, ndarray, number, str or None, nested
        Typically ``model.state_dict()`` or ``optimizer.state_dict()``, or a dict of
        both. Values are copied into the file (later training does not change it).
    path : str, os.PathLike or a binary file object
        Written exactly as given (no ``.npz`` is appended). Through a symlink, the file
        it points to is replaced; an existing file keeps its permission bits.

    Examples
    --------
    >>> import os, tempfile
    >>> net = gg.nn.Linear(3, 2)
    >>> path = os.path.join(tempfile.mkdtemp(), "net.npz")
    >>> gg.save(net.state_dict(), path)
    >>> sd = gg.load(path)
    >>> bool((sd["weight"].numpy() == net.weight.numpy()).all())
    True
    """
    enc = _Encoder()
    root = enc.encode(obj, "obj")
    meta = json.dumps({"format": _FORMAT, "version": _VERSION, "root": root},
                      allow_nan=False)
    entries = dict(enc.arrays)
    entries[_META] = np.frombuffer(meta.encode("utf-8"), dtype=np.uint8)
    if hasattr(path, "write"):
        np.savez(path, **entries)
        return
    _write_atomically(os.fspath(path), entries)


def _write_atomically(target: str, entries: dict) -> None:
    """Write the archive beside ``target``, fsync it, then ``os.replace`` it onto target."""
    target = os.path.realpath(target)  # write through a symlink, as open() would
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise FileNotFoundError(errno.ENOENT, f"gg.save: the folder {folder} does not "
                                "exist; create it first (os.makedirs)", target)
    tmp, fd = _create_temp(target)
    try:
        with os.fdopen(fd, "wb") as f:  # ours: np.savez would append ".npz" to a path
            np.savez(f, **entries)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the name points at them
        _copy_mode(target, tmp)
        os.replace(tmp, target)
    except BaseException:  # also Ctrl-C: never leave a stray temporary file behind
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_folder(folder)


def _create_temp(target: str) -> tuple[str, int]:
    """A new hidden file beside ``target``: (its path, an fd open for writing).

    ``os.open`` with mode 0o666 rather than ``tempfile.mkstemp`` (mode 0o600), so a new
    checkpoint gets the permissions the user's umask gives any new file, as before.
    """
    folder, name = os.path.split(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            return tmp, os.open(tmp, flags, 0o666)
        except FileExistsError:  # 48 random bits collided: draw again
            continue


def _copy_mode(target: str, tmp: str) -> None:
    # Overwriting in place kept the old file's permissions; replacing must keep them too.
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        return
    os.chmod(tmp, mode)


def _fsync_folder(folder: str) -> None:
    # Makes the rename itself durable on POSIX; Windows cannot open a folder this way.
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- loading -------------------------------------------------------------------------------
# What zipfile, zlib, struct, ast and NumPy raise on malformed bytes. Each is turned into
# a CheckpointError naming the file (the original is kept as its __cause__).
_DAMAGE = (zipfile.BadZipFile, zlib.error, struct.error, EOFError, OSError, ValueError,
           TypeError, KeyError, IndexError, AttributeError, OverflowError, RuntimeError,
           SyntaxError)


def load(path):
    """Load what :func:`save` wrote (Tensors come back as Tensors, arrays as arrays).

    Never unpickles, and trusts nothing in the file: each entry's declared shape and
    dtype are checked against the bytes the archive really holds before its array is
    allocated, and the zip checksums are verified. A plain ``.npz`` of named arrays (not
    written by ``gg.save``) loads as a dict of name -> Tensor.

    Parameters
    ----------
    path : str, os.PathLike or a binary file object (read from its current position)

    Returns
    -------
    The saved object.

    Raises
    ------
    CheckpointError
        The file is empty, truncated, damaged, holds object arrays (readable only by
        unpickling), or is not an ``.npz`` archive at all (a pickle, a ``torch.save``
        file, a single ``.npy``, a folder); the message names the file and the problem.
    FileNotFoundError
        Nothing exists at ``path``.
    """
    if hasattr(path, "read"):
        return _load_from(path, getattr(path, "name", None) or "the file object")
    where = os.fspath(path)
    if os.path.isdir(where):
        raise CheckpointError(f"gg.load: {where} is a folder, not a checkpoint file; pass "
                              "the path of the file gg.save wrote")
    with open(where, "rb") as f:  # a missing file raises FileNotFoundError here
        return _load_from(f, where)


def _load_from(f, label):
    try:
        return _parse(f, label)
    except CheckpointError:
        raise
    except MemoryError as err:
        raise CheckpointError(f"gg.load: ran out of memory while reading {label}") from err
    except _DAMAGE as err:
        raise CheckpointError(
            f"gg.load: {label} is damaged or not a glassgrad checkpoint "
            f"({type(err).__name__}: {err})"
        ) from err


def _parse(f, label):
    """Read the archive in ``f`` (positioned at its start) and rebuild the object."""
    start = f.tell()
    head = f.read(8)
    end = f.seek(0, os.SEEK_END)
    f.seek(start)
    _check_kind(head, label)
    try:
        archive = zipfile.ZipFile(f)
    except _DAMAGE as err:
        raise CheckpointError(
            f"gg.load: {label} starts like a zip archive but its table of contents cannot "
            f"be read ({type(err).__name__}: {err}): the file is truncated or damaged"
        ) from err
    with archive:
        infos = archive.infolist()
        declared = _declared_entries(f, end)
        if declared != len(infos):  # zipfile stops early when a length field is damaged
            raise CheckpointError(
                f"gg.load: {label}: its table of contents declares {declared} entries but "
                f"{len(infos)} could be read; the file is damaged")
        keys = _check_directory(infos, end - start, end, label)
        # Read every entry, so an object array is refused whether referenced or not.
        arrays = {key: _read_entry(archive, info, key, label) for key, info in zip(keys, infos)}
    if _META not in arrays:
        return {key: Tensor._wrap(arr) for key, arr in arrays.items()}
    root = _read_meta(arrays.pop(_META), label)
    return _Decoder(label, arrays).decode(root, "root", 0)


def _check_kind(head: bytes, label) -> None:
    """Refuse, by its first bytes, a file that is not a zip archive, saying what it is."""
    if not head:
        raise CheckpointError(f"gg.load: {label} is empty (0 bytes), not a checkpoint "
                              "(gg.save never leaves an empty file, even when interrupted)")
    if head.startswith(_NPY_MAGIC):
        raise CheckpointError(f"gg.load: {label} is a single .npy array, not an .npz "
                              "archive; use np.load for it")
    if not head.startswith(_ZIP_MAGICS):
        raise CheckpointError(
            f"gg.load: {label} is not an .npz archive (it starts with {head!r}). If it "
            "is from torch.save or pickle.dump: glassgrad never unpickles, since that can "
            "run arbitrary code. Convert it where you trust it, e.g. "
            "np.savez(path, **{k: v.numpy() for k, v in sd.items()})."
        )


def _declared_entries(f, end: int) -> int | None:
    """The entry count in the archive's end record (zip64 aware); None if not found.

    zipfile reads the central directory by its byte size and never compares the count:
    a bit flip in one entry's comment length silently hides the entries after it.
    """
    f.seek(max(0, end - 22 - 65535))  # the end record, then a comment of < 64 KiB
    tail = f.read()
    at = len(tail) - 22 if tail[-22:-18] == b"PK\x05\x06" else tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return None
    count = struct.unpack("<H", tail[at + 10:at + 12])[0]
    if count == 0xFFFF and tail[at - 20:at - 16] == b"PK\x06\x07":
        record = tail[at - 76:at - 20]  # the zip64 end record precedes its locator
        if len(record) == 56 and record.startswith(b"PK\x06\x06"):
            count = struct.unpack("<Q", record[32:40])[0]
    return count


def _check_directory(infos, size: int, end: int, label) -> list:
    """Check the archive's table of contents against the file's real size.

    Returns each entry's key (its name without ``.npy``). These checks bound what
    reading can allocate: a stored entry holds exactly its bytes, a deflated one at
    most ``_DEFLATE_MAX_RATIO`` times them, and all entries together fit in the file.
    """
    keys, total = {}, 0  # a dict: insertion order, and fast membership tests
    for info in infos:
        name = info.filename
        key = name[:-4] if name.endswith(".npy") else name
        if key in keys:
            raise CheckpointError(f"gg.load: {label} holds two entries named {name!r}; "
                                  "the file is damaged")
        keys[key] = None
        if info.flag_bits & 0x1:
            raise CheckpointError(f"gg.load: {label}: entry {name!r} is encrypted; gg.save "
                                  "never encrypts, so the file is damaged or not a checkpoint")
        if info.compress_type == zipfile.ZIP_STORED:
            limit = info.compress_size
        elif info.compress_type == zipfile.ZIP_DEFLATED:
            limit = _DEFLATE_MAX_RATIO * info.compress_size + 1024
        else:
            raise CheckpointError(
                f"gg.load: {label}: entry {name!r} uses zip compression method "
                f"{info.compress_type}; only stored and deflated entries (np.savez, "
                "np.savez_compressed) are read")
        if info.file_size > limit or info.header_offset + info.compress_size > end:
            raise CheckpointError(
                f"gg.load: {label}: entry {name!r} declares {info.file_size} bytes "
                f"({info.compress_size} compressed) that the {size}-byte file cannot hold; "
                "the file is truncated or damaged")
        total += info.compress_size
    if total > size:
        raise CheckpointError(f"gg.load: {label}: its entries declare {total} bytes in all, "
                              f"more than the whole {size}-byte file; the file is damaged")
    return list(keys)


def _read_entry(archive, info, key: str, label) -> np.ndarray:
    """One ``.npy`` entry as a writable array, its size checked before allocation."""
    name = info.filename
    with archive.open(info) as fp:
        shape, fortran, dtype, header_len = _npy_header(fp, name, label)
        if dtype.hasobject:
            raise CheckpointError(
                f"gg.load: {label} holds an object array ({key!r}), which can only be "
                "read by unpickling it, and unpickling can run arbitrary code; glassgrad "
                "never unpickles. Re-save the data as plain numeric arrays (gg.save, or "
                "np.savez without object arrays)."
            )
        if dtype.kind not in _STORABLE_KINDS:
            raise CheckpointError(f"gg.load: {label}: entry {name!r} has dtype {dtype}; only "
                                  "bool, integer, float, complex and string arrays are read")
        nbytes = math.prod(shape) * dtype.itemsize
        held = info.file_size - header_len
        if nbytes != held:  # checked before allocating: a header may claim terabytes
            raise CheckpointError(
                f"gg.load: {label}: entry {name!r} declares shape {shape} of {dtype} "
                f"({nbytes} bytes) but holds {held} bytes of data; the file is damaged")
        arr = np.empty(math.prod(shape), dtype)
        _fill(fp, arr, nbytes, name, label)
    return arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)


def _npy_header(fp, name: str, label) -> tuple:
    """(shape, fortran_order, dtype, header length) of the ``.npy`` data in ``fp``.

    The header is a Python dict literal, read with ``ast.literal_eval`` (never ``eval``)
    and checked as NumPy does; versions 1.0 to 3.0 of the format are understood.
    """
    magic = fp.read(8)
    if len(magic) < 8 or not magic.startswith(_NPY_MAGIC):
        raise CheckpointError(
            f"gg.load: {label} is a zip archive but its entry {name!r} is not a NumPy "
            "array, so it is not an .npz file (torch.save writes zip archives of pickles, "
            "which glassgrad never unpickles: they can run arbitrary code)"
        )
    version = (magic[6], magic[7])
    if version not in ((1, 0), (2, 0), (3, 0)):
        raise CheckpointError(f"gg.load: {label}: entry {name!r} is in .npy format "
                              f"version {version[0]}.{version[1]}, which gg.load cannot read")
    width, fmt = (2, "<H") if version == (1, 0) else (4, "<I")
    raw = fp.read(width)
    size = struct.unpack(fmt, raw)[0] if len(raw) == width else -1
    text = fp.read(size) if 0 <= size <= _MAX_NPY_HEADER else b""
    if size < 0 or len(text) != size or size > _MAX_NPY_HEADER:
        raise CheckpointError(f"gg.load: {label}: entry {name!r} has a truncated or "
                              "oversized .npy header; the file is damaged")
    try:
        d = ast.literal_eval(text.decode("utf-8" if version == (3, 0) else "latin1"))
        shape, fortran = d["shape"], d["fortran_order"]
        if set(d) != {"descr", "fortran_order", "shape"} or type(fortran) is not bool or \
                type(shape) is not tuple or not all(type(n) is int and n >= 0 for n in shape):
            raise ValueError(f"unexpected header {d!r}")
        dtype = np.lib.format.descr_to_dtype(d["descr"])
    except (ValueError, TypeError, KeyError, SyntaxError, RecursionError, MemoryError) as err:
        raise CheckpointError(f"gg.load: {label}: entry {name!r} has a malformed .npy "
                              f"header ({type(err).__name__}: {err}); the file is damaged"
                              ) from err
    return shape, fortran, dtype, 8 + width + size


def _fill(fp, arr: np.ndarray, nbytes: int, name: str, label) -> None:
    """Read ``nbytes`` from ``fp`` into ``arr``; zipfile checks the CRC at the end."""
    view = memoryview(arr.view(np.uint8)) if nbytes else None
    got = 0
    while got < nbytes:
        n = fp.readinto(view[got:got + _CHUNK])
        if not n:
            raise CheckpointError(f"gg.load: {label}: entry {name!r} ends after {got} of its "
                                  f"{nbytes} bytes; the file is truncated or damaged")
        got += n


def _read_meta(arr: np.ndarray, label):
    """The saved structure's root node, from the ``__glassgrad__`` entry."""
    if arr.dtype != np.uint8 or arr.ndim != 1:
        raise CheckpointError(f"gg.load: {label}: its {_META!r} entry must hold UTF-8 bytes "
                              f"(1-D uint8), but has dtype {arr.dtype} and shape {arr.shape}")
    try:
        meta = json.loads(arr.tobytes().decode("utf-8"))
    except RecursionError as err:
        raise CheckpointError(f"gg.load: {label}: its structure is nested too deeply to "
                              "read; the file is damaged or crafted") from err
    except ValueError as err:  # also UnicodeDecodeError and JSONDecodeError
        raise CheckpointError(f"gg.load: {label}: its structure is not valid UTF-8 JSON "
                              f"({err}); the file is damaged") from err
    if not isinstance(meta, dict) or "root" not in meta:
        raise CheckpointError(f"gg.load: {label}: its structure should be a JSON object "
                              "with 'format', 'version' and 'root'; the file is damaged")
    fmt, version = meta.get("format"), meta.get("version")
    if fmt != _FORMAT or type(version) is not int or not 1 <= version <= _VERSION:
        raise CheckpointError(f"gg.load: {label} was written in format {fmt!r} version "
                              f"{version!r}, which this glassgrad cannot read")
    return meta["root"]


class _Decoder:
    """Rebuilds the saved object from its JSON structure, checking every node."""

    def __init__(self, label, arrays: dict) -> None:
        self.label = label
        self.arrays = arrays

    def fail(self, where: str, what: str) -> CheckpointError:
        return CheckpointError(f"gg.load: {self.label}: at {where} in its structure, "
                               f"{what}; the file is damaged or not from gg.save")

    def decode(self, node, where: str, depth: int):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if not isinstance(node, dict):  # gg.save tags every container
            raise self.fail(where, f"an untagged JSON {type(node).__name__}")
        if depth >= _MAX_DEPTH:
            raise self.fail(where, f"nesting deeper than {_MAX_DEPTH} levels")
        t = node.get("t")
        if t == "dict":
            out = {}
            for i, pair in enumerate(self.items(node, where)):
                if not (isinstance(pair, list) and len(pair) == 2):
                    raise self.fail(where, f"item {i} is not a [key, value] pair")
                k = self.key(pair[0], f"{where} key {i}", depth + 1)
                out[k] = self.decode(pair[1], f"{where}[{k!r}]", depth + 1)
            return out
        if t in ("list", "tuple"):
            items = [self.decode(v, f"{where}[{i}]", depth + 1)
                     for i, v in enumerate(self.items(node, where))]
            return items if t == "list" else tuple(items)
        if t == "tensor":
            return self.tensor(node, where)
        if t == "ndarray":
            return self.array(node, where)
        if t == "npscalar":
            arr = self.array(node, where)
            if arr.ndim != 0:
                raise self.fail(where, f"a NumPy scalar of shape {arr.shape}")
            return arr[()]
        if t == "float":
            if node.get("v") not in ("nan", "inf", "-inf"):
                raise self.fail(where, f"a float node with value {node.get('v')!r}")
            return float(node["v"])
        raise self.fail(where, f"unknown entry type {t!r}")

    def key(self, node, where: str, depth: int):
        if isinstance(node, dict) and node.get("t") == "tuple":
            if depth >= _MAX_DEPTH:
                raise self.fail(where, f"nesting deeper than {_MAX_DEPTH} levels")
            return tuple(self.key(v, where, depth + 1) for v in self.items(node, where))
        k = self.decode(node, where, depth)
        if k is not None and not isinstance(k, (bool, int, float, str)):
            raise self.fail(where, f"a dict key of type {type(k).__name__}")
        return k

    def items(self, node: dict, where: str) -> list:
        items = node.get("items")
        if not isinstance(items, list):
            raise self.fail(where, f"a {node.get('t')} node without an 'items' list")
        return items

    def array(self, node: dict, where: str) -> np.ndarray:
        ref = node.get("ref")
        if not isinstance(ref, str) or ref not in self.arrays:
            raise self.fail(where, f"a reference to entry {ref!r}, which the file does "
                                   "not hold")
        return self.arrays[ref]

    def tensor(self, node: dict, where: str) -> Tensor:
        arr = self.array(node, where)
        requires_grad = node.get("requires_grad", False)
        if arr.dtype.kind not in "biufc" or type(requires_grad) is not bool or (
                requires_grad and arr.dtype.kind not in "fc"):
            raise self.fail(where, f"a tensor of dtype {arr.dtype} with requires_grad="
                                   f"{requires_grad!r}")
        out = Tensor._wrap(arr)
        if requires_grad:
            out.requires_grad_(True)
        return out
