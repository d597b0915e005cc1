# %% [markdown]
# # 3. A 2-layer MLP's backward, by hand and by the engine
#
# **What you will learn:**
#
# - how to derive the backward pass of a 2-4-1 sigmoid network with a binary
#   cross-entropy loss, one layer at a time, with the shapes as your guide;
# - why the output error is simply `dz2 = a2 - y`;
# - how to write those formulas in NumPy and check them against the engine's `.grad`,
#   intermediate values included (`retain_grad`);
# - what the backward pass looks like when `gg.compile` writes it out as NumPy source,
#   next to the one you derived.
#
# ## The network
#
# The network of XOR fame: 2 inputs, 4 sigmoid hidden units, 1 sigmoid output, and the
# mean binary cross-entropy over a batch of `m` examples. Rows are examples, so `X` is
# `m x 2` and the forward pass, keeping every intermediate for the backward pass, reads
#
# ```text
# z1 = X @ W1 + b1        a1 = sigmoid(z1)
# z2 = a1 @ W2 + b2       a2 = sigmoid(z2)
# L  = (1/m) * sum over the m examples of  l = -(y log a2 + (1 - y) log(1 - a2))
# ```
#
# `W1` is `2 x 4`, `b1` is `1 x 4` (broadcast over the rows), `W2` is `4 x 1`, `b2` is
# `1 x 1`. We start from the usual small random weights and zero biases, in float64.

# %%
import inspect

import numpy as np

import glassgrad as gg
import glassgrad.nn.functional as F

X_np = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
y_np = np.array([[0.0], [1.0], [1.0], [0.0]])

rng = np.random.default_rng(0)
start = {
    "W1": rng.standard_normal((2, 4)) * 0.5, "b1": np.zeros((1, 4)),
    "W2": rng.standard_normal((4, 1)) * 0.5, "b2": np.zeros((1, 1)),
}


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def forward_numpy(p, X, y):
    """The forward pass in NumPy, keeping every intermediate (the cache)."""
    z1 = X @ p["W1"] + p["b1"]
    a1 = sigmoid(z1)
    z2 = a1 @ p["W2"] + p["b2"]
    a2 = sigmoid(z2)
    loss = -np.mean(y * np.log(a2) + (1 - y) * np.log(1 - a2))
    return {"z1": z1, "a1": a1, "z2": z2, "a2": a2, "loss": loss}


cache = forward_numpy(start, X_np, y_np)
print("predictions a2:", cache["a2"].ravel().round(4))
print(f"loss: {cache['loss']:.6f}")

# %% [markdown]
# ## Deriving the backward pass
#
# We walk backwards, one operation at a time, writing `dv` for the gradient of the loss
# with respect to `v` (it always has the shape of `v`). As on most pages that derive
# this network, we leave the `1/m` of the mean out of the per-example errors `dz2`,
# `da1`, `dz1` and put it back where the parameter gradients sum over the batch.
#
# **The output error.** For one example, differentiate the cross-entropy with respect
# to `a2`, then the sigmoid with respect to `z2` (`σ'(z) = σ(z)(1 - σ(z))`):
#
# ```text
# dl/da2  = -y / a2 + (1 - y) / (1 - a2)  =  (a2 - y) / (a2 (1 - a2))
# da2/dz2 = a2 (1 - a2)
# ```
#
# Their product is `dz2 = a2 - y`: the `a2 (1 - a2)` cancels. This is why the sigmoid
# and the cross-entropy are such a good pair, and why the error signal does not vanish
# when the output saturates on the wrong side.
#
# **The second layer.** `z2 = a1 @ W2 + b2`. Each entry of `W2` touches every example,
# so its gradient sums over the batch, which a matrix product does: the only product of
# `a1` (`m x 4`) and `dz2` (`m x 1`) that has `W2`'s shape `4 x 1` is `a1.T @ dz2`. The
# bias was broadcast over the rows, so its gradient sums the rows. And `a1` gets the
# error sent back through the weights:
#
# - `dW2 = a1.T @ dz2 / m`
# - `db2 = dz2.sum(axis=0) / m`
# - `da1 = dz2 @ W2.T` (shape `m x 4`)
#
# **The hidden layer.** The sigmoid is elementwise, so its backward is an elementwise
# product with its derivative, written with the cached output: `dz1 = da1 * a1 * (1 -
# a1)`. Then the first layer repeats the pattern of the second: `dW1 = X.T @ dz1 / m`,
# `db1 = dz1.sum(axis=0) / m`.
#
# In NumPy, that is the whole backward pass:

