"""The transforms themselves; see the package docstring for the big picture."""

from __future__ import annotations

import functools
import weakref

import numpy as np

from .. import forward, grad_mode
from ..autograd.grad import grad as autograd_grad
from ..graph import Node, walk
from ..modes import state
from ..ops import reshape, stack
from ..tensor import Tensor

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "jacrev", "jacfwd", "hessian"]


# --- pytrees: a Tensor, or (nested) tuples/lists of them ---------------------------------------

def _flatten(tree):
    """Leaves (Tensors) of a nested tuple/list, and a function rebuilding the structure."""
    if isinstance(tree, (tuple, list)):
        parts = [_flatten(t) for t in tree]
        leaves = [leaf for p in parts for leaf in p[0]]
        sizes = [len(p[0]) for p in parts]
        kind = type(tree)

        def rebuild(flat):
            out, i = [], 0
            for (_, sub), n in zip(parts, sizes):
                out.append(sub(flat[i:i + n]))
                i += n
            return kind(out)

        return leaves, rebuild
    if not isinstance(tree, Tensor):
        tree = Tensor._wrap(np.asarray(tree))
    return [tree], lambda flat: flat[0]


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor._wrap(np.asarray(x))


def _argnums(argnums, n):
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    for a in nums:
        if not -n <= a < n:
            raise ValueError(f"argnums {a} is out of range for a function called with {n} "
                             "positional arguments")
    return single, tuple(a % n for a in nums)


def _bind(f, args, nums):
    """``f`` as a function of the arguments at positions ``nums`` only (others fixed)."""

    def partial(*chosen):
        full = list(args)
        for a, c in zip(nums, chosen):
            full[a] = c
        return f(*full)

    return partial


# --- reverse mode ------------------------------------------------------------------------------

# Whether a transform is nested inside another one (or inside the user's own graph) is
# a property of the whole computation, not of the transform's own inputs: a closed-over
# tensor, an argument outside ``argnums`` or a cotangent may carry an enclosing
# transform's derivative. Every transform makes its own leaves to differentiate with
# respect to; they are remembered here, so "does this result depend on anything outside
# me?" can be answered by walking its graph:
#
# * leaves made by transforms (weakly: they die with their graphs), and
# * per thread, the stack of the leaf sets of the transforms running now. A leaf in an
#   *enclosing* transform's set is outside; a leaf of a transform that has finished is
#   that transform's private business, as is our own.
# (keyed by id: a Tensor's == is elementwise; an entry dies with its leaf, so an id is
# never mistaken for a later object's)
_transform_leaves: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def _in_forward(tensors) -> bool:
    """Whether forward mode is on or one of ``tensors`` is a dual: then the backward
    must run on Tensors (``create_graph``) for the tangents to flow through it, whatever
    the grad mode."""
    return state.forward_level > 0 or any(forward.level_of(t) for t in tensors)


def _needs_outside(primals) -> bool:
    """What is known before running ``f``: we are inside forward mode, or an input
    already carries an outer derivative (reverse mode counts only with grad mode on)."""
    return _in_forward(primals) or state.grad_enabled and any(
        isinstance(p, Tensor) and p.requires_grad for p in primals)


def _depends_on_outside(tensors, depth: int) -> bool:
    """Whether ``tensors`` depend on a leaf that requires grad and is not private to
    the transforms at ``depth`` and deeper: a user's leaf, or an enclosing transform's."""
    enclosing = set()
    for frame in state.transform_frames[:depth]:
        enclosing.update(frame)
    leaves, nodes = [], []
    for t in tensors:
        if not isinstance(t, Tensor):
            continue
        if forward.level_of(t):
            return True
        if t._node is not None:
            nodes.append(t._node)
        elif t.requires_grad:
            leaves.append(t)
    for node in walk(nodes):
        leaves.extend(p for p in node.parents if p is not None and type(p) is not Node)
    return any(id(leaf) in enclosing or _transform_leaves.get(id(leaf)) is not leaf
               for leaf in leaves)


def _detached(tree):
    """The values of a transform's results without any graph (a top-level call)."""
    flat, rebuild = _flatten(tree)
    return rebuild([Tensor._wrap(t._data) for t in flat])


def _fresh_leaf(x: Tensor) -> Tensor:
    """A new reverse-mode leaf with x's values (a dual keeps its tangent around it)."""
    if forward.level_of(x):
        return forward._dual(_fresh_leaf(x._primal), x._tangent, x._level)
    leaf = Tensor._wrap(x._data)
    if leaf.dtype.kind != "f":
        raise TypeError(f"cannot differentiate with respect to a {leaf.dtype} input")
    leaf.requires_grad = True
    _transform_leaves[id(leaf)] = leaf
    return leaf


