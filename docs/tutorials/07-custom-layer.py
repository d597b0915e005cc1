# %% [markdown]
# # 7. Writing a custom layer
#
# **What you will learn:**
#
# - how to write an operation with its own backward as a `gg.autograd.Function`:
#   `forward(ctx, ...)`, `backward(ctx, g)` and `ctx.save_for_backward`;
# - how to wrap it in a `gg.nn.Module` with a learnable `gg.nn.Parameter`;
# - how to gradcheck both, with respect to the input **and** to the parameter (a check
#   of the input alone can miss a wrong parameter gradient);
# - how `gg.autograd.find_bad_backward` names a broken backward hidden inside a bigger
#   model;
# - how to give the Function a forward-mode rule (`jvp`), so that `gg.func.jvp` and
#   `gg.func.jacfwd` work through it.
#
# Our layer is **PReLU**, the leaky ReLU whose negative slope is learned, one slope per
# channel (He et al., 2015):
#
# `prelu(x, a) = x` where `x > 0`, `a x` elsewhere.
#
# glassgrad could differentiate the same formula written with `gg.where` on its own.
# Writing the backward by hand is what you do when the engine cannot (an operation
# outside glassgrad, a fused kernel, a gradient you want to change), and PReLU is small
# enough to derive in two lines.

# %%
import matplotlib.pyplot as plt
import numpy as np

import glassgrad as gg

gg.manual_seed(0)
rng = np.random.default_rng(0)

# %% [markdown]
# ## The derivatives, by hand
#
# With `x` of shape `(N, C)` and one slope per channel, `a` of shape `(C,)`, and `g` the
# cotangent arriving from the loss (`g = dℓ/d out`, same shape as `out`):
#
# - `d out/dx` is 1 where `x > 0` and `a` elsewhere, elementwise, so
#   `gx = g * where(x > 0, 1, a)`;
# - `d out/da_c` is `x` where `x ≤ 0` and 0 elsewhere; `a_c` is used by every sample
#   (it was broadcast over the batch), so its gradient is a **sum** over the batch:
#   `ga = sum over n of g * where(x > 0, 0, x)`.
#
# For forward mode the same Jacobian is applied to tangents `tx`, `ta` instead:
# `t_out = where(x > 0, tx, a tx + x ta)`.

# %% [markdown]
# ## The Function
#
# `forward` runs with recording switched off (whatever it computes becomes one node),
# and saves what `backward` will need with `ctx.save_for_backward`; `backward` reads
# it back from `ctx.saved_tensors` and returns one gradient per forward argument, in the
# same order. `jvp` is the optional forward-mode rule; it sees the same `ctx`.

# %%
class PReLUFunction(gg.autograd.Function):
    """out = x where x > 0, a * x elsewhere; x is (N, C), the slopes a are (C,)."""

    @staticmethod
    def forward(ctx, x, a):
        ctx.save_for_backward(x, a)
        return gg.where(x > 0, x, a * x)

    @staticmethod
    def backward(ctx, g):
        x, a = ctx.saved_tensors
        gx = g * gg.where(x > 0, 1.0, a)
        ga = (g * gg.where(x > 0, 0.0, x)).sum(axis=0)   # a was broadcast over the batch
        return gx, ga

    @staticmethod
    def jvp(ctx, tx, ta):
        x, a = ctx.saved_tensors
        return gg.where(x > 0, tx, a * tx + x * ta)


x = gg.tensor(rng.normal(size=(5, 3)), requires_grad=True)       # float64
a = gg.tensor(np.array([0.25, 0.1, -0.5]), requires_grad=True)
out = PReLUFunction.apply(x, a)
print(out)

# %% [markdown]
# An independent reference: the same formula written with built-in ops, differentiated
# by the engine's own rules. Both the values and the gradients must agree.

# %%
v = gg.tensor(rng.normal(size=(5, 3)))            # a random cotangent
(PReLUFunction.apply(x, a) * v).sum().backward()
ours = x.grad.numpy().copy(), a.grad.numpy().copy()
x.grad = a.grad = None
(gg.where(x > 0, x, a * x) * v).sum().backward()
builtin = x.grad.numpy(), a.grad.numpy()
for name, mine, reference in (("gx", ours[0], builtin[0]), ("ga", ours[1], builtin[1])):
    print(f"{name}: largest difference from the built-in ops {np.abs(mine - reference).max():.1e}")
    assert np.allclose(mine, reference, rtol=1e-12, atol=1e-15)
