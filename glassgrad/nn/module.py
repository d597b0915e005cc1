"""``Module`` and ``Parameter``: the containers that make a network out of tensors.

A :class:`Module` registers what is assigned to it, exactly as PyTorch's does: a
:class:`Parameter` lands in ``_parameters``, a sub-``Module`` in ``_modules``, a tensor
given to :meth:`Module.register_buffer` in ``_buffers``. Everything else (``parameters()``,
``state_dict()``, ``train()``, ``zero_grad()``) is a walk over those three dicts, so the
keys of a ``state_dict`` are the attribute paths (``layers.1.bias``) that PyTorch gives
the same architecture, and weights move between the two libraries 1:1.

The containers :class:`Sequential` and :class:`ModuleList` are in ``nn/container.py``.
"""

from __future__ import annotations

import itertools
from collections import namedtuple

import numpy as np

from .. import dtypes
from ..backend import base_of, is_raw
from ..graph import why_read_only
from ..modes import state as modes
from ..tensor import Tensor, _check_grad_dtype, _to_array, zero_grads
from ._backward_hooks import _BackwardHookState

__all__ = ["Module", "Parameter", "RemovableHandle"]


class Parameter(Tensor):
    """A Tensor that a :class:`Module` registers as one of its learnable parameters.

    Assigning a ``Parameter`` to a module attribute (``self.weight = Parameter(...)``)
    is what puts it in ``parameters()`` and ``state_dict()``. It is a leaf that requires
    grad by default. Made from a Tensor, it shares that tensor's array (as PyTorch).

    Parameters
    ----------
    data : array_like or Tensor, optional
        Initial values (an empty float tensor if omitted).
    requires_grad : bool
        Default True.

    Examples
    --------
    >>> w = gg.nn.Parameter(gg.zeros(2, 3))
    >>> w.requires_grad, w.shape
    (True, (2, 3))
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True) -> None:
        if data is None:
            arr = np.empty(0, dtype=dtypes.default_dtype)
        elif isinstance(data, Tensor):
            arr = data._data  # share, as torch.nn.Parameter(t) does
        else:
            arr = _to_array(data)
        if requires_grad:
            _check_grad_dtype(arr.dtype, "Parameter")
        self._data = arr
        self._node = None
        self.requires_grad = bool(requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class RemovableHandle:
    """Returned by the ``register_*_hook`` methods; ``remove()`` unregisters the hook.

    Also a context manager: the hook is removed when the ``with`` block ends.
    """

    _ids = itertools.count()

    def __init__(self, hooks: dict) -> None:
        self.hooks = hooks
        self.id = next(RemovableHandle._ids)

    def remove(self) -> None:
        self.hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def _writable(arr: np.ndarray) -> bool:
    """True if ``arr`` may be written in place (see :func:`graph.why_read_only`)."""
    return why_read_only(arr) is None


def _root(arr: np.ndarray) -> np.ndarray:
    """The array that owns ``arr``'s memory (``arr`` itself unless it is a view)."""
    base = base_of(arr)
    while base is not None:
        arr, base = base, base_of(base)
    return arr


_IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _check_name(kind: str, name) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
    if name == "" or "." in name:
        raise KeyError(f"{kind} name can't be empty or contain '.', got {name!r}")


