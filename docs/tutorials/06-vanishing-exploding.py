# %% [markdown]
# # 6. Vanishing and exploding gradients, and their mitigations
#
# **What you will learn:**
#
# - why the gradient reaching the first layer of a deep network is a *product* of one
#   Jacobian per layer, and why such products shrink or grow exponentially with depth;
# - how to see it layer by layer with `gg.diagnostics.Monitor`, and what
#   `monitor.report()` and `monitor.diagnose()` say;
# - how ReLU with He initialisation, batch normalisation and residual connections keep
#   the gradient of a 12-layer network at the same size from the last layer to the first;
# - how `gg.nn.utils.clip_grad_norm_` keeps an exploding network trainable.
#
# A network that does not learn often has nothing wrong with its code: the gradient
# simply does not arrive. This tutorial measures why.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np

import glassgrad as gg

gg.manual_seed(0)
rng = np.random.default_rng(0)

# %% [markdown]
# ## Why products of Jacobians shrink or grow
#
# Write a deep network as a chain `h_k = act(h_{k-1} W_k)`, `k = 1..L`, and a loss `ℓ`
# of the last `h_L`. The chain rule, applied once per layer, gives the gradient with
# respect to an early activation as a product:
#
# `dℓ/dh_0 = (dℓ/dh_L) J_L J_{L-1} ... J_1`, with `J_k = dh_k / dh_{k-1}`.
#
# Each backward step through a layer multiplies the cotangent by the activation's slope
# and by `W_kᵀ`. Its size changes by a typical factor `γ` per layer, so after `L` layers
# it has changed by about `γ^L`:
#
# - a sigmoid's slope is at most `1/4`; with PyTorch's default init,
#   `W ~ U(-1/sqrt(n), 1/sqrt(n))`, the matrix shrinks a random vector by about
#   `1/sqrt(3)`, so `γ ≈ 0.25 × 0.58 ≈ 0.14`: thirty layers give `0.14³⁰ ≈ 1e-26`;
# - a ReLU passes half the units with slope 1; weights `N(0, 2/n)` (He init) make
#   `γ ≈ 1` exactly for that reason;
# - the same ReLU with weights a little too large, `N(0, 2.5²/n)`, gives
#   `γ ≈ 2.5 / sqrt(2) ≈ 1.8`, and thirty layers give `1.8³⁰ ≈ 4e7`.
#
# We check this on a 30-layer chain in float64, keeping every intermediate's gradient
# with `retain_grad()`.

# %%
def chain_gradients(act, init, depth=30, width=64, batch=16):
    """||dℓ/dh_k|| for k = 0..depth, for ℓ = sum(h_L * v) with a random v."""
    h = gg.tensor(rng.normal(size=(batch, width)))
    hs = [h]
    h.requires_grad = True
    for _ in range(depth):
        W = gg.tensor(init(width))
        h = act(h @ W)
        h.retain_grad()
        hs.append(h)
    (h * gg.tensor(rng.normal(size=h.shape))).sum().backward()
    return np.array([np.linalg.norm(t.grad.numpy()) for t in hs])


def default_init(n):
    return rng.uniform(-1, 1, size=(n, n)) / math.sqrt(n)


def he_init(n, gain=None):
    gain = math.sqrt(2) if gain is None else gain
    return rng.normal(size=(n, n)) * gain / math.sqrt(n)


chains = {
    "sigmoid, default init": chain_gradients(gg.sigmoid, default_init),
    "ReLU, He init": chain_gradients(gg.relu, he_init),
    "ReLU, weights 2.5/sqrt(n)": chain_gradients(gg.relu, lambda n: he_init(n, 2.5)),
}
factors = {}
for name, norms in chains.items():
    factors[name] = (norms[0] / norms[-1]) ** (1 / (len(norms) - 1))  # geometric mean
    print(f"{name:28s} |dℓ/dh_0| / |dℓ/dh_30| = {norms[0] / norms[-1]:.1e}, "
          f"factor per layer {factors[name]:.2f}")

assert factors["sigmoid, default init"] < 0.25              # shrinks: vanishing
assert 0.8 < factors["ReLU, He init"] < 1.25                 # about 1: healthy
assert factors["ReLU, weights 2.5/sqrt(n)"] > 1.4            # grows: exploding

