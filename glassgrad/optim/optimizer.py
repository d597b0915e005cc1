"""The optimizer base class: parameter groups, per-parameter state, ``step``, state dicts.

An optimizer holds ``param_groups``, a list of dicts as in PyTorch: each has ``"params"``
(a list of Tensors) and the hyper-parameters under PyTorch's names (``"lr"``,
``"momentum"``, ``"betas"``, ...). A value given in a group overrides the optimizer's
default for that group only. ``state`` maps each parameter (the Tensor itself) to a dict
of its running buffers (``"momentum_buffer"``, ``"exp_avg"``, ``"step"``, ...).

A subclass writes its update rule once, for one parameter, as NumPy on arrays::

    def _update(self, p, g, state, group):
        p -= group["lr"] * g          # in place: every holder of the Tensor sees it

``step()`` calls that rule for every parameter whose ``.grad`` is not None, after
backward, outside the graph.
"""

from __future__ import annotations

import copy
import numbers
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np

from ..backend import is_raw
from ..dtypes import get_default_dtype
from ..grad_mode import enable_grad, no_grad
from ..graph import why_read_only
from ..tensor import Tensor, zero_grads

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Marker for a hyper-parameter that has no default (e.g. ``lr`` of plain SGD)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


def _clone(value):
    """A deep copy that copies arrays (Tensors stay Tensors, with their own array)."""
    if isinstance(value, Tensor):
        return Tensor(value.data, dtype=value.dtype)
    if is_raw(value):
        return value.copy()
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_clone(v) for v in value)
    return copy.deepcopy(value)


def check_nonnegative(group: dict[str, Any], keys, where: str) -> None:
    """Raise ValueError unless each ``group[key]`` is a real number >= 0."""
    for key in keys:
        value = group[key]
        if not isinstance(value, numbers.Real) or not value >= 0:
            raise ValueError(f"{where}: invalid {key} {value!r} (must be a number >= 0)")


def _plain(value):
    """A hyper-parameter as Python values: a file round trip may hand back arrays.

    0-d arrays and NumPy scalars become Python numbers; 1-d arrays and lists become
    tuples (``betas``). Anything else is returned unchanged.
    """
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.item() if value.ndim == 0 else tuple(value.tolist())
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    return value


