"""All array operations. Each family module declares its primitives (forward, VJP, JVP,
derivation) and the public functions around them; this package only gathers them."""

from .compare import (
    equal,
    greater,
    greater_equal,
    less,
    less_equal,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    not_equal,
)
from .elementwise import (
    abs,
    add,
    astype,
    clip,
    cos,
    div,
    exp,
    log,
    log1p,
    maximum,
    minimum,
    mul,
    neg,
    power,
    relu,
    sigmoid,
    sign,
    sin,
    sqrt,
    sub,
    tanh,
    where,
)
from .indexing import getitem, index_put, unwrap_index
from .linalg import einsum, matmul
from .reduction import argmax, argmin, logsumexp, max, mean, min, prod, std, sum, var
from .shape import (
    broadcast_to,
    concatenate,
    expand_dims,
    flatten,
    pad,
    reshape,
    split,
    squeeze,
    stack,
    swapaxes,
    transpose,
)

__all__ = [
    "abs", "add", "astype", "clip", "cos", "div", "exp", "log", "log1p", "maximum",
    "minimum", "mul", "neg", "power", "relu", "sigmoid", "sign", "sin", "sqrt", "sub",
    "tanh", "where", "getitem", "index_put", "unwrap_index", "einsum", "matmul", "argmax",
    "argmin", "logsumexp", "max", "mean", "min", "prod", "std", "sum", "var",
    "broadcast_to", "concatenate", "expand_dims", "flatten", "pad", "reshape", "split",
    "squeeze", "stack", "swapaxes", "transpose", "equal", "greater", "greater_equal",
    "less", "less_equal", "not_equal", "logical_and", "logical_or", "logical_xor",
    "logical_not",
]
