# %% [markdown]
# # 2. Reverse mode and forward mode
#
# **What you will learn:**
#
# - the two ways to run the chain rule through a graph: forward mode computes a
#   Jacobian-vector product (JVP), reverse mode a vector-Jacobian product (VJP);
# - how to ask for each with `gg.func.jvp` and `gg.func.vjp`, and build a whole Jacobian
#   with `gg.func.jacfwd` (one forward pass per input) or `gg.func.jacrev` (one backward
#   pass per output);
# - where the two cost the same and where one wins, measured;
# - why training a network always runs backwards;
# - how mixing the modes gives a Hessian-vector product without forming the Hessian.
#
# ## Two products with the Jacobian
#
# For a function `f: R^n -> R^m` the derivative at a point is the `m x n` Jacobian
# matrix `J`, with `J[i, j] = d f_i / d x_j`. Applying the chain rule through a graph
# never forms `J`; it multiplies it by a vector, from one side or the other:
#
# - **Forward mode** starts from a *tangent* `v` (a direction in which the inputs move,
#   shape `n`) and carries it through the graph next to the values: every operation
#   maps its input tangents to its output tangent. One pass gives `J v`, the change of
#   every output along `v`.
# - **Reverse mode** (backpropagation, [tutorial 1](01-chain-rule.py)) records the graph,
#   then starts from a *cotangent* `u` (how much each output matters, shape `m`) and
#   pulls it back through the graph: one pass gives `u^T J`, the sensitivity of
#   `u . f` to every input.
#
# Our example has three inputs and two outputs, so its Jacobian is easy to write down
# by hand:
#
# ```text
# f(x) = [ x0 * x1 + sin(x2) ]
#        [ x0**2 * x2        ]
#
# J    = [ x1            x0      cos(x2) ]
#        [ 2 * x0 * x2   0       x0**2   ]
# ```

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

import glassgrad as gg


def f(x):
    """R^3 -> R^2: two outputs built from the three entries of x."""
    return gg.stack([x[0] * x[1] + gg.sin(x[2]), x[0] ** 2 * x[2]])


def jacobian_by_hand(x):
    x0, x1, x2 = x
    return np.array([[x1, x0, np.cos(x2)],
                     [2 * x0 * x2, 0.0, x0**2]])


x_np = np.array([1.0, 2.0, 0.5])
x = gg.tensor(x_np, dtype=gg.float64)
J = jacobian_by_hand(x_np)
print("f(x) =", f(x).numpy())
print("J by hand =\n", J)

# %% [markdown]
# ## gg.func.jvp: one forward pass, J v
#
# `gg.func.jvp(f, primals, tangents)` takes a tuple of inputs and a tuple of tangents
# of the same shapes, and returns `f(x)` and `J v` from a single pass. No graph is
# recorded: each operation applies its JVP rule as it runs (for `sin` that is
# `t_out = cos(x) * t_x`).

# %%
v = gg.tensor([1.0, -1.0, 2.0], dtype=gg.float64)
value, Jv = gg.func.jvp(f, (x,), (v,))
print("J v (forward mode) =", Jv.numpy())
print("J v (by hand)      =", J @ v.numpy())
assert np.allclose(Jv.numpy(), J @ v.numpy(), rtol=0, atol=1e-15)

# %% [markdown]
# ## gg.func.vjp: one backward pass, u^T J
#
# `gg.func.vjp(f, x)` runs `f` once, recording the graph, and returns `f(x)` and a
# function `vjp_fn`. Each call `vjp_fn(u)` is one backward pass seeded with `u` instead
# of the usual 1; it returns one cotangent per input of `f` (a tuple).

# %%
u = gg.tensor([0.5, 3.0], dtype=gg.float64)
value, vjp_fn = gg.func.vjp(f, x)
(uJ,) = vjp_fn(u)
print("u^T J (reverse mode) =", uJ.numpy())
print("u^T J (by hand)      =", u.numpy() @ J)
assert np.allclose(uJ.numpy(), u.numpy() @ J, rtol=0, atol=1e-15)

