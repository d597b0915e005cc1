"""Deep, wide and tangled graphs: an iterative backward, correct topological order,
and memory that is released after backward."""

import gc
import os
import random
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch

import glassgrad as gg

REPO_ROOT = Path(__file__).resolve().parents[1]


def _arr(t):
    return np.array(t.data, copy=True)


# --------------------------------------------------------------------------------------
# Deeper than Python's recursion limit, in process (fast)
# --------------------------------------------------------------------------------------

DEPTH = 20_000


def test_chain_deeper_than_recursion_limit_backpropagates():
    assert DEPTH > sys.getrecursionlimit()
    x = gg.tensor(1.0, dtype=np.float64, requires_grad=True)
    y = x
    for i in range(DEPTH):
        y = y * 1.0001 if i % 2 == 0 else y + 0.5
    y.backward()
    np.testing.assert_allclose(x.grad.item(), 1.0001 ** (DEPTH // 2), rtol=1e-9)


def test_autograd_grad_on_a_deep_chain():
    x = gg.tensor(np.array([0.5, 2.0]), requires_grad=True)
    y = x
    for _ in range(DEPTH):
        y = y + 0.0
    (g,) = gg.autograd.grad(y.sum(), x)
    np.testing.assert_array_equal(_arr(g), [1.0, 1.0])


def test_create_graph_through_a_deep_chain_matches_torch():
    depth = 3000
    x0 = np.array([1.0, -0.5, 2.5])

    x = gg.tensor(x0, requires_grad=True)
    y = x
    for _ in range(depth):
        y = gg.sin(y)
    (g,) = gg.autograd.grad(y.sum(), x, create_graph=True)
    (h,) = gg.autograd.grad(g.sum(), x)

    xt = torch.tensor(x0, requires_grad=True)
    yt = xt
    for _ in range(depth):
        yt = torch.sin(yt)
    (gt,) = torch.autograd.grad(yt.sum(), xt, create_graph=True)
    (ht,) = torch.autograd.grad(gt.sum(), xt)

    np.testing.assert_allclose(_arr(y), yt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(_arr(g), gt.detach().numpy(), rtol=1e-9)
    np.testing.assert_allclose(_arr(h), ht.numpy(), rtol=1e-9)


def test_deep_chain_with_retain_graph_backward_twice():
    x = gg.tensor(np.array([0.3]), requires_grad=True)
    y = x
    for _ in range(DEPTH // 4):
        y = gg.tanh(y) + y * 0.5
    loss = y.sum()
    loss.backward(retain_graph=True)
    first = _arr(x.grad)
    loss.backward()
    np.testing.assert_allclose(_arr(x.grad), 2 * first, rtol=1e-12)
    with pytest.raises(RuntimeError, match=r"retain_graph=True"):
        loss.backward()


# --------------------------------------------------------------------------------------
# Wide and tangled graphs (topological order, accumulation) against torch
# --------------------------------------------------------------------------------------


def test_wide_fan_out_and_fan_in():
    n = 2000
    x = gg.tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True)
    terms = [x * float(i) for i in range(n)]
    gg.stack(terms).sum().backward()
    np.testing.assert_allclose(_arr(x.grad), np.full(3, n * (n - 1) / 2))


def _dag_ops(lib):
    return [
        lambda a, b: (a + b) * 0.5,
        lambda a, b: lib.tanh(a) * b,
        lambda a, b: lib.sin(a) - b * 0.25,
        lambda a, b: lib.exp(-(a * a)) + b * 0.5,
        lambda a, b: a * lib.sigmoid(b),
        lambda a, b: a - b,
    ]


def _random_dag_loss(lib, leaves, seed, steps=400):
    rnd = random.Random(seed)
    ops = _dag_ops(lib)
    pool = list(leaves)
    for _ in range(steps):
        op = ops[rnd.randrange(len(ops))]
        # bias towards recent nodes so the graph is both deep and tangled
        i = len(pool) - 1 - min(int(rnd.expovariate(0.1)), len(pool) - 1)
        j = rnd.randrange(len(pool))
        pool.append(op(pool[i], pool[j]))
    loss = pool[-1].sum()
    for k, t in enumerate(pool[-25:]):
        loss = loss + t.sum() * (0.1 * k)
    return loss


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_random_dag_gradients_match_torch(seed):
    rng = np.random.default_rng(seed)
    values = [rng.uniform(-1.0, 1.0, size=(4,)) for _ in range(3)]

    leaves = [gg.tensor(v, requires_grad=True) for v in values]
    loss = _random_dag_loss(gg, leaves, seed)
    loss.backward()

    tleaves = [torch.tensor(v, requires_grad=True) for v in values]
    tloss = _random_dag_loss(torch, tleaves, seed)
    tloss.backward()

    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-12)
    for a, b in zip(leaves, tleaves):
        grad_b = b.grad.numpy() if b.grad is not None else np.zeros(4)
        grad_a = _arr(a.grad) if a.grad is not None else np.zeros(4)
        np.testing.assert_allclose(grad_a, grad_b, rtol=1e-10, atol=1e-12)


def test_diamonds_are_visited_in_topological_order():
    # Each level uses the previous one twice; a traversal that propagates a node's
    # cotangent before all its consumers contributed would get 2**levels wrong.
    levels = 40
    x = gg.tensor(np.array([0.9]), requires_grad=True)
    y = x
    hook_calls = []
    for k in range(levels):
        y = y * 0.5 + y * 0.5
        if k == levels // 2:
            y.register_hook(lambda g: hook_calls.append(1))
    y.sum().backward()
    np.testing.assert_allclose(_arr(x.grad), [1.0], rtol=1e-12)
    assert hook_calls == [1]


# --------------------------------------------------------------------------------------
# Memory: saved values are released; no growth over a training loop
# --------------------------------------------------------------------------------------


def _make_mlp(batch=64, seed=0):
    rng = np.random.default_rng(seed)
    X = gg.tensor(rng.normal(size=(batch, 8)).astype(np.float32))
    Y = gg.tensor(rng.normal(size=(batch, 1)).astype(np.float32))
    shapes = [(8, 32), (32,), (32, 32), (32,), (32, 1), (1,)]
    params = [
        gg.tensor((rng.normal(size=s) * 0.3).astype(np.float32), requires_grad=True)
        for s in shapes
    ]

    def forward():
        W1, b1, W2, b2, W3, b3 = params
        h = gg.relu(X @ W1 + b1)
        h = gg.tanh(h @ W2 + b2)
        out = h @ W3 + b3
        return ((out - Y) ** 2).mean()

    def step():
        loss = forward()
        loss.backward()
        for p in params:
            p.data -= 0.05 * p.grad.data
            p.grad = None
        return loss

    return forward, step, params


def _memory_at(step, checkpoints, collect):
    """Traced memory (bytes) after the given iterations of `step`."""
    out = {}
    losses = []
    tracemalloc.start()
    try:
        loss = None
        for it in range(1, max(checkpoints) + 1):
            loss = step()  # the previous iteration's graph dies here, as in user code
            losses.append(loss.item())
            if it in checkpoints:
                if collect:
                    gc.collect()
                out[it] = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return out, losses


TOLERANCE = 256 * 1024  # one leaked graph per iteration would be ~50 KB x 150


def test_training_loop_memory_does_not_grow():
    _, step, _ = _make_mlp()
    for _ in range(5):  # warm caches
        step()
    mem, losses = _memory_at(step, {50, 200}, collect=True)
    growth = mem[200] - mem[50]
    assert growth < TOLERANCE, f"memory grew by {growth} bytes between iterations 50 and 200"
    assert losses[-1] < losses[0]


def test_training_loop_memory_is_released_without_the_cycle_collector():
    # DESIGN.md: no reference cycles between a tensor, its node and closures, so graphs
    # are freed by reference counting alone.
    _, step, _ = _make_mlp()
    for _ in range(5):
        step()
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        mem, _ = _memory_at(step, {50, 200}, collect=False)
    finally:
        if was_enabled:
            gc.enable()
    growth = mem[200] - mem[50]
    assert growth < TOLERANCE, (
        f"with the cyclic collector off, memory grew by {growth} bytes over 150 iterations: "
        "graphs are kept alive by reference cycles"
    )


def test_mlp_graph_second_backward_without_retain_graph_raises():
    forward, _, _ = _make_mlp()
    loss = forward()
    loss.backward()
    with pytest.raises(RuntimeError, match=r"retain_graph=True"):
        loss.backward()


def test_mlp_graph_retain_graph_backward_twice_doubles():
    forward, _, params = _make_mlp()
    loss = forward()
    loss.backward(retain_graph=True)
    first = [_arr(p.grad) for p in params]
    loss.backward()
    for p, g in zip(params, first):
        np.testing.assert_allclose(_arr(p.grad), 2 * g, rtol=1e-6)


# --------------------------------------------------------------------------------------
# One million ops (slow; run in a subprocess so a crash fails cleanly)
# --------------------------------------------------------------------------------------

MILLION = 1_000_000


def _run_script(code, timeout=300):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=str(REPO_ROOT),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0 and "OK" in proc.stdout, (
        f"subprocess exited with {proc.returncode}\n"
        f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
    )
    return proc.stdout


@pytest.mark.slow
def test_million_op_chain_backpropagates():
    out = _run_script(
        f"""
        import gc
        import numpy as np
        import glassgrad as gg

        x = gg.tensor(1.0, dtype=np.float64, requires_grad=True)
        y = x
        for _ in range({MILLION}):
            y = y * 1.0000001
        y.backward()
        g = x.grad.item()
        expected = 1.0000001 ** {MILLION}
        assert abs(g - expected) <= 1e-6 * expected, (g, expected)
        assert abs(y.item() - expected) <= 1e-6 * expected, (y.item(), expected)
        del y
        gc.collect()
        print("OK", g)
        """
    )
    assert "OK" in out


@pytest.mark.slow
def test_million_op_graph_dropped_without_backward():
    _run_script(
        f"""
        import gc
        import numpy as np
        import glassgrad as gg

        x = gg.tensor(np.array([1.0, 2.0]), requires_grad=True)
        y = x
        for _ in range({MILLION}):
            y = y + 0.0
        del y
        gc.collect()
        # the engine is still usable afterwards
        (x * x).sum().backward()
        assert x.grad.data.tolist() == [2.0, 4.0]
        print("OK")
        """
    )