def _alias(x: Tensor) -> Tensor:
    """A new node on ``x`` (an identity op): what a nested transform differentiates
    with respect to when ``x`` is already in an enclosing graph. Differentiating with
    respect to ``x`` itself would also count the paths through closures that use ``x``
    directly: ``grad(lambda x: grad(lambda y: y * y * x)(x))`` must give d/dx 2x^2 = 4x,
    not d/dx 3x^2 (perturbation confusion)."""
    with grad_mode.enable_grad():
        return reshape(x, x.shape)


def _leaf_under(x: Tensor) -> Tensor:
    while forward.level_of(x):
        x = x._primal
    return x


def vjp(f, *primals):
    """``(f(*primals), vjp_fn)``: ``vjp_fn(v)`` gives one cotangent per primal, v^T J.

    ``v`` has the structure of ``f``'s output. Reverse mode: the cost of ``vjp_fn`` is one
    backward pass, whatever the number of inputs.

    >>> out, vjp_fn = gg.func.vjp(gg.sin, gg.tensor([0.0, 1.0]))
    >>> vjp_fn(gg.ones(2))   # (cos(x),)
    """
    primals = tuple(_as_tensor(p) for p in primals)
    # With grad mode off an enclosing graph is not recorded (as torch.func): the
    # transform still differentiates, but its results connect to nothing outside.
    outer_grad = state.grad_enabled
    nested = _needs_outside(primals)
    xs = tuple(_alias(p) if nested and p.requires_grad else _fresh_leaf(p) for p in primals)
    running = state.transform_frames
    depth = len(running)
    running.append({id(_leaf_under(x)) for x in xs})
    try:
        with grad_mode.enable_grad():
            out = f(*xs)
    finally:
        running.pop()
    flat_out, rebuild = _flatten(out)
    # A closed-over tensor or an argument outside argnums may carry an outer derivative:
    # then the backward must be recorded for the enclosing transform to differentiate.
    nested = nested or outer_grad and _depends_on_outside(flat_out, depth)

    def vjp_fn(*cotangents):
        ct = cotangents[0] if len(cotangents) == 1 else cotangents
        flat_ct, _ = _flatten(ct)
        if len(flat_ct) != len(flat_out):
            raise ValueError(f"vjp_fn: got {len(flat_ct)} cotangents for {len(flat_out)} "
                             "outputs")
        roots, seeds = [], []
        for o, v in zip(flat_out, flat_ct):
            if v.shape != o.shape:
                raise ValueError(f"vjp_fn: a cotangent has shape {v.shape} but its output "
                                 f"has shape {o.shape}")
            if o.requires_grad:
                roots.append(o)
                seeds.append(v)
        if not roots:
            return tuple(_zeros_like(x) for x in xs)
        # a cotangent that carries a derivative (jacrev or jacfwd of vjp_fn) needs the
        # backward recorded as well
        record = nested or any(forward.level_of(v) for v in flat_ct) or (
            state.grad_enabled and any(v.requires_grad for v in flat_ct))
        with grad_mode.enable_grad():
            grads = autograd_grad(roots, xs, grad_outputs=seeds, retain_graph=True,
                                  create_graph=record, allow_unused=True)
        return tuple(_zeros_like(x) if g is None else g for g, x in zip(grads, xs))

    if not nested:
        out = rebuild([Tensor._wrap(o._data) for o in flat_out])
    return out, vjp_fn


def _zeros_like(x):
    return Tensor._wrap(np.zeros(x.shape, dtype=x.dtype))


def value_and_grad(f, argnums=0):
    """Transform a scalar function into one returning ``(f(*args), df/d args[argnums])``."""

    @functools.wraps(f)
    def wrapper(*args):
        single, nums = _argnums(argnums, len(args))
        args = [_as_tensor(a) for a in args]

        partial = _bind(f, args, nums)
        out, vjp_fn = vjp(partial, *[args[a] for a in nums])
        if not isinstance(out, Tensor) or out.size != 1:
            shape = out.shape if isinstance(out, Tensor) else type(out).__name__
            raise ValueError(
                f"grad: {getattr(f, '__name__', 'f')} must return a single-element Tensor, "
                f"got {shape}; for vector outputs use vjp, jacrev or jacfwd"
            )
        grads = vjp_fn(Tensor._wrap(np.ones(out.shape, dtype=out.dtype)))
        return out, (grads[0] if single else grads)

    return wrapper


def grad(f, argnums=0):
    """Transform a scalar function into its gradient function (reverse mode).

    >>> df = gg.func.grad(lambda x: (x ** 3).sum())
    >>> df(gg.tensor([1.0, 2.0]))       # 3 x^2
    tensor([ 3., 12.])
    >>> gg.func.grad(gg.func.grad(lambda x: (x ** 3).sum()))  # fine for scalars: 6 x
    """
    vg = value_and_grad(f, argnums)

    @functools.wraps(f)
    def wrapper(*args):
        return vg(*args)[1]

    return wrapper


# --- forward mode ------------------------------------------------------------------------------