x.grad = a.grad = None

# %% [markdown]
# ## Gradcheck of the Function
#
# [Tutorial 5](05-gradient-checking.py) explains the check: the full Jacobian from the
# backward against central differences, in float64. Here the Function has two inputs,
# and both require grad, so both are checked. (Random normal inputs never sit exactly
# on the kink at 0, where a finite difference would straddle two slopes.)
# `gradgradcheck` passes too, because `backward` is written with glassgrad ops.

# %%
print("gradcheck:", gg.autograd.gradcheck(PReLUFunction.apply, (x, a)))
print("gradgradcheck:", gg.autograd.gradgradcheck(PReLUFunction.apply, (x, a)))

# %% [markdown]
# ## The Module
#
# A `gg.nn.Module` holds the slopes as a `gg.nn.Parameter` (assigning one to an
# attribute registers it, so `parameters()`, optimizers and `state_dict()` see it) and
# calls the Function in `forward`.

# %%
class PReLU(gg.nn.Module):
    """Leaky ReLU with a learned negative slope per channel (inputs of shape (N, C))."""

    def __init__(self, channels, init=0.25, function=PReLUFunction):
        super().__init__()
        self.weight = gg.nn.Parameter(gg.full((channels,), init))
        self.function = function          # which Function implements it (see below)

    def forward(self, x):
        return self.function.apply(x, self.weight)


layer = PReLU(3)
print(layer.state_dict().keys(), layer.weight.dtype)

# %% [markdown]
# ## Gradcheck of the Module, input and parameter
#
# A Module is callable, so `gradcheck(layer, (x,))` checks the gradient with respect to
# its input. It does not check the parameter: gradcheck perturbs float64 copies of the
# *inputs* it is given, and the parameter lives inside the module. For the parameters we
# use `gg.autograd.numerical_gradient`, with a small function that writes the perturbed
# value into the parameter before each forward. (`layer.double()` first: a check is
# only meaningful in float64.)

# %%
def check_parameters(module, x, eps=1e-6):
    """Largest relative error between each parameter's .grad (from backward) and central
    differences of the module's real forward, for the loss sum(module(x) * v)."""
    v = gg.tensor(np.random.default_rng(1).normal(size=module(x).shape))
    module.zero_grad()
    (module(x) * v).sum().backward()
    errors = {}
    for name, param in module.named_parameters():
        original = param.numpy().copy()

        def loss_at(value, param=param):
            with gg.no_grad():
                param.copy_(value)            # the perturbed value, into the module
            return (module(x) * v).sum()

        numeric = gg.autograd.numerical_gradient(loss_at, [param], eps=eps)[0]
        with gg.no_grad():
            param.copy_(gg.tensor(original))  # restore
        analytic = param.grad.numpy()
        scale = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), 1e-12)
        errors[name] = float(np.max(np.abs(analytic - numeric) / scale))
    return errors


layer = PReLU(3).double()
xd = gg.tensor(x.numpy(), requires_grad=True)
print("gradcheck wrt the input:", gg.autograd.gradcheck(layer, (xd,)))
errors = check_parameters(layer, xd)
print("parameters, largest relative error:", errors)
assert errors["weight"] < 1e-7

# %% [markdown]
# ## A broken backward, and why the parameter check matters
#
# Here is the kind of slip that happens: the slope's gradient forgets the mask and sums
# `g * x` over **all** inputs, positive ones included. The input's gradient is still
# right.

# %%
class BrokenPReLUFunction(PReLUFunction):
    """The same forward; the slope's gradient forgot the x <= 0 mask."""

    @staticmethod
    def backward(ctx, g):
        x, a = ctx.saved_tensors
        gx = g * gg.where(x > 0, 1.0, a)
        ga = (g * x).sum(axis=0)                          # BUG: counts x > 0 as well
        return gx, ga


broken = PReLU(3, function=BrokenPReLUFunction).double()
print("gradcheck wrt the input:", gg.autograd.gradcheck(broken, (xd,)))
broken_errors = check_parameters(broken, xd)
print("parameters, largest relative error:", broken_errors)
assert broken_errors["weight"] > 1e-2

