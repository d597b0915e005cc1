"""gg.compile's contract beyond the numbers: guards and retracing, random draws, hooks,
accumulation, errors, extra outputs, the numba backend and the command line."""

import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import glassgrad as gg
from glassgrad.compile import TraceError

ROOT = Path(__file__).resolve().parents[1]


def _eager_grads(fn, *args, params):
    for p in params:
        p.grad = None
    value = fn(*args)
    value.backward()
    return value.item(), [p.grad.numpy().copy() for p in params]


def test_a_value_dependent_branch_is_guarded_and_retraced():
    w = gg.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)

    def f(x):
        s = (x * w).sum()
        if s > 0:  # Python control flow on a value: baked in, guarded
            return s * 2
        return s * 3

    pos, neg = gg.tensor(np.array([1.0, 0.0, 1.0])), gg.tensor(np.array([0.0, 1.0, 0.0]))
    step = gg.compile(f, pos)
    assert "GuardFailed" in step.source
    for x, factor in ((pos, 2), (neg, 3), (pos, 2), (neg, 3)):
        w.grad = None
        loss = step(x, )
        np.testing.assert_allclose(w.grad.numpy(), factor * x.numpy())
        assert loss.item() == f(x).item()
    assert step.traces == 2  # one per branch, each reused afterwards


def test_a_guard_that_always_fails_is_an_error_not_a_loop():
    w = gg.tensor(np.array([1.0]), requires_grad=True)

    def f(x):
        scale = float((x * w).sum())  # NaN here: no trace can ever pass its own check
        return (x * w).sum() * (1.0 if scale == scale else 2.0)

    step = gg.compile(f)
    with pytest.raises(TraceError, match="fresh trace failed"):
        step(gg.tensor(np.array([np.nan])))


def test_gradients_accumulate_as_backward_does():
    w = gg.tensor(np.array([0.5, -1.5]), requires_grad=True)
    x = gg.tensor(np.array([2.0, 3.0]))
    step = gg.compile(lambda x: gg.exp(x * w).sum(), x)
    step(x)
    first = w.grad.numpy().copy()
    step(x)
    np.testing.assert_allclose(w.grad.numpy(), 2 * first, rtol=1e-12)
    _, (want,) = _eager_grads(lambda x: gg.exp(x * w).sum(), x, params=[w])
    np.testing.assert_allclose(first, want, rtol=1e-12)


def test_random_draws_happen_at_run_time_in_eager_order():
    w = gg.tensor(np.ones(5), requires_grad=True)

    def f(x):
        noise = gg.rand(5, dtype=gg.float64)
        return (x * w * noise).sum()

    x = gg.tensor(np.arange(5.0))
    step = gg.compile(f, x)
    assert "rng.random" in step.source
    gg.manual_seed(3)
    a = step(x).item()
    b = step(x).item()
    assert a != b  # a new mask every call, not one baked in
    gg.manual_seed(3)
    assert f(x).item() == a and f(x).item() == b  # the same stream as eager


def test_leaf_hooks_are_part_of_the_program():
    w = gg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    handle = w.register_hook(lambda g: g * 10)
    x = gg.tensor(np.array([3.0, 4.0]))
    step = gg.compile(lambda x: (x * w).sum(), x)
    w.grad = None
    step(x)
    np.testing.assert_allclose(w.grad.numpy(), [30.0, 40.0])
    handle.remove()


def test_extra_outputs_and_no_grad():
    w = gg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    x = gg.tensor(np.array([3.0, 4.0]))

    def f(x):
        pred = x * w
        return pred.sum(), pred

    step = gg.compile(f, x)
    loss, pred = step(x)
    np.testing.assert_allclose(pred.numpy(), [3.0, 8.0])
    assert loss.item() == 11.0 and not pred.requires_grad
    w.grad = None
    with gg.no_grad():
        loss, _ = step(x)
    assert loss.item() == 11.0 and w.grad is None  # no_grad: a value-only program


def test_no_gradient_code_for_inputs_that_need_none():
    w = gg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    x = gg.tensor(np.array([3.0, 4.0]))
    source = gg.compile(lambda x: gg.tanh(x * w).sum(), x).source
    assert "d_w" in source and "d_x" not in source


def test_inputs_are_arguments_then_captured_tensors():
    lin = gg.nn.Linear(3, 2).double()
    x = gg.tensor(np.ones((4, 3)))
    step = gg.compile(lambda x: lin(x).sum(), x)
    assert step.inputs[0] is x
    assert {id(t) for t in step.inputs[1:]} == {id(lin.weight), id(lin.bias)}
    assert all(n.isidentifier() for n in step.input_names)