class Module:
    """Base class of every layer and model, with PyTorch's semantics.

    Subclass it, assign parameters and sub-modules in ``__init__`` (after calling
    ``super().__init__()``), and write ``forward``. Call the module, not ``forward``:
    ``model(x)`` runs the hooks too.

    Examples
    --------
    >>> class TwoLayer(gg.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden = gg.nn.Linear(2, 8)
    ...         self.out = gg.nn.Linear(8, 1)
    ...     def forward(self, x):
    ...         return self.out(self.hidden(x).tanh())
    >>> net = TwoLayer()
    >>> list(net.state_dict())
    ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
    """

    training: bool

    def __init__(self) -> None:
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent"] = set()
        d["_modules"] = {}
        d["_forward_pre_hooks"] = {}
        d["_forward_hooks"] = {}
        d["_backward_hooks"] = {}

    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    # --- attribute registration ---------------------------------------------------------
    def _registry(self, name: str) -> dict:
        d = self.__dict__.get(name)
        if d is None:
            raise AttributeError(
                f"cannot assign parameters, modules or buffers to {type(self).__name__} "
                "before Module.__init__() has run: call super().__init__() first"
            )
        return d

    def __setattr__(self, name: str, value) -> None:
        d = self.__dict__
        params, modules, buffers = (
            d.get("_parameters"), d.get("_modules"), d.get("_buffers"))
        if isinstance(value, Parameter):
            self._registry("_parameters")
            self._forget(name, "_parameters")
            params[name] = value
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter {name!r} of "
                    f"{type(self).__name__} (gg.nn.Parameter or None expected); to change "
                    f"its values use `with gg.no_grad(): self.{name}.data[...] = ...`"
                )
            params[name] = None
        elif isinstance(value, Module):
            self._registry("_modules")
            self._forget(name, "_modules")
            modules[name] = value
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as child module {name!r} of "
                    f"{type(self).__name__} (gg.nn.Module or None expected)"
                )
            modules[name] = None
        elif buffers is not None and name in buffers:
            buffers[name] = self._as_buffer(name, value)
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: str) -> None:
        """Drop ``name`` from every registry but ``keep``, where it is about to be set.

        (Re-assigning within the same registry keeps the name's position, so
        ``seq[0] = layer`` keeps the state dict's order, as in PyTorch.)
        """
        d = self.__dict__
        d.pop(name, None)
        for key in ("_parameters", "_modules", "_buffers"):
            if key != keep:
                d[key].pop(name, None)
        d["_non_persistent"].discard(name)

    @staticmethod
    def _as_buffer(name: str, value):
        if value is None or isinstance(value, Tensor):
            return value
        if is_raw(value):  # lenient: an array becomes a Tensor buffer
            return Tensor._wrap(value)
        raise TypeError(
            f"cannot assign {type(value).__name__} as buffer {name!r} (Tensor or None expected)"
        )

    def __getattr__(self, name: str):
        # Only called when ordinary lookup fails: registered things live in the dicts.
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            reg = d.get(key)
            if reg is not None and name in reg:
                return reg[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            if name in d.get(key, ()):
                del d[key][name]
                d["_non_persistent"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter under ``name`` (``None`` keeps a slot without a tensor)."""
        _check_name("parameter", name)
        self._registry("_parameters")
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute {name!r} already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign {type(param).__name__} as parameter {name!r} "
                "(gg.nn.Parameter or None expected)"
            )
        self._forget(name, "_parameters")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """Add a tensor that is state but not a parameter (BatchNorm's running mean).

        Buffers are in ``state_dict()`` (unless ``persistent=False``) and ``buffers()``,
        not in ``parameters()``, so optimizers never touch them.
        """
        _check_name("buffer", name)
        self._registry("_buffers")
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute {name!r} already exists")
        value = self._as_buffer(name, tensor)
        self._forget(name, "_buffers")
        self._buffers[name] = value
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module under ``name`` (as assigning an attribute does)."""
        _check_name("module", name)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._registry("_modules")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute {name!r} already exists")
        self._forget(name, "_modules")
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        """The module at a dotted path, e.g. ``net.get_submodule("layers.1")``."""
        mod = self
        for part in target.split(".") if target else ():
            child = mod._modules.get(part)
            if child is None:
                raise AttributeError(f"{type(mod).__name__} has no submodule {part!r}")
            mod = child
        return mod

    # --- walking the tree -----------------------------------------------------------------
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """Yield ``(path, module)`` for this module and every descendant, pre-order."""
        seen = memo if memo is not None else set()
        stack = [(prefix, self)]
        while stack:  # explicit stack: deep nests never meet the recursion limit
            path, mod = stack.pop()
            if remove_duplicate:
                if id(mod) in seen:
                    continue
                seen.add(id(mod))
            yield path, mod
            kids = [(path + ("." if path else "") + name, m)
                    for name, m in mod._modules.items() if m is not None]
            stack.extend(reversed(kids))

    def modules(self):
        """Yield this module and every descendant (each once)."""
        for _, mod in self.named_modules():
            yield mod

    def named_children(self):
        """Yield ``(name, module)`` for the direct children (each once)."""
        seen = set()
        for name, mod in self._modules.items():
            if mod is not None and id(mod) not in seen:
                seen.add(id(mod))
                yield name, mod

    def children(self):
        """Yield the direct children."""
        for _, mod in self.named_children():
            yield mod

    def _named_members(self, registry: str, prefix: str, recurse: bool,
                       remove_duplicate: bool = True):
        mods = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                if recurse else [(prefix, self)])
        seen = set()
        for path, mod in mods:
            for name, value in mod.__dict__[registry].items():
                if value is None:
                    continue
                if remove_duplicate:
                    if id(value) in seen:
                        continue
                    seen.add(id(value))
                yield path + ("." if path else "") + name, value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True):
        """Yield ``(name, Parameter)``; a parameter shared by two layers comes once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        """Yield every parameter (what an optimizer takes): ``SGD(model.parameters())``."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True):
        """Yield ``(name, buffer)`` for every buffer (persistent or not)."""
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        """Yield every buffer."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn) -> Module:
        """Call ``fn(m)`` on every child (recursively), then on ``self``; returns self.

        The usual use is custom initialisation: ``model.apply(init_weights)``.
        """
        for mod in self.children():
            mod.apply(fn)
        fn(self)
        return self

    # --- modes and gradients ----------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (Dropout drops, BatchNorm uses batch statistics); returns self."""
        if not isinstance(mode, bool):
            raise ValueError(f"train: mode is expected to be a bool, got {mode!r}")
        for mod in self.modules():
            mod.training = mode
        return self

    def eval(self) -> Module:
        """Set evaluation mode: ``train(False)``. Returns self."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` on every parameter (freeze with False); returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters: to ``None`` (default) or to zeros
        (see :func:`glassgrad.tensor.zero_grads`)."""
        zero_grads(self.parameters(), set_to_none)

    def to(self, dtype) -> Module:
        """Convert floating parameters and buffers to ``dtype`` in place; returns self.

        The Parameter objects stay the same (optimizers holding them keep working).
        Devices do not exist in glassgrad; ``to("cpu")`` is accepted and does nothing.
        """
        if isinstance(dtype, str) and dtype == "cpu":
            return self
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"Module.to: only floating dtypes are supported, got {dtype}")
        for t in itertools.chain(self.parameters(), self.buffers()):
            if t._data.dtype.kind == "f":
                t._data = t._data.astype(dtype)
                if t.grad is not None:
                    t.grad = Tensor._wrap(t.grad._data.astype(dtype))
        return self

    def double(self) -> Module:
        """``to(np.float64)``: what gradient checks want."""
        return self.to(np.float64)

    def float(self) -> Module:  # noqa: A003  (PyTorch's name)
        """``to(np.float32)``."""
        return self.to(np.float32)

    # --- state dicts ------------------------------------------------------------------------
    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False) -> dict:
        """Every parameter and persistent buffer by dotted name, in PyTorch's key order.

        For each module, pre-order: its own parameters, then its own buffers, then its
        children. Values are detached Tensors that share the module's arrays (as in
        PyTorch); copy them (``gg.save`` does) to keep a snapshot. ``keep_vars=True``
        gives the Parameters themselves.
        """
        out = {} if destination is None else destination
        for path, mod in self.named_modules(prefix=prefix.rstrip("."), remove_duplicate=False):
            dot = path + "." if path else ""
            for name, p in mod._parameters.items():
                if p is not None:
                    out[dot + name] = p if keep_vars else Tensor._wrap(p._data)
            for name, b in mod._buffers.items():
                if b is not None and name not in mod._non_persistent:
                    out[dot + name] = b if keep_vars else Tensor._wrap(b._data)
        return out

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy values from ``state_dict`` into this module's parameters and buffers.

        Values may be Tensors or arrays (e.g. a PyTorch state dict converted with
        ``{k: v.numpy() for k, v in sd.items()}``). They are copied *into* the existing
        arrays, so optimizers holding the Parameters keep working. Every check runs
        before anything is copied: a wrong shape always raises, naming the key and both
        shapes; with ``strict=True`` (default) missing and unexpected keys raise too,
        naming them. Returns ``(missing_keys, unexpected_keys)``.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(
                f"load_state_dict expects a dict of name -> tensor, got "
                f"{type(state_dict).__name__}"
            )
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors, pending = [], []
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            try:
                arr = value._data if isinstance(value, Tensor) else np.asarray(value)
            except (ValueError, TypeError) as err:  # e.g. a ragged nested list
                errors.append(f"{key}: cannot convert the value to an array ({err})")
                continue
            if arr.shape != target.shape:
                errors.append(
                    f"size mismatch for {key}: copying a value of shape {arr.shape} from "
                    f"the state dict, the shape in the current model is {target.shape}."
                )
            elif arr.dtype.kind not in "biuf":
                errors.append(f"{key}: cannot load a value of dtype {arr.dtype}")
            elif (why := why_read_only(target._data)) is not None:
                errors.append(f"{key}: load_state_dict cannot overwrite it in place: {why}; call "
                              "backward() first, or drop that graph")
            else:
                pending.append((target, arr))
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in unexpected) + ".")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in missing) + ".")
        if errors:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                + "\n\t".join(errors)
            )
        # Nothing is copied until every entry passed every check above: a failed load
        # leaves the module exactly as it was. A value that shares memory with one of
        # our own arrays (a state dict that swaps two layers) is copied out first, so
        # every target gets the value it had at the call, whatever the order.
        # (torch copies one by one; there both swapped layers end up equal.)
        ours = {id(_root(t._data)) for t, _ in pending}
        pending = [(t, arr.copy() if arr is not t._data and id(_root(arr)) in ours else arr)
                   for t, arr in pending]
        for target, arr in pending:
            # In place (and cast to the target's dtype, as torch's copy_): whoever holds
            # the Parameter object sees the new values.
            np.copyto(target._data, arr, casting="unsafe")
        return _IncompatibleKeys(missing, unexpected)

    # --- hooks and calling ------------------------------------------------------------------
    def register_forward_pre_hook(self, hook) -> RemovableHandle:
        """``hook(module, args)`` runs before ``forward``; it may return new args."""
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    def register_forward_hook(self, hook) -> RemovableHandle:
        """``hook(module, args, output)`` runs after ``forward``; it may return a new output."""
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    def register_full_backward_hook(self, hook) -> RemovableHandle:
        """``hook(module, grad_input, grad_output)`` runs when the module's input grads are known.

        ``grad_input`` has one entry per positional argument of the call: ``None`` for
        non-tensors, zeros for tensors that need no gradient, and all ``None`` when no
        input needs one (the hook then runs once ``grad_output`` is known), as in PyTorch.
        ``grad_output`` has one entry per output tensor. The hook may return a tuple
        replacing ``grad_input``. As in PyTorch, the module's inputs and outputs pass
        through identity Functions that catch the gradients, so the hook sees the
        gradient w.r.t. the module as a whole.
        """
        handle = RemovableHandle(self._backward_hooks)
        self._backward_hooks[handle.id] = hook
        return handle

    def __call__(self, *args, **kwargs):
        d = self.__dict__
        try:
            hooked = d["_forward_pre_hooks"] or d["_forward_hooks"] or d["_backward_hooks"]
        except KeyError:
            raise AttributeError(
                f"{type(self).__name__} was called before Module.__init__() ran: call "
                "super().__init__() at the start of its __init__"
            ) from None
        if not hooked:
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    def _call_with_hooks(self, args: tuple, kwargs: dict):
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        state = None
        if self._backward_hooks and modes.grad_enabled:
            state = _BackwardHookState(self, args)
            args = state.wrap_inputs(args)
        output = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, output)
            if result is not None:
                output = result
        if state is not None:
            output = state.wrap_outputs(output)
        return output

    # --- printing ---------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside this module's parentheses in ``repr`` (layers override it)."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        lines = [line for line in self.extra_repr().split("\n") if line]
        for name, mod in self._modules.items():
            body = repr(mod).replace("\n", "\n  ")
            lines.append(f"({name}): {body}")
        if not lines:
            return self._get_name() + "()"
        if len(lines) == 1 and not self._modules:
            return f"{self._get_name()}({lines[0]})"
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"
