# %% [markdown]
# # 8. Debugging NaN and layers that do not learn
#
# **What you will learn:**
#
# - how a NaN is *born* in the forward pass (here: the log of a softmax probability that
#   underflowed to 0), and how `gg.autograd.detect_anomaly()` stops at that op and names
#   the line of your code that called it;
# - what an `AnomalyError` tells you, as a message and as attributes (`.op`, `.phase`,
#   `.filename`, `.lineno`, `.inputs`, `.masked`);
# - the fix: never form the probability, use `F.log_softmax` or `F.cross_entropy`;
# - the masked-branch trap, `where(x > 0, sqrt(x), 0)`, whose gradient is NaN although its
#   value is fine, and the safe way to write it;
# - how `gg.diagnostics.Monitor` finds a layer of dead ReLUs and a layer of saturated
#   tanh units, the two usual reasons why part of a network does not learn.
#
# The seed page asks two questions: *why are my gradients NaN?* and *why isn't this
# layer learning?* Both have tools.

# %%
import linecache
import math
import warnings

import matplotlib.pyplot as plt
import numpy as np

import glassgrad as gg
import glassgrad.nn.functional as F

gg.manual_seed(0)

# %% [markdown]
# ## A NaN born in the forward pass
#
# A 2-16-2 classifier for the two-moons data, with one mistake that is easy to make:
# nobody normalised the inputs, which arrive in "raw units" around 2000 with a spread of
# 1000. The loss is written the textbook way, the log of the softmax probability of the
# right class.

# %%
X_np, y_np = gg.data.two_moons(128, noise=0.1, seed=0)
X_raw = gg.tensor((X_np * 1000 + 2000).astype(np.float32))   # float32, un-normalised
y = gg.tensor(y_np)
Y1 = gg.tensor(np.eye(2, dtype=np.float32)[y_np])            # one-hot targets

model = gg.nn.Sequential(gg.nn.Linear(2, 16), gg.nn.ReLU(), gg.nn.Linear(16, 2))


def textbook_loss(model, X, Y1):
    """Cross-entropy as -mean(sum(Y1 * log(softmax(logits))))."""
    logits = model(X)
    log_probs = gg.log(F.softmax(logits, dim=1))            # log of a probability
    return -(log_probs * Y1).sum(axis=1).mean()


with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    loss = textbook_loss(model, X_raw, Y1)
print("loss:", loss)
for w in caught:
    print("NumPy warned:", w.message)
assert math.isnan(loss.item())

# %% [markdown]
# The loss is NaN, and NumPy's warning says only that a `log` divided by zero
# somewhere. In a real model there are dozens of logs, divisions and square roots, and a
# NaN spreads through everything after the op that made it, so by the time you see it,
# every value downstream is NaN.
#
# `with gg.autograd.detect_anomaly():` checks the output of every op as it is computed
# (and every gradient during backward). The **first** op that turns finite inputs into a
# NaN or Inf raises `AnomalyError`: the root cause, not one of the many ops that merely
# pass the NaN on.

# %%
try:
    with gg.autograd.detect_anomaly():
        textbook_loss(model, X_raw, Y1)
    raise AssertionError("anomaly mode should have raised")
except gg.autograd.AnomalyError as exc:
    err = exc
print(err)

# %% [markdown]
# The same facts are attributes, for code that wants to act on them:

# %%
print("op:      ", err.op)
print("phase:   ", err.phase)
print("where:   ", err.lineno, repr(linecache.getline(err.filename, err.lineno).strip()))
print("input 0: ", err.inputs[0])
assert err.op == "log" and err.phase == "forward" and not err.masked
assert "gg.log(F.softmax" in linecache.getline(err.filename, err.lineno)
assert err.inputs[0]["min"] == 0.0 and err.inputs[0]["nan"] == 0   # finite, with an exact 0

# %% [markdown]
# Read it: `log` was called from the `log_probs = ...` line of `textbook_loss`, its
# input was finite and lay in `[0, 1]`, and its smallest value was **exactly 0**. A
# probability underflowed. Why: with raw inputs the two logits of a point are up to two
# thousand apart, and `softmax` computes `exp(z_j - max z)`; in float32 `exp(-104)` is already
# 0. Then `log(0) = -inf`, and `-inf * 0` (the one-hot mask of the other class) is NaN.

# %%
logits = model(X_raw).numpy()
gap = np.abs(logits[:, 0] - logits[:, 1])
probs = F.softmax(gg.tensor(logits), dim=1).numpy()
print(f"largest gap between the two logits: {gap.max():.0f}; "
      f"probabilities exactly 0: {(probs == 0).sum()} of {probs.size}")
