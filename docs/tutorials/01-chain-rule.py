# %% [markdown]
# # 1. The chain rule and computational graphs
#
# **What you will learn:**
#
# - which question backpropagation answers (credit assignment) and why the answer is a
#   derivative;
# - how to run the chain rule backwards through `z = x * 3 + 5` with pen and paper, and
#   that the engine does exactly the same steps;
# - how to read the engine's backward pass with `gg.explain` and look at it as a picture
#   with `gg.viz.record` and `gg.viz.graph`;
# - why gradients **add up** where a value is used more than once;
# - what "define-by-run" means: the graph is whatever your Python code did this time.
#
# ## The credit-assignment question
#
# A network turns its inputs into a loss through a long chain of small operations. To
# improve it we have to ask every parameter: *how much are you to blame for the loss?*
# Made precise, the question is: if this parameter moved by a tiny amount `h`, by how
# much would the loss move? For small `h` the answer is `h` times the partial derivative
# of the loss with respect to that parameter. Backpropagation computes all of these
# derivatives at once, by one sweep from the loss back towards the inputs.
#
# Before any calculus, we can ask the question numerically: nudge the input and watch
# the output.

# %%
import matplotlib.pyplot as plt
import numpy as np

import glassgrad as gg


def f(x):
    """The smallest example: z = x * 3 + 5."""
    return x * 3 + 5


h = 1e-3
print(f"f(2) = {f(2.0)},  f(2 + h) = {f(2.0 + h):.4f}")
print(f"change in z per unit change in x: {(f(2.0 + h) - f(2.0)) / h:.6f}")

# %% [markdown]
# Moving `x` by `h` moves `z` by `3 h`: `x` has a "blame factor" of 3. Nudging works,
# but it needs one extra evaluation per input, and a network has millions of inputs
# (its weights). The chain rule gets them all from one backward sweep.
#
# ## The chain rule, by hand
#
# Break `z = x * 3 + 5` into its two operations, `a = x * 3` and `z = a + 5`. The chain
# rule says that the sensitivity of `z` to `x` is the product of the local sensitivities
# along the way:
#
# ```text
# dz/dx = dz/da * da/dx
# ```
#
# Read from left to right, that is an algorithm. Start at the output with `dz/dz = 1`,
# and walk the operations backwards; at each one, multiply what arrived from above by
# the operation's own local derivative and pass the result down. We write `dv` for
# "the derivative of `z` with respect to `v`", as most code does:

# %%
# forward pass: compute and keep the intermediate values
x = 2.0
a = x * 3          # a = 6
z = a + 5          # z = 11

# backward pass: seed with dz/dz = 1, then one local rule per op, newest op first
dz = 1.0
da = dz * 1        # z = a + 5:  dz/da = 1
dx = da * 3        # a = x * 3:  da/dx = 3
print(f"a = {a}, z = {z}, dx = {dx}")
assert dx == 3.0

# %% [markdown]
# Each operation only needs to know its *own* derivative: the `+ 5` knows that it passes
# its gradient through unchanged, the `* 3` that it multiplies by 3. Nobody needs to know
# the whole function. That locality is what makes backpropagation scale.
#
# ## The same thing on the engine
#
# glassgrad records the two operations while they run (the forward pass) and
# `z.backward()` walks them in reverse, applying each operation's local rule. The
# result lands in `x.grad`. We use float64 throughout so that results match to the last
# digit.

# %%
x = gg.tensor(2.0, dtype=gg.float64, requires_grad=True)
a = x * 3
z = a + 5
z.backward()
print("z =", z.item(), "  x.grad =", x.grad.item())
assert x.grad.item() == dx

# %% [markdown]
# ## Reading the backward pass: gg.explain
#
# `gg.explain(z)` runs the engine's real backward pass from `z` and writes down what each
# step did: which operation, its local rule (the VJP line of the op's definition), the
# gradient that arrived and what it sent to each input. It keeps the graph and touches
# no `.grad`, so you can call it before `z.backward()`. Names: `out` is the output,
# `v1` the first intermediate (our `a`), `const` a constant, and the leaves are named by
# `params`.

# %%
x = gg.tensor(2.0, dtype=gg.float64, requires_grad=True)
z = x * 3 + 5
explanation = gg.explain(z, params={"x": x})
print(explanation)
assert float(explanation.grads["x"]) == dx
assert x.grad is None  # explain left .grad alone

