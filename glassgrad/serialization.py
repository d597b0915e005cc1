"""``gg.save`` / ``gg.load``: state dicts as ``.npz`` files that never unpickle.

``torch.save`` pickles, and unpickling a file can run any code its author chose. Here a
file is a plain NumPy ``.npz`` archive holding only numeric arrays:

* every array or Tensor in the saved object becomes one entry, ``arr_0``, ``arr_1``, ...;
* the object's *structure* (nested dicts, lists, tuples, numbers, strings, ``None``,
  with each array replaced by a reference to its entry) is one more entry,
  ``__glassgrad__``: JSON text stored as a ``uint8`` array of its UTF-8 bytes.

Loading reads it with ``np.load(..., allow_pickle=False)``, so nothing in the file is
ever executed; an archive holding object arrays (which only unpickling could read) is
refused with an error that says so. A plain ``.npz`` of named arrays (e.g. written with
``np.savez(path, **{k: v.numpy() for k, v in torch_state_dict.items()})``) loads as a
dict of name -> Tensor, ready for ``load_state_dict``.

JSON node forms (containers are tagged objects, scalars are plain JSON values)::

    {"t": "dict", "items": [[key, value], ...]}   keys: str, int, float, bool, None, tuple
    {"t": "list", "items": [...]}    {"t": "tuple", "items": [...]}
    {"t": "tensor", "ref": "arr_3", "requires_grad": false}
    {"t": "ndarray", "ref": "arr_4"}   {"t": "npscalar", "ref": "arr_5"}
    {"t": "float", "v": "nan" | "inf" | "-inf"}     (JSON has no such numbers)
"""

from __future__ import annotations

import json
import math
import os
import zipfile

import numpy as np

from .tensor import Tensor

__all__ = ["save", "load"]

_META = "__glassgrad__"
_FORMAT = "glassgrad.npz"
_VERSION = 1


class _Encoder:
    """Walks the object, collecting arrays and returning its JSON structure."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def _store(self, arr: np.ndarray, where: str) -> str:
        if arr.dtype.hasobject or arr.dtype.kind not in "biufcUS":
            raise TypeError(
                f"gg.save: the array at {where} has dtype {arr.dtype}, which can only be "
                "stored by pickling; convert it to a numeric array first"
            )
        ref = f"arr_{len(self.arrays)}"
        self.arrays[ref] = arr
        return ref

    def encode(self, obj, where: str):
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
        if isinstance(obj, dict):
            return {"t": "dict", "items": [
                [self.key(k, where), self.encode(v, f"{where}[{k!r}]")]
                for k, v in obj.items()]}
        if isinstance(obj, (list, tuple)):
            return {"t": "tuple" if isinstance(obj, tuple) else "list",
                    "items": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]}
        hint = ""
        if hasattr(obj, "state_dict"):
            hint = "; save its state instead: gg.save(obj.state_dict(), path)"
        raise TypeError(
            f"gg.save: cannot store {type(obj).__name__} at {where} (only dicts, lists, "
            f"tuples, numbers, strings, None, arrays and Tensors can be saved){hint}"
        )

    def key(self, k, where: str):
        if k is None or isinstance(k, (str, bool, int, float)):
            return self.encode(k, where)
        if isinstance(k, tuple):
            return {"t": "tuple", "items": [self.key(i, where) for i in k]}
        raise TypeError(f"gg.save: cannot store a dict key of type {type(k).__name__} "
                        f"at {where}")


def save(obj, path) -> None:
    """Save a state dict (or a nested structure of them) to ``path`` as ``.npz``.

    Parameters
    ----------
    obj : dict, list, tuple, Tensor, ndarray, number, str or None, nested
        Typically ``model.state_dict()`` or ``optimizer.state_dict()``, or a dict of
        both. Values are copied into the file (later training does not change it).
    path : str, os.PathLike or a binary file object
        Written exactly as given (no ``.npz`` is appended).

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
    with open(os.fspath(path), "wb") as f:  # open ourselves: np.savez would add ".npz"
        np.savez(f, **entries)