# %%
fig, ax = plt.subplots(figsize=(7, 3.5))
for (name, norms), colour in zip(chains.items(), ("#D55E00", "#0072B2", "#E69F00")):
    ax.semilogy(np.arange(len(norms)), norms, "o-", ms=3, color=colour, label=name)
ax.set_xlabel("k (activation h_k; 0 = the input)")
ax.set_ylabel("||dℓ / dh_k||")
ax.set_title("The cotangent on its way back through a 30-layer chain")
ax.invert_xaxis()  # backward runs from the loss (right) to the input (left)
ax.legend(fontsize=8)
ax.grid(True, which="major", alpha=0.3)
plt.show()

# %% [markdown]
# Read it from left to right, the way backward travels (the axis runs from the last
# layer to the first). On a log scale a constant factor per layer is a straight line:
# the sigmoid chain loses almost a decade per layer, the oversized ReLU chain gains a
# quarter of one, and only He init keeps the gradient's size.
#
# The seed page's mitigations follow from this picture: pick an activation and an
# initialisation with `γ ≈ 1`, re-normalise the signal at every layer (batch norm), or
# give the gradient a path that multiplies by the identity (residual connections). For
# explosions, cap the gradient's size (clipping).

# %% [markdown]
# ## Four deep networks, measured with Monitor
#
# Now real networks: 12 `Linear` layers of width 32, classifying the two-moons data set
# with cross-entropy, trained for 15 SGD steps. Four variants:
#
# 1. sigmoid with the default init;
# 2. ReLU with He init (`gg.nn.init.kaiming_normal_`) and zero biases;
# 3. the same with `gg.nn.BatchNorm1d` after each hidden `Linear`;
# 4. the same with each hidden block wrapped in `gg.nn.Residual` (`x + block(x)`).
#
# `gg.diagnostics.Monitor(model, optimizer)` hooks into the model; each `mon.step()`
# after `loss.backward()` records every layer's gradient norm, weight norm and update
# ratio, and the dead or saturated fraction of each activation layer.

# %%
X_np, y_np = gg.data.two_moons(128, noise=0.1, seed=0)
X, y = gg.tensor(X_np.astype(np.float32)), gg.tensor(y_np)
DEPTH, WIDTH, STEPS = 12, 32, 15


def hidden_block(variant):
    """Linear [-> BatchNorm1d] -> activation, wrapped in Residual for "res"."""
    layers = [gg.nn.Linear(WIDTH, WIDTH)]
    if variant in ("bn", "res"):
        layers.append(gg.nn.BatchNorm1d(WIDTH))
    layers.append(gg.nn.Sigmoid() if variant == "sigmoid" else gg.nn.ReLU())
    block = gg.nn.Sequential(*layers)
    return gg.nn.Residual(block) if variant == "res" else block


def build_net(variant):
    """2 -> 32 -> ... -> 32 -> 2 with DEPTH Linear layers; He init except for sigmoid."""
    gg.manual_seed(0)
    act = gg.nn.Sigmoid() if variant == "sigmoid" else gg.nn.ReLU()
    net = gg.nn.Sequential(gg.nn.Linear(2, WIDTH), act,
                           *[hidden_block(variant) for _ in range(DEPTH - 2)],
                           gg.nn.Linear(WIDTH, 2))
    if variant != "sigmoid":
        for module in net.modules():
            if isinstance(module, gg.nn.Linear):
                gg.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                gg.nn.init.zeros_(module.bias)
    return net


def train(net, steps=STEPS, lr=0.1):
    """Plain SGD on cross-entropy, recording every step with a Monitor."""
    opt = gg.optim.SGD(net.parameters(), lr=lr)
    mon = gg.diagnostics.Monitor(net, opt)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = gg.nn.functional.cross_entropy(net(X), y)
        loss.backward()
        mon.step()
        opt.step()
        losses.append(loss.item())
    mon.remove()  # take the hooks off; the history stays
    return mon, losses


VARIANTS = {"sigmoid": "sigmoid, default init", "he": "ReLU + He init",
            "bn": "ReLU + He + batch norm", "res": "ReLU + He + BN + residual"}
