"""Lessons 1 and 2: the chain rule on scalars, and the computational graph it runs on.

``chain_rule`` asks the credit-assignment question on the seed's ``z = x * 3 + 5``,
answers it by hand and with the engine, and reads the engine's backward pass out with
``gg.explain`` (including a value used twice, where contributions add up). ``graphs``
draws a three-input expression after the forward and after the backward, checks the
gradient of every node against central differences, and shows that a define-by-run graph
is rebuilt on every call, so a Python ``if`` changes its shape.
"""

from __future__ import annotations

import glassgrad as gg

from ._report import Context, Section

__all__ = ["chain_rule", "graphs", "HAND_BACKWARD", "ENGINE_LISTING", "FANOUT_LISTING",
           "BRANCHY_SOURCE", "expression", "branchy"]

EPS = 1e-6  # central-difference step (float64: truncation and rounding both ~1e-10)

# The seed's forward and backward pass by hand, in plain Python. The lesson shows this
# text and runs this very text, so the listing cannot drift from what was computed.
HAND_BACKWARD = """\
# forward pass: z = x * 3 + 5
x = 2.0
a = x * 3      # a = 6
z = a + 5      # z = 11

# backward pass: start from dz/dz = 1 and apply each op's local rule
dz = 1.0
da = dz * 1    # z = a + 5   ->  dz/da = 1
dx = da * 3    # a = x * 3   ->  da/dx = 3
"""


# The engine's version: shown and run as it stands.
ENGINE_LISTING = """\
x = gg.tensor(2.0, dtype=gg.float64, requires_grad=True)
a = x * 3
z = a + 5
explanation = gg.explain(z, params={"x": x})   # keeps the graph, touches no .grad
z.backward()                                   # the real backward pass: fills x.grad
"""

FANOUT_LISTING = """\
a = gg.tensor(1.5, dtype=gg.float64, requires_grad=True)
b = a + a
c = b + b
explanation = gg.explain(c, params={"a": a})
c.backward()
"""


def _run_listing(source: str) -> dict:
    """Run a listing on the engine inside ``gg.viz.record()`` (so its graph can be drawn
    with values and gradients); returns its variables."""
    namespace = {"gg": gg}
    with gg.viz.record():
        exec(source, namespace)  # noqa: S102  (our own listing, shown on the page)
    return namespace


def _autograd_dx() -> float:
    """dz/dx of z = x * 3 + 5 at x = 2 from ``gg.autograd.grad``, on a graph of its own."""
    x = gg.tensor(2.0, dtype=gg.float64, requires_grad=True)
    (dx,) = gg.autograd.grad(x * 3 + 5, [x])
    return float(dx.item())


def _f64(value) -> gg.Tensor:
    """A float64 leaf that requires grad (float64 so central differences are accurate)."""
    return gg.tensor(float(value), dtype=gg.float64, requires_grad=True)


def _fig_dir(ctx: Context):
    return ctx.out / "figures"


def _draw_both(output, name: str, ctx: Context, **kw):
    """Draw ``output``'s graph as ``figures/<name>.svg`` and ``.png``; returns the PNG path
    (what the report shows: it looks the same in every browser and in the docs)."""
    gg.viz.draw(output, _fig_dir(ctx) / f"{name}.svg", **kw)
    return gg.viz.draw(output, _fig_dir(ctx) / f"{name}.png", **kw)