def test_errors_say_what_to_do():
    x = gg.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(TraceError, match="single number"):
        gg.compile(lambda x: x * 2, x)
    with pytest.raises(TraceError, match="return the loss"):
        gg.compile(lambda x: 3.0, x)
    with pytest.raises(TraceError, match="plain NumPy array"):
        gg.compile(lambda x: gg.tensor(np.asarray(x.numpy()) * 2, requires_grad=True).sum(), x)
    outside = x * 2  # has a graph made outside the step
    with pytest.raises(TraceError, match="computed outside"):
        gg.compile(lambda y: (y * outside).sum(), gg.tensor(np.ones(3)))
    with pytest.raises(ValueError, match="backend"):
        gg.compile(lambda y: y.sum(), backend="jax")


def test_the_program_is_plain_python():
    w = gg.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    x = gg.tensor(np.array([[0.5, -1.0]]))
    step = gg.compile(lambda x: gg.sigmoid(x @ w).mean(), x)
    namespace = {"np": np, "GuardFailed": Exception}
    exec(compile(step.source, "program", "exec"), namespace)  # noqa: S102
    value, (dw,) = namespace["value_and_grad"](x.numpy(), w.numpy())
    want_value, (want_dw,) = _eager_grads(lambda x: gg.sigmoid(x @ w).mean(), x, params=[w])
    assert value == want_value
    np.testing.assert_allclose(dw, want_dw, rtol=1e-12)




def test_numba_backend_matches_numpy():
    pytest.importorskip("numba", reason="Numba is not installed (the [numba] extra)")
    gg.manual_seed(0)
    model = gg.nn.Sequential(gg.nn.Linear(2, 4), gg.nn.Sigmoid(), gg.nn.Linear(4, 1),
                             gg.nn.Sigmoid()).double()
    x = gg.tensor(np.array([[0.0, 0], [0, 1], [1, 0], [1, 1]]))
    y = gg.tensor(np.array([[0.0], [1], [1], [0]]))

    def loss_fn(x, y):
        return gg.nn.functional.binary_cross_entropy(model(x), y)

    step = gg.compile(loss_fn, x, y, backend="numba")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # this program compiles: no fallback warning
        loss = step(x, y)
    got = [p.grad.numpy().copy() for p in model.parameters()]
    want_loss, want = _eager_grads(loss_fn, x, y, params=list(model.parameters()))
    assert loss.item() == pytest.approx(want_loss, rel=1e-12)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_numba_falls_back_with_a_message():
    pytest.importorskip("numba", reason="Numba is not installed (the [numba] extra)")
    w = gg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    x = gg.tensor(np.ones((3, 2)))
    step = gg.compile(lambda x: gg.einsum("ij,jk->ik", w, x).sum(), x, backend="numba")
    with pytest.warns(UserWarning, match="Numba cannot compile"):
        step(x)
    np.testing.assert_allclose(w.grad.numpy(), np.full((2, 3), 2.0))


def test_command_line_prints_the_source(tmp_path):
    script = tmp_path / "train.py"
    script.write_text("import numpy as np, glassgrad as gg\n"
                      "w = gg.tensor(np.ones(3), requires_grad=True)\n"
                      "step = gg.compile(lambda x: gg.tanh(x * w).sum(), "
                      "gg.tensor(np.arange(3.0)))\n"
                      "not_a_step = 3\n")
    run = [sys.executable, "-m", "glassgrad", "compile"]
    ok = subprocess.run(run + [f"{script}:step"], capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    assert "def value_and_grad(x, w):" in ok.stdout and "np.tanh(" in ok.stdout
    out = tmp_path / "step.py"
    saved = subprocess.run(run + [f"{script}:step", "--out", str(out)], capture_output=True,
                           text=True, cwd=ROOT)
    assert saved.returncode == 0 and "import numpy as np" in out.read_text()
    for bad, message in ((f"{script}:not_a_step", "not a compiled step"),
                         (f"{script}:missing", "defines no"), ("nofile.py:x", "no such file"),
                         ("noname", "FILE:NAME")):
        proc = subprocess.run(run + [bad], capture_output=True, text=True, cwd=ROOT)
        assert proc.returncode != 0 and message in proc.stderr


def test_large_temporaries_are_freed_after_their_last_read():
    """Locals live until the function returns: the program deletes large intermediates
    after their last use (so a step does not hold the whole forward and backward at once),
    and leaves small ones alone (the XOR program reads as written)."""
    rng = np.random.default_rng(0)
    w = gg.tensor(rng.standard_normal((300, 300)), requires_grad=True)
    x = gg.tensor(rng.standard_normal((64, 300)))

    def loss_fn(x):
        h = gg.tanh(x @ w)
        return (gg.tanh(h @ w) ** 2).sum()

    step = gg.compile(loss_fn, x)
    dels = [line for line in step.source.splitlines() if line.strip().startswith("del ")]
    assert dels, step.source
    body = step.source.splitlines()
    freed = {}  # name -> line of its del
    for i, line in enumerate(body):
        if line.strip().startswith("del "):
            for n in line.split("#")[0].strip()[4:].split(","):
                freed[n.strip()] = i
    for name, at in freed.items():  # never read after its del
        code = [line.split("#")[0] for line in body[at + 1:]]
        assert not any(re.search(rf"(?<![.\w]){name}\b", line) for line in code), name
    step(x)
    ref = gg.tensor(w.numpy(), requires_grad=True)
    (gg.tanh(gg.tanh(x @ ref) @ ref) ** 2).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), ref.grad.numpy(), rtol=1e-12, atol=1e-12)

    small = gg.tensor(rng.standard_normal(3), requires_grad=True)
    tiny = gg.compile(lambda: (gg.tanh(small) * 2).sum())
    tiny()
    assert "del " not in tiny.source