# %% [markdown]
# Step 1 is our `da = dz * 1`, step 2 is `dx = da * 3`: the rule `gx = g * y` of `mul`
# with `g = 1` arriving and `y = 3` the constant. In a notebook, `gg.explain(z)` as the
# last expression of a cell shows the same steps as a table.
#
# ## The graph as a picture
#
# A recorded graph keeps only what the backward pass needs, and frees even that as soon
# as it has been used. To draw every value and every gradient we run the forward and
# backward passes inside `with gg.viz.record():`, which keeps a small copy of each for
# the picture (it changes no number). `gg.viz.graph(...)` as the last expression of a
# cell draws it: one box per operation with its value and the gradient of `z` with
# respect to it, constants in small dashed boxes, leaves named by `params`. The fill
# colour is the size of the gradient.

# %%
x = gg.tensor(2.0, dtype=gg.float64, requires_grad=True)
with gg.viz.record():
    a = x * 3
    z = a + 5
    z.backward()
gg.viz.graph(z, params={"x": x, "z": z})

# %% [markdown]
# ## A neuron: L = tanh(w * x + b)
#
# One step bigger: a single neuron with weight `w`, input `x` and bias `b`, written as
# three operations `p = w * x`, `n = p + b`, `L = tanh(n)`. By hand, with the rule
# `d tanh(n)/dn = 1 - tanh(n)^2 = 1 - L^2`:
#
# - `dL = 1`
# - `dn = dL * (1 - L^2)`
# - `dp = dn * 1` and `db = dn * 1` (an addition copies its gradient to both inputs)
# - `dw = dp * x` and `dx = dp * w` (a product sends each input the *other* input)

# %%
w_val, x_val, b_val = -3.0, 2.0, 6.88

# by hand, in NumPy
p_val = w_val * x_val
n_val = p_val + b_val
L_val = np.tanh(n_val)
dn = 1.0 * (1 - L_val**2)
dp, db = dn, dn
dw, dx = dp * x_val, dp * w_val
print(f"L = {L_val:.6f}; by hand: dw = {dw:.6f}, dx = {dx:.6f}, db = {db:.6f}")

# on the engine, recorded for the picture
w = gg.tensor(w_val, dtype=gg.float64, requires_grad=True)
x = gg.tensor(x_val, dtype=gg.float64, requires_grad=True)
b = gg.tensor(b_val, dtype=gg.float64, requires_grad=True)
with gg.viz.record():
    L = gg.tanh(w * x + b)
    L.backward()
print(f"engine:  w.grad = {w.grad.item():.6f}, x.grad = {x.grad.item():.6f}, "
      f"b.grad = {b.grad.item():.6f}")
for leaf, hand in ((w, dw), (x, dx), (b, db)):
    assert abs(leaf.grad.item() - hand) < 1e-15

# %% [markdown]
# The picture of the neuron after `L.backward()`. Follow the gradient from the right:
# `tanh` turns the 1 that arrived into `1 - L^2`, the addition copies it to `b` and to
# the product, and the product multiplies it by the other input.

# %%
gg.viz.graph(L, params={"w": w, "x": x, "b": b, "L": L})

# %% [markdown]
# The same backward pass as `gg.explain` reads it, this time as the table a notebook
# shows when `gg.explain(...)` is the last expression of a cell (on a fresh graph:
# `L.backward()` above has already freed the first one). The `tanh` step turns the 1
# that arrived into `1 - L^2`; the rest is the addition and the product.

# %%
w2, x2, b2 = (gg.tensor(v, dtype=gg.float64, requires_grad=True)
              for v in (w_val, x_val, b_val))
gg.explain(gg.tanh(w2 * x2 + b2), params={"w": w2, "x": x2, "b": b2})

# %% [markdown]
# The derivatives are also exactly what the nudging experiment of the first cell would
# give. `gg.autograd.numerical_gradient` does that experiment for us with central
# differences, `(f(v + eps) - f(v - eps)) / (2 eps)`, two evaluations per input:

# %%
def neuron(w, x, b):
    return gg.tanh(w * x + b)


inputs = [gg.tensor(v, dtype=gg.float64) for v in (w_val, x_val, b_val)]
numeric = gg.autograd.numerical_gradient(neuron, inputs, 1e-6)
for name, leaf, num in zip("wxb", (w, x, b), numeric):
    print(f"d L / d {name}: backward {leaf.grad.item():+.9f}, "
          f"central difference {float(num):+.9f}")
    assert abs(leaf.grad.item() - float(num)) < 1e-8