# -- lesson 1 -------------------------------------------------------------------------------
def chain_rule(ctx: Context) -> Section:
    """The credit-assignment question, the chain rule by hand, and the engine's answer."""
    sec = Section("chain-rule", "The credit-assignment question and the chain rule", ctx)
    sec.text("""
        A network computes a loss from its inputs through a long chain of simple
        operations. Training asks one question of every parameter: **how much is it to
        blame for the loss?** Precisely: if the parameter moved a tiny step, how much would
        the loss move, per unit of step? That number is the partial derivative of the loss
        with respect to the parameter, and backpropagation computes all of them in one
        sweep from the loss back to the inputs.

        The sweep is the chain rule applied one operation at a time. If `z = f(a)` and
        `a = g(x)`, then `dz/dx = dz/da * da/dx`: the sensitivity that arrives at `a` from
        above is multiplied by the local derivative of `g`, and passed down to `x`. Each
        operation only needs to know its own local derivative.""")

    # by hand, in plain Python
    hand: dict = {}
    exec(HAND_BACKWARD, {}, hand)  # noqa: S102  (our own listing, shown above the result)
    sec.text("""
        The smallest example: `z = x * 3 + 5` at `x = 2`. The forward pass computes and
        keeps the intermediate value `a = x * 3`; the backward pass starts from
        `dz/dz = 1` and walks the two operations in reverse.""")
    sec.code(HAND_BACKWARD, f"By hand, in plain Python: dx = {hand['dx']:g}.")

    # the engine: the listing on the page is run as it stands (inside gg.viz.record, which
    # keeps values and op gradients for the picture and changes no number)
    engine = _run_listing(ENGINE_LISTING)
    x, a, z, explanation = (engine[k] for k in ("x", "a", "z", "explanation"))
    engine_dx = float(x.grad.item())
    explain_dx = float(explanation.grads["x"])
    auto_dx = _autograd_dx()
    sec.code(ENGINE_LISTING + "x.grad".ljust(47) + f"# {engine_dx:g}",
             "The same function on the engine.")
    sec.text("""
        `gg.explain(z)` runs the engine's real backward pass and writes down each step:
        the op, its local rule (the VJP line of the op's card), the sensitivity that
        arrived and what was sent to each input. It keeps the graph and changes no
        `.grad`, so `z.backward()` can run afterwards.""")
    sec.code(str(explanation), "gg.explain(z): the backward pass in the engine's order "
                               "(`v1` is `a`, `out` is `z`, `const` the 3 and the 5).")
    png = _draw_both(z, "chain_rule_z", ctx, params={"x": x, "z": z})
    sec.image(png, "The graph of `z = x * 3 + 5` after `z.backward()`: each box shows its "
                   "value and the gradient of `z` with respect to it; the dashed boxes are "
                   "the constants 3 and 5. Fill colour is the gradient's size.")

    sec.facts.update(a=float(a.item()), z=float(z.item()), hand_dx=float(hand["dx"]),
                     engine_dx=engine_dx, explain_dx=explain_dx,
                     autograd_dx=auto_dx)
    sec.claim(f"The hand backward pass gives dx = {hand['dx']:g} and the engine's "
              f"`x.grad` is {engine_dx:g}: the same number, 3",
              hand["dx"] == engine_dx == 3.0)
    sec.claim(f"`gg.explain`'s total for x ({explain_dx:g}) equals "
              f"`gg.autograd.grad`'s ({auto_dx:g})",
              explain_dx == auto_dx == engine_dx)

    _fan_out(sec, ctx)
    return sec


def _fan_out(sec: Section, ctx: Context) -> None:
    """``b = a + a; c = b + b``: where a value is used twice its contributions add up."""
    sec.text("""
        When a value is used more than once, each use sends back its own contribution
        and the contributions **add up** (the multivariate chain rule: sum over all paths).
        With `b = a + a` and `c = b + b`, `c = 4a`, so `dc/da` must be 4: `b` receives
        1 + 1 = 2 from its two uses in `c`, and sends 2 along each of its two edges to
        `a`, which receives 2 + 2 = 4.""")
    fan = _run_listing(FANOUT_LISTING)
    a, c, explanation = fan["a"], fan["c"], fan["explanation"]
    text = str(explanation)
    sec.code(FANOUT_LISTING + "print(explanation)\n\n" + text,
             "Fan-out, read by gg.explain: the paths add up.")
    png = _draw_both(c, "chain_rule_fanout", ctx, params={"a": a, "c": c})
    sec.image(png, "`b = a + a; c = b + b`. One arrow per use, so two arrows run from each "
                   "box to the next: `b`'s box shows the 1 + 1 = 2 it received, the leaf "
                   "`a` the 2 + 2 = 4.")
    explain_da = float(explanation.grads["a"])
    engine_da = float(a.grad.item())
    sec.facts.update(fanout_explain=explain_da, fanout_grad=engine_da,
                     fanout_text=text, fanout_paths=text.count("paths add up"))
    sec.claim(f"Fan-out: for c = (a + a) + (a + a), `gg.explain` adds the paths to "
              f"dc/da = {explain_da:g} and `c.backward()` gives `a.grad` = {engine_da:g}",
              explain_da == engine_da == 4.0)


