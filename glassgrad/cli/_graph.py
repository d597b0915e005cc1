"""``glassgrad graph "EXPR" --set x=2 w=-3``: draw a small expression's graph with values
and gradients.

The expression is parsed with :mod:`ast` and evaluated by walking the tree: numbers,
variables, ``+ - * / ** @``, unary minus, and calls of the functions in :data:`FUNCTIONS`
(nothing else: no attribute access, no names outside the expression's variables). Each
variable becomes a leaf that requires grad; the output (summed if it is not a scalar) is
differentiated inside ``gg.viz.record()`` so the picture shows every value and gradient.
"""

from __future__ import annotations

import ast
import operator

import numpy as np

import glassgrad as gg

__all__ = ["FUNCTIONS", "evaluate", "graph"]

FUNCTIONS = {name: getattr(gg, name) for name in (
    "tanh", "sigmoid", "exp", "log", "sin", "cos", "sqrt", "abs", "relu", "sum", "mean",
    "maximum", "minimum", "log1p", "expm1", "square")}
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.Pow: operator.pow, ast.MatMult: operator.matmul}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}


class ExpressionError(ValueError):
    """An expression the command cannot evaluate: says which part and why."""


def parse_values(pairs) -> dict:
    """``["x=2", "w=-3,1"]`` -> {"x": 2.0, "w": array([-3., 1.])} (float64)."""
    values = {}
    for pair in pairs or ():
        name, sep, text = pair.partition("=")
        if not sep or not name.isidentifier():
            raise ExpressionError(f"--set expects NAME=VALUE (e.g. x=2 or w=1,2,3), got {pair!r}")
        try:
            nums = [float(v) for v in text.split(",")]
        except ValueError:
            raise ExpressionError(f"--set {name}: {text!r} is not a number or a "
                                  "comma-separated list of numbers") from None
        values[name] = nums[0] if len(nums) == 1 else np.array(nums)
    return values


def evaluate(expr: str, values: dict):
    """Evaluate ``expr`` on leaves made from ``values``: (output, {name: leaf})."""
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as err:
        raise ExpressionError(f"cannot parse {expr!r}: {err.msg}") from None
    leaves = {}

    def walk(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
                and not isinstance(node.value, bool):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id in FUNCTIONS:
                raise ExpressionError(f"{node.id} is a function: call it, {node.id}(...)")
            if node.id not in values:
                raise ExpressionError(f"{node.id} has no value: add --set {node.id}=...")
            if node.id not in leaves:
                leaves[node.id] = gg.tensor(np.asarray(values[node.id], dtype=np.float64),
                                            requires_grad=True)
            return leaves[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _BINARY[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](walk(node.operand))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and not node.keywords:
            fn = FUNCTIONS.get(node.func.id)
            if fn is None:
                raise ExpressionError(f"unknown function {node.func.id}(); known: "
                                      f"{', '.join(sorted(FUNCTIONS))}")
            args = [walk(a) for a in node.args]
            args = [a if isinstance(a, gg.Tensor) else gg.tensor(a) for a in args]
            return fn(*args)
        raise ExpressionError(f"not allowed in an expression: {ast.unparse(node)!r} (numbers, "
                              "variables, + - * / ** @ and function calls only)")

    out = walk(tree.body)
    if not isinstance(out, gg.Tensor) or not leaves:
        raise ExpressionError(f"{expr!r} has no variables: nothing to differentiate")
    return out, leaves


def graph(args) -> int:
    """The ``graph`` command: returns the exit status."""
    values = parse_values(args.set)
    unused = set(values)
    with gg.viz.record():
        out, leaves = evaluate(args.expr, values)
        unused -= set(leaves)
        loss = out if out.ndim == 0 else out.sum()
        loss.backward()
    if unused:
        raise ExpressionError(f"--set {', '.join(sorted(unused))}: not in the expression")
    names = dict(leaves)
    names["out"] = out
    path = gg.viz.draw(loss, args.out, params=names)
    print(f"{args.expr} = {_fmt(out)}")
    for name, leaf in leaves.items():
        print(f"  d{'out' if out.ndim == 0 else 'sum(out)'}/d{name} = {_fmt(leaf.grad)}")
    print(f"graph: {path}")
    return 0


def _fmt(t) -> str:
    a = t.numpy()
    return f"{a.item():.6g}" if a.ndim == 0 else np.array2string(a, precision=6)


def add_command(sub) -> None:
    p = sub.add_parser("graph", help="draw the graph of a small expression, with values "
                       "and gradients", description=__doc__)
    p.add_argument("expr", help='the expression, e.g. "tanh(w*x + b)"')
    p.add_argument("--set", nargs="+", metavar="NAME=VALUE",
                   help="values of the variables (x=2, or a vector w=1,2,3)")
    p.add_argument("--out", default="graph.svg", help="picture to write (.svg or .png)")
    p.set_defaults(run=graph)