# %% [markdown]
# ## Fan-out: where a value is used twice, gradients add
#
# In `b = a + a` the value `a` is used twice. If `a` moves by `h`, *both* uses move, so
# the effects add: `db/da = 1 + 1 = 2`. This is the multivariate chain rule: the
# derivative of the output with respect to a value is the **sum over all paths** from
# that value to the output. The engine implements it by accumulating: every use sends
# back its own contribution, and a node only runs its rule once all contributions have
# arrived and been added.
#
# With `b = a + a` and `c = b + b` we have `c = 4a`, so `dc/da` must be 4. `gg.explain`
# shows the additions happen: `b` receives 1 + 1 = 2 from its two uses, sends 2 along
# each of its two edges, and `a` receives 2 + 2 = 4.

# %%
a = gg.tensor(1.5, dtype=gg.float64, requires_grad=True)
b = a + a
c = b + b
explanation = gg.explain(c, params={"a": a})
print(explanation)
c.backward()
print("a.grad =", a.grad.item())
assert a.grad.item() == float(explanation.grads["a"]) == 4.0

# %% [markdown]
# The two paths need not carry the same amount. In `c = a * a`, each use of `a` is
# multiplied by the other one, so each path contributes `a` and the total is
# `a + a = 2a`, the familiar derivative of `a^2`:

# %%
a = gg.tensor(1.5, dtype=gg.float64, requires_grad=True)
explanation = gg.explain(a * a, params={"a": a})
print(explanation)
assert float(explanation.grads["a"]) == 2 * 1.5

# %% [markdown]
# The same adding-up is why `.grad` **accumulates**: a second `backward()` into the same
# leaf adds its contribution to what is there, exactly as a second path would. Training
# loops therefore reset gradients (`p.grad = None` or `optimizer.zero_grad()`) before
# each backward pass.

# %%
a = gg.tensor(1.5, dtype=gg.float64, requires_grad=True)
(a * 3).backward()
(a * 3).backward()   # a new graph each time; the gradient lands on the same leaf
print("after two backward passes: a.grad =", a.grad.item())
assert a.grad.item() == 6.0

# %% [markdown]
# ## Define-by-run: the graph is what your code did
#
# Some frameworks have you describe a graph first and feed numbers through it later (a
# *static* graph: TensorFlow 1, or a compiler). glassgrad, like PyTorch, is
# **define-by-run**: the graph is recorded while your Python code runs, afresh on every
# call. An ordinary Python `if` or loop therefore simply decides which operations get
# recorded this time, and `backward()` follows whatever was recorded.

# %%
def branchy(x):
    """2x through tanh when positive, else (2x)^2 + 1: two different graphs."""
    h = x * 2
    if h.item() > 0:          # a plain Python `if` on a value
        return gg.tanh(h)
    return h * h + 1


def op_names(out):
    """The ops of out's graph, newest first, by walking grad_fn back to the leaves."""
    names, node = [], out.grad_fn
    while node is not None and hasattr(node, "prim"):
        names.append(node.prim.name)
        parents = [p for p in node.inputs if p is not None and hasattr(p, "prim")]
        node = parents[0] if parents else None
    return names


x_pos = gg.tensor(0.4, dtype=gg.float64, requires_grad=True)
x_neg = gg.tensor(-0.7, dtype=gg.float64, requires_grad=True)
with gg.viz.record():
    out_pos = branchy(x_pos)
    out_neg = branchy(x_neg)
    print("x =  0.4 recorded:", op_names(out_pos))
    print("x = -0.7 recorded:", op_names(out_neg))
    out_pos.backward()
    out_neg.backward()

# by hand: d tanh(2x)/dx = 2 (1 - tanh(2x)^2);  d ((2x)^2 + 1)/dx = 8x
hand_pos = 2 * (1 - np.tanh(0.8) ** 2)
hand_neg = 8 * -0.7
print(f"gradients: {x_pos.grad.item():.6f} (by hand {hand_pos:.6f}), "
      f"{x_neg.grad.item():.6f} (by hand {hand_neg:.6f})")
assert op_names(out_pos) != op_names(out_neg)
assert abs(x_pos.grad.item() - hand_pos) < 1e-15
assert abs(x_neg.grad.item() - hand_neg) < 1e-15

# %% [markdown]
# The two graphs: first the one recorded by the call with `x = 0.4`, then the one
# recorded with `x = -0.7`. In the second, `h` is used twice (the two arrows into the
# second `mul`): that `mul` sends `1 * h = -1.4` back along each arrow, and `h` adds
# them up to the gradient -2.8 shown in its box.