def _read(npz, name: str, path) -> np.ndarray:
    try:
        arr = npz[name]
    except ValueError as err:
        if "allow_pickle" in str(err) or "Object arrays" in str(err):
            raise ValueError(
                f"gg.load: {path} holds an object array ({name!r}), which can only be "
                "read by unpickling it, and unpickling can run arbitrary code; glassgrad "
                "never unpickles. Re-save the data as plain numeric arrays (gg.save, or "
                "np.savez without object arrays)."
            ) from None
        raise
    if not isinstance(arr, np.ndarray):  # a zip member that is not a .npy array
        raise ValueError(
            f"gg.load: {path} is a zip archive but its entry {name!r} is not a NumPy "
            "array, so it is not an .npz file (torch.save writes zip archives of pickles, "
            "which glassgrad never unpickles: they can run arbitrary code)"
        )
    return arr


def _decode(node, arrays):
    if not isinstance(node, dict):
        return node
    t = node.get("t")
    if t == "dict":
        return {_key(k, arrays): _decode(v, arrays) for k, v in node["items"]}
    if t == "list":
        return [_decode(v, arrays) for v in node["items"]]
    if t == "tuple":
        return tuple(_decode(v, arrays) for v in node["items"])
    if t == "tensor":
        out = Tensor._wrap(arrays(node["ref"]))
        if node.get("requires_grad"):
            out.requires_grad_(True)
        return out
    if t == "ndarray":
        return arrays(node["ref"])
    if t == "npscalar":
        return arrays(node["ref"])[()]
    if t == "float":
        return float(node["v"])
    raise ValueError(f"gg.load: unknown entry type {t!r} in the file's structure")


def _key(k, arrays):
    value = _decode(k, arrays)
    return tuple(value) if isinstance(value, list) else value


def load(path):
    """Load what :func:`save` wrote (Tensors come back as Tensors, arrays as arrays).

    Never unpickles: the file is read with ``np.load(..., allow_pickle=False)``. A file
    with object arrays is refused with a ``ValueError`` saying why. A plain ``.npz`` of
    named arrays (not written by ``gg.save``) loads as a dict of name -> Tensor.

    Parameters
    ----------
    path : str, os.PathLike or a binary file object

    Returns
    -------
    The saved object.
    """
    where = path if hasattr(path, "read") else os.fspath(path)
    try:
        npz = np.load(where, allow_pickle=False)
    except ValueError as err:
        if "pickle" in str(err):
            raise ValueError(
                f"gg.load: {path} is not an .npz archive; NumPy could only read it by "
                "unpickling (is it from torch.save or pickle.dump?), and glassgrad never "
                "unpickles, since that can run arbitrary code. Convert it where you trust "
                "it, e.g. np.savez(path, **{k: v.numpy() for k, v in sd.items()})."
            ) from None
        raise
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ValueError(f"gg.load: {path} is a single .npy array, not an .npz archive; "
                         "use np.load for it")
    with npz:
        try:
            names = list(npz.files)
        except zipfile.BadZipFile as err:
            raise ValueError(f"gg.load: {path} is not a valid .npz archive ({err})") from None
        if _META not in names:
            return {name: Tensor._wrap(_read(npz, name, path)) for name in names}
        meta = json.loads(bytes(_read(npz, _META, path)).decode("utf-8"))
        if meta.get("format") != _FORMAT or meta.get("version", 0) > _VERSION:
            raise ValueError(
                f"gg.load: {path} was written in format {meta.get('format')!r} version "
                f"{meta.get('version')!r}, which this glassgrad cannot read"
            )
        # read every entry first, so an object array is refused whether referenced or not
        arrays = {name: _read(npz, name, path) for name in names if name != _META}
    return _decode(meta["root"], arrays.__getitem__)