# %% [markdown]
# The input check passes: the bug is invisible from `x`. Only checking the parameter's
# gradient catches it. (Checking the Function with `gradcheck(BrokenPReLUFunction.apply,
# (x, a))` would catch it as well, since `a` is one of its inputs there.)
#
# ## find_bad_backward: which op is wrong inside a model
#
# In a real model the custom layer sits among many ops, and a failing check of the
# whole loss says only *that* something is wrong. `gg.autograd.find_bad_backward(fn,
# *inputs)` runs `fn` once and then checks **every recorded node on its own**, each
# input of each node (parameters included), against central differences of that node's
# own forward. It returns the first one that disagrees, or `None`.

# %%
def make_model(function):
    gg.manual_seed(0)
    return gg.nn.Sequential(
        gg.nn.Linear(4, 8), PReLU(8, function=function),
        gg.nn.Linear(8, 8), gg.nn.Tanh(),
        gg.nn.Linear(8, 1),
    ).double()


inputs = gg.tensor(rng.normal(size=(16, 4)))
targets = gg.tensor(rng.normal(size=(16, 1)))
for function in (PReLUFunction, BrokenPReLUFunction):
    model = make_model(function)
    report = gg.autograd.find_bad_backward(
        lambda xb, model=model: ((model(xb) - targets) ** 2).mean(), inputs)
    print(f"{function.__name__}: {report}\n")

model = make_model(BrokenPReLUFunction)
report = gg.autograd.find_bad_backward(lambda xb: ((model(xb) - targets) ** 2).mean(), inputs)
print("op:", report.op, "| input_index:", report.input_index, "| worst element:",
      report.worst_index, f"| relative error {report.rel_error:.2f}")
assert report.op == "BrokenPReLUFunction" and report.input_index == 1
assert gg.autograd.find_bad_backward(
    lambda xb: ((make_model(PReLUFunction)(xb) - targets) ** 2).mean(), inputs) is None

# %% [markdown]
# The report names the class, the line of *your* code where the node was created (the
# `forward` of `PReLU`), which input is wrong (`input_index` 1: the slope, the second
# argument of `apply`), its worst element and both values. The healthy model gives
# `None`: the matmuls, additions, `tanh`, the squares and the mean all agree.
#
# The graph of the (correct) model shows the custom node among the built-in ones; inside
# `gg.viz.record()` every box carries its value and gradient.

# %%
model = make_model(PReLUFunction)
with gg.viz.record():
    loss = ((model(inputs[:4]) - targets[:4]) ** 2).mean()
    loss.backward()
gg.viz.graph(loss, model=model)

# %% [markdown]
# ## Forward mode: the jvp rule
#
# Reverse mode pulls a cotangent back through `backward`; forward mode pushes a tangent
# forward through `jvp(ctx, tx, ta)`, one tangent per forward argument (zeros for
# arguments that carry none). With it, `gg.func.jvp` gives a directional derivative in
# one pass, and `gg.func.jacfwd` a whole Jacobian column by column. (A Function without
# `jvp` raises `NotImplementedError` in forward mode, saying what to add.)
#
# We check the rule against reverse mode: the Jacobian from `jacfwd` (built from `jvp`)
# must equal the one from `jacrev` (built from `backward`), for both arguments.

# %%
def f(x, a):
    return PReLUFunction.apply(x, a)


tx = gg.tensor(rng.normal(size=x.shape))
ta = gg.tensor(rng.normal(size=a.shape))
value, tangent = gg.func.jvp(f, (x, a), (tx, ta))
by_hand = np.where(x.numpy() > 0, tx.numpy(), a.numpy() * tx.numpy() + x.numpy() * ta.numpy())
assert np.allclose(tangent.numpy(), by_hand)

for argnum, name in ((0, "x"), (1, "a")):
    forward_J = gg.func.jacfwd(f, argnums=argnum)(x, a).numpy()
    reverse_J = gg.func.jacrev(f, argnums=argnum)(x, a).numpy()
    print(f"d out/d{name}: Jacobian shape {forward_J.shape}, "
          f"|jacfwd - jacrev| max {np.abs(forward_J - reverse_J).max():.1e}")
    assert np.allclose(forward_J, reverse_J, rtol=1e-12, atol=1e-14)

# %% [markdown]
# ## The layer learns its slope
#
# Last, the parameter is a parameter: a student PReLU fits data made by a "teacher"
# with slopes `[0.05, 0.3, 0.6]`, starting from 0.25 everywhere, with `gg.optim.Adam`.

