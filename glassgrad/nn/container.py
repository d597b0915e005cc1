"""Containers: modules that hold other modules in order."""

from __future__ import annotations

from .module import Module

__all__ = ["Sequential", "ModuleList"]


def _index(n: int, idx: int, what: str) -> int:
    idx = int(idx)
    if not -n <= idx < n:
        raise IndexError(f"{what}: index {idx} is out of range for {n} modules")
    return idx % n


class Sequential(Module):
    """Modules applied one after another: ``Sequential(Linear(2, 8), ReLU(), Linear(8, 1))``.

    Children are named ``"0"``, ``"1"``, ... (or by the keys of an ``OrderedDict``
    passed as the only argument), so the ``state_dict`` keys are PyTorch's:
    ``0.weight``, ``2.bias``. Supports indexing, slicing (a new ``Sequential`` sharing
    the modules and keeping their names), ``len``, iteration and ``append``.

    Examples
    --------
    >>> net = gg.nn.Sequential(gg.nn.Linear(2, 3), gg.nn.Linear(3, 1))
    >>> len(net), list(net.state_dict())[:2]
    (2, ['0.weight', '0.bias'])
    """

    def __init__(self, *modules) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], dict):
            for name, mod in modules[0].items():
                self.add_module(name, mod)
        else:
            for i, mod in enumerate(modules):
                self.add_module(str(i), mod)

    def forward(self, x):
        for mod in self._modules.values():
            x = mod(x)
        return x

    def __getitem__(self, idx):
        items = list(self._modules.items())
        if isinstance(idx, slice):
            return type(self)(dict(items[idx]))
        return items[_index(len(items), idx, "Sequential")][1]

    def __setitem__(self, idx, module: Module) -> None:
        key = list(self._modules)[_index(len(self._modules), idx, "Sequential")]
        self.add_module(key, module)

    def __delitem__(self, idx) -> None:
        keys = list(self._modules)
        if isinstance(idx, slice):
            doomed = keys[idx]
        else:
            doomed = [keys[_index(len(keys), idx, "Sequential")]]
        for key in doomed:
            del self._modules[key]
        # renumber, as PyTorch does, so indices stay 0..n-1
        if all(k.isdigit() for k in self._modules):
            mods = list(self._modules.values())
            self._modules.clear()
            for i, mod in enumerate(mods):
                self._modules[str(i)] = mod

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        """Add ``module`` at the end; returns self."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules) -> Sequential:
        for mod in modules:
            self.append(mod)
        return self


class ModuleList(Module):
    """A list of modules whose parameters are registered (a plain list's would not be).

    Indexing, slicing, ``len``, iteration, ``append``, ``extend``, ``insert``; children
    named ``"0"``, ``"1"``, ... like PyTorch's. It has no ``forward``: iterate over it
    in your own.

    Examples
    --------
    >>> layers = gg.nn.ModuleList([gg.nn.Linear(4, 4) for _ in range(3)])
    >>> len(list(layers.parameters()))
    6
    """

    def __init__(self, modules=None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            return type(self)(mods[idx])
        return mods[_index(len(mods), idx, "ModuleList")]

    def __setitem__(self, idx, module: Module) -> None:
        self.add_module(str(_index(len(self), idx, "ModuleList")), module)

    def __delitem__(self, idx) -> None:
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            del mods[idx]
        else:
            del mods[_index(len(mods), idx, "ModuleList")]
        self._modules.clear()
        for i, mod in enumerate(mods):  # renumber so indices stay 0..n-1
            self._modules[str(i)] = mod

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __iadd__(self, modules) -> ModuleList:
        return self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        """Add ``module`` at the end; returns self."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules) -> ModuleList:
        """Append each module of an iterable; returns self."""
        for mod in modules:
            self.append(mod)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index``."""
        mods = list(self._modules.values())
        mods.insert(index, module)
        self._modules.clear()
        for i, mod in enumerate(mods):
            self.add_module(str(i), mod)
