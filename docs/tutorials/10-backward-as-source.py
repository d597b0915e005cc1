# %% [markdown]
# # 10. The backward pass as source code
#
# **What you will learn:**
#
# - how `gg.compile` writes a training step's forward *and* backward pass out as one
#   plain NumPy function you can read, line by line, rule by rule;
# - that calling the compiled step is a drop-in for `loss.backward()`: the same loss, the
#   same `.grad`, no graph;
# - what a trace bakes in (shapes, Python branches, train/eval mode), what it checks on
#   every call (guards, and what `GuardFailed` means), and what it leaves to run time
#   (dropout's random draws);
# - how to save the program as a module that needs only NumPy, and what it buys in
#   speed.
#
# In the earlier tutorials the backward pass was something the engine *did*: it walked
# the recorded graph from the loss back to the leaves, calling each op's VJP rule. In
# [tutorial 3](03-mlp-backward.py) we wrote the same backward pass by hand for the
# seed's two-layer sigmoid network (`dz2 = a2 - y`, `dW2 = a1.T @ dz2 / m`, ...). Here
# the engine writes it for us, as source code.

# %%
import importlib.util
import tempfile
import time
import types
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import glassgrad as gg

gg.manual_seed(0)
nn = gg.nn
F = gg.nn.functional

# %% [markdown]
# ## The seed's XOR network, compiled
#
# The network is the seed's: 2 inputs, 4 sigmoid hidden units, 1 sigmoid output, trained
# on XOR with binary cross-entropy. `gg.compile(loss_fn, x, y)` runs `loss_fn` once on
# *symbolic* arrays. The engine's own ops and VJP rules run unchanged, but every NumPy
# call they make is written down instead of only computed; the result is one function,
# `value_and_grad`, whose text is `step.source`.

# %%
model = nn.Sequential(nn.Linear(2, 4), nn.Sigmoid(), nn.Linear(4, 1), nn.Sigmoid())
x = gg.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
y = gg.tensor([[0.0], [1.0], [1.0], [0.0]])


def loss_fn(x, y):
    return F.binary_cross_entropy(model(x), y)


step = gg.compile(loss_fn, x, y)
print(step)
print("the program reads:", step.input_names)
forward_part, backward_part = step.source.split("    # ---- backward")
assert "# sigmoid backward" in backward_part and "# matmul backward" in backward_part
print(forward_part)

# %% [markdown]
# ### The forward half
#
# Read it from the top. The arguments are the data (`x`, `y`) and then every tensor the
# function reads without being given it: the four parameters of `model`, named after
# their place in it (`step.inputs` holds the tensors themselves). Then one statement per
# op of the forward pass, each under a comment naming the op:
#
# - `nn.Linear` computes `x @ W.T + b`, so there is a `transpose`, a `matmul` and an
#   `add` per layer;
# - the sigmoid is written as `exp(-logaddexp(0, -z))`, which is `1 / (1 + exp(-z))`
#   computed without overflow for large `|z|`;
# - binary cross-entropy first **checks** its input: two `if ...: raise GuardFailed`
#   lines. The eager op raises an error for probabilities outside `[0, 1]` or NaN; the
#   trace saw neither, so the program checks on every call that it would not have to
#   decide differently (more on guards below);
# - the loss, with PyTorch's clamp of the logarithms at -100, and the `mean` as a sum
#   divided by the batch size 4, a constant now.
#
# ### The backward half

# %%
print("    # ---- backward" + backward_part)

