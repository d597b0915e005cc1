"""``gg.GradientTape``: TensorFlow's way of asking for gradients, on the same engine.

    with gg.GradientTape() as tape:          # PyTorch style, for comparison:
        loss = mse(model(X), y)              #   loss = mse(model(X), y)
    grads = tape.gradient(loss, [w, b])      #   loss.backward(); w.grad, b.grad

The tape records nothing of its own: inside the block the ordinary define-by-run graph
is built (grad mode is on), and ``gradient`` runs ``gg.autograd.grad`` on it, so nothing
accumulates into ``.grad``. Tensors with ``requires_grad=True`` (TensorFlow's trainable
variables) are watched automatically; ``tape.watch(x)`` watches any other float tensor
for the duration of the block.
"""

from __future__ import annotations

from .autograd.grad import grad as autograd_grad
from .modes import state
from .tensor import Tensor

__all__ = ["GradientTape"]


class GradientTape:
    """Record operations in a ``with`` block, then ask for gradients.

    Parameters
    ----------
    persistent : bool
        Allow several ``gradient`` calls (the graph is kept until the tape is dropped);
        a non-persistent tape answers once.
    """

    def __init__(self, persistent: bool = False) -> None:
        self.persistent = persistent
        self._watched: list[Tensor] = []
        self._used = False
        self._recording = False

    def __enter__(self) -> GradientTape:
        self._prev = state.grad_enabled
        state.grad_enabled = True
        self._recording = True
        return self

    def __exit__(self, *exc) -> None:
        state.grad_enabled = self._prev
        self._recording = False
        # watched tensors go back to not requiring grad; the recorded graph still knows
        # them as leaves, which is all ``gradient`` needs
        for t in self._watched:
            t.requires_grad = False

    def watch(self, tensor) -> None:
        """Track gradients with respect to ``tensor`` (a float tensor, or a list of them)."""
        if not self._recording:
            raise RuntimeError("GradientTape.watch must be called inside the `with` block")
        for t in tensor if isinstance(tensor, (list, tuple)) else (tensor,):
            if not isinstance(t, Tensor):
                raise TypeError(f"GradientTape.watch takes Tensors, got {type(t).__name__}")
            if not t.requires_grad:
                t.requires_grad_(True)
                self._watched.append(t)

    def gradient(self, target, sources):
        """d target / d sources, shaped like ``sources`` (None where not connected).

        ``target`` must be a single-element tensor (or pass a sum of it).
        """
        if self._used and not self.persistent:
            raise RuntimeError(
                "GradientTape.gradient can only be called once on a non-persistent tape; "
                "create it with GradientTape(persistent=True) to ask several times"
            )
        self._used = True
        single = isinstance(sources, Tensor)
        srcs = [sources] if single else list(sources)
        for i, s in enumerate(srcs):
            watched = any(s is w for w in self._watched)
            if not isinstance(s, Tensor) or not (s.requires_grad or watched):
                raise ValueError(
                    f"GradientTape.gradient: source {i} is not watched; call tape.watch(x) "
                    "inside the block or create it with requires_grad=True"
                )
        watched = [t for t in self._watched if not t.requires_grad]
        for t in watched:  # the graph knows them as leaves; grad() asks that they say so
            t.requires_grad = True
        try:
            grads = autograd_grad(target, srcs, retain_graph=self.persistent,
                                  allow_unused=True)
        finally:
            for t in watched:
                t.requires_grad = False
        return grads[0] if single else list(grads)