# %%
def hand_backward(p, cache, X, y):
    """The backward pass derived above (per-example errors without the 1/m)."""
    m = X.shape[0]
    a1, a2 = cache["a1"], cache["a2"]
    dz2 = a2 - y
    dW2 = a1.T @ dz2 / m
    db2 = dz2.sum(axis=0, keepdims=True) / m
    da1 = dz2 @ p["W2"].T
    dz1 = da1 * a1 * (1 - a1)
    dW1 = X.T @ dz1 / m
    db1 = dz1.sum(axis=0, keepdims=True) / m
    return {"dz2": dz2, "dW2": dW2, "db2": db2, "da1": da1, "dz1": dz1,
            "dW1": dW1, "db1": db1}


hand = hand_backward(start, cache, X_np, y_np)
for name, g in hand.items():
    print(f"{name:4s} has shape {g.shape}, like {name[1:]}")
print("dW2 =", hand["dW2"].ravel().round(5), " db2 =", hand["db2"].ravel().round(5))

# %% [markdown]
# ## The engine's gradients
#
# Now the same forward pass on glassgrad tensors. The engine knows none of the formulas
# above: it records six operations and applies each one's local rule backwards, the way
# [tutorial 1](01-chain-rule.py) did by hand for two. Parameters (leaves) get `.grad`;
# intermediate tensors only keep theirs if asked with `retain_grad()`.
#
# The engine differentiates the loss as it is, the mean, so its gradients of `z2`, `a1`
# and `z1` carry the `1/m` that our per-example errors leave out: we compare them with
# `dz2 / m` and so on. We also check the seed page's longer form of the output
# derivative, `da2 = -(y / a2 - (1 - y) / (1 - a2))`, against the engine's `a2.grad`.

# %%
params = {k: gg.tensor(v, requires_grad=True) for k, v in start.items()}
X, y = gg.tensor(X_np), gg.tensor(y_np)

z1 = X @ params["W1"] + params["b1"]
a1 = gg.sigmoid(z1)
z2 = a1 @ params["W2"] + params["b2"]
a2 = gg.sigmoid(z2)
loss = -(y * gg.log(a2) + (1 - y) * gg.log(1 - a2)).mean()
for t in (z1, a1, z2, a2):
    t.retain_grad()
loss.backward()

m = X_np.shape[0]
a2_np = cache["a2"]
da2 = -(y_np / a2_np - (1 - y_np) / (1 - a2_np))
comparisons = [  # (name, formula, engine, by hand)
    ("dW1", "X.T @ dz1 / m", params["W1"].grad, hand["dW1"]),
    ("db1", "dz1.sum(axis=0) / m", params["b1"].grad, hand["db1"]),
    ("dW2", "a1.T @ dz2 / m", params["W2"].grad, hand["dW2"]),
    ("db2", "dz2.sum(axis=0) / m", params["b2"].grad, hand["db2"]),
    ("dz2", "(a2 - y) / m", z2.grad, hand["dz2"] / m),
    ("da1", "dz2 @ W2.T / m", a1.grad, hand["da1"] / m),
    ("dz1", "da1 * a1 * (1 - a1) / m", z1.grad, hand["dz1"] / m),
    ("da2", "-(y/a2 - (1-y)/(1-a2)) / m", a2.grad, da2 / m),
]
print(f"{'gradient':9s} {'formula by hand':28s} {'max |engine - hand|':>20s}")
worst = 0.0
for name, formula, engine, by_hand in comparisons:
    diff = float(np.max(np.abs(engine.numpy() - by_hand)))
    worst = max(worst, diff)
    print(f"{name:9s} {formula:28s} {diff:20.1e}")
print(f"loss: engine {loss.item():.12f}, NumPy {cache['loss']:.12f}")
assert worst < 1e-12
assert abs(loss.item() - cache["loss"]) < 1e-12

# %% [markdown]
# Every formula holds to rounding error (differences of order `1e-17` to `1e-16`, the
# last bits of float64). The derivation and the engine agree; had they not,
# [tutorial 5](05-gradient-checking.py) shows how to find out which one is wrong, with
# central differences.
#
# ## The backward pass gg.compile writes
#
# `gg.compile(fn, *example_args)` runs `fn` once on symbolic arrays, through the same
# local rules the engine uses, and writes the forward and backward passes out as one
# NumPy function: `step.source`. Calling `step(X, y)` returns the loss and fills `.grad`
# as `loss.backward()` would.
#
# We write the loss with the library's `F.binary_cross_entropy`. The compiler knows
# that a sigmoid followed by this loss simplifies, and fuses them into `p - y`: the
# same cancellation we did by hand. Here is the backward half of the source it wrote:

# %%
def loss_fn(X, y):
    a1 = gg.sigmoid(X @ params["W1"] + params["b1"])
    a2 = gg.sigmoid(a1 @ params["W2"] + params["b2"])
    return F.binary_cross_entropy(a2, y)


step = gg.compile(loss_fn, X, y)
for p in params.values():
    p.grad = None
compiled_loss = step(X, y)

source = step.source
backward = source[source.index("# ---- backward"):source.index("    return")]
print(backward)

