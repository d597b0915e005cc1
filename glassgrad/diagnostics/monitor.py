"""Gradient-flow health of a model during training: :class:`Monitor` and :class:`Finding`.

A :class:`Monitor` watches a :class:`~glassgrad.nn.Module` (and, optionally, its
optimizer) and records, each time :meth:`Monitor.step` is called:

* per parameter: the gradient norm, the weight norm, the NaN/Inf counts of the
  gradient and, when the optimizer is known, the update-to-weight ratio
  ``||w_after - w_before|| / ||w_before||`` of the optimizer's last step;
* per activation layer (``ReLU``, ``LeakyReLU``, ``Sigmoid``, ``Tanh`` modules), from a
  forward hook: the fraction of dead units (ReLU: output 0 for every sample of the batch;
  LeakyReLU: output negative for every sample) or of saturated outputs (``|tanh| > 0.99``,
  sigmoid outside ``[0.01, 0.99]``).

:meth:`Monitor.report` prints it as a table, :meth:`Monitor.plot` draws gradient norms
per layer over the steps, and :meth:`Monitor.diagnose` turns it into :class:`Finding`
objects (``vanishing``, ``exploding``, ``dead_relu``, ``saturation``, ``nan``,
``no_gradient``, ``stalled``), each with the numbers and the mitigation that applies.

There is no PyTorch equivalent (TensorBoard histograms or ``torch.nn.utils.clip_grad_norm_``
return values are the closest); the hooks it uses are PyTorch's
(``register_forward_hook``), so the same design ports 1:1.

Example
-------
>>> net = gg.nn.Sequential(gg.nn.Linear(4, 8), gg.nn.ReLU(), gg.nn.Linear(8, 1))
>>> opt = gg.optim.SGD(net.parameters(), lr=0.1)
>>> mon = Monitor(net, opt)
>>> for _ in range(3):
...     opt.zero_grad()
...     (net(gg.randn(16, 4)) ** 2).mean().backward()
...     opt.step()
...     _ = mon.step()
>>> print(mon.report())                                 # doctest: +SKIP
>>> [f.kind for f in mon.diagnose()]                    # doctest: +SKIP
>>> mon.remove()
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..modes import state as modes
from ..nn.activation import LeakyReLU, ReLU, Sigmoid, Tanh
from ..nn.module import Module
from .plot import plot_grad_norms

__all__ = ["Monitor", "Finding"]

# --- thresholds (module-level so a user or a test can read them) -------------------------
VANISHING_RATIO = 1e-3     # an early layer's grad norm below this fraction of the largest
EXPLODING_NORM = 1e3       # a layer's grad norm above this
EXPLODING_GROWTH = 10.0    # or the total grad norm growing more than this over the steps
DEAD_FRACTION = 0.5        # more than half the units of a ReLU layer dead
SATURATED_FRACTION = 0.5   # more than half the outputs of a sigmoid/tanh layer saturated
STALLED_RATIO = 1e-6       # update-to-weight ratio below this
TANH_SATURATION = 0.99
SIGMOID_SATURATION = 0.01

MITIGATIONS = {
    "vanishing": (
        "use ReLU/LeakyReLU instead of sigmoid/tanh; initialise with Xavier "
        "(gg.nn.init.xavier_normal_, for tanh/sigmoid) or He (gg.nn.init.kaiming_normal_, for "
        "ReLU); add batch norm (gg.nn.BatchNorm1d) before the activations; add residual "
        "connections (gg.nn.Residual)"
    ),
    "exploding": (
        "clip gradients (gg.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0) "
        "between backward() and step()); lower the learning rate; use Xavier/He init; add "
        "batch norm"
    ),
    "dead_relu": (
        "use LeakyReLU (gg.nn.LeakyReLU(0.01)) or ELU; lower the learning rate; use He init "
        "(gg.nn.init.kaiming_normal_) and zero or small positive biases; add batch norm "
        "before the ReLU"
    ),
    "saturation": (
        "use ReLU/LeakyReLU; initialise with Xavier (gg.nn.init.xavier_normal_) so the "
        "pre-activations stay in the linear range; add batch norm (gg.nn.BatchNorm1d) "
        "before the activation; normalise the inputs"
    ),
    "nan": (
        "lower the learning rate; clip gradients (gg.nn.utils.clip_grad_norm_); find the op "
        "that makes the first non-finite value with gg.autograd.detect_anomaly()"
    ),
    "no_gradient": (
        "check that the parameter is used in forward, that its path to the loss is not cut "
        "by detach()/.data/.item()/gg.no_grad(), and that it is not meant to be frozen "
        "(then set requires_grad_(False))"
    ),
    "stalled": (
        "raise the learning rate (or check the scheduler); check for vanishing gradients "
        "upstream; an adaptive optimizer (gg.optim.Adam) rescales small gradients"
    ),
}


@dataclass(frozen=True)
class Finding:
    """One problem :meth:`Monitor.diagnose` found.

    Attributes
    ----------
    kind : str
        ``"vanishing"``, ``"exploding"``, ``"dead_relu"``, ``"saturation"``, ``"nan"``,
        ``"no_gradient"`` or ``"stalled"``.
    layer : str
        The module path (``"layers.3"``) or parameter name (``"layers.3.weight"``) concerned.
    message : str
        What was seen, with the numbers.
    mitigation : str
        What usually fixes it.
    """

    kind: str
    layer: str
    message: str
    mitigation: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.layer}: {self.message}\n    fix: {self.mitigation}"


def _norm(arr: np.ndarray) -> float:
    """The 2-norm of an array (``inf``/``nan`` if it holds such values).

    One ``dot`` in the array's own precision (the common, fast case), redone in float64
    only when that over- or underflows to a non-finite or zero result.
    """
    a = arr.ravel()
    if not a.size:
        return 0.0
    sq = float(np.dot(a, a))
    if not math.isfinite(sq) or (sq == 0.0 and a.dtype != np.float64):
        a = a.astype(np.float64)
        sq = float(np.dot(a, a))
    return math.sqrt(sq) if sq == sq else math.nan


def _combine(norms) -> float | None:
    """The norm of several arrays seen as one vector, from their norms (None if none)."""
    vals = [n for n in norms if n is not None]
    if not vals:
        return None
    return float(math.sqrt(sum(n * n for n in vals)))


def _fmt(x, spec: str = ".3e") -> str:
    if x is None:
        return "-"
    return format(x, spec)


def _label(path: str) -> str:
    return path if path else "(model)"


class _ActStats:
    """Activation statistics of one activation layer, accumulated over one step's forwards."""

    __slots__ = ("kind", "dead", "units", "samples", "saturated", "count")

    def __init__(self, kind: str) -> None:
        self.kind = kind          # "relu", "leaky_relu", "sigmoid", "tanh"
        self.dead = None          # bool array over units: never active in this step
        self.units = 0
        self.samples = 0
        self.saturated = 0        # saturated elements
        self.count = 0            # all elements

    def add(self, out: np.ndarray) -> None:
        if self.kind in ("relu", "leaky_relu"):
            if out.ndim == 0:
                return
            inactive = (out <= 0).all(axis=0) if self.kind == "leaky_relu" else \
                (out == 0).all(axis=0)
            inactive = inactive.ravel()
            if self.dead is None or self.dead.shape != inactive.shape:
                self.dead = inactive
            else:
                self.dead = self.dead & inactive
            self.units = inactive.size
            self.samples += out.shape[0]
        else:
            if self.kind == "tanh":
                sat = np.abs(out) > TANH_SATURATION
            else:
                sat = (out < SIGMOID_SATURATION) | (out > 1.0 - SIGMOID_SATURATION)
            self.saturated += int(np.count_nonzero(sat))
            self.count += out.size
            self.samples += out.shape[0] if out.ndim else 1

    def record(self) -> dict:
        if self.kind in ("relu", "leaky_relu"):
            dead = float(self.dead.mean()) if self.dead is not None and self.dead.size else 0.0
            return {"kind": self.kind, "dead": dead, "units": self.units,
                    "samples": self.samples}
        frac = self.saturated / self.count if self.count else 0.0
        return {"kind": self.kind, "saturated": frac, "elements": self.count,
                "samples": self.samples}


