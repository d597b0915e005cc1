# %% [markdown]
# # 5. Gradient checking your own backward
#
# **What you will learn:**
#
# - how a central difference estimates a derivative, and why its error is
#   `O(eps²)` rather than the `O(eps)` of a one-sided difference;
# - why the step `eps` matters: the error against `eps` is a U on a log-log plot, and its
#   floor in float32 is far too high to trust;
# - how `gg.autograd.gradcheck` compares a hand-written backward with central
#   differences, and what its `GradcheckError` tells you when the backward is wrong;
# - how `gg.autograd.gradgradcheck` checks second derivatives, and
#   `gg.autograd.numerical_gradient` gives a finite-difference gradient of any scalar
#   function.
#
# A backward pass you write yourself (a custom `gg.autograd.Function`, see
# [tutorial 7](07-custom-layer.py)) runs, returns arrays of the right shape and lets a
# network train, even when it is wrong. The network then follows a wrong direction and
# nothing complains. The only way to know is to compare the backward with an estimate
# that needs no calculus at all: nudge the input and watch the output move.

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np

import glassgrad as gg

gg.manual_seed(0)
rng = np.random.default_rng(0)

# %% [markdown]
# ## Central differences
#
# The derivative is the limit of a slope. Taking a small but finite step `eps` gives two
# natural estimates:
#
# - the **forward difference** `(f(x + eps) - f(x)) / eps`;
# - the **central difference** `(f(x + eps) - f(x - eps)) / (2 eps)`.
#
# Expand `f` around `x` with Taylor's formula:
# `f(x ± eps) = f(x) ± eps f'(x) + eps²/2 f''(x) ± eps³/6 f'''(x) + ...`.
# In the forward difference the `eps²/2 f''` term survives, so its error is about
# `eps/2 |f''|`. In the central difference the even terms cancel and the error is
# about `eps²/6 |f'''|`: halve the step and the error falls four times.
#
# Our test function is **softplus**, `f(x) = log(1 + exp(x))`, whose derivative is the
# sigmoid, `f'(x) = 1 / (1 + exp(-x))`. Below it is a custom `Function` with a
# hand-written backward. Its forward uses the stable form
# `max(x, 0) + log1p(exp(-|x|))`, which never overflows.

# %%
class Softplus(gg.autograd.Function):
    """softplus(x) = log(1 + exp(x)); its derivative is sigmoid(x)."""

    @staticmethod
    def forward(ctx, x):
        y = gg.maximum(x, 0) + gg.log1p(gg.exp(-gg.abs(x)))
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return g * gg.sigmoid(x)            # d softplus / dx = sigmoid(x)


def sigmoid_np(x):
    """The exact derivative of softplus, in plain NumPy (our reference)."""
    return 1.0 / (1.0 + np.exp(-x))


def softplus_value(x, dtype):
    """The engine's softplus forward at the NumPy points x, computed in dtype."""
    with gg.no_grad():
        return Softplus.apply(gg.tensor(np.asarray(x, dtype=dtype))).numpy()


x0 = 0.7
for eps in (1e-1, 1e-2, 1e-3):
    fwd = (softplus_value(x0 + eps, np.float64) - softplus_value(x0, np.float64)) / eps
    cen = (softplus_value(x0 + eps, np.float64)
           - softplus_value(x0 - eps, np.float64)) / (2 * eps)
    exact = sigmoid_np(x0)
    print(f"eps = {eps:g}:  forward error {abs(fwd - exact):.2e}   "
          f"central error {abs(cen - exact):.2e}")

# %% [markdown]
# Each tenfold smaller step gains one digit for the forward difference and two digits
# for the central one. So can we just make `eps` tiny?