assert gap.max() > 104 and (probs == 0).sum() > 0

# %% [markdown]
# **The fix** is to never form the probability. `log softmax(z)_j = z_j - logsumexp(z)`,
# and log-sum-exp subtracts the largest logit before exponentiating, so the result is a
# large negative number instead of `-inf`. `F.log_softmax` computes exactly that, and
# `F.cross_entropy(logits, labels)` fuses it with the loss (it takes class indices, not
# one-hot vectors). We compare both with a float64 NumPy reference.

# %%
def fixed_loss(model, X, Y1):
    return -(F.log_softmax(model(X), dim=1) * Y1).sum(axis=1).mean()


z = logits.astype(np.float64)
top = z.max(axis=1)
reference = np.mean(top + np.log(np.exp(z - top[:, None]).sum(axis=1)) - z[np.arange(len(z)), y_np])
with gg.autograd.detect_anomaly():                 # no anomaly this time
    a = fixed_loss(model, X_raw, Y1)
    b = F.cross_entropy(model(X_raw), y)
    b.backward()
print(f"log_softmax: {a.item():.4f}   cross_entropy: {b.item():.4f}   NumPy: {reference:.4f}")
assert math.isclose(a.item(), reference, rel_tol=1e-5)
assert math.isclose(b.item(), reference, rel_tol=1e-5)
assert all(np.isfinite(p.grad.numpy()).all() for p in model.parameters())

# %% [markdown]
# The loss is finite now (and large: the model is confidently wrong on many points), and
# so are the gradients. The cause of the huge logits is still there, though: normalise
# the inputs (`(X - X.mean(0)) / X.std(0)`) and the same model trains in a few dozen
# steps (exercise 1).

# %% [markdown]
# ## The masked-branch trap
#
# A NaN can also be born in the **backward** pass while the forward is perfectly
# finite. The classic case: computing a square root only where it is defined,
#
# `y = where(x > 0, sqrt(x), 0)`.
#
# At `x = 0` the forward is fine (`sqrt(0) = 0`, and `where` picks the 0 anyway). But
# backward runs through *both* branches: `where` sends a cotangent of exactly 0 to the
# `sqrt` branch at that element, and `sqrt`'s rule multiplies it by its derivative
# `1 / (2 sqrt(x))`, which is infinite at 0. `0 * inf = NaN`.

# %%
x = gg.tensor(np.array([0.0, 1.0, 4.0]), requires_grad=True)
gg.where(x > 0, gg.sqrt(x), 0.0).sum().backward()
print("value fine, gradient:", x.grad)
assert np.isnan(x.grad.numpy()[0])

# %% [markdown]
# Anomaly mode recognises this pattern: the bad gradient entries sit exactly where the
# cotangent was 0, so it reports the trap by name (`err.masked` is True) and says how to
# avoid it.

# %%
x.grad = None
try:
    with gg.autograd.detect_anomaly():
        gg.where(x > 0, gg.sqrt(x), 0.0).sum().backward()
    raise AssertionError("anomaly mode should have raised")
except gg.autograd.AnomalyError as exc:
    trap = exc
print(trap)
print("\nop:", trap.op, "| phase:", trap.phase, "| masked:", trap.masked)
assert trap.op == "sqrt" and trap.phase == "backward" and trap.masked

# %% [markdown]
# **The fix**: make the unused branch's *input* safe, so that its derivative is finite
# everywhere: `sqrt(where(x > 0, x, 1))` takes the root of 1 where the result is not
# used. The outer `where` still selects 0 there, so the value is unchanged, and the
# gradient is `1 / (2 sqrt x)` where `x > 0` and 0 elsewhere.

# %%
x.grad = None
with gg.autograd.detect_anomaly():
    safe = gg.where(x > 0, gg.sqrt(gg.where(x > 0, x, 1.0)), 0.0)
    safe.sum().backward()
print("value:", safe.numpy(), " gradient:", x.grad.numpy())
expected = np.where(x.numpy() > 0, 0.5 / np.sqrt(np.maximum(x.numpy(), 1e-300)), 0.0)
assert np.array_equal(safe.numpy(), np.sqrt(x.numpy()))
assert np.allclose(x.grad.numpy(), expected)

# %% [markdown]
# The same trap hides in `where(x != 0, sin(x) / x, 1)`, in `where(p > 0, p * log(p),
# 0)`, in the norm `sqrt(sum(v**2))` of a vector that can be zero, and in any mask
# multiply `mask * f(x)`. The cure is always the same: a safe input for the branch that
# is not taken.

