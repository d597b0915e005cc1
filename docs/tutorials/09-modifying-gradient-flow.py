# %% [markdown]
# # 9. Modifying gradient flow
#
# **What you will learn:**
#
# - how a hook on a tensor looks at, scales, clips or reverses the gradient that passes
#   through it, and why everything upstream changes by exactly the same factor;
# - what module hooks see (a layer's output in forward, its gradients in backward);
# - how `gg.autograd.checkpoint` trades memory for a second forward, with the same
#   gradients bit for bit, and how to measure what a graph keeps;
# - how a reversible block rebuilds its inputs in backward instead of storing them;
# - two research ideas that bend backprop on purpose: synthetic gradients and the
#   straight-through estimator.
#
# Backpropagation is usually treated as a black box: call `loss.backward()` and read
# `.grad`. But the backward pass is a program like any other, run one op at a time
# from the loss towards the inputs, and glassgrad lets you step in at every point of
# it. The "Research" card of the page glassgrad grew from says it in one line (modify
# gradient flow: reversible nets, synthetic gradients); this tutorial does it.

# %%
import matplotlib.pyplot as plt
import numpy as np

import glassgrad as gg

nn = gg.nn
F = gg.nn.functional
gg.manual_seed(0)
rng = np.random.default_rng(0)
BLUE, ORANGE, GREEN, RED, GREY = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#777777"

# %% [markdown]
# ## 1. Hooks on tensors
#
# `t.register_hook(fn)` asks the engine to call `fn(grad)` at the moment the gradient
# of the loss with respect to `t` is known. If `fn` returns nothing, it has only looked;
# if it returns a tensor, that tensor *replaces* the gradient, and it is the replacement
# that flows on to everything `t` was computed from.
#
# Our test bed is a two-layer network with a hook on its hidden layer `h`:
#
# ```
# x, W1, b1  ->  h = tanh(x W1 + b1)  ->  out = tanh(h W2 + b2)  ->  loss = mean(out**2)
# ```
#
# `x`, `W1` and `b1` lie *upstream* of `h` (their gradients pass through it);
# `W2` and `b2` lie *downstream* (their gradients are computed before `h`'s).

# %%
arrays = {
    "x": rng.standard_normal((16, 5)),
    "W1": rng.standard_normal((5, 6)) / np.sqrt(5),
    "b1": 0.1 * rng.standard_normal(6),
    "W2": rng.standard_normal((6, 3)) / np.sqrt(6),
    "b2": 0.1 * rng.standard_normal(3),
}
UPSTREAM, DOWNSTREAM = ["x", "W1", "b1"], ["W2", "b2"]


def gradients(hook=None):
    """Every gradient of the two-layer net, with ``hook`` (if any) on the hidden layer."""
    t = {name: gg.tensor(a, requires_grad=True) for name, a in arrays.items()}
    h = gg.tanh(t["x"] @ t["W1"] + t["b1"])
    if hook is not None:
        h.register_hook(hook)
    loss = (gg.tanh(h @ t["W2"] + t["b2"]) ** 2).mean()
    loss.backward()
    return {name: v.grad.numpy() for name, v in t.items()}


plain = gradients()

# A hook that only looks: it returns None, so the gradient flows on untouched.
norms_seen = []
looked = gradients(lambda g: norms_seen.append(float(np.linalg.norm(g.numpy()))))
print(f"the hook saw ||dL/dh|| = {norms_seen[0]:.5f}")
assert all(np.array_equal(looked[k], plain[k]) for k in plain)  # bit for bit

# A hook that scales: the gradient of h is halved before it flows on.
halved = gradients(lambda g: 0.5 * g)
for k in UPSTREAM:
    assert np.array_equal(halved[k], 0.5 * plain[k]), k
for k in DOWNSTREAM:
    assert np.array_equal(halved[k], plain[k]), k
print("halving dL/dh halves the gradients of x, W1, b1 and leaves W2, b2 alone")

# %% [markdown]
# Halving is exact, not approximate: backward is *linear* in the gradient that arrives
# at each node (every rule is "something times `g`"), so a factor applied at `h`
# reaches every upstream tensor unchanged. (A factor of 0.5, a power of two, does not
# even change the rounding, hence `array_equal`; other factors agree to rounding.) And
# the hook cannot reach downstream: `W2`'s gradient was finished before the engine got
# to `h`.
#
# The same mechanism gives **gradient clipping at a chosen point** of the network
# (instead of on the parameters after the fact), and the **gradient reversal layer** of
# domain-adversarial training: the identity in forward, `-λ g` in backward, so that one
# backward pass does descent on one side of the layer and ascent on the other
# (`examples/gradient_reversal.py` trains a domain-adversarial network with it).