# %% [markdown]
# ## Why eps matters: the U-shaped error curve
#
# No. The computer does not know `f(x ± eps)` exactly; each value is rounded to the
# working precision, with a relative error of about the unit round-off `u`
# (`2⁻⁵³ ≈ 1.1e-16` in float64, `2⁻²⁴ ≈ 6e-8` in float32). The difference of two nearly
# equal rounded numbers keeps that absolute error, and dividing by `2 eps` magnifies it:
# the **round-off error** is about `u |f| / eps`, and it *grows* as `eps` shrinks.
#
# The total error is therefore `eps²/6 |f'''| + u |f| / eps`: falling with slope 2 on the
# right, rising with slope 1 on the left, smallest where the two meet, near
# `eps ≈ u^(1/3)`. We sweep `eps` over thirteen decades in both precisions.

# %%
def central_error(x0, eps, dtype):
    """Relative error of the central difference of softplus at x0, for each step eps,
    with the forward evaluated in dtype; the exact derivative is the float64 sigmoid."""
    steps = eps.astype(dtype)  # the step as the working precision stores it
    x = np.full(eps.shape, x0, dtype=dtype)
    plus = softplus_value(x + steps, dtype).astype(np.float64)
    minus = softplus_value(x - steps, dtype).astype(np.float64)
    estimate = (plus - minus) / (2 * steps.astype(np.float64))
    exact = sigmoid_np(x0)
    return np.maximum(np.abs(estimate - exact) / exact, 1e-17)  # an exact hit -> floor


def forward_error(x0, eps):
    """Relative error of the one-sided forward difference, in float64."""
    x = np.full(eps.shape, x0)
    estimate = (softplus_value(x + eps, np.float64) - softplus_value(x, np.float64)) / eps
    return np.abs(estimate - sigmoid_np(x0)) / sigmoid_np(x0)


eps = np.logspace(-14, -1, 53)
err64 = central_error(x0, eps, np.float64)
err32 = central_error(x0, eps, np.float32)
err_fwd = forward_error(x0, eps)
best64, best32 = eps[np.argmin(err64)], eps[np.argmin(err32)]
print(f"float64 central: best eps {best64:.1e}, smallest relative error {err64.min():.1e}")
print(f"float32 central: best eps {best32:.1e}, smallest relative error {err32.min():.1e}")
print(f"float64 forward: best eps {eps[np.argmin(err_fwd)]:.1e}, "
      f"smallest relative error {err_fwd.min():.1e}")

# The claims of the text, checked: the float64 optimum is near u^(1/3) ~ 5e-6 and
# gives ~11 correct digits; float32 cannot do better than a few 1e-6 anywhere.
assert 1e-7 <= best64 <= 1e-4 and err64.min() < 1e-10
assert 1e-4 <= best32 <= 1e-1 and err32.min() > 1e4 * err64.min()
assert err_fwd.min() > 100 * err64.min()   # the one-sided estimate is much worse

# Slopes on the right branch (truncation): 2 for central, 1 for forward.
right = (eps >= 1e-3) & (eps <= 1e-1)
slope_central = np.polyfit(np.log10(eps[right]), np.log10(err64[right]), 1)[0]
slope_forward = np.polyfit(np.log10(eps[right]), np.log10(err_fwd[right]), 1)[0]
print(f"slope of the right branch: central {slope_central:.2f}, forward {slope_forward:.2f}")
assert abs(slope_central - 2) < 0.1 and abs(slope_forward - 1) < 0.1

# %%
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.loglog(eps, err64, "o-", ms=3, color="#0072B2", label="central, float64")
ax.loglog(eps, err32, "s-", ms=3, color="#E69F00", label="central, float32")
ax.loglog(eps, err_fwd, "-", lw=1, color="#6b6b6b", label="forward difference, float64")
ax.axvline(2.0 ** (-53 / 3), color="#0072B2", ls=":", lw=1)
ax.axvline(2.0 ** (-24 / 3), color="#E69F00", ls=":", lw=1)
ax.set_ylim(1e-13, 10)
ax.set_xlabel("step eps")
ax.set_ylabel("relative error of the estimate")
ax.set_title(f"Finite-difference error of softplus'({x0}); dotted: eps = u^(1/3)")
ax.legend(fontsize=8, loc="lower left")
ax.grid(True, which="major", alpha=0.3)
plt.show()