# %% [markdown]
# ## Layers that do not learn: dead ReLUs and saturated tanh
#
# No NaN, no error, and yet the loss stalls. Often a part of the network is not passing
# gradient back:
#
# - a **dead ReLU** unit outputs 0 for every input (its pre-activation is always
#   negative), so its local derivative is 0 everywhere and neither it nor anything that
#   feeds it through that unit gets a gradient. Its own weights and bias never move, so
#   nothing pushes it back to life;
# - a **saturated tanh** unit sits at ±1, where its derivative `1 - tanh²` is nearly 0.
#
# We build both into one small network (normalised inputs this time): a tanh layer
# whose weights are 10 times too large, and a ReLU layer whose biases start at -1.

# %%
X_n = gg.tensor(((X_np - X_np.mean(0)) / X_np.std(0)).astype(np.float32))


def build(broken):
    gg.manual_seed(0)
    net = gg.nn.Sequential(
        gg.nn.Linear(2, 32), gg.nn.Tanh(),      # layers "0", "1"
        gg.nn.Linear(32, 32), gg.nn.ReLU(),     # layers "2", "3"
        gg.nn.Linear(32, 2),                    # layer "4"
    )
    with gg.no_grad():
        if broken:
            net[0].weight *= 10.0                       # pre-activations far out: saturated
            gg.nn.init.constant_(net[2].bias, -1.0)     # most pre-activations negative: dead
        else:
            gg.nn.init.xavier_normal_(net[0].weight, gain=gg.nn.init.calculate_gain("tanh"))
            gg.nn.init.kaiming_normal_(net[2].weight, nonlinearity="relu")
            gg.nn.init.zeros_(net[2].bias)
    return net


def train(net, steps=60, lr=0.01):
    """Adam on cross-entropy, recorded by a Monitor at every step."""
    opt = gg.optim.Adam(net.parameters(), lr=lr)
    mon = gg.diagnostics.Monitor(net, opt)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(net(X_n), y)
        loss.backward()
        mon.step()
        opt.step()
        losses.append(loss.item())
    mon.remove()
    return mon, losses


broken_net = build(broken=True)
broken_mon, broken_losses = train(broken_net)
print(broken_mon.report())

# %% [markdown]
# The report's `dead/sat %` column shows the trouble at a glance, and `diagnose()` turns
# it into findings with the numbers and the usual fixes:

# %%
findings = broken_mon.diagnose()
for finding in findings:
    print(finding, "\n")
by_kind = {f.kind: f.layer for f in findings}
assert by_kind.get("dead_relu") == "3" and by_kind.get("saturation") == "1"

# %% [markdown]
# Is a dead unit really cut off? Its row of the next-lower `Linear`'s weight gradient
# (and its bias gradient) must be exactly zero: whatever the loss, nothing flows back
# through a unit whose output is 0 for every sample.

# %%
broken_net.zero_grad()
F.cross_entropy(broken_net(X_n), y).backward()
with gg.no_grad():
    hidden = broken_net[3](broken_net[2](broken_net[1](broken_net[0](X_n)))).numpy()
dead = (hidden == 0).all(axis=0)                           # per unit, over all samples
W_grad = broken_net[2].weight.grad.numpy()                 # shape (out=32, in=32)
print(f"{dead.sum()} dead units; their weight-gradient rows are all zero:",
      bool(np.all(W_grad[dead] == 0)), "| the live units' rows are not:",
      bool(np.all(np.abs(W_grad[~dead]).sum(axis=1) > 0)))
assert dead.sum() > 16 and np.all(W_grad[dead] == 0)
assert np.all(broken_net[2].bias.grad.numpy()[dead] == 0)

# %% [markdown]
# Now the same network with the initialisation each layer wants: Xavier (with tanh's
# gain) for the tanh layer, He with zero biases for the ReLU layer.

# %%
fixed_mon, fixed_losses = train(build(broken=False))
fixed_kinds = {f.kind for f in fixed_mon.diagnose()}
print("findings for the fixed network:", fixed_kinds or "none")
print(f"final loss: broken {broken_losses[-1]:.3f}, fixed {fixed_losses[-1]:.3f}")
assert not fixed_kinds & {"dead_relu", "saturation"}
assert fixed_losses[-1] < broken_losses[-1] / 2

# %%
def activation_series(mon, layer, key):
    return 100 * np.array([rec["activations"][layer][key] for rec in mon.history])


fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
steps = np.arange(len(broken_losses))
for mon, style, name in ((broken_mon, "-", "broken init"), (fixed_mon, "--", "fixed init")):
    ax.plot(steps, activation_series(mon, "3", "dead"), style, color="#D55E00",
            label=f"ReLU '3' dead units, {name}")
    ax.plot(steps, activation_series(mon, "1", "saturated"), style, color="#0072B2",
            label=f"tanh '1' saturated outputs, {name}")