# %%
CLIP, LAM = 0.005, 0.7
seen_before, seen_after = [], []


def clip_hook(g):
    """Clip dL/dh element-wise to [-CLIP, CLIP]; record what came in and what goes out."""
    out = gg.clip(g, -CLIP, CLIP)
    seen_before.append(g.numpy().copy())
    seen_after.append(out.numpy().copy())
    return out


clipped = gradients(clip_hook)
print(f"dL/dh: largest |entry| {np.abs(seen_before[0]).max():.4f} in, "
      f"{np.abs(seen_after[0]).max():.4f} out; "
      f"{np.mean(np.abs(seen_before[0]) > CLIP):.0%} of the entries were clipped")
assert np.abs(seen_after[0]).max() <= CLIP < np.abs(seen_before[0]).max()
assert np.array_equal(clipped["W2"], plain["W2"])  # downstream, untouched

reversed_ = gradients(lambda g: -LAM * g)
for k in UPSTREAM:
    assert np.allclose(reversed_[k], -LAM * plain[k], rtol=1e-12, atol=0), k

# %% [markdown]
# Each hook's effect on every gradient, as a multiple of the plain gradient (the
# projection `<g, g0> / <g0, g0>`): the upstream tensors follow the hook, the
# downstream ones stay at 1. Clipping is not a single factor (it changes the direction
# too), so its bars are only roughly below 1.


# %%
def as_multiple(g, g0):
    return float(np.sum(g * g0) / np.sum(g0 * g0))


names = UPSTREAM + DOWNSTREAM
runs = [("halve", halved, BLUE), (f"clip to ±{CLIP}", clipped, ORANGE),
        (f"reverse, λ = {LAM}", reversed_, RED)]
fig, ax = plt.subplots(figsize=(7, 3.5))
pos = np.arange(len(names))
for i, (label, grads, colour) in enumerate(runs):
    ax.bar(pos + (i - 1) * 0.27, [as_multiple(grads[k], plain[k]) for k in names], 0.27,
           color=colour, label=label)
ax.axhline(1, color=GREY, lw=0.8, ls="--")
ax.axhline(0, color="black", lw=0.8)
ax.axvline(2.5, color=GREY, lw=0.8)
ax.text(1, 1.1, "upstream of h", ha="center")
ax.text(3.5, 1.1, "downstream of h", ha="center")
ax.set_xticks(pos, names)
ax.set(title="A hook on h changes only what flows through h",
       ylabel="hooked gradient / plain gradient", ylim=(-1, 1.3))
ax.legend(loc="lower right", fontsize="small")
plt.show()

# %% [markdown]
# A reversal layer can also be written as a custom `Function` (see
# [tutorial 7](07-custom-layer.py)) so that it is a layer you can put anywhere, not a
# hook you attach to one tensor. Its backward is deliberately *not* the derivative of
# its forward, so `gg.autograd.gradcheck` rejects it, as it should.


# %%
class GradReverse(gg.autograd.Function):
    """Identity forward; ``-lam * g`` backward."""

    @staticmethod
    def forward(ctx, x, lam):
        ctx.lam = lam
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        return -ctx.lam * g, None


x = gg.tensor(rng.standard_normal(4), requires_grad=True)
(GradReverse.apply(x, LAM).sin()).sum().backward()
assert np.allclose(x.grad.numpy(), -LAM * np.cos(x.numpy()), rtol=1e-12, atol=0)
try:
    gg.autograd.gradcheck(lambda t: GradReverse.apply(t, LAM), (x,))
    refused = False
except gg.autograd.GradcheckError as err:
    refused = True
    print("gradcheck refuses it:", str(err).splitlines()[0])
assert refused

# %% [markdown]
# Hooks also work on leaves, where they run before the gradient is accumulated into
# `.grad`. `register_hook` returns a handle; `handle.remove()` takes the hook off again.