# %%
teacher = np.array([0.05, 0.3, 0.6])
X_fit = gg.tensor(rng.normal(size=(256, 3)))
Y_fit = gg.tensor(np.where(X_fit.numpy() > 0, X_fit.numpy(), teacher * X_fit.numpy()))
student = PReLU(3).double()
opt = gg.optim.Adam(student.parameters(), lr=0.02)
history = []
for _ in range(150):
    opt.zero_grad()
    loss = ((student(X_fit) - Y_fit) ** 2).mean()
    loss.backward()
    opt.step()
    history.append(student.weight.numpy().copy())
history = np.array(history)
print("learned slopes:", np.round(student.weight.numpy(), 4), " teacher:", teacher)
assert np.allclose(student.weight.numpy(), teacher, atol=1e-3)

fig, ax = plt.subplots(figsize=(7, 3.5))
for c, colour in zip(range(3), ("#0072B2", "#E69F00", "#009E73")):
    ax.plot(history[:, c], color=colour, label=f"channel {c}")
    ax.axhline(teacher[c], color=colour, ls=":", lw=1)
ax.set_xlabel("Adam step")
ax.set_ylabel("slope a_c")
ax.set_title("PReLU slopes during training (dotted: the teacher's)")
ax.legend(fontsize=8)
ax.grid(True, alpha=0.3)
plt.show()

# %% [markdown]
# ## Summary
#
# - A `Function` is `forward(ctx, *args)` + `backward(ctx, *grads)`, with
#   `ctx.save_for_backward` in between; an optional `jvp(ctx, *tangents)` adds forward
#   mode. A gradient for an argument that was broadcast must be summed back to its shape.
# - A `Module` holds the `Parameter`s and calls `Function.apply`.
# - Check the Function with `gradcheck` (all its tensor arguments), the Module's input
#   with `gradcheck(module, (x,))` **and** its parameters (here with
#   `numerical_gradient`); `find_bad_backward` names the wrong node inside a model.
#
# See also [the gg.autograd reference](../reference/api/autograd.md) and
# [gg.nn](../reference/api/nn.md).

# %% [markdown]
# ## Exercises
#
# 1. Remove `.sum(axis=0)` from the slope's gradient in `PReLUFunction.backward`
#    (return the `(N, C)` array). What happens, and why?
#
# <details><summary>Answer</summary>
#
# It still works: `a` was *broadcast* from `(C,)` to `(N, C)` in `a * x`, and glassgrad
# sums a gradient of the broadcast shape back to the input's shape, as PyTorch does. A
# gradient of any other shape (say `(C, N)`, or `(N * C,)`) is refused with an error
# naming the Function, the argument and both shapes. Summing explicitly is clearer and
# does not rely on that rule.
#
# </details>
#
# 2. Why does `gradcheck(layer, (x,))` not check `layer.weight`?
#
# <details><summary>Answer</summary>
#
# gradcheck differentiates with respect to the tensors in `inputs` that require grad,
# and checks float64 copies of them. The parameter is not among the inputs: the layer
# reads its own `weight`, which gradcheck never perturbs. Either pass it as an input of
# the Function (`gradcheck(PReLUFunction.apply, (x, a))`) or perturb it in place, as
# `check_parameters` does.
#
# </details>
#
# 3. Write a `jvp` that forgets the `x * ta` term. Which of the checks above fails?
#
# <details><summary>Answer</summary>
#
# The tangent with respect to `a` becomes 0, so `jacfwd(f, argnums=1)` is a zero
# Jacobian while `jacrev(f, argnums=1)` is not: the second `assert np.allclose(forward_J,
# reverse_J)` fails, and so does the comparison with `by_hand`. The `argnums=0` check
# still passes. gradcheck does not look at `jvp` at all.
#
# ```python
# class NoSlopeTangent(PReLUFunction):
#     @staticmethod
#     def jvp(ctx, tx, ta):
#         x, a = ctx.saved_tensors
#         return gg.where(x > 0, tx, a * tx)
# ```
#
# </details>
#
# 4. Turn PReLU into a **clipped** leaky activation: `out = min(prelu(x, a), 6)`. What
#    changes in `backward`?
#
# <details><summary>Answer</summary>
#
# Where `x > 6` the output is the constant 6: both `d out/dx` and `d out/da` are 0
# there. Save `x` as before and multiply both gradients by `(x <= 6)`:
# `gx = g * where(x > 6, 0.0, where(x > 0, 1.0, a))`; `ga` is unchanged because its
# mask (`x <= 0`) already excludes `x > 6`.
#
# </details>