# %% [markdown]
# Read the picture from the right. The truncation error falls along a straight line
# (slope 2 for the central difference, slope 1 for the forward one) until round-off takes
# over and the error climbs back, noisily, with slope -1. The bottom of the float64 U is
# near `eps = 1e-5` with about eleven correct digits; the float32 U bottoms out near
# `eps = 1e-2` with five or six at best, a million times worse.
#
# This is why gradient checks run in **float64 with `eps` around `1e-6`**: a correct
# backward then agrees to about `1e-9` relative, while a wrong one is off by percents,
# and the two cannot be confused. In float32 a small mistake would hide in the noise.

# %% [markdown]
# ## numerical_gradient: the checker for any scalar function
#
# The simplest checker loops over every element of every input, nudges it by `±eps` and
# records the central difference of a scalar function. `gg.autograd.numerical_gradient`
# does exactly that (in float64 copies of the inputs, with recording switched off). We
# use it on the loss of a tiny two-layer network and compare with the engine's
# backward.

# %%
X = gg.tensor(rng.normal(size=(8, 3)))              # float64: NumPy arrays keep their dtype
Y = gg.tensor(rng.normal(size=(8, 1)))
W1 = gg.tensor(rng.normal(size=(3, 5)), requires_grad=True)
W2 = gg.tensor(rng.normal(size=(5, 1)), requires_grad=True)


def loss_fn(W1, W2):
    """Mean squared error of a 3-5-1 tanh network."""
    return ((gg.tanh(X @ W1) @ W2 - Y) ** 2).mean()


loss_fn(W1, W2).backward()
num_W1, num_W2 = gg.autograd.numerical_gradient(loss_fn, [W1, W2], eps=1e-6)


def relative_error(a, n):
    """max |a - n| / max(|a|, |n|): scale-free, so it reads the same for any loss."""
    return float(np.max(np.abs(a - n) / np.maximum(np.maximum(np.abs(a), np.abs(n)), 1e-12)))


for name, param, num in (("W1", W1, num_W1), ("W2", W2, num_W2)):
    rel = relative_error(param.grad.numpy(), num)
    print(f"{name}: {param.grad.size} entries, largest relative error {rel:.1e}")
    assert rel < 1e-6

# %% [markdown]
# Relative errors around `1e-9` mean the backward is right. The check cost two forward
# passes per parameter entry (here 2 × 20 = 40), against one backward pass for all of
# them: fine for checking, hopeless for training.

# %% [markdown]
# ## gradcheck on a correct custom Function
#
# `gg.autograd.gradcheck(fn, inputs)` does the comparison for a whole function with
# tensor outputs. It builds the full Jacobian twice: once from the backward (one
# backward pass per output element, seeded with a one-hot cotangent) and once from
# central differences (two forwards per input element). Every entry must satisfy
# `|analytical - numerical| <= atol + rtol * |numerical|` (defaults `atol=1e-5`,
# `rtol=1e-3`, `eps=1e-6`).

# %%
x = gg.tensor(rng.normal(size=6), requires_grad=True)   # float64
print("gradcheck(Softplus):", gg.autograd.gradcheck(Softplus.apply, (x,)))

# %% [markdown]
# Hand it float32 and it says so: it checks a float64 copy instead, since the float32
# U above cannot separate a right answer from a wrong one.

# %%
x32 = gg.tensor(rng.normal(size=6).astype(np.float32), requires_grad=True)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    gg.autograd.gradcheck(Softplus.apply, (x32,))
print(caught[0].message)
assert "float64" in str(caught[0].message)