# %%
w = gg.tensor(np.array([3.0, -4.0, 0.5]), requires_grad=True)
handle = w.register_hook(lambda g: gg.clip(g, -1.0, 1.0))
(w ** 2).sum().backward()          # the true gradient is 2w = [6, -8, 1]
print("with the hook:   ", w.grad.numpy())
assert np.array_equal(w.grad.numpy(), [1.0, -1.0, 1.0])
handle.remove()
w.grad = None
(w ** 2).sum().backward()
print("after remove():  ", w.grad.numpy())
assert np.array_equal(w.grad.numpy(), 2 * w.numpy())

# %% [markdown]
# ## 2. Hooks on modules
#
# A `gg.nn.Module` has PyTorch's three kinds of hook:
#
# - `register_forward_pre_hook(fn)`: `fn(module, args)` before `forward` runs;
# - `register_forward_hook(fn)`: `fn(module, args, output)` after it; this is how
#   `gg.diagnostics.Monitor` counts dead ReLUs ([tutorial 8](08-debugging.py));
# - `register_full_backward_hook(fn)`: `fn(module, grad_input, grad_output)` once the
#   gradients with respect to the module's inputs are known. `grad_output` is the
#   gradient of the loss with respect to the module's output; returning a tuple
#   replaces `grad_input`.
#
# Below, a forward hook records the fraction of ReLU outputs that are exactly zero and
# a backward hook the size of the gradient at the output and input of each `Linear`.

# %%
gg.manual_seed(1)
net = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                    nn.Linear(16, 1))
xb, yb = gg.randn(32, 5), gg.randn(32, 1)
dead, grad_sizes = {}, {}


def record_dead(module, args, output):
    dead[module] = float(np.mean(output.numpy() == 0))


def norm(g):
    return None if g is None else float(np.linalg.norm(g.numpy()))


def record_grads(module, grad_input, grad_output):
    # grad_input[0] is None for the first layer: its input x does not require grad
    grad_sizes[module] = (norm(grad_output[0]), norm(grad_input[0]))


handles = [m.register_forward_hook(record_dead) for m in net if isinstance(m, nn.ReLU)]
handles += [m.register_full_backward_hook(record_grads) for m in net
            if isinstance(m, nn.Linear)]
pred = net(xb)
pred.retain_grad()
loss = F.mse_loss(pred, yb)
loss.backward()
for i, m in enumerate(net):
    if m in dead:
        print(f"layer {i} ReLU:   {dead[m]:.0%} of its outputs are zero")
    if m in grad_sizes:
        out_norm, in_norm = grad_sizes[m]
        print(f"layer {i} Linear: ||dL/d output|| = {out_norm:.4f}, ||dL/d input|| = "
              + ("None (x needs no gradient)" if in_norm is None else f"{in_norm:.4f}"))
# the last layer's grad_output is dL/dpred = 2 (pred - y) / N, which retain_grad also kept
assert np.isclose(grad_sizes[net[4]][0], np.linalg.norm(pred.grad.numpy()))
assert np.allclose(pred.grad.numpy(), 2 * (pred.numpy() - yb.numpy()) / 32, atol=1e-7)
for h in handles:
    h.remove()

# %% [markdown]
# Returning a new `grad_input` changes what the layers below receive. Replacing it with
# zeros at the middle `Linear` stops the gradient there: the layer itself still learns
# (its weight gradient is computed from `grad_output`), the first layer gets exactly 0.
# It is the hook-based way of freezing the bottom of a network.

# %%
net.zero_grad()
stop = net[2].register_full_backward_hook(
    lambda module, grad_input, grad_output: tuple(0 * g for g in grad_input))
F.mse_loss(net(xb), yb).backward()
stop.remove()
print("first layer's weight gradient, largest |entry|:",
      float(np.abs(net[0].weight.grad.numpy()).max()))
print("middle layer's weight gradient norm:",
      round(float(np.linalg.norm(net[2].weight.grad.numpy())), 4))
assert not net[0].weight.grad.numpy().any() and net[2].weight.grad.numpy().any()

# %% [markdown]
# ## 3. Checkpointing: recompute instead of store
#
# To run backward, the graph keeps what each op's rule needs: `tanh` keeps its output
# (`1 - out**2`), `matmul` its inputs (`g @ W.T`, `x.T @ g`). For a deep network these
# saved activations, not the weights, are most of the memory.
# `gg.autograd.checkpoint(fn, *args)` runs `fn` without recording anything inside it;
# the graph gets one node that keeps only `fn`'s arguments. When backward reaches that
# node it runs `fn` again, this time recording, and backpropagates through the fresh
# graph: memory saved, at the price of a second forward pass.
#
# We take eight blocks `Linear -> Tanh -> Linear -> Tanh` and count forward calls with
# a forward hook, to see the recomputation happen.

