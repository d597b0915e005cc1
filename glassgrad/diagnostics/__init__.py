"""``gg.diagnostics``: gradient-flow health of a model during training.

:class:`Monitor` records per-layer gradient norms, weight norms, update-to-weight ratios,
dead/saturated activation fractions and NaN/Inf counts at each ``mon.step()``;
``report()`` prints them, ``plot(path)`` draws them, ``diagnose()`` returns
:class:`Finding` objects (vanishing, exploding, dead_relu, saturation, nan, no_gradient,
stalled) with the numbers and the usual fix.
"""

from .monitor import Finding, Monitor

__all__ = ["Monitor", "Finding"]