# -- lesson 2 -------------------------------------------------------------------------------
def expression(a, b, c):
    """The lesson's expression, node by node: ``d = a * b``, ``e = d + c``, ``L = tanh e``.

    Returns ``(d, e, L)``. Written as the downstream functions below so that every node,
    not only the inputs, can be nudged for a central difference."""
    d = a * b
    e = d + c
    return d, e, gg.tanh(e)


# each node's value -> L, with everything upstream of it held fixed
def _from_d(d, c):
    return gg.tanh(d + c)


def _from_e(e):
    return gg.tanh(e)


def _from_L(L):
    return L


# A define-by-run function: which ops run depends on the value of ``x``. The lesson shows
# this text and the function below is made from it, so the listing is the code that ran.
BRANCHY_SOURCE = """\
def branchy(x):
    h = x * 2
    if h.item() > 0:          # an ordinary Python `if` on a value
        return gg.tanh(h)
    return h * h + 1
"""
_namespace: dict = {"gg": gg}
exec(BRANCHY_SOURCE, _namespace)  # noqa: S102  (our own listing)
branchy = _namespace["branchy"]


def _node_rows(values: dict, grads: dict, numeric: dict, what: dict):
    rows, worst = [], 0.0
    for name, value in values.items():
        diff = abs(grads[name] - numeric[name])
        worst = max(worst, diff)
        rows.append([f"`{name}`", what[name], f"{value:.6f}", f"{grads[name]:.9f}",
                     f"{numeric[name]:.9f}", f"{diff:.1e}"])
    return rows, worst


def graphs(ctx: Context) -> Section:
    """One graph drawn after the forward and after the backward; every node's gradient
    against central differences; and a Python ``if`` that changes the graph."""
    sec = Section("graphs", "Computational graphs: forward values, backward gradients", ctx)
    sec.text("""
        An expression is a graph: one node per operation, edges carrying values from
        inputs to outputs. The **forward pass** runs it from the inputs and records, for
        each op, what its backward rule will need. The **backward pass** runs it in
        reverse from the output, seeded with `dL/dL = 1`, and leaves at every node the
        derivative of the output with respect to that node's value.

        Below, `L = tanh(a * b + c)`, written as three nodes: `d = a * b`,
        `e = d + c`, `L = tanh(e)`.""")
    inputs = {"a": 0.5, "b": -1.2, "c": 0.3}
    a, b, c = (_f64(v) for v in inputs.values())
    names = {"a": a, "b": b, "c": c}
    with gg.viz.record():
        d, e, L = expression(a, b, c)
        for t in (d, e, L):
            t.retain_grad()
        fwd = _draw_both(L, "graphs_forward", ctx, params={**names, "L": L},
                         show_grads=False)
        L.backward()
    bwd = _draw_both(L, "graphs_backward", ctx, params={**names, "L": L})
    sec.image(fwd, "After the forward pass: every op box holds its value. No gradient "
                   "exists yet.")
    sec.image(bwd, "After `L.backward()`: every box also holds `dL/d(node)`. The `add` "
                   "passes its gradient unchanged to `d` and `c`; the `mul` multiplies it "
                   "by the other input (`dL/da = dL/dd * b`).")

    nodes = {"a": a, "b": b, "c": c, "d": d, "e": e, "L": L}
    values = {k: float(t.item()) for k, t in nodes.items()}
    grads = {k: float(t.grad.item()) for k, t in nodes.items()}
    numeric = _central_differences(values)
    what = {"a": "input", "b": "input", "c": "input", "d": "`a * b`", "e": "`d + c`",
            "L": "`tanh(e)`"}
    rows, worst = _node_rows(values, grads, numeric, what)
    sec.text("""
        The check: nudge one node's value by `+eps` and `-eps` with everything upstream
        held fixed, recompute `L`, and divide the change by `2 eps` (a central difference,
        `gg.autograd.numerical_gradient`, `eps = 1e-6`, in float64). It needs two forward
        passes per number, where backpropagation needed one backward pass for all.""")
    sec.table(["node", "computes", "value", "dL/d(node), backward", "central difference",
               "|difference|"], rows,
              "Every node of `L = tanh(a * b + c)` at a = 0.5, b = -1.2, c = 0.3.")
    sec.facts.update(values=values, grads=grads, numeric=numeric, worst=worst,
                     inputs=dict(inputs))
    sec.claim(f"Every node's gradient (3 inputs, 3 ops) matches central differences: "
              f"largest |difference| {worst:.1e} < 1e-6", worst < 1e-6)

    _dynamic(sec, ctx)
    return sec