# %%
gg.manual_seed(2)
blocks = [nn.Sequential(nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh())
          for _ in range(8)]
params = [p for b in blocks for p in b.parameters()]
data = gg.randn(256, 64)
calls = {"n": 0}
for b in blocks:
    b.register_forward_hook(lambda m, a, o: calls.__setitem__("n", calls["n"] + 1))


def run(segments):
    """Forward through the blocks, checkpointing ``segments`` consecutive blocks at a
    time (0: no checkpoint); returns what the graph keeps and every gradient."""
    for p in params:
        p.grad = None
    h = data
    step = segments or len(blocks)
    for i in range(0, len(blocks), step):
        segment = nn.Sequential(*blocks[i:i + step])
        h = gg.autograd.checkpoint(segment, h) if segments else segment(h)
    loss = (h ** 2).mean()
    kept = gg.autograd.saved_tensors_summary(loss)
    loss.backward()
    return kept, [p.grad.numpy().copy() for p in params]


calls["n"] = 0
kept_plain, grads_plain = run(0)
print(f"plain:      {calls['n']} block forwards")
calls["n"] = 0
kept_each, grads_each = run(1)
print(f"checkpoint: {calls['n']} block forwards (each block ran again in backward)")
assert calls["n"] == 2 * len(blocks)
kept_four, grads_four = run(4)
for g0, g1, g4 in zip(grads_plain, grads_each, grads_four):
    assert np.array_equal(g0, g1) and np.array_equal(g0, g4)  # bit-identical
print("gradients: identical to the last bit, both ways")

# %% [markdown]
# `gg.autograd.saved_tensors_summary(loss)` walks the live graph and lists, per op,
# the bytes kept for backward (each array counted once, however many nodes share it).
# Its `leaf_bytes` are arrays that belong to leaf tensors, which exist anyway; the
# rest is what the graph adds.

# %%
print("without checkpointing:")
print(kept_plain)
print("\ncheckpointing every block:")
print(kept_each)


def added(summary):
    return summary.total_bytes - summary.leaf_bytes


labels_ = ["plain", "checkpoint\nevery block", "checkpoint\nevery 4 blocks"]
sizes = [added(k) / 2**10 for k in (kept_plain, kept_each, kept_four)]
fig, ax = plt.subplots(figsize=(7, 3.5))
bars = ax.bar(labels_, sizes, color=[RED, BLUE, GREEN], width=0.55)
ax.bar_label(bars, fmt="%.0f KiB")
ax.set(title="What the graph keeps for backward (8 blocks, batch 256)",
       ylabel="saved activations (KiB)", ylim=(0, 1.2 * max(sizes)))
plt.show()
print("KiB added by the graph:", [round(v) for v in sizes],
      f"({sizes[0] / sizes[1]:.1f}x and {sizes[0] / sizes[2]:.1f}x less with checkpoints)")
assert added(kept_four) < added(kept_each) < added(kept_plain)

# %% [markdown]
# Checkpointing every block keeps only each block's input; checkpointing four blocks
# at a time keeps even fewer inputs, but backward then rebuilds four blocks' worth of
# activations at once. The recomputation is the same arithmetic in the same order, so
# the gradients are bit-identical; random ops inside `fn` (dropout) replay the same
# draws. `bench/bench_memory.py` measures the peak memory of a 32-layer MLP both ways.
#
# ## 4. A reversible block: rebuild the inputs instead of storing them
#
# Checkpointing still keeps one input per segment. A *reversible* network (RevNet)
# keeps none: each block can be run backwards, so backward rebuilds the activations
# it needs from the block's outputs. The additive coupling block splits its input into
# halves `x1, x2` and computes, with any two functions `F` and `G`,
#
# ```
# y1 = x1 + F(x2)            x2 = y2 - G(y1)
# y2 = x2 + G(y1)    <=>     x1 = y1 - F(x2)
# ```
#
# The right column undoes the left one exactly, whatever `F` and `G` are. So a stack of
# such blocks can be one custom `Function` that saves only the final outputs. Its
# backward walks the blocks from the last one: rebuild the block's inputs, run the
# block once more with recording on, and let `gg.autograd.grad` give the gradients of
# the inputs and of `F`'s and `G`'s parameters for the incoming cotangents. The input
# gradients are the previous block's cotangents.