# %% [markdown]
# ## gradcheck on a broken Function
#
# Now a realistic slip. The forward saved both the input `x` and the output `y`, and the
# backward unpacks them and then uses the wrong one: `sigmoid(y)` instead of
# `sigmoid(x)`. Everything runs; the shapes are right; the numbers are plausible (all
# between 0 and 1, as a sigmoid should be).

# %%
class BrokenSoftplus(Softplus):
    """The same forward; the backward reads the saved output where it meant the input."""

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return g * gg.sigmoid(y)            # BUG: should be sigmoid(x)


try:
    gg.autograd.gradcheck(BrokenSoftplus.apply, (x,))
    raise AssertionError("gradcheck should have failed")
except gg.autograd.GradcheckError as err:
    message = str(err)
print(message)
assert message.startswith("gradcheck failed: input 0")

# %% [markdown]
# The message names the input, the worst element, both values and their relative error,
# then lists the worst few Jacobian entries. Here only the diagonal is listed because
# softplus is elementwise: the Jacobian is diagonal and the backward got every diagonal
# entry wrong. The last line points to `find_bad_backward`, which names the guilty op
# inside a larger model ([tutorial 7](07-custom-layer.py) uses it).
#
# A picture of the same thing: the derivative each backward returns, on a grid, against
# the exact sigmoid.

# %%
grid = np.linspace(-5, 5, 201)
curves = {}
for fn in (Softplus, BrokenSoftplus):
    xt = gg.tensor(grid, requires_grad=True)
    fn.apply(xt).sum().backward()           # elementwise: the gradient is the derivative
    curves[fn.__name__] = xt.grad.numpy()
assert np.allclose(curves["Softplus"], sigmoid_np(grid), rtol=1e-12, atol=0)

fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(grid, sigmoid_np(grid), color="black", lw=3, alpha=0.3, label="exact: sigmoid(x)")
ax.plot(grid, curves["Softplus"], color="#0072B2", label="Softplus.backward")
ax.plot(grid, curves["BrokenSoftplus"], color="#D55E00", ls="--",
        label="BrokenSoftplus.backward")
ax.set_xlabel("x")
ax.set_ylabel("d softplus / dx")
ax.set_title("What each backward returns")
ax.legend(fontsize=8)
ax.grid(True, alpha=0.3)
plt.show()

# %% [markdown]
# The broken curve is never below 0.5 (`y = softplus(x) > 0`, so `sigmoid(y) > 0.5`) and
# wrong everywhere, worst on the left where the true slope goes to zero. A network
# trained with it would still "learn", just the wrong thing.

# %% [markdown]
# ## gradgradcheck: second derivatives
#
# Second derivatives (a Hessian-vector product, a gradient penalty, `gg.func.hessian`)
# differentiate the backward pass itself. That works only if the backward is written
# with glassgrad operations, so that with `create_graph=True` it records a graph of its
# own. `gg.autograd.gradgradcheck` checks it: it gradchecks the map
# `(x, v) -> (d fn/dx)ᵀ v`.
#
# `Softplus.backward` uses `gg.sigmoid` on Tensors, so it passes. A backward that drops
# to NumPy is correct to first order (gradcheck passes) but invisible to the second
# (gradgradcheck fails: the gradient seems not to depend on `x` at all).

# %%
print("gradgradcheck(Softplus):", gg.autograd.gradgradcheck(Softplus.apply, (x,)))


class NumpySoftplus(Softplus):
    """Right values, but computed in NumPy: the backward leaves the graph."""

    @staticmethod
    def backward(ctx, g):
        x, _ = ctx.saved_tensors
        return g * gg.tensor(sigmoid_np(x.numpy()))   # a constant as far as autograd knows


assert gg.autograd.gradcheck(NumpySoftplus.apply, (x,))
second_order_ok = gg.autograd.gradgradcheck(NumpySoftplus.apply, (x,),
                                            raise_exception=False)
