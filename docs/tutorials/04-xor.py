# %% [markdown]
# # 4. Training XOR, in pure NumPy and in glassgrad
#
# **What you will learn:**
#
# - how to train the 2-4-1 sigmoid network of [tutorial 3](03-mlp-backward.py) on XOR
#   with nothing but NumPy: forward pass with a cache, hand-written backward, update;
# - how the same training reads on the engine, with `loss.backward()` and
#   `gg.optim.SGD`, and that from the same start both follow the same loss curve;
# - how to look at what the network learned: its decision surface and the picture each
#   hidden unit draws;
# - how to write the same model with `gg.nn.Sequential` and `gg.nn.Linear`.
#
# ## The problem
#
# XOR has four points: the output is 1 when exactly one input is 1. No straight line
# separates the two classes (the 1s sit on one diagonal of the square, the 0s on the
# other), so a single linear unit cannot learn it; a hidden layer can. We train on all
# four points at once (full batch), with the mean binary cross-entropy, plain gradient
# descent with learning rate 0.7, for 6000 epochs, from small random weights and zero
# biases. Everything is float64 and seeded.

# %%
import matplotlib.pyplot as plt
import numpy as np

import glassgrad as gg
import glassgrad.nn as nn
import glassgrad.nn.functional as F

X_np = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
y_np = np.array([[0.0], [1.0], [1.0], [0.0]])
EPOCHS, LR = 6000, 0.7

rng = np.random.default_rng(0)
START = {
    "W1": rng.standard_normal((2, 4)) * 0.5, "b1": np.zeros((1, 4)),
    "W2": rng.standard_normal((4, 1)) * 0.5, "b2": np.zeros((1, 1)),
}
print({name: value.shape for name, value in START.items()})

# %% [markdown]
# ## 1. Pure NumPy
#
# Three small functions: the forward pass returns the prediction and a cache of what the
# backward pass will need; the backward pass is the one derived in tutorial 3; the
# update takes one step downhill. Every array is ours; nothing is recorded.

# %%
def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def forward(p, X):
    """Prediction a2 and the cache (the activations the backward pass reads)."""
    a1 = sigmoid(X @ p["W1"] + p["b1"])
    a2 = sigmoid(a1 @ p["W2"] + p["b2"])
    return a2, {"X": X, "a1": a1, "a2": a2}


def bce(a2, y):
    return -np.mean(y * np.log(a2) + (1 - y) * np.log(1 - a2))


def backward(p, cache, y):
    """Gradients of the mean BCE with respect to every parameter."""
    X, a1, a2 = cache["X"], cache["a1"], cache["a2"]
    m = X.shape[0]
    dz2 = a2 - y                        # sigmoid + cross-entropy: the a2 (1 - a2) cancels
    dz1 = (dz2 @ p["W2"].T) * a1 * (1 - a1)
    return {"W2": a1.T @ dz2 / m, "b2": dz2.sum(axis=0, keepdims=True) / m,
            "W1": X.T @ dz1 / m, "b1": dz1.sum(axis=0, keepdims=True) / m}


def train_numpy(start, epochs, lr):
    p = {k: v.copy() for k, v in start.items()}
    losses = np.empty(epochs)
    for epoch in range(epochs):
        a2, cache = forward(p, X_np)
        losses[epoch] = bce(a2, y_np)
        grads = backward(p, cache, y_np)
        for k in p:
            p[k] -= lr * grads[k]
    return p, losses


p_numpy, losses_numpy = train_numpy(START, EPOCHS, LR)
pred_numpy = forward(p_numpy, X_np)[0]
print(f"loss: {losses_numpy[0]:.4f} at the start, {losses_numpy[500]:.4f} after 500 "
      f"epochs, {losses_numpy[-1]:.6f} at the end")
print("predictions:", pred_numpy.ravel().round(4), " targets:", y_np.ravel())
assert np.array_equal(pred_numpy.round(), y_np)
assert losses_numpy[500] > 0.6 and losses_numpy[-1] < 0.01   # a plateau, then learning