# %%
def couple(x1, x2, f, g):
    y1 = x1 + f(x2)
    return y1, x2 + g(y1)


def uncouple(y1, y2, f, g):
    x2 = y2 - g(y1)
    return y1 - f(x2), x2


class ReversibleStack(gg.autograd.Function):
    """``apply(x1, x2, blocks, *params)``: coupling blocks that save only their outputs."""

    @staticmethod
    def forward(ctx, x1, x2, blocks, *params):
        for f, g in blocks:              # Function.forward records no graph
            x1, x2 = couple(x1, x2, f, g)
        ctx.blocks = blocks
        ctx.save_for_backward(x1, x2)
        return x1, x2

    @staticmethod
    def backward(ctx, gy1, gy2):
        y1, y2 = (t.detach() for t in ctx.saved_tensors)
        param_grads = []
        for f, g in reversed(ctx.blocks):
            with gg.no_grad():
                x1, x2 = uncouple(y1, y2, f, g)         # the inputs, rebuilt
            with gg.enable_grad():
                a1, a2 = x1.requires_grad_(), x2.requires_grad_()
                own = [*f.parameters(), *g.parameters()]
                gx1, gx2, *gp = gg.autograd.grad(couple(a1, a2, f, g), [a1, a2, *own],
                                                 grad_outputs=(gy1, gy2))
            param_grads.insert(0, gp)
            y1, y2, gy1, gy2 = x1.detach(), x2.detach(), gx1, gx2
        return (gy1, gy2, None, *[p for gp in param_grads for p in gp])


def make_blocks(n, width=8, hidden=32, seed=0):
    gg.manual_seed(seed)
    mlp = lambda: nn.Sequential(nn.Linear(width, hidden), nn.Tanh(),  # noqa: E731
                                nn.Linear(hidden, width)).double()
    return [(mlp(), mlp()) for _ in range(n)]


def stack_params(blocks):
    return [p for f, g in blocks for m in (f, g) for p in m.parameters()]


def plain_stack(x1, x2, blocks):
    for f, g in blocks:
        x1, x2 = couple(x1, x2, f, g)
    return x1, x2


def reversible_stack(x1, x2, blocks):
    return ReversibleStack.apply(x1, x2, blocks, *stack_params(blocks))


def stack_loss(y1, y2):
    return (y1 ** 2).sum() + (y2 * gg.tanh(y2)).sum()


a, b = rng.standard_normal((16, 8)), rng.standard_normal((16, 8))


def stack_gradients(run, blocks):
    for p in stack_params(blocks):
        p.grad = None
    x1, x2 = gg.tensor(a, requires_grad=True), gg.tensor(b, requires_grad=True)
    loss = stack_loss(*run(x1, x2, blocks))
    kept = added(gg.autograd.saved_tensors_summary(loss))
    loss.backward()
    return kept, [x1.grad.numpy(), x2.grad.numpy()] + [
        p.grad.numpy().copy() for p in stack_params(blocks)]


blocks4 = make_blocks(4)
_, ref = stack_gradients(plain_stack, blocks4)
_, got = stack_gradients(reversible_stack, blocks4)
diff = max(float(np.max(np.abs(u - v))) for u, v in zip(ref, got))
print(f"reversible vs ordinary stack, all {len(ref)} gradients: max |difference| = {diff:.1e}")
assert diff < 1e-10  # float64: the rebuilt inputs differ from the true ones by rounding

# %% [markdown]
# The gradients agree up to rounding (the rebuilt inputs are a subtraction away from the
# true ones). Now the memory, measured again by `saved_tensors_summary`, for stacks of
# increasing depth:

# %%
depths = [1, 2, 4, 8, 16]
kept_by = {"ordinary": [], "reversible": []}
for n in depths:
    blocks_n = make_blocks(n, seed=n)
    kept_by["ordinary"].append(stack_gradients(plain_stack, blocks_n)[0] / 2**10)
    kept_by["reversible"].append(stack_gradients(reversible_stack, blocks_n)[0] / 2**10)

fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(depths, kept_by["ordinary"], "o-", color=RED, label="ordinary stack")
ax.plot(depths, kept_by["reversible"], "s-", color=BLUE, label="reversible stack")
ax.set(title="Saved activations against depth (batch 16, halves of width 8)",
       xlabel="number of coupling blocks", ylabel="kept for backward (KiB)", xticks=depths)