for key in ("W1", "b1", "W2", "b2"):
    assert np.max(np.abs(params[key].grad.numpy() - hand["d" + key])) < 1e-12
assert abs(compiled_loss.item() - cache["loss"]) < 1e-12
assert "sigmoid2 - y" in backward   # the fused sigmoid + cross-entropy: p - y

# %% [markdown]
# Every line is one local rule, with the rule as a comment. The names are the
# compiler's: the sum `z2` is `add2` (so `d_add2` is our `dz2 / m`, with the `1/m` of
# the mean folded in as `0.25`), `sigmoid` is `a1` (`d_sigmoid` is `da1`), the first sum
# `add` is `z1`. The `sum_to` lines are how broadcasting is undone: a bias added to
# every row gets the sum of the rows. Without the comments, each line beside the one
# of ours that computes the same gradient, in the compiler's order:

# %%
ours_to_compiler = {"dz2": "d_add2", "db2": "d_b2", "da1": "d_sigmoid", "dW2": "d_W2",
                    "dz1": "d_add", "db1": "d_b1", "dW1": "d_W1"}


def statements(text):
    """{name assigned: line} for the code lines of a block (comments left out)."""
    lines = (line.strip() for line in text.splitlines())
    return {line.split(" = ")[0]: line for line in lines if " = " in line
            and not line.startswith("#")}


hand_source = inspect.getsource(hand_backward)
ours = statements(hand_source[hand_source.index("dz2 ="):hand_source.index("return")])
theirs = statements(backward)
assert set(theirs) == set(ours_to_compiler.values())   # the same seven gradients
compiler_to_ours = {c: o for o, c in ours_to_compiler.items()}
width = max(len(line) for line in ours.values()) + 4
print(f"{'by hand':{width}s}written by gg.compile")
print("-" * (width + 40))
for name, line in theirs.items():
    print(f"{ours[compiler_to_ours[name]]:{width}s}{line}")

# %% [markdown]
# Line for line the same computation. The compiler's order is the engine's: it visits
# the `matmul` of the second layer once and sends both of its gradients (`d_sigmoid`
# and `d_W2`) on the spot, where we wrote `dW2` first. Any order works that computes a
# gradient only after everything it needs.
#
# The differences are in the bookkeeping only: the compiler keeps the `1/m` inside
# `d_add2` from the start, so it never divides again, and it writes `W2.T` where we
# wrote `p["W2"].T`. [Tutorial 10](10-backward-as-source.py) looks at `gg.compile` in
# depth; [tutorial 4](04-xor.py) trains this network.
#
# ## Exercises
#
# 1. Replace the hidden sigmoid by `tanh`. Which line of the hand-written backward
#    changes, and to what? Check it against the engine.
#
# <details><summary>Answer</summary>
#
# Only `dz1`: `tanh'(z) = 1 - tanh(z)^2`, so `dz1 = da1 * (1 - a1**2)`.
#
# ```python
# p = {k: gg.tensor(v, requires_grad=True) for k, v in start.items()}
# h = gg.tanh(X @ p["W1"] + p["b1"])
# out = gg.sigmoid(h @ p["W2"] + p["b2"])
# F.binary_cross_entropy(out, y).backward()
# a1_np, a2_np = h.numpy(), out.numpy()
# dz1 = ((a2_np - y_np) @ start["W2"].T) * (1 - a1_np**2)
# print(np.max(np.abs(p["W1"].grad.numpy() - X_np.T @ dz1 / 4)))   # ~1e-17
# ```
#
# </details>
#
# 2. Why is `db1` the sum of `dz1` over **rows** (`axis=0`), and what would go wrong with
#    `dz1.sum()`?
#
# <details><summary>Answer</summary>
#
# `b1` (shape `1 x 4`) was broadcast: the same four numbers were added to every row of
# `X @ W1`. Each hidden unit's bias therefore influences the loss through every
# example, and the chain rule sums those paths, one sum per unit: `axis=0`, shape
# `1 x 4`. `dz1.sum()` would add the four units together into one number, the
# gradient of a single bias shared by all units.
#
# </details>
#
# 3. With the **sum** of the per-example losses instead of the mean, what changes in the
#    formulas, and in the engine's gradients?
#
# <details><summary>Answer</summary>
#
# Every `/ m` disappears, and every gradient the engine computes is `m = 4` times as
# large (the per-example errors `dz2`, `da1`, `dz1` are then exactly the engine's
# `z2.grad`, `a1.grad`, `z1.grad`). With plain gradient descent, that is the same as
# multiplying the learning rate by `m`.
#
# ```python
# p = {k: gg.tensor(v, requires_grad=True) for k, v in start.items()}
# out = gg.sigmoid(gg.sigmoid(X @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"])
# F.binary_cross_entropy(out, y, reduction="sum").backward()
# print(np.max(np.abs(p["W2"].grad.numpy() - 4 * hand["dW2"])))   # ~1e-16
# ```
#
# </details>