# %% [markdown]
# ## 2. The same training on the engine
#
# The same network, now written with glassgrad tensors. The parameters are leaves that
# require a gradient; `loss.backward()` replaces our `backward` function; the optimizer
# replaces our update loop (`gg.optim.SGD` with no momentum is exactly
# `p -= lr * p.grad`), and `zero_grad()` clears the gradients that would otherwise
# accumulate from one epoch to the next. We use `F.binary_cross_entropy`, the same mean
# BCE as `bce` above.

# %%
def train_engine(start, epochs, lr):
    params = {k: gg.tensor(v, requires_grad=True) for k, v in start.items()}
    X, y = gg.tensor(X_np), gg.tensor(y_np)
    optimizer = gg.optim.SGD(params.values(), lr=lr)
    losses = np.empty(epochs)
    for epoch in range(epochs):
        a1 = gg.sigmoid(X @ params["W1"] + params["b1"])
        a2 = gg.sigmoid(a1 @ params["W2"] + params["b2"])
        loss = F.binary_cross_entropy(a2, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses[epoch] = loss.item()
    return params, losses


p_engine, losses_engine = train_engine(START, EPOCHS, LR)
gap = np.max(np.abs(losses_engine - losses_numpy))
weights_gap = max(float(np.max(np.abs(p_engine[k].numpy() - p_numpy[k]))) for k in START)
print(f"largest difference between the two loss curves: {gap:.1e}")
print(f"largest difference between the final weights:   {weights_gap:.1e}")
assert gap < 1e-12 and weights_gap < 1e-10

# %% [markdown]
# From the same start, the two trainings agree to rounding error (about `1e-15` in the
# loss) after 6000 steps: they compute the same gradients and differ only in the order
# of a few float64 roundings. The curves lie on top of each other (left); their difference (right)
# stays at the level of rounding error.

# %%
epochs = np.arange(1, EPOCHS + 1)
fig, (ax, ax_gap) = plt.subplots(1, 2, figsize=(8, 3.5))
ax.semilogy(epochs, losses_numpy, lw=4, alpha=0.4, label="pure NumPy")
ax.semilogy(epochs, losses_engine, "--", color="black", lw=1.2,
            label="glassgrad (loss.backward)")
ax.set(xlabel="epoch", ylabel="mean binary cross-entropy", title="Training loss")
ax.legend(loc="lower left")
ax_gap.semilogy(epochs, np.abs(losses_engine - losses_numpy) + 1e-20, color="#D55E00")
ax_gap.set(xlabel="epoch", ylabel="|difference|", title="glassgrad minus NumPy",
           ylim=(1e-18, 1e-8))
fig.tight_layout()
plt.show()

# %% [markdown]
# The long flat stretch at the start is typical of XOR: the output sits near 0.5 for
# every point (a loss near `log 2 = 0.693`) while the small gradients slowly turn the
# hidden units towards useful directions; once they have split the work between them,
# the loss falls fast.
#
# ## 3. What the network learned
#
# The trained network is a function of two real inputs, so we can evaluate it on a grid
# around the unit square and colour each point by the predicted probability of class 1.
# The black line is the decision boundary, where the prediction is 0.5.

# %%
grid = np.linspace(-0.5, 1.5, 161)
g1, g2 = np.meshgrid(grid, grid)
points = gg.tensor(np.column_stack([g1.ravel(), g2.ravel()]))

with gg.no_grad():   # predictions only: record no graph
    hidden = gg.sigmoid(points @ p_engine["W1"] + p_engine["b1"])
    surface = gg.sigmoid(hidden @ p_engine["W2"] + p_engine["b2"])
hidden = hidden.numpy().reshape(g1.shape + (4,))
surface = surface.numpy().reshape(g1.shape)


def show_points(ax):
    """The four XOR points: white circles for class 0, black triangles for class 1."""
    zero, one = y_np[:, 0] == 0, y_np[:, 0] == 1
    ax.scatter(X_np[zero, 0], X_np[zero, 1], s=120, marker="o", c="white",
               edgecolors="black", linewidths=1.5, label="y = 0", zorder=3)
    ax.scatter(X_np[one, 0], X_np[one, 1], s=140, marker="^", c="black",
               edgecolors="white", linewidths=1.5, label="y = 1", zorder=3)


fig, ax = plt.subplots(figsize=(7, 3.5))
filled = ax.contourf(g1, g2, surface, levels=np.linspace(0, 1, 21), cmap="RdBu_r")
ax.contour(g1, g2, surface, levels=[0.5], colors="black", linewidths=1.5)
show_points(ax)
fig.colorbar(filled, ax=ax, label="predicted P(y = 1)")
ax.set(xlabel="input 1", ylabel="input 2", title="Decision surface after training",
       aspect="equal")
ax.legend(loc="lower left", framealpha=0.9)
fig.tight_layout()
plt.show()

corner = surface[np.ix_([40, -41], [40, -41])]   # the grid points at 0 and 1
print("prediction at the four corners (rows: input 2 = 0, 1; columns: input 1 = 0, 1):")
print(corner.round(4))
assert np.array_equal(corner.round(), [[0, 1], [1, 0]])

# %% [markdown]
# The network has carved out a band along the diagonal from (0, 1) to (1, 0): inside
# it the prediction is 1, outside it 0. No single line does that; the hidden layer
# makes it possible.
#
# ## The hidden units
#
# Each hidden unit computes `sigmoid(w1 * input1 + w2 * input2 + b)`: a soft step across
# one straight line, the same picture for every unit up to its direction and position.
# The output unit then weighs the four steps (its weight `W2[j]` for unit `j` is in each
# title) and squashes the sum. Two of them, with opposite signs, are enough to cut out a band.

# %%
fig, axes = plt.subplots(1, 4, figsize=(10, 3.2), sharey=True, layout="constrained")
for j, ax in enumerate(axes):
    image = ax.contourf(g1, g2, hidden[..., j], levels=np.linspace(0, 1, 21),
                        cmap="viridis")
    show_points(ax)
    ax.set_title(f"unit {j}\noutput weight {p_engine['W2'].numpy()[j, 0]:+.1f}",
                 fontsize=10)
    ax.set(xlabel="input 1", aspect="equal")
axes[0].set_ylabel("input 2")
fig.colorbar(image, ax=axes, label="activation a1", shrink=0.9)
fig.suptitle("What each hidden unit computes over the input plane")
plt.show()

# %% [markdown]
# ## 4. The same model with gg.nn
#
# `gg.nn` packages the pieces: `nn.Linear(2, 4)` holds a weight and a bias and computes
# `x @ weight.T + bias`, `nn.Sigmoid()` is the activation, `nn.Sequential` chains them,
# `nn.BCELoss()` is the mean BCE, and `model.parameters()` hands every parameter to the
# optimizer. `nn.Linear` stores its weight as `(out, in)`, PyTorch's layout, so our
# `W1` goes in transposed; `load_state_dict` copies our starting weights into the
# layers so that all three trainings start from the same point.

# %%
model = nn.Sequential(
    nn.Linear(2, 4, dtype=np.float64), nn.Sigmoid(),
    nn.Linear(4, 1, dtype=np.float64), nn.Sigmoid(),
)
print(model)
model.load_state_dict({
    "0.weight": START["W1"].T, "0.bias": START["b1"].ravel(),
    "2.weight": START["W2"].T, "2.bias": START["b2"].ravel(),
})

X, y = gg.tensor(X_np), gg.tensor(y_np)
loss_fn = nn.BCELoss()
optimizer = gg.optim.SGD(model.parameters(), lr=LR)
losses_module = np.empty(EPOCHS)
for epoch in range(EPOCHS):
    loss = loss_fn(model(X), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses_module[epoch] = loss.item()

gap_module = np.max(np.abs(losses_module - losses_numpy))
print(f"largest difference from the NumPy loss curve: {gap_module:.1e}")
print("predictions:", model(X).numpy().ravel().round(4))
assert gap_module < 1e-12
assert np.allclose(model[0].weight.numpy(), p_numpy["W1"].T, rtol=0, atol=1e-8)

# %% [markdown]
# The same loss curve a third time. The module version is what you would write for a
# real problem; the NumPy version is what it does underneath; the engine is what
# connects the two, one local rule at a time. Next, [tutorial 5](05-gradient-checking.py)
# shows how to check a backward pass you wrote yourself.
#
# ## Exercises
#
# 1. Train the NumPy version with only **2** hidden units, from 10 different seeds.
#    How many runs solve XOR? What happens in the others?
#
# <details><summary>Answer</summary>
#
# With these settings 9 of the 10 seeds solve it; seed 7 is still on the plateau after
# 6000 epochs (loss `0.693 = log 2`, every prediction 0.5). Two units are enough in
# principle, but they leave gradient descent little room: both must turn to the right
# lines from a start that gives them almost no gradient. With four units there are
# more ways to split the work: the same ten seeds (with `(2, 4)` and `(4, 1)` weights)
# all solve it.
#
# ```python
# for seed in range(10):
#     r = np.random.default_rng(seed)
#     start = {"W1": r.standard_normal((2, 2)) * 0.5, "b1": np.zeros((1, 2)),
#              "W2": r.standard_normal((2, 1)) * 0.5, "b2": np.zeros((1, 1))}
#     p, losses = train_numpy(start, EPOCHS, LR)
#     solved = np.array_equal(forward(p, X_np)[0].round(), y_np)
#     print(seed, f"final loss {losses[-1]:.3f}", "solved" if solved else "stuck")
# ```
#
# </details>
#
# 2. Start with **every weight equal** (say 0.3, biases zero). What does the network
#    learn, and why? What happens with all weights zero?
#
# <details><summary>Answer</summary>
#
# Every hidden unit then computes the same function and receives the same gradient
# (`dz1` has four equal columns), so after every update they are still equal: the
# network behaves as if it had a single hidden unit, and one step across one line
# cannot separate XOR. It ends predicting about 0.66 for three corners and 0.01 for
# (0, 0), loss 0.48. With all weights zero it is worse: `W2 = 0` sends no gradient to
# the hidden layer at all, the output layer's own gradient is zero too (the classes are
# balanced), and the loss stays at `log 2`. Random initial weights break the
# symmetry.
#
# ```python
# same = {"W1": np.full((2, 4), 0.3), "b1": np.zeros((1, 4)),
#         "W2": np.full((4, 1), 0.3), "b2": np.zeros((1, 1))}
# p, losses = train_numpy(same, EPOCHS, LR)
# print(losses[-1], forward(p, X_np)[0].ravel())   # 0.48, [0.006 0.66 0.66 0.67]
# print(p["W1"])                                   # four identical columns
# ```
#
# </details>
#
# 3. Which loss is `dz2 = a2 - y` the gradient of? What would `dz2` be for the mean
#    squared error `mean((a2 - y)**2) / 2` instead?
#
# <details><summary>Answer</summary>
#
# `a2 - y` belongs to the cross-entropy, where the sigmoid's derivative cancels. For the
# squared error, `d/da2 = a2 - y` and the sigmoid's derivative stays:
# `dz2 = (a2 - y) * a2 * (1 - a2)`. That factor is tiny when the output saturates, even
# on the wrong side, which is one reason classification uses the cross-entropy. Check:
#
# ```python
# W = {k: gg.tensor(v, requires_grad=True) for k, v in START.items()}
# a1 = gg.sigmoid(gg.tensor(X_np) @ W["W1"] + W["b1"])
# z2 = a1 @ W["W2"] + W["b2"]
# z2.retain_grad()
# a2 = gg.sigmoid(z2)
# (((a2 - gg.tensor(y_np)) ** 2).mean() / 2).backward()
# a2_np = a2.numpy()
# print(np.max(np.abs(z2.grad.numpy() - (a2_np - y_np) * a2_np * (1 - a2_np) / 4)))
# ```
#
# </details>
