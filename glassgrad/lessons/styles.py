"""Lesson: PyTorch's ``loss.backward()`` and TensorFlow's ``GradientTape`` on one engine.

The same small MLP loss is differentiated twice, once in each style, from listings that
the lesson both shows and runs (``exec`` of the very text on the page). The two styles
differ only in how the gradients are asked for and where they land (``p.grad`` or a
returned list); the backward pass underneath is the same, so the numbers are identical.
When PyTorch is installed (a test-only dependency) its gradients of the same network
are a third, independent column.
"""

from __future__ import annotations

import numpy as np

import glassgrad as gg

from ._report import Context, Section

__all__ = ["styles", "SETUP", "PYTORCH_STYLE", "TENSORFLOW_STYLE", "run_listing",
           "torch_gradients"]

# Shown and executed: the network, the data and the loss both styles differentiate.
SETUP = """\
gg.manual_seed(seed)
model = gg.nn.Sequential(gg.nn.Linear(3, 4, dtype=gg.float64), gg.nn.Tanh(),
                         gg.nn.Linear(4, 1, dtype=gg.float64))
rng = np.random.default_rng(seed)
X = gg.tensor(rng.standard_normal((n, 3)))        # n samples, 3 features
y = gg.tensor(rng.standard_normal((n, 1)))
loss_fn = gg.nn.MSELoss()
"""

PYTORCH_STYLE = """\
loss = loss_fn(model(X), y)
loss.backward()                 # fills p.grad of every parameter
grads = [p.grad for p in model.parameters()]
"""

TENSORFLOW_STYLE = """\
with gg.GradientTape() as tape:
    loss = loss_fn(model(X), y)
grads = tape.gradient(loss, list(model.parameters()))
# returned, not stored: every p.grad is left as it was
"""


def run_listing(source: str, namespace: dict) -> dict:
    """Run a listing in ``namespace`` (updated in place, and returned)."""
    exec(source, namespace)  # noqa: S102  (the lesson's own listings, shown on the page)
    return namespace


def setup(seed: int, n: int) -> dict:
    """The namespace both styles run in, made by running :data:`SETUP`."""
    return run_listing(SETUP, {"gg": gg, "np": np, "seed": seed, "n": n})


def torch_gradients(model, X, y):
    """PyTorch's gradients of the same MSE loss, for the same weights (float64), one
    NumPy array per parameter in ``model.parameters()`` order; None without torch."""
    try:
        import torch
    except ImportError:
        return None
    params = [torch.tensor(p.numpy(), dtype=torch.float64, requires_grad=True)
              for p in model.parameters()]
    W1, b1, W2, b2 = params
    xt = torch.tensor(X.numpy(), dtype=torch.float64)
    yt = torch.tensor(y.numpy(), dtype=torch.float64)
    pred = torch.tanh(xt @ W1.T + b1) @ W2.T + b2
    torch.nn.functional.mse_loss(pred, yt).backward()
    return [p.grad.numpy() for p in params]


def _max_abs(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b))))


def styles(ctx: Context) -> Section:
    """The same gradients, asked for in PyTorch's style and in TensorFlow's."""
    sec = Section("styles", "Two styles, one engine: loss.backward() and GradientTape", ctx)
    sec.text("""
        The two big frameworks ask for gradients in two different ways. **PyTorch** records
        the graph whenever a tensor that requires grad is used, and `loss.backward()`
        accumulates `d loss / d p` into each parameter's `.grad`. **TensorFlow** records
        the operations run inside a `with tf.GradientTape() as tape:` block, and
        `tape.gradient(loss, variables)` returns the gradients as a list. glassgrad offers
        both on one engine: `gg.GradientTape` records nothing of its own; it runs the same
        backward pass and hands the results back instead of storing them.""")
    n = 8 if ctx.fast else 32
    sec.code(SETUP, f"Set-up shared by both styles: a 3-4-1 tanh MLP, {n} samples, MSE loss.")
    sec.side_by_side(("PyTorch style: loss.backward()", PYTORCH_STYLE),
                     ("TensorFlow style: GradientTape", TENSORFLOW_STYLE))

    ns = setup(ctx.seed, n)
    model = ns["model"]
    backward_style = [g.numpy().copy() for g in run_listing(PYTORCH_STYLE, ns)["grads"]]
    tape_style = [g.numpy().copy() for g in run_listing(TENSORFLOW_STYLE, ns)["grads"]]
    untouched = all(np.array_equal(p.grad.numpy(), g)
                    for p, g in zip(model.parameters(), backward_style))
    reference = torch_gradients(model, ns["X"], ns["y"])

    header = ["parameter", "shape", "max |backward - tape|"]
    if reference is not None:
        header.append("max |glassgrad - PyTorch|")
    rows, diffs, torch_diffs = [], {}, {}
    named = list(model.named_parameters())
    for k, ((name, p), g_bw, g_tp) in enumerate(zip(named, backward_style, tape_style)):
        diffs[name] = _max_abs(g_bw, g_tp)
        row = [f"`{name}`", str(tuple(p.shape)), f"{diffs[name]:.1e}"]
        if reference is not None:
            torch_diffs[name] = _max_abs(g_bw, reference[k])
            row.append(f"{torch_diffs[name]:.1e}")
        rows.append(row)
    sec.table(header, rows, "Largest entry-wise difference per parameter (float64)."
              + ("" if reference is not None else " PyTorch is not installed here, so its "
                 "column is left out."))
    worst = max(diffs.values())
    size = "exactly zero, not merely small" if worst == 0.0 else f"at most {worst:.1e}"
    sec.text(f"""
        The differences are {size}: both styles run the very same backward pass over the
        very same recorded graph, with the same arithmetic in the same order. Only the
        delivery differs. With `.grad`, gradients of successive
        backward calls add up until you zero them (`optimizer.zero_grad()`); the tape's
        list is fresh each time and, by default, the tape answers once
        (`GradientTape(persistent=True)` to ask several questions of one recording).""")

    sec.facts.update(diffs=diffs, worst=worst, torch_diffs=torch_diffs, n=n,
                     grad_untouched=untouched,
                     backward_grads={nm: g for (nm, _), g in zip(named, backward_style)})
    sec.claim(f"`loss.backward()` and `GradientTape.gradient` give identical gradients "
              f"for all {len(diffs)} parameters (largest |difference| {worst:.1e})",
              worst <= 1e-12)
    sec.claim("The tape returned its gradients without touching any parameter's `.grad`",
              untouched)
    if reference is not None:
        worst_torch = max(torch_diffs.values())
        sec.facts["torch_worst"] = worst_torch
        sec.claim(f"PyTorch's gradients of the same network agree (largest |difference| "
                  f"{worst_torch:.1e} < 1e-12)", worst_torch < 1e-12)
    return sec