ax.legend()
ax.grid(alpha=0.3)
plt.show()
print("KiB kept:", {k: [round(v, 1) for v in vals] for k, vals in kept_by.items()})
assert len(set(kept_by["reversible"])) == 1  # constant in depth
assert kept_by["ordinary"] == sorted(kept_by["ordinary"])

# %% [markdown]
# The ordinary stack's memory grows with every block; the reversible stack's is its two
# outputs and the loss's few arrays, whatever the depth. The price is compute: here each
# block runs three times (forward, rebuild, re-run with recording), and a careful version
# (`examples/reversible_block.py`) gets it down to two.
#
# ## 5. Synthetic gradients, in brief
#
# In ordinary backprop a layer waits for the whole forward and backward pass above it
# before it can update. *Decoupled neural interfaces* (Jaderberg et al., 2017) cut the
# network at an activation `h` and train a small model `M` to **predict** `dL/dh`. The
# lower part updates at once from the prediction, never from the true gradient:
#
# ```python
# h = part1(x)
# h.backward(M(h, y))        # part1's parameters get (dh/dθ)ᵀ · predicted gradient
# ```
#
# `h.backward(gradient)` is exactly the vector-Jacobian product with the cotangent you
# give it, so `part1` receives what it would receive if the prediction were true. The
# upper part trains on a detached copy of `h` with the real loss; the copy's `.grad` is
# then the true `dL/dh`, which is `M`'s regression target. `M` starts at zero, so the
# lower part starts by standing still instead of following noise. (The full version
# is `examples/synthetic_gradients.py`.)

# %%
def teacher_task(n, seed=0):
    """4 classes of 10-D Gaussian points, labelled by a random tanh network."""
    r = np.random.default_rng(seed)
    w1, w2 = r.standard_normal((10, 32)), r.standard_normal((32, 4))
    X = r.standard_normal((n, 10))
    return X, (np.tanh(X @ w1) @ w2).argmax(axis=1)


X_sg, y_sg = teacher_task(3000)
eye = np.eye(4)


def cosine(u, v):
    return float(np.sum(u * v) / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-30))


def train_split(mode, steps=300, batch=64, width=16, top=8):
    """Train part1 -> part2, with part1 learning from true backprop (``"backprop"``), from
    M's predicted gradient (``"synthetic"``) or not at all (``"frozen"``). Returns the
    losses and, for ``"synthetic"``, the cosine of each prediction with the truth."""
    gg.manual_seed(3)
    part1 = nn.Sequential(nn.Linear(10, width), nn.ReLU()).double()
    part2 = nn.Sequential(nn.Linear(width, top), nn.ReLU(), nn.Linear(top, 4)).double()
    M = nn.Linear(width + 4, width).double()
    nn.init.zeros_(M.weight)
    nn.init.zeros_(M.bias)
    opt1, opt2, optM = (gg.optim.Adam(m.parameters(), lr=3e-3) for m in (part1, part2, M))
    r = np.random.default_rng(4)
    losses, cosines = [], []
    for _ in range(steps):
        idx = r.integers(0, len(y_sg), batch)
        xb, yb, onehot = gg.tensor(X_sg[idx]), gg.tensor(y_sg[idx]), gg.tensor(eye[y_sg[idx]])
        for opt in (opt1, opt2, optM):
            opt.zero_grad()
        h = part1(xb)
        h_in = h.detach().requires_grad_()
        loss = F.cross_entropy(part2(h_in), yb)
        loss.backward()                      # part2's gradients, and the true dL/dh
        true = h_in.grad
        if mode == "synthetic":
            with gg.no_grad():
                predicted = M(gg.concatenate([h.detach(), onehot], axis=1)) / batch
            h.backward(predicted)            # part1 learns from the prediction
            F.mse_loss(M(gg.concatenate([h.detach(), onehot], axis=1)),
                       true * batch).backward()
            cosines.append(cosine(predicted.numpy(), true.numpy()))
        elif mode == "backprop":
            h.backward(true)                 # ordinary backprop, in two pieces
        for opt in (opt1, opt2, optM):
            opt.step()
        losses.append(loss.item())
    return np.array(losses), np.array(cosines)