runs = {}
for key in VARIANTS:
    net = build_net(key)
    mon, losses = train(net)
    linear_paths = [p for p, m in net.named_modules() if isinstance(m, gg.nn.Linear)]
    norms = mon.layer_grad_norms()  # {layer path: [norm at each step]}
    median = np.array([np.median(norms[p]) for p in linear_paths])
    runs[key] = {"monitor": mon, "losses": losses, "median": median}
    print(f"{VARIANTS[key]:27s} first/last layer gradient norm {median[0] / median[-1]:.1e}, "
          f"loss {losses[0]:.3f} -> {losses[-1]:.3f}")

# %%
fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
colours = {"sigmoid": "#D55E00", "he": "#0072B2", "bn": "#009E73", "res": "#CC79A7"}
for key, label in VARIANTS.items():
    layer = np.arange(1, DEPTH + 1)
    ax.semilogy(layer, runs[key]["median"], "o-", ms=3, color=colours[key], label=label)
    ax2.plot(runs[key]["losses"], color=colours[key], label=label)
ax.set_xlabel("Linear layer (1 = next to the input)")
ax.set_ylabel("median gradient norm")
ax.set_title("Gradient reaching each layer")
ax.grid(True, which="major", alpha=0.3)
ax2.set_xlabel("SGD step")
ax2.set_ylabel("cross-entropy")
ax2.set_yscale("log")
ax2.set_title("Training loss")
ax2.legend(fontsize=7)
fig.tight_layout()
plt.show()

# %% [markdown]
# The sigmoid network's first layer receives a gradient around `1e-10`, more than seven
# orders of magnitude below its last layer: its early layers do not move at all, and its loss stays
# at `log 2 ≈ 0.693`, the loss of a coin toss. The three mitigated networks keep every
# layer's gradient within a small factor of the others, and all three learn.
#
# `monitor.report()` shows one recorded step as a table (here the sigmoid network's last
# step); `dead/sat %` is the share of saturated sigmoid outputs or dead ReLU units.
# Notice that no sigmoid is saturated (0.0 %): the gradient vanishes anyway, because
# even at its steepest the sigmoid passes only a quarter of the cotangent.

# %%
print(runs["sigmoid"]["monitor"].report())

# %% [markdown]
# `monitor.diagnose()` turns the history into findings, each with its numbers and the
# usual fix:

# %%
for key, label in VARIANTS.items():
    findings = runs[key]["monitor"].diagnose()
    print(f"--- {label}: {len(findings)} finding(s)")
    for finding in findings:
        print(finding)

kinds = {key: {f.kind for f in runs[key]["monitor"].diagnose()} for key in VARIANTS}
assert "vanishing" in kinds["sigmoid"]
assert all("vanishing" not in kinds[key] for key in ("he", "bn", "res"))
for key in ("he", "bn", "res"):  # a mitigated net: first and last layer within 10x
    ratio = runs[key]["median"][0] / runs[key]["median"][-1]
    assert 0.1 < ratio < 10, (key, ratio)
assert runs["sigmoid"]["median"][0] / runs["sigmoid"]["median"][-1] < 1e-6
assert all(runs[key]["losses"][-1] < runs["sigmoid"]["losses"][-1] for key in ("he", "bn", "res"))

# %% [markdown]
# The sigmoid network gets two findings: `vanishing` (the first layer's median gradient
# norm is a tiny fraction of the largest one) and `stalled` (the SGD updates of most
# layers are below a millionth of their weights; they are not learning). The mitigated
# ones get none.
#
# Why each fix works:
#
# - **ReLU + He**: the slope is 1 on the active half of the units, and `Var(w) = 2/n`
#   compensates for the half that is off, so `γ ≈ 1`.
# - **Batch norm** re-centres and re-scales every layer's pre-activations to unit
#   variance, whatever the weights did; the size of the signal (and of the gradient)
#   cannot drift over depth.
# - **Residual**: `h + block(h)` has Jacobian `I + J_block`; the identity term carries the
#   cotangent backwards unchanged, however small `J_block` is.