def _central_differences(values: dict) -> dict:
    """dL/d(node) for every node by central differences on the downstream function."""
    ng = gg.autograd.numerical_gradient
    v = {k: gg.tensor(x, dtype=gg.float64) for k, x in values.items()}
    da, db, dc = ng(lambda a, b, c: expression(a, b, c)[2], [v["a"], v["b"], v["c"]], EPS)
    (dd,) = ng(lambda d: _from_d(d, v["c"]), [v["d"]], EPS)
    (de,) = ng(_from_e, [v["e"]], EPS)
    (dL,) = ng(_from_L, [v["L"]], EPS)
    return {k: float(g) for k, g in zip("abcdeL", (da, db, dc, dd, de, dL))}


def _op_names(out) -> list:
    """The ops of ``out``'s graph in the order they ran (oldest first), by following
    ``grad_fn`` inputs back from the output."""
    seen, order, stack = set(), [], [out.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen or not hasattr(node, "prim"):
            continue
        seen.add(id(node))
        order.append(node.prim.name)
        stack.extend(p for p in node.inputs if p is not None)
    return order[::-1]


def _dynamic(sec: Section, ctx: Context) -> None:
    """Static vs define-by-run graphs: two inputs, two branches, two graphs."""
    sec.text("""
        **Static or dynamic.** A static-graph framework (TensorFlow 1's sessions, or a
        compiler) has you describe the graph once, symbolically, and then feeds numbers
        through that fixed graph; a branch must itself be a graph op. A **define-by-run**
        engine (PyTorch, TensorFlow 2's eager mode, glassgrad) records the graph while
        your Python code runs, and records it anew on every call. So an ordinary Python
        `if`, loop or early `return` simply decides which ops are recorded this time, and
        backward follows whatever was recorded.""")
    sec.code(BRANCHY_SOURCE, "One function, two graphs: the branch taken depends on `x`.")
    pictures, ops, worst, branch_grads = [], {}, 0.0, {}
    for label, value in (("pos", 0.4), ("neg", -0.7)):
        x = _f64(value)
        with gg.viz.record():
            out = branchy(x)
            ops[label] = _op_names(out)
            out.backward()
        (num,) = gg.autograd.numerical_gradient(branchy, [x], EPS)
        branch_grads[label] = float(x.grad.item())
        worst = max(worst, abs(branch_grads[label] - float(num)))
        pictures.append((_draw_both(out, f"graphs_branch_{label}", ctx,
                                    params={"x": x, "out": out}), value))
    for png, value in pictures:
        branch = "`tanh(h)`" if value > 0 else "`h * h + 1`"
        sec.image(png, f"`branchy(x)` at x = {value:g}: the graph recorded this call "
                       f"({branch}), with its gradients.")
    differ = ops["pos"] != ops["neg"]
    sec.facts.update(branch_ops=ops, branch_worst=worst, branch_grads=branch_grads)
    chain = {k: " -> ".join(v) for k, v in ops.items()}
    sec.claim(f"The Python `if` recorded two different graphs: `{chain['pos']}` for "
              f"x = 0.4 and `{chain['neg']}` for x = -0.7", differ)
    sec.claim(f"On both branches the gradient matches central differences "
              f"(largest |difference| {worst:.1e} < 1e-6)", worst < 1e-6)