loss_bp, _ = train_split("backprop")
loss_sg, cos_sg = train_split("synthetic")
loss_frozen, _ = train_split("frozen")
smooth = lambda v: np.convolve(v, np.ones(20) / 20, mode="valid")  # noqa: E731

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(7, 3.5))
ax1.plot(smooth(loss_bp), color=GREY, label="part 1: true backprop")
ax1.plot(smooth(loss_sg), color=BLUE, label="part 1: synthetic gradient")
ax1.plot(smooth(loss_frozen), color=RED, ls="--", label="part 1: frozen")
ax1.set(title="Training loss (20-step mean)", xlabel="step", ylabel="cross-entropy")
ax1.legend(fontsize="small")
ax2.plot(smooth(cos_sg), color=GREEN)
ax2.set(title="cos(predicted, true dL/dh)", xlabel="step", ylim=(-0.1, 1))
fig.tight_layout()
plt.show()
last = {name: float(v[-20:].mean()) for name, v in
        (("backprop", loss_bp), ("synthetic", loss_sg), ("frozen", loss_frozen))}
print("loss, mean of the last 20 steps:", {k: round(v, 3) for k, v in last.items()},
      f"(start {loss_sg[:20].mean():.3f})")
print(f"cosine of the prediction with the truth, last 20 steps: {cos_sg[-20:].mean():.2f}")
assert last["synthetic"] < 0.8 * last["frozen"]   # part 1 really learned from the guess
assert cos_sg[-20:].mean() > 0.5

# %% [markdown]
# The lower layer never saw a true gradient, and it still learned: the network ends far
# below the run where part 1 stays frozen at its initial weights, and close to true
# backprop. `M`'s prediction points roughly the right way (a cosine well above 0). It
# is a little worse than backprop (the price of a guessed gradient), but in a setting
# where the parts run on different machines, nobody has to wait.
#
# ## 6. The straight-through estimator
#
# Some forward passes are deliberately non-differentiable: binarising weights with
# `sign`, quantising with `round`. Their derivative is 0 almost everywhere, so honest
# backprop delivers no signal at all to what comes before them:

# %%
xs = gg.tensor(np.linspace(-2, 2, 9), requires_grad=True)
gg.sign(xs).sum().backward()
print("d sign(x)/dx:", xs.grad.numpy())
assert not xs.grad.numpy().any()

# %% [markdown]
# The straight-through estimator (STE) keeps the quantised value in forward and
# *pretends* the op was the identity in backward. No new op is needed, only `detach`:
#
# ```python
# s + (q - s).detach()        # q = sign(s): value q, gradient that of s
# ```
#
# In forward the two `s` cancel and the value is `q`; in backward the detached part is
# a constant, so the gradient is that of `s`. With `s = clip(x, -1, 1)` (BinaryConnect's
# variant) the gradient is 1 only where `|x| <= 1`, which stops latent weights from
# drifting far beyond the point where their sign can still change.


# %%
def sign_ste(x, clipped=False):
    s = gg.clip(x, -1.0, 1.0) if clipped else x
    return s + (gg.sign(x) - s).detach()


grid = np.linspace(-2, 2, 401)
curves = {}
for clipped in (False, True):
    xg = gg.tensor(grid, requires_grad=True)
    out = sign_ste(xg, clipped)
    out.sum().backward()
    assert np.array_equal(out.numpy(), np.sign(grid))  # the value is sign(x)
    curves[clipped] = xg.grad.numpy()
assert np.array_equal(curves[False], np.ones_like(grid))
assert np.array_equal(curves[True], (np.abs(grid) <= 1).astype(float))

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(7, 3.5))
ax1.plot(grid, np.sign(grid), color="black")
ax1.set(title="forward: sign(x)", xlabel="x")
ax2.plot(grid, np.zeros_like(grid), color=GREY, ls=":", lw=2, label="true derivative")
ax2.plot(grid, curves[False] + 0.02, color=BLUE, label="STE")
ax2.plot(grid, curves[True] - 0.02, color=ORANGE, label="clipped STE")
ax2.set(title="backward: the gradient passed on", xlabel="x", ylim=(-0.3, 1.5))
ax2.legend(fontsize="small", loc="upper right")
for ax in (ax1, ax2):
    ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown]
# With it, a classifier whose effective weights are binary, `α · sign(w)`, can be
# trained by ordinary gradient descent on real-valued latent weights `w`. The task is
# separable by a direction of ±1 entries, so a binary weight vector can solve it.