# %% [markdown]
# ## Exploding gradients, and gradient clipping
#
# Now the opposite failure: the ReLU network with weights `N(0, 2.5²/n)`, a standard
# deviation 1.8 times He's. Its gradient norm is already in the hundreds at the start;
# one SGD step makes the weights larger, the next gradient larger still, and within a
# few steps everything is NaN.
#
# `gg.nn.utils.clip_grad_norm_(parameters, max_norm)`, called between `backward()` and
# `step()`, computes the norm of all gradients seen as one vector and, if it exceeds
# `max_norm`, scales every gradient down by the same factor. The direction is kept; only
# the step length is capped. It returns the norm before clipping.

# %%
def build_exploding_net(gain=2.5):
    """A 12-layer ReLU MLP whose weights are N(0, gain² / fan_in)."""
    gg.manual_seed(0)
    layers = [gg.nn.Linear(2, WIDTH), gg.nn.ReLU()]
    for _ in range(DEPTH - 2):
        layers += [gg.nn.Linear(WIDTH, WIDTH), gg.nn.ReLU()]
    net = gg.nn.Sequential(*layers, gg.nn.Linear(WIDTH, 2))
    for module in net.modules():
        if isinstance(module, gg.nn.Linear):
            gg.nn.init.normal_(module.weight, 0.0, gain / math.sqrt(module.in_features))
            gg.nn.init.zeros_(module.bias)
    return net


def total_norm(net):
    """The 2-norm of all gradients as one vector, in float64 NumPy (our own reference)."""
    squares = sum(float(np.sum(p.grad.numpy().astype(np.float64) ** 2))
                  for p in net.parameters())
    return math.sqrt(squares)


def train_exploding(max_norm=None, gain=2.5, steps=20, lr=0.01):
    """SGD on the network of build_exploding_net(gain), clipping the total gradient
    norm to max_norm (None: no clipping); per-step norms before/after, and losses."""
    net = build_exploding_net(gain)
    opt = gg.optim.SGD(net.parameters(), lr=lr)
    mon = gg.diagnostics.Monitor(net, opt)
    out = {"pre": [], "post": [], "loss": []}
    with np.errstate(all="ignore"):  # the unclipped run overflows, on purpose
        for _ in range(steps):
            opt.zero_grad()
            loss = gg.nn.functional.cross_entropy(net(X), y)
            loss.backward()
            out["pre"].append(total_norm(net))
            if max_norm is not None:
                returned = float(gg.nn.utils.clip_grad_norm_(net.parameters(), max_norm))
                assert math.isclose(returned, out["pre"][-1], rel_tol=1e-4)
            out["post"].append(total_norm(net))
            out["loss"].append(loss.item())
            mon.step()   # after clipping: the Monitor records what the optimizer uses
            opt.step()
    mon.remove()
    out["monitor"] = mon
    return out


MAX_NORM = 1.0
plain = train_exploding()
clipped = train_exploding(max_norm=MAX_NORM)
first_nan = next(i for i, v in enumerate(plain["pre"]) if not math.isfinite(v))
print("no clipping, gradient norm:", ", ".join(f"{v:.3g}" for v in plain["pre"][:first_nan + 1]))
print("clipped, norm before clipping: max", f"{max(clipped['pre']):.3g},",
      "after clipping: max", f"{max(clipped['post']):.6f}")
print(f"clipped run: loss {clipped['loss'][0]:.2f} -> {clipped['loss'][-1]:.2f}")

assert first_nan <= 5 and math.isnan(plain["loss"][-1])
assert all(v <= MAX_NORM * (1 + 1e-5) for v in clipped["post"])
assert all(math.isfinite(v) for v in clipped["loss"]) and clipped["loss"][-1] < clipped["loss"][0]

# %%
def finite(values):
    return np.array([v if math.isfinite(v) else np.nan for v in values])


fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
ax.semilogy(finite(plain["pre"]), "o-", ms=4, color="#D55E00", label="no clipping")
ax.semilogy(clipped["pre"], "s--", ms=3, color="#0072B2", label="clipped: before clipping")
ax.semilogy(clipped["post"], "-", lw=2, color="#009E73", label="clipped: after clipping")
ax.axhline(MAX_NORM, color="black", ls=":", lw=1, label=f"max_norm = {MAX_NORM:g}")
ax.axvline(first_nan, color="#D55E00", ls=":", lw=1)
ax.annotate(f"NaN from step {first_nan}", (first_nan, 3e4), xytext=(4, 0),
            textcoords="offset points", color="#D55E00", fontsize=8)