# %% [markdown]
# This is the chain rule, one op at a time, newest first, exactly the order in which
# the engine's backward sweep visits the graph. Each comment is the `VJP:` line from
# the op's card in `glassgrad/ops/` (or `glassgrad/nn/`), so every line can be traced
# back to the rule that produced it:
#
# - **`d_add2 = 0.25 * (sigmoid2 - y)`** is the seed's "BCE derivative simplification"
#   `dz2 = a2 - y`, with the `1/m` of the mean (`0.25` for 4 examples) applied here once
#   rather than in each of the seed's `dW = (1/m) ...` lines. The engine did not derive
#   it by algebra at run time: `gg.compile` knows one shortcut, that a sigmoid followed
#   by binary cross-entropy has the gradient `p - y` with respect to the sigmoid's
#   *input* (the two rules' `1 / (p (1 - p))` and `p (1 - p)` cancel). The comment
#   names the fused rule, `sigmoid+binary_cross_entropy backward`.
# - **`sum_to`** lines undo broadcasting: the bias `b2` was added to every row, so its
#   gradient is the sum of the rows' gradients (`db2 = sum(dz2, axis=0)`).
# - **`matmul backward`**: `d_sigmoid = d_add2 @ W2` is the seed's `dz2 @ W2.T` (our
#   layer stores `W2` transposed), and `sigmoid.T @ d_add2` is `a1.T @ dz2`, followed by
#   the transpose's own backward to bring it back to the weight's layout.
# - **`sigmoid backward`**: `d_add = d_sigmoid * sigmoid * (1 - sigmoid)` is the seed's
#   `dz1 = da1 * a1 * (1 - a1)`, reusing the forward's saved output.
# - the first layer's gradients repeat the pattern. `x` gets no gradient at all: it does
#   not require one, so its lines were never written.
#
# The program was also tidied as a person would tidy it: multiplications by one,
# no-op reshapes and unused gradients removed, repeated expressions shared. With
# `gg.compile(..., fuse=False)` the sigmoid + BCE shortcut is left out and each op keeps
# its own rule.
#
# ## A drop-in for loss.backward()
#
# Calling the step returns the loss and adds the gradients into `.grad`, exactly as
# the eager `loss_fn(x, y).backward()` would. Let us check that claim against the eager
# engine, first without the fused shortcut (then the arithmetic is the same, operation
# for operation) and then with it.


# %%
def eager_gradients():
    model.zero_grad()
    loss = loss_fn(x, y)
    loss.backward()
    return loss.item(), [p.grad.numpy().copy() for p in model.parameters()]


def compiled_gradients(compiled):
    model.zero_grad()
    loss = compiled(x, y)
    return loss.item(), [p.grad.numpy().copy() for p in model.parameters()]


loss_e, grads_e = eager_gradients()
loss_u, grads_u = compiled_gradients(gg.compile(loss_fn, x, y, fuse=False))
loss_c, grads_c = compiled_gradients(step)
assert loss_u == loss_e and all(np.array_equal(a, b) for a, b in zip(grads_u, grads_e))
print("fuse=False: the same loss and the same gradients, bit for bit")
worst = max(float(np.max(np.abs(a - b))) for a, b in zip(grads_c, grads_e))
assert loss_c == loss_e and all(np.allclose(a, b, rtol=1e-5, atol=1e-7)
                                for a, b in zip(grads_c, grads_e))
print(f"fused (default): the same loss; gradients differ by at most {worst:.1e} "
      "(float32 rounding of p - y against the chain of two rules)")

# %% [markdown]
# So an ordinary training loop does not change: replace `loss_fn(x, y).backward()` by
# `step(x, y)`. The optimizer updates the parameters in place, and the program reads
# their current values on every call.

# %%
gg.manual_seed(0)
model = nn.Sequential(nn.Linear(2, 4), nn.Sigmoid(), nn.Linear(4, 1), nn.Sigmoid())
step = gg.compile(loss_fn, x, y)          # a new model: trace again
opt = gg.optim.SGD(model.parameters(), lr=0.7)
losses = []
for _ in range(2000):
    opt.zero_grad()
    losses.append(step(x, y).item())      # forward and backward, no graph
    opt.step()
with gg.no_grad():
    predictions = model(x).numpy().ravel()
print("predictions for 00, 01, 10, 11:", predictions.round(3))
assert losses[-1] < 0.02 and np.array_equal(predictions > 0.5, [False, True, True, False])

fig, ax = plt.subplots(figsize=(7, 3.5))
ax.semilogy(losses, color="#0072B2")
ax.set(title="XOR trained with the compiled step (SGD, lr 0.7)", xlabel="epoch",
       ylabel="binary cross-entropy")