# %% [markdown]
# Seeded with a unit vector, each product picks out part of `J`: the JVP with `e_j`
# is column `j`, the VJP with `e_i` is row `i`. So there are two ways to get the whole
# Jacobian: `n` forward passes, one per column, or `m` backward passes, one per row.
# `gg.func.jacfwd` and `gg.func.jacrev` do exactly that; the answers agree.

# %%
e1 = gg.tensor([0.0, 1.0, 0.0], dtype=gg.float64)
print("column 1 from jvp(e_1):", gg.func.jvp(f, (x,), (e1,))[1].numpy())
print("row 0 from vjp(e_0):   ", vjp_fn(gg.tensor([1.0, 0.0], dtype=gg.float64))[0].numpy())

J_fwd = gg.func.jacfwd(f)(x).numpy()
J_rev = gg.func.jacrev(f)(x).numpy()
print("jacfwd =\n", J_fwd)
print("max |jacfwd - jacrev| =", np.max(np.abs(J_fwd - J_rev)))
assert np.allclose(J_fwd, J, rtol=0, atol=1e-15)
assert np.allclose(J_rev, J, rtol=0, atol=1e-15)

# %% [markdown]
# ## Counting passes
#
# For `f: R^n -> R^m`, `jacfwd` needs `n` passes and `jacrev` needs one recorded forward
# pass plus `m` backward passes. We can watch that happen on a small network
# `g(x) = W2 tanh(W1 x)` with `n` inputs, 32 hidden units and `m` outputs: count how
# often `g` runs, and (with `gg.autograd.observe_backward`, which calls us for every
# node a backward pass visits) how often the backward pass goes through the `tanh`.

# %%
def small_network(n, m, hidden=32, seed=0):
    """g: R^n -> R^m, g(x) = W2 tanh(W1 x), with fixed random weights."""
    rng = np.random.default_rng(seed)
    W1 = gg.tensor(rng.standard_normal((hidden, n)) / np.sqrt(n))
    W2 = gg.tensor(rng.standard_normal((m, hidden)) / np.sqrt(hidden))

    def g(x):
        return W2 @ gg.tanh(W1 @ x)

    return g


def count_passes(transform, n, m):
    """(calls of g, backward visits of its tanh) while transform(g) builds the Jacobian."""
    g = small_network(n, m)
    calls, tanh_visits = [0], [0]

    def counted(x):
        calls[0] += 1
        return g(x)

    def observer(node, grad, input_grads):
        if node.prim.name == "tanh":
            tanh_visits[0] += 1

    x = gg.tensor(np.random.default_rng(1).standard_normal(n))
    with gg.autograd.observe_backward(observer):
        transform(counted)(x)
    return calls[0], tanh_visits[0]


n, m = 10, 3
for name, transform in (("jacfwd", gg.func.jacfwd), ("jacrev", gg.func.jacrev)):
    calls, visits = count_passes(transform, n, m)
    print(f"{name}: g ran {calls} times, the backward pass went through tanh {visits} times")
assert count_passes(gg.func.jacfwd, n, m) == (n, 0)   # n forward passes, no backward
assert count_passes(gg.func.jacrev, n, m) == (1, m)   # one forward, m backward

# %% [markdown]
# ## The crossover, measured
#
# A forward pass that carries a tangent and a backward pass cost roughly the same (each
# does a little more work than the plain forward computation). So the time of `jacfwd`
# should grow with `n` and ignore `m`, and the time of `jacrev` the other way round.
# Below, best of 3 runs for each size: on the left `m = 8` outputs and `n` growing, on
# the right `n = 8` inputs and `m` growing. (The exact times depend on the machine; the
# slopes do not.)