# %%
direction = rng.choice([-1.0, 1.0], size=12)
X_b = rng.standard_normal((1000, 12))
X_b = X_b[np.abs(X_b @ direction) > 0.5]          # keep a margin
y_b = gg.tensor((X_b @ direction > 0).astype(np.float64))
w_latent = gg.tensor(rng.normal(0, 0.1, 12), requires_grad=True)
alpha = gg.tensor(np.array(0.5), requires_grad=True)
opt = gg.optim.Adam([w_latent, alpha], lr=0.05)
for _ in range(100):
    opt.zero_grad()
    logits = gg.tensor(X_b) @ (alpha * sign_ste(w_latent, clipped=True))
    F.binary_cross_entropy_with_logits(logits, y_b).backward()
    opt.step()
with gg.no_grad():
    w_binary = alpha * gg.sign(w_latent)
    accuracy = float(np.mean((X_b @ w_binary.numpy() > 0) == (y_b.numpy() > 0.5)))
print(f"accuracy with binary weights: {accuracy:.1%}; "
      f"weights take {len(np.unique(w_binary.numpy()))} values: "
      f"{np.unique(np.round(w_binary.numpy(), 3))}")
assert accuracy > 0.95

# %% [markdown]
# A straight-through estimator is a lie told to the chain rule, on purpose, and it is
# the same lie as the gradient reversal layer: a backward that is not the derivative of
# the forward. Hooks, custom Functions and `detach` are the three tools for telling it;
# [tutorial 10](10-backward-as-source.py) shows the backward pass as plain source code,
# where every such change is visible as one line.
#
# ## Exercises
#
# 1. In section 1, put the halving hook on the *output* `out = tanh(h W2 + b2)` instead
#    of on `h`. Which gradients change now, and by what factor?
#
# <details><summary>Answer</summary>
#
# All of them: every parameter is upstream of the output, and backward is linear in
# the cotangent, so every gradient is halved exactly.
#
# ```python
# t = {k: gg.tensor(v, requires_grad=True) for k, v in arrays.items()}
# h = gg.tanh(t["x"] @ t["W1"] + t["b1"])
# out = gg.tanh(h @ t["W2"] + t["b2"])
# out.register_hook(lambda g: 0.5 * g)
# (out ** 2).mean().backward()
# assert all(np.array_equal(t[k].grad.numpy(), 0.5 * plain[k]) for k in t)
# ```
#
# </details>
#
# 2. Two hooks on the same tensor, `h.register_hook(lambda g: 2 * g)` and then
#    `h.register_hook(lambda g: g + 1)`: does the order matter?
#
# <details><summary>Answer</summary>
#
# Yes. Hooks run in the order they were registered, each on the previous one's result,
# so the gradient that flows on is `2 g + 1`; registered the other way round it would be
# `2 (g + 1)`. Check it by comparing `t["W1"].grad` of both orders with the plain one.
#
# </details>
#
# 3. Checkpoint a segment that contains `F.dropout`. Why are the gradients still
#    bit-identical to the plain ones, although backward runs the segment again?
#
# <details><summary>Answer</summary>
#
# `checkpoint` records the position of glassgrad's random generator before the
# forward and replays the same stream during the recomputation, so the second run draws
# the same dropout mask (and leaves your own stream where it was). With
# `preserve_rng_state=False` the recomputation draws a new mask and the gradients no
# longer match the forward that produced the loss.
#
# ```python
# gg.manual_seed(0)
# lin = nn.Linear(8, 8)
# x = gg.randn(4, 8, requires_grad=True)
# gg.autograd.checkpoint(lambda t: F.dropout(lin(t), 0.5), x).sum().backward()
# ```
#
# </details>
#
# 4. The reversible stack rebuilds its inputs by subtraction. What would go wrong if
#    `F` could return `inf` or `nan` for some inputs?
#
# <details><summary>Answer</summary>
#
# If `F(x2)` overflowed to `inf`, the output `y1 = x1 + F(x2)` would be `inf` too, and
# the rebuilt `x1 = y1 - F(x2) = inf - inf` would be `nan`: the information in `x1` is
# gone, and so is every gradient below. The same happens gently with finite numbers:
# rebuilding is only as accurate as the subtraction, and a large `F(x2)` added to a small
# `x1` loses `x1`'s low digits. That is why reversible networks are checked against the
# ordinary stack, as in section 4.
#
# </details>