print("gradcheck(NumpySoftplus): True   gradgradcheck(NumpySoftplus):", second_order_ok)
assert not second_order_ok

# %% [markdown]
# ## Summary
#
# - A central difference has truncation error `O(eps²)` and round-off error
#   `O(u / eps)`; the best step is near `u^(1/3)`: about `1e-5` in float64.
# - Check in float64: a correct backward agrees to ~`1e-9`, a wrong one by percents.
# - `gg.autograd.gradcheck(fn, inputs)` compares the whole Jacobian and raises a
#   `GradcheckError` naming the worst entries; `gradgradcheck` does the same for the
#   backward's own derivative; `numerical_gradient(f, inputs)` is the plain
#   finite-difference gradient of a scalar function.
#
# The API details are in [the gg.autograd reference](../reference/api/autograd.md).

# %% [markdown]
# ## Exercises
#
# 1. Using `forward_error` above, at which `eps` does the **forward** difference reach
#    its best accuracy in float64? How do that step and that accuracy compare with the
#    central difference's?
#
# <details><summary>Answer</summary>
#
# Its error is about `a eps + b / eps` with `a = |f''| / 2` and `b ≈ u |f|`, smallest at
# `eps = sqrt(b / a)`, of the order of `sqrt(u) ≈ 1e-8`, where the error itself is of
# the order of `sqrt(u)` too (the sweep finds it at `1e-8`, with `6e-10`). The central
# difference's best step is larger (`u^(1/3)`, about `1e-5`) and its best error much
# smaller (`u^(2/3)`, here `5e-12`): a higher-order formula can afford a bigger step.
#
# ```python
# errors = forward_error(x0, eps)
# print(eps[np.argmin(errors)], errors.min())
# ```
#
# </details>
#
# 2. Run `gg.autograd.gradcheck(gg.relu, (x,))` with an `x` that holds an exact `0.0`.
#    What happens? Is `relu`'s backward wrong?
#
# <details><summary>Answer</summary>
#
# It fails at that element: the backward says 0, the central difference says
# `(eps - 0) / (2 eps) = 0.5`. Neither is wrong: relu has a kink at 0, any value in
# `[0, 1]` is a valid subgradient there, and a difference across a kink measures the
# average of the two one-sided slopes. Check away from kinks (random inputs almost never
# hit them). `gg.abs` at 0 happens to pass, because its two slopes (-1 and 1) average to
# its backward's `sign(0) = 0`.
#
# ```python
# x = gg.tensor(np.array([0.0, 0.5, -1.0]), requires_grad=True)
# gg.autograd.gradcheck(gg.relu, (x,))   # GradcheckError: analytical 0, numerical 0.5
# ```
#
# </details>
#
# 3. Fix `BrokenSoftplus.backward` without saving anything new.
#
# <details><summary>Answer</summary>
#
# Use the saved input: `return g * gg.sigmoid(x)`. Alternatively, derive the derivative
# from the output alone: `sigmoid(x) = 1 - exp(-y)` because `exp(y) = 1 + exp(x)`, so
# `return g * (1 - gg.exp(-y))` is correct too and would let the forward save only `y`.
#
# ```python
# class FixedSoftplus(Softplus):
#     @staticmethod
#     def backward(ctx, g):
#         _, y = ctx.saved_tensors
#         return g * (1 - gg.exp(-y))
#
# assert gg.autograd.gradcheck(FixedSoftplus.apply, (x,))
# ```
#
# </details>
#
# 4. How many forward evaluations does `gradcheck` spend on a function with `n` input
#    elements and `m` output elements, and how many backward passes?
#
# <details><summary>Answer</summary>
#
# `2 n` forwards for the numerical Jacobian (plus one to record the graph) and `m`
# backward passes for the analytical one, one per one-hot seed. This is why one checks
# small inputs: a 1000 x 1000 layer would need two million forwards.
#
# </details>
