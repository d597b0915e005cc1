"""``glassgrad gradcheck FILE:NAME``: check a user's backward against central differences.

``NAME`` is a custom ``gg.autograd.Function`` subclass, a ``gg.nn.Module`` (instance or
class with no required arguments) or a plain function of Tensors. Inputs are random
float64 arrays of the shapes given with ``--inputs`` (default one input of shape 3x4),
unless the object carries ``example_inputs`` (a tuple of arrays/Tensors, or a function
returning one). When the check fails, :func:`gg.autograd.find_bad_backward` names the op
whose backward is wrong, with where it was created and its worst element.
"""

from __future__ import annotations

import inspect

import numpy as np

import glassgrad as gg
from glassgrad.autograd import GradcheckError

__all__ = ["gradcheck_target"]


def _shapes(texts) -> list:
    shapes = []
    for text in texts:
        try:
            shapes.append(tuple(int(n) for n in text.lower().split("x")) if text else ())
        except ValueError:
            raise ValueError(f"--inputs: {text!r} is not a shape like 3x4 (or 5, or 2x3x4)"
                             ) from None
    return shapes


def _callable_of(obj, name: str):
    """(function of Tensors, what it is) for a Function, a Module or a function."""
    if isinstance(obj, type) and issubclass(obj, gg.autograd.Function):
        return obj.apply, f"Function {obj.__name__}"
    if isinstance(obj, type) and issubclass(obj, gg.nn.Module):
        try:
            obj = obj()
        except TypeError as err:
            raise ValueError(f"{name} is a Module class that needs arguments ({err}); "
                             "define an instance in the file and name that") from None
    if isinstance(obj, gg.nn.Module):
        obj.double()
        return obj, f"Module {type(obj).__name__} (gradients of its inputs, in float64)"
    if callable(obj):
        return obj, f"function {getattr(obj, '__name__', name)}"
    raise ValueError(f"{name} is a {type(obj).__name__}: expected a gg.autograd.Function "
                     "subclass, a gg.nn.Module or a function of Tensors")


def _inputs(obj, shapes, seed: int) -> list:
    example = getattr(obj, "example_inputs", None)
    if example is not None:
        example = example() if callable(example) else example
        items = example if isinstance(example, (tuple, list)) else (example,)
        return [gg.tensor(np.asarray(x.numpy() if isinstance(x, gg.Tensor) else x,
                                     dtype=np.float64), requires_grad=True) for x in items]
    rng = np.random.default_rng(seed)
    return [gg.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]


def gradcheck_target(args, load) -> int:
    """The ``gradcheck`` command: 0 when the backward agrees, 1 when it does not."""
    obj = load(args.target)
    fn, what = _callable_of(obj, args.target)
    inputs = _inputs(obj, _shapes(args.inputs), args.seed)
    if isinstance(obj, type) and issubclass(obj, gg.autograd.Function):
        params = list(inspect.signature(obj.forward).parameters)[1:]  # after ctx
        if len(params) != len(inputs) and not any(p.startswith("*") for p in params):
            raise ValueError(f"{args.target}.forward takes {len(params)} input(s) "
                             f"({', '.join(params)}); give that many shapes with --inputs")
    print(f"gradcheck {what} on inputs of shape "
          f"{', '.join(str(tuple(x.shape)) for x in inputs)} (float64, eps {args.eps:g})")
    try:
        gg.autograd.gradcheck(fn, inputs, eps=args.eps, atol=args.atol, rtol=args.rtol)
    except GradcheckError as err:
        print(f"FAILED: {err}")
        report = gg.autograd.find_bad_backward(
            lambda *xs: _as_scalar(fn(*xs)), *[gg.tensor(x.numpy()) for x in inputs])
        if report is not None:
            print(f"\nthe op whose backward is wrong: {report.op}\n{report}")
        return 1
    print("passed: the backward agrees with central differences")
    return 0


def _as_scalar(out):
    outs = out if isinstance(out, (tuple, list)) else (out,)
    total = None
    for o in outs:
        if isinstance(o, gg.Tensor) and o.dtype.kind == "f":
            total = o.sum() if total is None else total + o.sum()
    return total


def add_command(sub, run) -> None:
    p = sub.add_parser("gradcheck", help="check a Function, Module or function's backward",
                       description=__doc__)
    p.add_argument("target", help="FILE:NAME")
    p.add_argument("--inputs", nargs="+", default=["3x4"], metavar="SHAPE",
                   help="shape of each input, e.g. 3x4 4 (default: one 3x4 input)")
    p.add_argument("--eps", type=float, default=1e-6)
    p.add_argument("--atol", type=float, default=1e-5)
    p.add_argument("--rtol", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=run)