def test_value_ranges_remove_guards_they_decide_and_keep_the_others():
    """BCE checks ``(p < 0) | (p > 1)``: after a sigmoid that is false by construction,
    so the program does not re-check it; its NaN check, and a range check on an input
    whose values nobody knows, stay."""
    w = gg.tensor(np.array([[0.5], [-1.0]]), requires_grad=True)
    x = gg.tensor(np.array([[1.0, 2.0], [0.0, -1.0]]))
    y = gg.tensor(np.array([[1.0], [0.0]]))
    F = gg.nn.functional

    step = gg.compile(lambda x, y: F.binary_cross_entropy(gg.sigmoid(x @ w), y), x, y)
    assert "< 0" not in step.source and "> 1" not in step.source
    assert "np.isnan" in step.source
    loss = step(x, y)
    ref = gg.tensor(w.numpy(), requires_grad=True)
    want = F.binary_cross_entropy(gg.sigmoid(x @ ref), y)
    want.backward()
    np.testing.assert_allclose(loss.item(), want.item(), rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), ref.grad.numpy(), rtol=1e-12)

    p = gg.tensor(np.array([[0.3], [0.6]]), requires_grad=True)
    raw = gg.compile(lambda y: F.binary_cross_entropy(p, y), y)
    assert "< 0" in raw.source  # p is an input: its range is checked on every call
    p.data[...] = np.array([[1.5], [0.5]])
    with pytest.raises(ValueError):
        raw(y)  # out of [0, 1]: the guard sends it back to eager, which refuses


def test_numba_runs_a_float32_model_without_falling_back():
    """The default dtype is float32: NumPy keeps ``0.25 * (p - y)`` in float32, Numba would
    widen it to float64 and refuse the next float32 matmul; the literals it sees are
    float32, and value and gradients keep the parameters' dtype."""
    pytest.importorskip("numba", reason="Numba is not installed (the [numba] extra)")
    gg.manual_seed(0)
    model = gg.nn.Sequential(gg.nn.Linear(2, 4), gg.nn.Sigmoid(), gg.nn.Linear(4, 1),
                             gg.nn.Sigmoid())
    x = gg.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = gg.tensor([[0.0], [1.0], [1.0], [0.0]])

    def loss_fn(x, y):
        return gg.nn.functional.binary_cross_entropy(model(x), y)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fallback warns
        jit = gg.compile(loss_fn, x, y, backend="numba")
        value = jit(x, y)
    assert jit._latest().backend == "numba"
    assert value.dtype == np.float32
    got = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    want = loss_fn(x, y)
    want.backward()
    np.testing.assert_allclose(value.item(), want.item(), rtol=1e-6)
    for g, p in zip(got, model.parameters()):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_source_describes_the_program_the_latest_call_ran():
    w = gg.tensor(np.ones(1), requires_grad=True)
    step = gg.compile(lambda x: (x * w).mean())
    step(gg.tensor(np.ones(3)))
    three = step.source
    step(gg.tensor(np.ones(4)))
    four = step.source
    assert three != four and "/ 3" in three and "/ 4" in four
    step(gg.tensor(np.ones(3)))  # cached: no new trace, but this is what ran
    assert step.traces == 2 and step.source == three


def test_a_value_read_as_a_number_on_every_call_warns_and_the_cache_stays_bounded():
    w = gg.tensor(np.ones(2), requires_grad=True)

    def loss_fn(x):
        scale = float(x.sum())  # a Python number: a guard, different every call
        return (x * w).sum() * scale

    step = gg.compile(loss_fn)
    with pytest.warns(UserWarning, match="traces of loss_fn for the same shapes"):
        for i in range(20):
            step(gg.tensor(np.array([1.0, float(i)])))
    assert step.traces == 20
    assert sum(len(v) for v in step._variants.values()) <= 16
    x = gg.tensor(np.array([1.0, 2.0]))
    w.grad = None
    step(x)
    np.testing.assert_allclose(w.grad.numpy(), x.numpy() * 3.0)


def test_module_hooks_run_at_trace_time_only_and_say_so():
    model = gg.nn.Sequential(gg.nn.Linear(2, 3), gg.nn.ReLU())
    seen = []
    model[1].register_forward_hook(lambda m, i, o: seen.append(1))
    x = gg.tensor(np.ones((4, 2), dtype=np.float32))
    with pytest.warns(UserWarning, match="module hooks on ReLU run once"):
        step = gg.compile(lambda x: model(x).sum(), x)
    step(x)
    step(x)
    assert seen == [1]  # the trace's forward only