ax.set_xlabel("SGD step")
ax.set_ylabel("total gradient norm")
ax.set_title("Gradient norm per step")
ax.legend(fontsize=7, loc="center right")
ax.grid(True, which="major", alpha=0.3)
ax2.semilogy(finite(plain["loss"]), "o-", ms=4, color="#D55E00", label="no clipping")
ax2.semilogy(clipped["loss"], "-", color="#009E73", label="clipped")
ax2.set_xlabel("SGD step")
ax2.set_ylabel("cross-entropy")
ax2.set_title("Training loss")
ax2.legend(fontsize=8)
ax2.grid(True, which="major", alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown]
# Without clipping the norm multiplies by ~40 and then by ~4000 per step before it
# overflows: an exponential on top of the exponential of depth, because each large step
# enlarges the weights that make the next gradient. With clipping the optimizer never
# sees a norm above 1 (green), even though the raw norm (dashed) stays in the hundreds
# or thousands, and the loss falls.
#
# The Monitor of the unclipped run says what happened, once per layer (`nan`) and once
# as a summary (`exploding`):

# %%
findings = plain["monitor"].diagnose()
print(f"{sum(f.kind == 'nan' for f in findings)} 'nan' findings; the first:")
print(next(f for f in findings if f.kind == "nan"))
print(next(f for f in findings if f.kind == "exploding"))
assert {"nan", "exploding"} <= {f.kind for f in findings}

# %% [markdown]
# Clipping treats the symptom; the cause is the initialisation. With He's gain
# (`train_exploding(gain=math.sqrt(2))`) the same network trains without any
# clipping (try it in exercise 2). Clipping remains the standard safety net for networks
# whose gradients spike now and then (recurrent networks, transformers early in
# training).
#
# More on the API: [gg.diagnostics](../reference/api/diagnostics.md) and
# [gg.nn](../reference/api/nn.md). [Tutorial 8](08-debugging.py) uses the same Monitor to
# find dead and saturated layers.

# %% [markdown]
# ## Exercises
#
# 1. Replace the sigmoid by `gg.tanh` in `chain_gradients` (default init). Is the factor
#    per layer larger or smaller than the sigmoid's, and why?
#
# <details><summary>Answer</summary>
#
# Larger, about `0.57` instead of `0.14`: tanh's slope at 0 is 1, four times the
# sigmoid's maximum of 1/4, and the activations stay small, so `γ` is close to the
# weights' own factor `1/sqrt(3) ≈ 0.58`. It still vanishes, only more slowly; Xavier
# init (`Var(w) = 1/n` for a square layer) would bring it close to 1 for small
# activations.
#
# ```python
# norms = chain_gradients(gg.tanh, default_init)
# print((norms[0] / norms[-1]) ** (1 / 30))
# ```
#
# </details>
#
# 2. Train the same network with He's gain and no clipping,
#    `train_exploding(gain=math.sqrt(2))`. Does it explode?
#
# <details><summary>Answer</summary>
#
# No: that is He init, `γ ≈ 1`, and the gradient norm stays near 1 (from 1.6 down to
# 0.7 over the 20 steps) while the loss falls:
#
# ```python
# he = train_exploding(gain=math.sqrt(2))
# print([round(v, 2) for v in he["pre"]], he["loss"][-1])
# ```
#
# </details>
#
# 3. `clip_grad_norm_` scales all gradients by one factor. `gg.nn.utils.clip_grad_value_`
#    clips each entry to `[-c, c]` separately. Which of the two keeps the direction of
#    the gradient?
#
# <details><summary>Answer</summary>
#
# Only the norm clipping: multiplying a vector by a positive number keeps its direction.
# Clipping entries changes the ratios between them (large entries are cut, small ones
# kept), so the step points elsewhere.
#
# </details>
#
# 4. Why does the sigmoid network's loss stay at exactly `log 2`?
#
# <details><summary>Answer</summary>
#
# Only the last layer or two learn. The deep sigmoid stack maps every input to nearly
# the same vector (each layer averages its inputs and squashes them towards 0.5), so
# the last layer sees the same features for both classes and can only learn the class
# frequencies, which are 50/50 in two moons: cross-entropy `-log(1/2) = log 2`.
#
# </details>