ax.grid(alpha=0.3)
plt.show()

# %% [markdown]
# ## What a trace bakes in
#
# A trace records one run, like `jax.jit`. Everything Python decided during that run is
# fixed in the program:
#
# - **shapes and dtypes**. The `mean` became `sum / 4`, the masks of dropout have a fixed
#   shape. A call with another shape is traced again; both programs are kept, and
#   `step.traces` counts how many were written.

# %%
print("traces so far:", step.traces)
step(x[:3], y[:3])                        # a batch of 3: a new program
step(x, y)                                # a batch of 4 again: the cached one
print("after a batch of 3 and one of 4:", step.traces)
assert step.traces == 2

# %% [markdown]
# - **Python control flow**. An `if` on a tensor's value runs once, at trace time, and
#   only the branch taken is written. The program then carries a **guard**: a check that
#   the branch would still be taken, which raises `GuardFailed` if not. `GuardFailed`
#   does not mean an error in your code; it means "this program does not apply to this
#   input". The compiled step catches it and traces the other branch (once; then both
#   programs are cached). A program saved to a file (below) cannot retrace, so there
#   `GuardFailed` reaches you, and the remedy is to trace again with such an input.
#
# Here is a leaky loss that branches on the sign of a score:

# %%
w = gg.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)


def leaky(v):
    score = (v * w).sum()
    if score > 0:                      # decided by a value: baked in and guarded
        return score
    return 0.1 * score


positive, negative = gg.tensor(np.array([1.0, 0.0, 1.0])), gg.tensor(np.array([0.0, 1.0, 0.0]))
branchy = gg.compile(leaky, positive)
print(branchy.source)
for v, factor in ((positive, 1.0), (negative, 0.1), (positive, 1.0)):
    w.grad = None
    branchy(v)
    assert np.allclose(w.grad.numpy(), factor * v.numpy())
print("traces:", branchy.traces, "(one per branch; each checked and reused)")
assert branchy.traces == 2

# %% [markdown]
# Binary cross-entropy's two guards in the XOR program are the same mechanism inside a
# library op: the op looks at values (`if np.any((p < 0) | (p > 1))`) to decide whether
# to raise an error, and the program keeps that check instead of silently computing a
# result the eager op would have refused.
#
# - **train/eval mode** of every module the step uses, and **Python values** among the
#   arguments, are part of the cache key in the same way.
#
# What a trace does *not* bake in is randomness. Dropout's mask is drawn when the
# program runs, from glassgrad's generator, in the same order as the eager model would
# draw it; the program takes a `rng` argument for that.

# %%
gg.manual_seed(1)
net = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 1),
                    nn.Sigmoid())


def dropout_loss(x, y):
    return F.binary_cross_entropy(net(x), y)


drop_step = gg.compile(dropout_loss, x, y)
print("\n".join(line for line in drop_step.source.splitlines() if "rng" in line))
gg.manual_seed(5)
compiled_losses = [drop_step(x, y).item() for _ in range(3)]
gg.manual_seed(5)
eager_losses = [dropout_loss(x, y).item() for _ in range(3)]
print("compiled:", np.round(compiled_losses, 4))
print("eager:   ", np.round(eager_losses, 4))
assert compiled_losses == eager_losses and len(set(compiled_losses)) == 3
net.eval()                                # no dropout: another program
drop_step(x, y)
assert drop_step.traces == 2

# %% [markdown]
# Three calls, three different masks, and the very same three losses as eager from the
# same seed.
#
# ## The program as a file that needs only NumPy
#
# `step.save(path)` writes the latest program as a Python module: `value_and_grad`
# with the arrays in `step.input_names` order, returning `(value, gradients)`, and its
# own `GuardFailed` class. We write it into a temporary folder and load it like any
# module; it imports nothing but NumPy.
#
# "Latest" means the latest *trace*, not the latest call: our `step` last traced the
# batch of 3, so we compile the batch of 4 afresh before saving it.