class Optimizer:
    """Base class of all optimizers.

    Parameters
    ----------
    params : iterable of Tensor, or iterable of dict
        The parameters to optimize, or parameter groups: dicts with a ``"params"`` entry
        and, optionally, per-group hyper-parameters that override ``defaults``.
    defaults : dict
        Default hyper-parameters, under PyTorch's names.

    Attributes
    ----------
    param_groups : list of dict
        One dict per group: ``"params"`` (list of Tensors) and the hyper-parameters.
        Changing ``group["lr"]`` between steps changes the learning rate (that is what
        the LR schedulers do).
    state : dict
        ``state[p]`` is the dict of running buffers of parameter ``p`` (empty until its
        first step).

    Examples
    --------
    >>> import glassgrad as gg
    >>> w = gg.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = gg.optim.SGD([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w
    tensor([ 0.8, -1.6], requires_grad=True)
    """

    def __init__(self, params, defaults: dict[str, Any]) -> None:
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(
                f"{name}: params should be an iterable of Tensors or of dicts, got a single "
                "Tensor; wrap it in a list: [w]"
            )
        if isinstance(params, (set, frozenset)):
            raise TypeError(
                f"{name}: params must be an ordered iterable (list, tuple, generator), not "
                "a set: state dicts refer to parameters by position"
            )
        self.defaults = dict(defaults)
        self.state: defaultdict[Tensor, dict] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        self._step_count = 0  # lets a scheduler notice it is stepped before the optimizer
        groups = list(params)
        if not groups:
            raise ValueError(f"{name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # --- parameter groups ------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters, with its own hyper-parameters.

        Hyper-parameters missing from ``param_group`` take the optimizer's defaults.
        Useful for fine-tuning: unfreeze a layer and add it with its own ``lr``.

        Examples
        --------
        >>> import glassgrad as gg
        >>> w, b = gg.zeros(3, requires_grad=True), gg.zeros(1, requires_grad=True)
        >>> opt = gg.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> opt.add_param_group({"params": [b], "lr": 0.01})
        >>> [(g["lr"], g["momentum"]) for g in opt.param_groups]
        [(0.1, 0.9), (0.01, 0.9)]
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(
                f"{name}: a parameter group must be a dict with a 'params' entry, "
                f"got {type(param_group).__name__}"
            )
        if "params" not in param_group:
            raise KeyError(f"{name}: parameter group {len(self.param_groups)} has no 'params'")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(
                f"{name}: a group's params must be an ordered sequence, not a set: state "
                "dicts refer to parameters by position"
            )
        group["params"] = params = list(params)
        where = f"{name}: param_groups[{len(self.param_groups)}]"
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{where}: can only optimize Tensors, but params[{i}] is "
                    f"{type(p).__name__}"
                )
            if not p.is_leaf:
                raise ValueError(
                    f"{where}: params[{i}] (shape {p.shape}) is not a leaf tensor (it was "
                    "computed by an op); optimize the tensors you created, or detach() it"
                )
        for key, default in self.defaults.items():
            if default is required and key not in group:
                raise ValueError(f"{where}: no value for the required hyper-parameter '{key}'")
            group.setdefault(key, default)
        # Tensors compare elementwise, so membership goes by identity.
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{where}: the same parameter appears twice in this group")
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        if taken.intersection(ids):
            raise ValueError(f"{where}: some parameters appear in more than one parameter group")
        self._check_group(group, where)
        self.param_groups.append(group)

    def _check_group(self, group: dict[str, Any], where: str) -> None:
        """Validate a group's hyper-parameters (subclasses raise ValueError naming them)."""

    # --- gradients and steps ------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters.

        Parameters
        ----------
        set_to_none : bool
            True (default, as PyTorch): set ``.grad`` to None, so a parameter that gets
            no gradient in the next backward is skipped by ``step()``. False: fill the
            existing gradients with zeros, so every parameter is stepped (momentum and
            weight decay still move it).
        """
        zero_grads([p for group in self.param_groups for p in group["params"]], set_to_none)

    def step(self, closure: Callable[[], Any] | None = None):
        """Update every parameter that has a gradient, in place, with the optimizer's rule.

        Parameters
        ----------
        closure : callable, optional
            Re-evaluates the model and returns the loss (it should call ``zero_grad``
            and ``backward`` itself); it runs with gradients enabled.

        Returns
        -------
        The closure's loss, or None.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        # An update rule is plain arithmetic on the gradient: NaN or Inf gradients give
        # NaN parameters, as in PyTorch, without a NumPy RuntimeWarning from our own
        # update code (``detect_anomaly`` or ``clip_grad_norm_`` are the tools for them).
        update, state = self._update, self.state
        with no_grad(), np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            for gi, group in enumerate(self.param_groups):
                for pi, p in enumerate(group["params"]):
                    grad = p.grad
                    if grad is None:
                        continue
                    self._check_writable(p, gi, pi)
                    # the arrays themselves: p is checked writable, and the rules never
                    # write into the gradient (``.data`` would only wrap them again)
                    update(p._data, grad._data, state[p], group)
        self._step_count += 1
        return loss

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        """The update rule for one parameter: change ``p`` in place (never ``g``)."""
        raise NotImplementedError(f"{type(self).__name__} does not define its update rule")

    def _check_writable(self, p: Tensor, gi: int, pi: int) -> None:
        why = why_read_only(p._data)
        if why is None:
            return
        raise RuntimeError(
            f"{type(self).__name__}.step: cannot update param_groups[{gi}]['params'][{pi}] "
            f"(shape {p.shape}) in place: {why}. Call loss.backward() before step() "
            "(without retain_graph=True), or drop that graph first"
        )

    @staticmethod
    def _buffer(state: dict, key: str, like: np.ndarray) -> np.ndarray:
        """The array of running buffer ``state[key]``, created as zeros on first use."""
        if key not in state:
            state[key] = Tensor(np.zeros_like(like))
        return state[key].data

    @staticmethod
    def _count_step(state: dict, like: np.ndarray) -> int:
        """Increment ``state["step"]`` (a 0-d float Tensor, as PyTorch) and return it."""
        if "step" not in state:
            # PyTorch keeps the count as a float32 scalar (float64 if that is the default
            # dtype); exact up to 2**24 steps
            dtype = np.float64 if get_default_dtype() == np.float64 else np.float32
            state["step"] = Tensor(np.zeros((), dtype=dtype))
        step = state["step"].data
        step += 1
        return step.item()

    # --- state dicts ------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state as a dict, in PyTorch's layout.

        ``{"state": {index: {buffer name: Tensor, ...}}, "param_groups": [group, ...]}``,
        where parameters are referred to by their position across all groups (0, 1, ...)
        and each group lists its parameters' indices under ``"params"``. Arrays are
        copied: the dict is a snapshot that later steps do not change.

        Examples
        --------
        >>> import glassgrad as gg
        >>> w = gg.tensor([1.0, 2.0], requires_grad=True)
        >>> opt = gg.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> w.sum().backward(); opt.step()
        >>> sd = opt.state_dict()
        >>> sd["state"][0]["momentum_buffer"], sd["param_groups"][0]["params"]
        (tensor([1., 1.]), [0])
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: _clone(v) for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for p, s in self.state.items():
            if s and id(p) in index:
                state[index[id(p)]] = {k: _clone(v) for k, v in s.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a dict from :meth:`state_dict` (also after a file round trip).

        The optimizer must have the same number of groups, with the same number of
        parameters each, as the one that was saved; the saved hyper-parameters (``lr``,
        ...) replace the current ones, and the buffers are copied in, cast to each
        parameter's dtype. Saving, loading into a fresh optimizer and continuing gives
        the same trajectory as never stopping.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict):
            raise TypeError(f"{name}.load_state_dict: expected a dict, got {type(state_dict)}")
        missing = [k for k in ("state", "param_groups") if k not in state_dict]
        unexpected = [k for k in state_dict if k not in ("state", "param_groups")]
        if missing or unexpected:
            raise KeyError(
                f"{name}.load_state_dict: missing keys {missing}, unexpected keys "
                f"{unexpected}; an optimizer state dict has exactly 'state' and 'param_groups'"
            )
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the state dict has {len(saved_groups)} parameter "
                f"groups, this optimizer has {len(self.param_groups)}"
            )
        id_map: dict[int, Tensor] = {}
        for gi, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            saved_ids = [int(i) for i in np.asarray(saved["params"]).reshape(-1)]
            if len(saved_ids) != len(group["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: param_groups[{gi}] has {len(saved_ids)} "
                    f"parameters in the state dict, {len(group['params'])} in this optimizer"
                )
            id_map.update(zip(saved_ids, group["params"]))

        state: defaultdict[Tensor, dict] = defaultdict(dict)
        for key, buffers in state_dict["state"].items():
            idx = int(key)  # a file round trip may turn the keys into strings
            if idx not in id_map:
                raise KeyError(
                    f"{name}.load_state_dict: 'state' has an entry for parameter {idx}, "
                    f"but param_groups list only {sorted(id_map)}"
                )
            p = id_map[idx]
            state[p] = {k: self._load_buffer(p, idx, k, v) for k, v in buffers.items()}

        new_groups = []
        for gi, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            new = {k: _plain(v) for k, v in saved.items() if k != "params"}
            for k, v in group.items():  # keys an older state dict may lack
                new.setdefault(k, v)
            new["params"] = group["params"]
            self._check_group(new, f"{name}.load_state_dict: param_groups[{gi}]")
            new_groups.append(new)
        self.state = state
        self.param_groups = new_groups

    def _load_buffer(self, p: Tensor, idx: int, key: str, value):
        if not isinstance(value, (Tensor, np.ndarray, np.generic)):
            return copy.deepcopy(value)
        arr = np.array(value.data if isinstance(value, Tensor) else value)
        if key == "step":  # a counter: keep its own float dtype
            return Tensor(arr if arr.dtype.kind == "f" else arr.astype(np.float32))
        if arr.shape != p.shape:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: state[{idx}]['{key}'] has shape "
                f"{arr.shape}, but parameter {idx} has shape {p.shape}"
            )
        return Tensor(arr, dtype=p.dtype)

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines) + "\n)"