# %%
def best_time(transform, g, x, repeats=3):
    """The fastest of a few runs of transform(g)(x), in milliseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        transform(g)(x)
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def sweep(sizes, fixed, vary):
    """Times of jacfwd and jacrev as the inputs (vary='n') or outputs (vary='m') grow."""
    fwd, rev = [], []
    for size in sizes:
        n, m = (size, fixed) if vary == "n" else (fixed, size)
        g = small_network(n, m)
        x = gg.tensor(np.random.default_rng(1).standard_normal(n))
        fwd.append(best_time(gg.func.jacfwd, g, x))
        rev.append(best_time(gg.func.jacrev, g, x))
    return np.array(fwd), np.array(rev)


sizes = np.array([1, 2, 4, 8, 16, 32, 64, 128])
fwd_n, rev_n = sweep(sizes, fixed=8, vary="n")
fwd_m, rev_m = sweep(sizes, fixed=8, vary="m")

fig, axes = plt.subplots(1, 2, figsize=(8, 3.5), sharey=True)
for ax, fwd, rev, label in ((axes[0], fwd_n, rev_n, "n (inputs), m = 8"),
                            (axes[1], fwd_m, rev_m, "m (outputs), n = 8")):
    ax.loglog(sizes, fwd, "o-", label="jacfwd (n forward passes)")
    ax.loglog(sizes, rev, "s--", label="jacrev (m backward passes)")
    ax.set(xlabel=label)
axes[0].set(ylabel="time for the full Jacobian [ms]", title="more inputs")
axes[1].set(title="more outputs")
axes[0].legend(fontsize=8)
fig.suptitle("Jacobian of W2 tanh(W1 x): forward mode vs reverse mode")
fig.tight_layout()
plt.show()

# %% [markdown]
# With many inputs and few outputs reverse mode wins, with few inputs and many outputs
# forward mode wins, and they meet where `n` and `m` are about equal (within a factor of
# two or so: how far off depends on whether a tangent pass or a backward pass is the
# cheaper one on this machine). The
# [measured table](../forward-vs-reverse.md) has the same sweep with the numbers.
#
# ## Why training runs backwards
#
# A training loss is one number (`m = 1`) that depends on every weight (`n` in the
# millions). Reverse mode gets the whole gradient from **one** backward pass; forward
# mode would need one pass per weight. Even for a linear model with 300 weights the
# difference is plain:

# %%
rng = np.random.default_rng(0)
features = gg.tensor(rng.standard_normal((64, 300)))
targets = gg.tensor(rng.standard_normal(64))


def loss_of(w):
    """Mean squared error of a linear model: R^300 -> R (a scalar)."""
    return ((features @ w - targets) ** 2).mean()


w = gg.tensor(np.zeros(300))
grad_rev = gg.func.grad(loss_of)(w)           # one backward pass
grad_fwd = gg.func.jacfwd(loss_of)(w)         # 300 forward passes, one per weight
t_rev = best_time(gg.func.grad, loss_of, w)
t_fwd = best_time(gg.func.jacfwd, loss_of, w)
print(f"reverse mode: {t_rev:.2f} ms, forward mode: {t_fwd:.2f} ms "
      f"({t_fwd / t_rev:.0f} times slower)")
print("max |difference| of the two gradients:",
      np.max(np.abs(grad_rev.numpy() - grad_fwd.numpy())))
assert np.allclose(grad_rev.numpy(), grad_fwd.numpy(), rtol=0, atol=1e-12)

# %% [markdown]
# That gap is the whole reason backpropagation, and not forward mode, trains neural
# networks. Forward mode keeps its place where there are few inputs: a sensitivity to
# one hyper-parameter, a directional derivative, or, next, combined with reverse mode.
#
# ## Mixing the modes: Hessian-vector products
#
# The Hessian `H` of a scalar function is the Jacobian of its gradient. Forming it costs
# `n` gradient evaluations, but many algorithms (Newton-CG, curvature estimates) only need
# `H v` for a few vectors `v`. That is a JVP of the gradient function: push a tangent
# forward *through the backward pass*, `gg.func.jvp(gg.func.grad(f), (x,), (v,))`. This
# is **forward-over-reverse**, and it costs about as much as a couple of gradients.
#
# Our test function has a Hessian we can write down:
#
# ```text
# q(x) = 1/2 x^T A x + sum_i sin(x_i)       H = (A + A^T) / 2 - diag(sin(x))
# ```

# %%
A_np = np.random.default_rng(2).standard_normal((4, 4))
A = gg.tensor(A_np)


def q(x):
    return 0.5 * (x @ A @ x) + gg.sin(x).sum()


x_np = np.array([0.3, -1.0, 2.0, 0.5])
v_np = np.array([1.0, 0.0, -2.0, 0.5])
x, v = gg.tensor(x_np), gg.tensor(v_np)
H_hand = 0.5 * (A_np + A_np.T) - np.diag(np.sin(x_np))

grad_q, Hv = gg.func.jvp(gg.func.grad(q), (x,), (v,))   # forward over reverse
print("H v (forward-over-reverse) =", Hv.numpy())
print("H v (by hand)              =", H_hand @ v_np)
assert np.allclose(Hv.numpy(), H_hand @ v_np, rtol=0, atol=1e-12)

# %% [markdown]
# `gg.func.hessian(q)` builds the whole matrix the same way, `jacfwd(jacrev(q))`: one
# forward-mode pass per input through the reverse-mode gradient.

# %%
H = gg.func.hessian(q)(x).numpy()
print("max |hessian - by hand| =", np.max(np.abs(H - H_hand)))
assert np.allclose(H, H_hand, rtol=0, atol=1e-12)

# %% [markdown]
# ## Summary
#
# - Forward mode gives `J v` (one column per pass), reverse mode `u^T J` (one row per
#   pass); both give the same numbers.
# - A full Jacobian costs `n` forward or `m` backward passes: choose the smaller side.
# - A loss has `m = 1`, so one backward pass gives the gradient with respect to every
#   weight; that is why training uses reverse mode.
# - `jvp` of `grad` is a Hessian-vector product. The API is in
#   [the `gg.func` reference](../reference/api/func.md).
#
# ## Exercises
#
# 1. For `f` above at `x = (1, 2, 0.5)`, which single call gives `d f_1 / d x_2` (the
#    bottom-right entry of `J`), with forward mode? With reverse mode?
#
# <details><summary>Answer</summary>
#
# Forward mode: the JVP with `e_2` gives column 2, whose entry 1 is it. Reverse mode:
# the VJP with `e_1` gives row 1, whose entry 2 is it. Both print `x0^2 = 1`.
#
# ```python
# x3 = gg.tensor([1.0, 2.0, 0.5], dtype=gg.float64)
# e2 = gg.tensor([0.0, 0.0, 1.0], dtype=gg.float64)
# print(gg.func.jvp(f, (x3,), (e2,))[1][1])
# _, vjp_fn = gg.func.vjp(f, x3)
# print(vjp_fn(gg.tensor([0.0, 1.0], dtype=gg.float64))[0][2])
# ```
#
# </details>
#
# 2. A layer maps 1000 inputs to 1000 outputs. You need the full Jacobian. Which mode,
#    and how many passes?
#
# <details><summary>Answer</summary>
#
# `n = m = 1000`: either takes 1000 passes, so neither mode wins by counting. In practice
# reverse mode reuses one recorded forward pass for all backward passes, while forward
# mode recomputes the values in every pass, which gives reverse mode a small edge (see
# [the measured table](../forward-vs-reverse.md)). For a layer with structure (an
# elementwise op has a diagonal Jacobian) one pass with the all-ones vector is enough.
#
# </details>
#
# 3. Compute the same Hessian-vector product **reverse-over-reverse**: the gradient of
#    the scalar `grad(q)(x) . v`.
#
# <details><summary>Answer</summary>
#
# `d/dx (grad q(x) . v) = H v` because `H` is symmetric.
#
# ```python
# Hv2 = gg.func.grad(lambda x: (gg.func.grad(q)(x) * v).sum())(x)
# print(np.max(np.abs(Hv2.numpy() - H_hand @ v_np)))   # ~1e-16
# ```
#
# </details>