def jvp(f, primals, tangents):
    """``(f(*primals), J @ tangents)`` by true forward mode: one pass, no graph.

    ``primals`` and ``tangents`` are tuples of the same length; each tangent has its
    primal's shape and dtype. Works inside ``gg.no_grad()``.

    >>> out, t = gg.func.jvp(gg.sin, (gg.tensor([0.0]),), (gg.tensor([1.0]),))  # cos(0)
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: primals and tangents must be tuples (one entry per argument)")
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    return _jvp_partial(f, [_as_tensor(p) for p in primals], list(tangents))


# --- Jacobians -----------------------------------------------------------------------------------

def _basis(shape, dtype):
    """The unit vectors e_j of a tensor of this shape, one per element."""
    size = int(np.prod(shape))
    eye = np.eye(size, dtype=dtype)
    return [Tensor._wrap(eye[j].reshape(shape)) for j in range(size)]


def jacrev(f, argnums=0):
    """Jacobian by reverse mode: one backward pass per *output* element (m passes).

    The result for an output of shape ``O`` and an input of shape ``I`` has shape
    ``O + I``. With several outputs or ``argnums`` a tuple, results nest as torch.func's.
    """

    @functools.wraps(f)
    def wrapper(*args):
        single, nums = _argnums(argnums, len(args))
        args = [_as_tensor(a) for a in args]

        partial = _bind(f, args, nums)
        chosen = [args[a] for a in nums]
        out, vjp_fn = vjp(partial, *chosen)
        flat_out, rebuild = _flatten(out)
        per_output = []
        for oi, o in enumerate(flat_out):
            rows = [[] for _ in nums]
            for e in _basis(o.shape, o.dtype):
                ct = [e if k == oi else _zeros_like(q) for k, q in enumerate(flat_out)]
                for r, g in zip(rows, vjp_fn(rebuild(ct))):
                    r.append(g)
            jac = tuple(_assemble(r, o.shape, x.shape, x.dtype) for r, x in zip(rows, chosen))
            per_output.append(jac[0] if single else jac)
        return rebuild(per_output)

    return wrapper


def jacfwd(f, argnums=0):
    """Jacobian by forward mode: one forward pass per *input* element (n passes).

    Same result layout as :func:`jacrev` (output shape + input shape).
    """

    @functools.wraps(f)
    def wrapper(*args):
        single, nums = _argnums(argnums, len(args))
        args = [_as_tensor(a) for a in args]
        columns = []  # per argnum: list (over input elements) of flat output tangents
        out = None
        for a in nums:
            cols = []
            for e in _basis(args[a].shape, args[a].dtype):
                tangents = [e if k == a else None for k in range(len(args))]
                out, t = _jvp_partial(f, args, tangents)
                cols.append(_flatten(t)[0])
            columns.append(cols)
        flat_out, rebuild = _flatten(out)
        per_output = []
        for oi, o in enumerate(flat_out):
            jac = tuple(
                _assemble_cols([c[oi] for c in cols], o.shape, args[a].shape, o.dtype)
                for a, cols in zip(nums, columns)
            )
            per_output.append(jac[0] if single else jac)
        return rebuild(per_output)

    return wrapper


def _jvp_partial(f, args, tangents):
    """jvp with tangents on some arguments only (None: that argument is held fixed)."""
    top = not _needs_outside(args) and not _needs_outside(
        [t for t in tangents if isinstance(t, Tensor)])
    depth = len(state.transform_frames)
    lvl = forward.enter()
    try:
        duals = [forward.make_dual(x, t, lvl) for x, t in zip(args, tangents)]
        out = f(*duals)
        flat, rebuild = _flatten(out)
        pairs = [forward.unpack(o, lvl) for o in flat]
    finally:
        forward.exit(lvl)
    primal_out, tangent_out = rebuild([p for p, _ in pairs]), rebuild([t for _, t in pairs])
    if top and not _depends_on_outside([x for pair in pairs for x in pair], depth):
        # Forward-over-reverse inside (hessian) recorded graphs on private leaves only:
        # none of it may leak into the caller's results.
        return _detached(primal_out), _detached(tangent_out)
    return primal_out, tangent_out


def _assemble(rows, out_shape, in_shape, dtype):
    """Stack per-output-element gradient rows into a (out_shape + in_shape) Jacobian."""
    if not rows:
        return Tensor._wrap(np.zeros(out_shape + in_shape, dtype=dtype))
    return reshape(stack(rows, axis=0), out_shape + in_shape)


def _assemble_cols(cols, out_shape, in_shape, dtype):
    """Stack per-input-element output tangents into a (out_shape + in_shape) Jacobian."""
    if not cols:
        return Tensor._wrap(np.zeros(out_shape + in_shape, dtype=dtype))
    return reshape(stack(cols, axis=-1), out_shape + in_shape)


def hessian(f, argnums=0):
    """Hessian of a scalar function, forward-over-reverse: ``jacfwd(jacrev(f))``."""
    return jacfwd(jacrev(f, argnums), argnums)