# %%
step = gg.compile(loss_fn, x, y)
scratch = tempfile.TemporaryDirectory(prefix="glassgrad-tutorial-10-")
folder = Path(scratch.name)                 # removed again at the end of this section
path = step.save(folder / "xor_step.py")
print(path.read_text().split("def value_and_grad")[0])


def load_module(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


xor_step = load_module(path)
imports = sorted(k for k, v in vars(xor_step).items() if isinstance(v, types.ModuleType))
print("modules the saved step imports:", imports)
assert imports == ["np"]

arrays = [t.numpy() for t in step.inputs]   # x, y, then the four parameters
value, grads = xor_step.value_and_grad(*arrays)
model.zero_grad()
loss = step(x, y)
assert value == loss.item()
assert all(np.array_equal(g, p.grad.numpy()) for g, p in zip(grads, model.parameters()))
print(f"saved module: loss {value:.6f}, the same gradients as the compiled step")

# %% [markdown]
# Saved, the branchy step shows what a guard does when nobody is there to retrace:

# %%
branchy.trace(positive)                  # a fresh trace of the positive branch: the latest
leaky_file = load_module(branchy.save(folder / "leaky_step.py"))
print(leaky_file.value_and_grad(positive.numpy(), w.numpy()))
try:
    leaky_file.value_and_grad(negative.numpy(), w.numpy())
    raised = False
except leaky_file.GuardFailed as err:
    raised = True
    print("GuardFailed:", err)
assert raised
scratch.cleanup()

# %% [markdown]
# ## Numba, if it is installed
#
# `backend="numba"` hands the same source to Numba's `njit`. Numba is an optional
# extra (`pip install -e ".[numba]"`), so this cell checks for it first. It compiles on
# the first call, which takes seconds; a program with matrix products takes longest, so
# we use a small element-wise fit here, in float64. (In a float32 program glassgrad
# writes the literals Numba sees as `np.float32(...)`, since Numba would otherwise widen
# `0.25 * x` to float64.) Where Numba refuses a program (with numba 0.68, sums with
# `keepdims`, or `max(axis=...)`), glassgrad warns, names the statement and runs the
# NumPy source instead; the cell reports which happened.

# %%
r = np.random.default_rng(0)
xs = gg.tensor(r.standard_normal(1000))
ys = gg.tensor(np.tanh(0.7 * xs.numpy()))
gain = gg.tensor(np.full(1000, 0.1), requires_grad=True)


def fit(x, y):
    return ((gg.tanh(gain * x) - y) ** 2).sum()


gain.grad = None
fit(xs, ys).backward()
eager_gain_grad = gain.grad.numpy().copy()
try:
    import numba
except ImportError:
    numba = None
    print("Numba is not installed: skipping backend='numba' (the NumPy source is the default)")
if numba is not None:
    numba_step = gg.compile(fit, xs, ys, backend="numba")
    gain.grad = None
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        numba_step(xs, ys)
    print(f"numba {numba.__version__}: first call (compiling) took "
          f"{time.perf_counter() - started:.1f} s")
    for warning in caught:
        print("  fell back to NumPy:", str(warning.message)[:120])
    if not caught:
        print("  Numba compiled the program")
    assert np.allclose(gain.grad.numpy(), eager_gain_grad, rtol=1e-12, atol=1e-15)

# %% [markdown]
# ## Is it faster?
#
# The compiled step does the same arithmetic as eager, so what it saves is the
# bookkeeping: no nodes recorded, no graph walked, no per-op Python dispatch. For a
# network as small as XOR that bookkeeping is nearly all of the time. We time a few
# hundred steps of each and take the median (timings vary from run to run and machine to
# machine, so we print them and assert nothing about them).


# %%
def median_seconds(fn, repeats=300):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def eager_step():
    loss_fn(x, y).backward()


timings = {"eager": median_seconds(eager_step),
           "gg.compile": median_seconds(lambda: step(x, y))}
fit_step = gg.compile(fit, xs, ys)
fit_timings = {"eager": median_seconds(lambda: fit(xs, ys).backward()),
               "NumPy source": median_seconds(lambda: fit_step(xs, ys))}
if numba is not None:
    fit_timings["Numba"] = median_seconds(lambda: numba_step(xs, ys))
model.zero_grad()
gain.grad = None

ratio = timings["eager"] / timings["gg.compile"]
print(f"XOR step: eager {1e6 * timings['eager']:.0f} µs, compiled "
      f"{1e6 * timings['gg.compile']:.0f} µs per step: the compiled step is {ratio:.1f}x "
      "faster")
print("element-wise fit:", ", ".join(f"{k} {1e6 * v:.0f} µs" for k, v in fit_timings.items()))

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(7, 3.5))
ax1.bar(list(timings), [1e6 * v for v in timings.values()], color=["#D55E00", "#0072B2"])
ax1.set(title="XOR step (median)", ylabel="µs per step")
ax2.bar(list(fit_timings), [1e6 * v for v in fit_timings.values()],
        color=["#D55E00", "#0072B2", "#009E73"][:len(fit_timings)])