# %%
gg.viz.graph(out_pos, params={"x": x_pos, "out": out_pos})

# %%
gg.viz.graph(out_neg, params={"x": x_neg, "out": out_neg})

# %% [markdown]
# The derivative of `branchy` as a function of `x`, computed by calling it (and
# recording a graph) at every point of a grid. The jump at 0 is where the `if` switches
# graphs; each side is smooth.

# %%
xs = np.linspace(-1.5, 1.5, 121)
values, grads = [], []
for v in xs:
    t = gg.tensor(v, dtype=gg.float64, requires_grad=True)
    out = branchy(t)
    out.backward()
    values.append(out.item())
    grads.append(t.grad.item())

fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(xs, values, label="branchy(x)")
ax.plot(xs, grads, "--", label="d branchy / dx (backward)")
ax.axvline(0, color="grey", lw=0.8)
ax.set(xlabel="x", ylabel="value", title="One function, two recorded graphs")
ax.legend()
plt.show()

# %% [markdown]
# ## Summary
#
# - The derivative of the loss with respect to a parameter answers "how much is it to
#   blame"; backpropagation computes all of them in one backward sweep.
# - The sweep is the chain rule, one local rule per operation, newest operation first.
# - Where a value is used more than once, the contributions of its uses add up.
# - The graph is recorded as the code runs; [tutorial 2](02-forward-vs-reverse.py)
#   compares this backward sweep with the forward one, and
#   [tutorial 3](03-mlp-backward.py) applies it to a whole network. Every op's local
#   rule is in [the derivative reference](../reference/derivatives.md).
#
# ## Exercises
#
# 1. Compute `dz/dx` of `z = (x * 3 + 5) ** 2` at `x = 2` by hand, as a backward
#    sweep, and check it on the engine.
#
# <details><summary>Answer</summary>
#
# With `a = x * 3`, `u = a + 5`, `z = u ** 2`: `dz = 1`, `du = dz * 2u = 22`,
# `da = du * 1 = 22`, `dx = da * 3 = 66`.
#
# ```python
# x = gg.tensor(2.0, dtype=gg.float64, requires_grad=True)
# ((x * 3 + 5) ** 2).backward()
# print(x.grad)   # 66
# ```
#
# </details>
#
# 2. How many paths lead from `x` to `y = x * x * x`, and what does each contribute at
#    `x = 2`? Check with `gg.explain`.
#
# <details><summary>Answer</summary>
#
# `y = (x * x) * x`. The outer product sends `x * x = 4` to its right input `x` and
# `x = 2` to `v = x * x`; `v` then sends `2 * x = 4` to each of its two uses of `x`.
# Three paths of 4 each: `dy/dx = 12 = 3 x^2`.
#
# ```python
# x = gg.tensor(2.0, dtype=gg.float64, requires_grad=True)
# print(gg.explain(x * x * x, params={"x": x}))   # d/dx = 4 + 4 + 4 = 12
# ```
#
# </details>
#
# 3. For the neuron `L = tanh(w * x + b)`, what happens to all three gradients when the
#    pre-activation `w * x + b` is large, say 10? Why is that a problem for learning?
#
# <details><summary>Answer</summary>
#
# They all carry the factor `1 - tanh(n)^2`, which is about `8e-9` at `n = 10`: the
# neuron is *saturated*, and almost no gradient reaches `w`, `x` or `b`, so they barely
# learn. [Tutorial 6](06-vanishing-exploding.py) follows this through deep networks.
#
# ```python
# w, x, b = (gg.tensor(v, dtype=gg.float64, requires_grad=True) for v in (3.0, 2.0, 4.0))
# gg.tanh(w * x + b).backward()
# print(w.grad, x.grad, b.grad)   # all about 1e-8
# ```
#
# </details>
#
# 4. Write a function whose graph has a different *number* of operations depending on
#    its input (hint: a `while` loop), and check its gradient.
#
# <details><summary>Answer</summary>
#
# ```python
# def halve_until_small(x):
#     while abs(x.item()) > 1:
#         x = x * 0.5
#     return x
#
# x = gg.tensor(5.0, dtype=gg.float64, requires_grad=True)
# halve_until_small(x).backward()
# print(x.grad)   # 0.125: three halvings were recorded for x = 5
# ```
#
# </details>