ax.axhline(50, color="black", ls=":", lw=1, label="diagnose() threshold, 50%")
ax.set_xlabel("Adam step")
ax.set_ylabel("% of the layer")
ax.set_ylim(-3, 103)
ax.set_title("Dead and saturated fraction per step")
ax.legend(fontsize=7, loc="center right")
ax.grid(True, alpha=0.3)
ax2.semilogy(steps, broken_losses, "-", color="#6b6b6b", label="broken init")
ax2.semilogy(steps, fixed_losses, "--", color="#009E73", label="fixed init")
ax2.set_xlabel("Adam step")
ax2.set_ylabel("cross-entropy")
ax2.set_title("Training loss")
ax2.legend(fontsize=8)
ax2.grid(True, which="major", alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown]
# In the broken network about four fifths of the ReLU units are dead from the first
# step. The count moves a little as the layers below change the dead units' inputs, but
# nothing aims at reviving them (their own gradients are exactly 0). Two thirds of the
# tanh outputs sit at ±1 throughout. The network still
# learns a little through the units that are left, which is exactly why this kind of bug
# goes unnoticed. With the right initialisation both fractions stay near zero.
#
# To find the op behind a NaN *gradient* rather than a forward value, the same
# `detect_anomaly()` applies (it checks the backward too). To find a custom backward that
# is simply wrong, see `find_bad_backward` in [tutorial 7](07-custom-layer.py); for
# vanishing and exploding gradients, [tutorial 6](06-vanishing-exploding.py). The API:
# [gg.autograd](../reference/api/autograd.md), [gg.diagnostics](../reference/api/diagnostics.md).

# %% [markdown]
# ## Exercises
#
# 1. Train `model` (the 2-16-2 classifier) with `fixed_loss` for 60 Adam steps
#    (`lr=0.05`), once on `X_raw` and once on normalised inputs `X_n`. Which trains
#    better, and why?
#
# <details><summary>Answer</summary>
#
# Both stay finite, but the normalised inputs train far better: their loss falls
# steadily to below 0.01. With raw inputs the pre-activations are in the thousands, each
# step moves the logits by hundreds, and the loss falls from 585 but jumps up and down
# and ends around 5.
#
# ```python
# for inputs in (X_raw, X_n):
#     gg.manual_seed(0)
#     net = gg.nn.Sequential(gg.nn.Linear(2, 16), gg.nn.ReLU(), gg.nn.Linear(16, 2))
#     opt = gg.optim.Adam(net.parameters(), lr=0.05)
#     for _ in range(60):
#         opt.zero_grad()
#         loss = fixed_loss(net, inputs, Y1)
#         loss.backward()
#         opt.step()
#     print(loss.item())
# ```
#
# </details>
#
# 2. What does anomaly mode say about `gg.where(x > 0, gg.sqrt(x), 0.0)` with
#    `x = gg.tensor([-1.0, 4.0], requires_grad=True)`, and why is it a different error?
#
# <details><summary>Answer</summary>
#
# It stops in the **forward** pass: `sqrt(-1)` is NaN, so `sqrt` produced a NaN from
# finite inputs (`err.phase == "forward"`), even though `where` would discard it. The
# same safe-input fix, `sqrt(where(x > 0, x, 1))`, cures both.
#
# </details>
#
# 3. Replace the broken network's `ReLU` by `gg.nn.LeakyReLU(0.01)`. Does `diagnose()`
#    still report the layer, and does it learn?
#
# <details><summary>Answer</summary>
#
# At the first step the Monitor counts 81% of the LeakyReLU units as "dead" (output
# negative for every sample), as before. But they are not cut off: they pass 1% of the
# gradient, so their biases climb back, and ten steps later fewer than 10% are still
# negative everywhere. `diagnose()` reads the last step, so it reports only the
# saturated tanh layer, and the final loss is about a third of the ReLU network's.
# LeakyReLU is a mitigation; the initialisation is the cure.
#
# ```python
# def build_leaky():
#     net = build(broken=True)
#     net[3] = gg.nn.LeakyReLU(0.01)
#     return net
# ```
#
# </details>
#
# 4. Why is the weight-gradient *row* of a dead unit zero, and not its *column*?
#
# <details><summary>Answer</summary>
#
# `Linear` computes `z = h Wᵀ + b` with `W` of shape `(out, in)`: unit `i` of this layer
# owns row `i`, and `dW[i, :] = sum over samples of dz_i h`. A dead unit has
# `dz_i = 0` for every sample (the ReLU's slope is 0 there), so its whole row is 0. A
# column belongs to an *input* feature, which feeds every unit, live ones included.
#
# </details>