ax2.set(title="element-wise fit, 1000 values", ylabel="µs per step")
fig.tight_layout()
plt.show()

# %% [markdown]
# For the XOR step, most of eager's time is the engine's bookkeeping, which the
# compiled step does not have. That cost is per op, not per element, so for big arrays
# the arithmetic (the same NumPy calls on both sides) dominates and the gap narrows: on
# our machine the element-wise fit with a million values took 18 ms eager and 14 ms
# compiled. Numba can fuse element-wise loops, but at this size it has little to win,
# and it pays its compilation once per process.
#
# `glassgrad train --data digits --model cnn --compile` trains the CNN of
# [tutorial 11](11-cnn-digits.py) with a compiled step, and `glassgrad compile
# train.py:step` prints the source of a step defined in a file. The reference for all
# of this is [the compile API](../reference/api/compile.md).
#
# ## Exercises
#
# 1. Compile the XOR step with `fuse=False` and print its backward half. Which lines
#    replace `d_add2 = 0.25 * (sigmoid2 - y)`?
#
# <details><summary>Answer</summary>
#
# ```python
# print(gg.compile(loss_fn, x, y, fuse=False).source.split("# ---- backward")[1])
# ```
#
# Two lines. The cross-entropy's own rule gives the cotangent of the probability,
# `d_sigmoid2 = (0.25 * (sigmoid2 - y)) / np.maximum(sigmoid2 * (1 - sigmoid2), 1e-12)`
# (its card's `gp = g * (p - y) / max(p (1 - p), 1e-12)`, with the mean's `0.25` as `g`),
# and then the sigmoid's rule multiplies it by `sigmoid2 * (1 - sigmoid2)`. On paper
# the division and the multiplication cancel and leave `0.25 * (p - y)`; in floating
# point they round, which is why only the unfused program matched eager bit for bit.
#
# </details>
#
# 2. `mean` appears as `sum() / 4` in the program. What happens if you call the step
#    with a batch of 8, and why is that not wrong?
#
# <details><summary>Answer</summary>
#
# The shape is part of the cache key, so a batch of 8 is traced again and that program
# divides by 8. The program for 4 is kept and used again for batches of 4. A program
# never sees a shape it was not traced for, so the constant is always right.
#
# </details>
#
# 3. In `leaky`, replace `if score > 0:` by `return gg.where(score > 0, score, 0.1 *
#    score)`. How many traces do the three calls need now, and is there a guard?
#
# <details><summary>Answer</summary>
#
# One trace and no guard. `where` is an op: both branches are computed and the choice is
# made element by element, inside the program, on every call. A Python `if` is decided
# by Python, once, at trace time; that is what needs a guard.
#
# ```python
# step = gg.compile(lambda v: gg.where((v * w).sum() > 0, (v * w).sum(),
#                                      0.1 * (v * w).sum()), positive)
# step(negative); step(positive)
# assert step.traces == 1 and "GuardFailed(" not in step.source
# ```
#
# </details>
