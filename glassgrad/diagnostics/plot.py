"""Plots for :class:`~glassgrad.diagnostics.Monitor`; matplotlib is imported only when drawing."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["plot_grad_norms"]


def plot_grad_norms(monitor, path, title: str | None = None):
    """Draw ``monitor``'s gradient norm per parameterised layer over the steps to a PNG.

    One labelled line per layer, log-scale y axis; missing, zero and non-finite values are
    gaps. Uses a standalone ``matplotlib.figure.Figure`` (no pyplot, no GUI backend).
    Returns the Figure. Raises ImportError naming the package when matplotlib is absent.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Monitor.plot needs matplotlib (pip install matplotlib); the numbers are in "
            "monitor.layer_grad_norms() and monitor.report()"
        ) from exc
    norms = monitor.layer_grad_norms()
    fig = Figure(figsize=(8, 5))
    ax = fig.add_subplot()
    steps = np.arange(len(monitor.history))
    for layer, vals in norms.items():
        y = np.array([v if v is not None and math.isfinite(v) and v > 0 else np.nan
                      for v in vals], dtype=np.float64)
        ax.plot(steps, y, label=layer, marker="." if len(steps) < 30 else None)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("gradient norm")
    ax.set_title(title or "gradient norm per layer")
    if norms:
        ax.legend(fontsize="small", ncol=1 + len(norms) // 12, loc="best")
    fig.tight_layout()
    fig.savefig(path, format="png")
    return fig
