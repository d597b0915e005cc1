"""glassgrad: backpropagation with the lid off.

A NumPy tensor with define-by-run reverse-mode automatic differentiation, where every
operation's forward and backward is short, readable NumPy with its derivation beside it.

>>> import glassgrad as gg
>>> x = gg.tensor(2.0, requires_grad=True)
>>> z = x * 3 + 5          # forward: records the graph
>>> z.backward()           # backward: dz/dx = 3
>>> x.grad
tensor(3.)
"""

# First: attach Tensor's operators and methods (tensor_methods.py) before anything runs.
from . import tensor_methods  # noqa: F401

# isort: split
from . import autograd, data, diagnostics, distributed, func, linalg, nn, ops, optim, viz
from .compile import compile  # noqa: A004  (gg.compile, as torch.compile)
from .creation import (
    Generator,
    allclose,
    arange,
    as_tensor,
    cat,
    concat,
    default_generator,
    empty,
    eye,
    from_numpy,
    full,
    linspace,
    manual_seed,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    unsqueeze,
    zeros,
    zeros_like,
)
from .dtypes import (
    TORCH_ALIASES,
    complex64,
    complex128,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    set_default_dtype,
    uint8,
)
from .explain import explain
from .grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from .ops import *  # noqa: F403  (every array op; the list is ops.__all__)
from .primitive import OpError
from .serialization import CheckpointError, load, save
from .tape import GradientTape
from .tensor import Tensor, tensor

# NumPy-style aliases
subtract, multiply, divide, negative, absolute = ops.sub, ops.mul, ops.div, ops.neg, ops.abs

# torch's dtype names (gg.float, gg.long, gg.bool, ...): NumPy dtypes. They shadow the
# builtins in this namespace only (they are left out of __all__, so a star import does not
# shadow int/float/bool); glassgrad's own modules never import from here.
globals().update(TORCH_ALIASES)

__version__ = "0.1.0"

__all__ = [
    "Tensor", "tensor", "GradientTape", "autograd", "diagnostics", "func", "linalg", "nn",
    "optim", "data", "viz", "distributed",
    "OpError",
    "save", "load", "CheckpointError", "explain", "compile",
    "zeros", "ones", "full", "zeros_like", "ones_like", "arange", "eye", "randn", "rand",
    "manual_seed", "default_generator", "set_default_dtype", "get_default_dtype",
    "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
    "subtract", "multiply", "divide", "negative", "absolute",
    "Generator", "allclose", "as_tensor", "cat", "concat", "empty", "from_numpy", "linspace",
    "rand_like", "randint", "randn_like", "unsqueeze", "inference_mode",
    "is_inference_mode_enabled", "float16", "float32", "float64", "int8", "int16", "int32",
    "int64", "uint8", "complex64", "complex128",
] + ops.__all__  # not the short dtype aliases: `from glassgrad import *` keeps int/float