def _act_kind(mod: Module) -> str | None:
    if isinstance(mod, LeakyReLU):
        return "leaky_relu"
    if isinstance(mod, ReLU):
        return "relu"
    if isinstance(mod, Sigmoid):
        return "sigmoid"
    if isinstance(mod, Tanh):
        return "tanh"
    return None


class Monitor:
    """Records gradient-flow health of ``model`` at each :meth:`step`; glassgrad-only.

    Parameters
    ----------
    model : gg.nn.Module
        The network. Its parameters are grouped by the module that owns them (the
        "layer", named by its path in ``named_modules()``); its ``ReLU``, ``LeakyReLU``,
        ``Sigmoid`` and ``Tanh`` modules get a forward hook that measures dead or
        saturated units (activations called as functions, ``F.relu(x)``, are not seen).
    optimizer : gg.optim.Optimizer, optional
        When given, its ``step`` is wrapped (on the instance, undone by :meth:`remove`) to
        measure each update: ``||w_after - w_before|| / ||w_before||`` per parameter.
    every : int
        Record one training iteration in ``every`` (default: each). The others skip the
        hooks' statistics, the weight copies and the norms, so a monitor left on for a
        long run costs a counter increment per iteration.

    Use
    ---
    After ``loss.backward()`` (before or after ``opt.step()``, and after any gradient
    clipping, whose result is then what is recorded) call ``mon.step()``. Activation
    statistics are those of the forwards run with grad enabled since the previous
    ``step()``; forwards under ``gg.no_grad()`` (validation) are ignored. The update ratio
    of an optimizer step goes to the current record if it has none yet (``mon.step()``
    before ``opt.step()``), else to the next one.

    Attributes
    ----------
    history : list of dict
        One record per ``step()``: ``{"step": k, "params": {name: {"grad_norm",
        "weight_norm", "update_ratio", "nan", "inf"}}, "activations": {layer: {...}}}``.
        ``grad_norm`` is ``None`` when the parameter had no ``.grad``.
    layers : dict
        ``{layer path: [parameter names]}`` of the parameterised layers, in model order.
    """

    def __init__(self, model: Module, optimizer=None, every: int = 1) -> None:
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"Monitor: every must be a positive int, got {every!r}")
        self.every = every  # record one iteration in ``every``; the others cost ~nothing
        self._calls = 0  # iterations seen (step() calls)
        if not isinstance(model, Module):
            raise TypeError(
                f"Monitor: model must be a gg.nn.Module, got {type(model).__name__}"
            )
        self.model = model
        self.optimizer = optimizer
        self.history: list[dict] = []
        self.layers: dict[str, list[str]] = {}
        self.activation_layers: dict[str, str] = {}
        self._params: dict[str, object] = {}
        self._layer_type: dict[str, str] = {}
        seen = set()
        for path, mod in model.named_modules():
            names = []
            for pname, p in mod._parameters.items():
                if p is None or id(p) in seen or not p.requires_grad:
                    continue
                seen.add(id(p))
                full = f"{path}.{pname}" if path else pname
                self._params[full] = p
                names.append(full)
            if names:
                self.layers[_label(path)] = names
                self._layer_type[_label(path)] = type(mod).__name__
        self._acts: dict[str, _ActStats] = {}
        self._handles = []
        for path, mod in model.named_modules():
            kind = _act_kind(mod)
            if kind is None:
                continue
            label = _label(path)
            self.activation_layers[label] = kind
            self._layer_type[label] = type(mod).__name__
            self._handles.append(mod.register_forward_hook(self._make_hook(label, kind)))
        self._pending_updates: dict[str, float] | None = None
        self._wrapper = None
        if optimizer is not None:
            self._wrap_optimizer(optimizer)
        self._attached = True

    # --- hooks -------------------------------------------------------------------------
    def _make_hook(self, label: str, kind: str):
        acts = self._acts

        monitor = self

        def hook(module, args, output):
            if not modes.grad_enabled or monitor._calls % monitor.every:
                return None
            data = getattr(output, "_data", None)
            if data is None:
                return None
            stats = acts.get(label)
            if stats is None:
                stats = acts[label] = _ActStats(kind)
            stats.add(data)
            return None

        return hook

    def _wrap_optimizer(self, optimizer) -> None:
        original = optimizer.step
        params = self._params
        monitor = self

        def step(*args, **kwargs):
            if not monitor._attached or not monitor._wants_update():
                return original(*args, **kwargs)
            before = {name: p._data.copy() for name, p in params.items()}
            result = original(*args, **kwargs)
            ratios = {}
            for name, p in params.items():
                w0 = before[name]
                wn = _norm(w0)
                dn = _norm(p._data - w0)
                ratios[name] = dn / wn if wn > 0 else (0.0 if dn == 0 else math.inf)
            last = monitor.history[-1] if monitor.history else None
            if last is not None and not last["_has_update"]:
                monitor._apply_updates(last, ratios)
            else:
                monitor._pending_updates = ratios
            return result

        step.__wrapped__ = original
        step.__doc__ = getattr(original, "__doc__", None)
        optimizer.step = step
        self._wrapper = step

    def _wants_update(self) -> bool:
        """Whether this optimizer step belongs to a recorded iteration: the coming one
        (``opt.step()`` before ``mon.step()``) or the one just recorded (after it)."""
        if self._calls % self.every == 0:
            return True
        last = self.history[-1] if self.history else None
        return last is not None and not last["_has_update"] and last["step"] == self._calls - 1

    @staticmethod
    def _apply_updates(record: dict, ratios: dict) -> None:
        for name, r in ratios.items():
            if name in record["params"]:
                record["params"][name]["update_ratio"] = r
        record["_has_update"] = True

    # --- recording ---------------------------------------------------------------------
    def step(self) -> dict:
        """Record the current gradients, weights and activation statistics; return the record.

        Call it once per training iteration, after ``loss.backward()``. With
        ``Monitor(..., every=k)`` only one iteration in k is recorded (the others return
        None and cost a counter increment), for long runs and small models.
        """
        iteration = self._calls
        self._calls += 1
        if iteration % self.every:
            self._acts.clear()
            return None
        params = {}
        for name, p in self._params.items():
            g = p.grad
            entry = {"grad_norm": None, "weight_norm": _norm(p._data), "update_ratio": None,
                     "nan": 0, "inf": 0}
            if g is not None:
                ga = g._data
                gn = _norm(ga)
                if not math.isfinite(gn):  # count only when there is something to count
                    entry["nan"] = int(np.count_nonzero(np.isnan(ga)))
                    entry["inf"] = int(np.count_nonzero(np.isinf(ga)))
                    gn = math.nan if entry["nan"] else math.inf
                entry["grad_norm"] = gn
            params[name] = entry
        record = {
            "step": iteration,
            "params": params,
            "activations": {label: s.record() for label, s in self._acts.items()},
            "_has_update": False,
        }
        self._acts.clear()
        if self._pending_updates is not None:
            self._apply_updates(record, self._pending_updates)
            self._pending_updates = None
        self.history.append(record)
        return record

    # --- derived views -----------------------------------------------------------------
    def layer_grad_norms(self) -> dict[str, list[float | None]]:
        """``{layer: [gradient norm at each step]}``: the norm of all the layer's gradients
        seen as one vector (``None`` where none of them had a ``.grad``)."""
        out = {}
        for layer, names in self.layers.items():
            out[layer] = [_combine(rec["params"][n]["grad_norm"] for n in names)
                          for rec in self.history]
        return out

    def _layer_value(self, rec: dict, layer: str, key: str):
        return _combine(rec["params"][n][key] for n in self.layers[layer])

    def _layer_ratio(self, rec: dict, layer: str):
        names = self.layers[layer]
        ratios = [rec["params"][n]["update_ratio"] for n in names]
        if all(r is None for r in ratios):
            return None
        # ||delta|| / ||w|| over the layer: combine delta norms = ratio * weight norm
        deltas = [(r or 0.0) * rec["params"][n]["weight_norm"] for r, n in zip(ratios, names)]
        wn = _combine(rec["params"][n]["weight_norm"] for n in names)
        dn = _combine(deltas)
        return dn / wn if wn else None

    # --- output ------------------------------------------------------------------------
    def report(self, step: int = -1) -> str:
        """A text table of one recorded step (the last by default), one row per layer.

        Columns: layer, type, gradient norm, weight norm, update/weight ratio, dead (ReLU)
        or saturated (sigmoid/tanh) percentage, NaN/Inf gradient entries.
        """
        if not self.history:
            return "Monitor: nothing recorded yet (call mon.step() after loss.backward())"
        rec = self.history[step]
        rows = [("layer", "type", "grad norm", "weight norm", "update/weight", "dead/sat %",
                 "nan/inf")]
        order = self._model_order()
        for layer in order:
            typ = self._layer_type.get(layer, "")
            if layer in self.layers:
                names = self.layers[layer]
                nan = sum(rec["params"][n]["nan"] for n in names)
                inf = sum(rec["params"][n]["inf"] for n in names)
                rows.append((layer, typ, _fmt(self._layer_value(rec, layer, "grad_norm")),
                             _fmt(self._layer_value(rec, layer, "weight_norm")),
                             _fmt(self._layer_ratio(rec, layer)), "-",
                             f"{nan}/{inf}"))
            else:
                act = rec["activations"].get(layer)
                if act is None:
                    pct = "-"
                elif "dead" in act:
                    pct = f"{100 * act['dead']:.1f} dead"
                else:
                    pct = f"{100 * act['saturated']:.1f} sat"
                rows.append((layer, typ, "-", "-", "-", pct, "-"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = [f"gradient flow at step {rec['step']} ({len(self.history)} recorded)"]
        for i, r in enumerate(rows):
            lines.append("  ".join(c.ljust(w) if j < 2 else c.rjust(w)
                                   for j, (c, w) in enumerate(zip(r, widths))).rstrip())
            if i == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def _model_order(self) -> list[str]:
        order = []
        for path, _ in self.model.named_modules():
            label = _label(path)
            if label in self.layers or label in self.activation_layers:
                order.append(label)
        return order

    def plot(self, path, title: str | None = None):
        """Draw the gradient norm of each parameterised layer over the steps to a PNG.

        Log-scale y axis, one labelled line per layer (in ``self.layers`` order); steps
        where a layer's norm is missing, zero or non-finite are left out. Needs matplotlib
        (uses a standalone ``Figure``: no pyplot state, no window). Returns the ``Figure``;
        ``fig.axes[0].get_lines()`` are the lines.
        """
        return plot_grad_norms(self, path, title=title)

    # --- diagnosis ---------------------------------------------------------------------
    def diagnose(self) -> list[Finding]:
        """Turn the recorded history into a list of :class:`Finding` (empty when healthy).

        Rules (thresholds are this module's constants):

        * ``nan``: a gradient held NaN/Inf at some step (first such step named).
        * ``exploding``: non-finite gradients, a layer's gradient norm above
          ``EXPLODING_NORM`` (1e3), or the total gradient norm growing more than
          ``EXPLODING_GROWTH`` (10x) from the first to the last step.
        * ``vanishing``: at the median over the steps, a layer before the one with the
          largest gradient norm has a norm below ``VANISHING_RATIO`` (1e-3) of it.
        * ``dead_relu`` / ``saturation``: more than half of an activation layer's units
          dead / outputs saturated, at the last step that saw the layer.
        * ``no_gradient``: a trainable parameter whose ``.grad`` stayed ``None``.
        * ``stalled``: a layer's median update-to-weight ratio below ``STALLED_RATIO``
          (needs the optimizer).
        """
        findings: list[Finding] = []
        if not self.history:
            return findings
        hist = self.history
        # nan
        nonfinite_layers = []
        for layer, names in self.layers.items():
            bad = [(rec["step"], sum(rec["params"][n]["nan"] for n in names),
                    sum(rec["params"][n]["inf"] for n in names)) for rec in hist]
            bad = [b for b in bad if b[1] or b[2]]
            if bad:
                step, nan, inf = bad[0]
                nonfinite_layers.append(layer)
                findings.append(Finding(
                    "nan", layer,
                    f"gradient has {nan} NaN and {inf} Inf entries at step {step} (the first "
                    f"of {len(bad)} non-finite steps)", MITIGATIONS["nan"]))
        # exploding
        norms = self.layer_grad_norms()
        totals = [_combine(v[i] for v in norms.values()) for i in range(len(hist))]
        exploding = None
        if nonfinite_layers:
            exploding = (nonfinite_layers[0],
                         f"gradients became non-finite (NaN/Inf) in {len(nonfinite_layers)} "
                         f"layer(s), first {nonfinite_layers[0]!r}")
        else:
            peak = None
            for layer, vals in norms.items():
                for i, v in enumerate(vals):
                    if v is not None and v > EXPLODING_NORM and (peak is None or v > peak[1]):
                        peak = (layer, v, i)
            if peak is not None:
                exploding = (peak[0], f"gradient norm {peak[1]:.3e} at step {peak[2]} exceeds "
                             f"{EXPLODING_NORM:.0e}")
            else:
                finite = [(i, t) for i, t in enumerate(totals) if t is not None and t > 0]
                if len(finite) >= 2:
                    (i0, t0), (i1, t1) = finite[0], finite[-1]
                    if t1 / t0 > EXPLODING_GROWTH:
                        top = max(norms, key=lambda k: norms[k][i1] or 0.0)
                        exploding = (top, f"total gradient norm grew {t1 / t0:.3g}x, from "
                                     f"{t0:.3e} at step {i0} to {t1:.3e} at step {i1} "
                                     f"(more than {EXPLODING_GROWTH:g}x)")
        if exploding is not None:
            findings.append(Finding("exploding", exploding[0], exploding[1],
                                    MITIGATIONS["exploding"]))
        # vanishing: median over steps of each layer's norm
        med = {}
        for layer, vals in norms.items():
            good = [v for v in vals if v is not None and math.isfinite(v)]
            if good:
                med[layer] = float(np.median(good))
        if len(med) >= 2:
            order = [k for k in self.layers if k in med]
            top = max(order, key=lambda k: med[k])
            top_i = order.index(top)
            if med[top] > 0:
                low = [k for k in order[:top_i] if med[k] / med[top] < VANISHING_RATIO]
                if low:
                    first = low[0]
                    findings.append(Finding(
                        "vanishing", first,
                        f"median gradient norm {med[first]:.3e} is {med[first] / med[top]:.2e} "
                        f"of the largest, {med[top]:.3e} in layer {top!r}; {len(low)} of the "
                        f"{top_i} layers before it are below {VANISHING_RATIO:g} of it",
                        MITIGATIONS["vanishing"]))
        # activations: last record that saw each layer
        last_act = {}
        for rec in hist:
            last_act.update(rec["activations"])
        for layer, act in last_act.items():
            if "dead" in act and act["dead"] > DEAD_FRACTION:
                what = "output 0" if act["kind"] == "relu" else "output negative"
                findings.append(Finding(
                    "dead_relu", layer,
                    f"{100 * act['dead']:.1f}% of {act['units']} units {what} for every one "
                    f"of {act['samples']} samples (more than {100 * DEAD_FRACTION:.0f}%)",
                    MITIGATIONS["dead_relu"]))
            elif "saturated" in act and act["saturated"] > SATURATED_FRACTION:
                band = ("|tanh| > 0.99" if act["kind"] == "tanh"
                        else "sigmoid outside [0.01, 0.99]")
                findings.append(Finding(
                    "saturation", layer,
                    f"{100 * act['saturated']:.1f}% of {act['elements']} outputs saturated "
                    f"({band}; more than {100 * SATURATED_FRACTION:.0f}%): their local "
                    "derivative is near 0", MITIGATIONS["saturation"]))
        # no gradient
        for name in self._params:
            if all(rec["params"][name]["grad_norm"] is None for rec in hist):
                findings.append(Finding(
                    "no_gradient", name,
                    f".grad stayed None over all {len(hist)} recorded steps",
                    MITIGATIONS["no_gradient"]))
        # stalled: one finding for all the layers that barely move
        stalled = []
        for layer in self.layers:
            ratios = [self._layer_ratio(rec, layer) for rec in hist]
            ratios = [r for r in ratios if r is not None and math.isfinite(r)]
            if ratios:
                m = float(np.median(ratios))
                if m < STALLED_RATIO:
                    stalled.append((layer, m, len(ratios)))
        if stalled:
            layer, m, n = stalled[0]
            others = ", ".join(repr(s[0]) for s in stalled[1:6])
            more = f" and {len(stalled) - 6} more" if len(stalled) > 6 else ""
            also = f"; also stalled: {others}{more}" if others else ""
            findings.append(Finding(
                "stalled", layer,
                f"median update-to-weight ratio {m:.2e} over {n} optimizer steps is below "
                f"{STALLED_RATIO:g} (healthy training is often near 1e-3); "
                f"{len(stalled)} of {len(self.layers)} layers stalled{also}",
                MITIGATIONS["stalled"]))
        return findings

    # --- detaching ---------------------------------------------------------------------
    def remove(self) -> None:
        """Detach every hook and restore ``optimizer.step``; the history is kept."""
        for h in self._handles:
            h.remove()
        self._handles = []
        opt = self.optimizer
        if self._wrapper is not None and opt is not None:
            if opt.__dict__.get("step") is self._wrapper:
                del opt.__dict__["step"]
            # otherwise someone wrapped it after us: our wrapper stays but passes through
        self._wrapper = None
        self._attached = False
        self._acts.clear()

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()

    def __repr__(self) -> str:
        return (f"Monitor({len(self.layers)} parameterised layers, "
                f"{len(self.activation_layers)} activation layers, "
                f"{len(self.history)} steps recorded"
                f"{'' if self._attached else ', removed'})")
