"""``find_bad_backward``: the gradient check that names the op whose backward is wrong,
and ``gradcheck``'s list of the worst elements."""

import os
import re
import time

import numpy as np
import pytest
import torch

import glassgrad as gg
from glassgrad.autograd.gradcheck import GradcheckError, gradcheck
from glassgrad.autograd.localize import BadBackward, find_bad_backward
from glassgrad.graph import walk
from glassgrad.ops import elementwise

THIS_FILE = os.path.abspath(__file__)
RNG = np.random.default_rng(7)
X0 = RNG.standard_normal((4, 6))
W0 = RNG.standard_normal((6, 6)) * 0.5


def _line_of(marker: str) -> int:
    """Line number of the line of this file that holds ``marker`` (twice: source + call)."""
    with open(THIS_FILE) as f:
        for n, line in enumerate(f, 1):
            if marker in line and "_line_of" not in line:
                return n
    raise AssertionError(marker)


def _value(t):
    return np.array(t.detach().numpy() if isinstance(t, torch.Tensor) else t.numpy(),
                    dtype=np.float64)


def _run_both(scn):
    """Run a scenario with glassgrad and with torch; the results must match."""
    ours, theirs = scn(gg), scn(torch)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(_value(a), _value(b), rtol=1e-10, atol=1e-12)


def _composite(lib, x, w, middle=None):
    """About 50 ops: tanh, exp, matmul, sum, getitem, concatenate and friends."""
    h = x
    for _ in range(4):
        a = lib.tanh(h @ w)                      # matmul, tanh
        b = lib.exp(-0.5 * h * h)                # mul, mul, neg/mul, exp
        h = a + b * 0.25                         # mul, add
        h = lib.concatenate([h[:, :3], h[:, 3:] * 1.5], 1)  # getitem x2, mul, concatenate
        if middle is not None:
            h = middle(h)
    return (h.sum(1) * h[:, 0]).sum() + (h * h).mean()


def _scn_composite_gradient(lib):
    x = lib.tensor(X0, requires_grad=True)
    w = lib.tensor(W0, requires_grad=True)
    loss = _composite(lib, x, w)
    loss.backward()
    return loss, x.grad, w.grad


def test_composite_gradient_matches_torch():
    _run_both(_scn_composite_gradient)


def test_correct_composite_of_50_ops_passes():
    x, w = gg.tensor(X0), gg.tensor(W0)
    nodes = walk([_composite(gg, x.requires_grad_(), w.requires_grad_())])
    assert len(nodes) >= 50
    assert find_bad_backward(lambda x, w: _composite(gg, x, w), gg.tensor(X0),
                             gg.tensor(W0)) is None


class HalfBackward(gg.autograd.Function):
    """y = x * sigmoid(x) with a backward off by a factor of 2."""

    @staticmethod
    def forward(ctx, x):
        s = gg.sigmoid(x)
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, g):
        x, s = ctx.saved_tensors
        return 0.5 * g * (s + x * s * (1 - s))  # the 0.5 is the bug


class GoodSwish(gg.autograd.Function):
    """y = x * sigmoid(x), correct backward."""

    @staticmethod
    def forward(ctx, x):
        s = gg.sigmoid(x)
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, g):
        x, s = ctx.saved_tensors
        return g * (s + x * s * (1 - s))


def _with_bad_function(x, w):
    h = _composite(gg, x, w)  # 50 good ops before ...
    h = HalfBackward.apply(h * x[0, 0])  # BAD-FUNCTION-CALL
    return _composite(gg, x * h, w)  # ... and 50 after


def test_names_a_wrong_custom_function_in_the_middle_of_a_graph():
    report = find_bad_backward(_with_bad_function, gg.tensor(X0), gg.tensor(W0))
    assert isinstance(report, BadBackward)
    assert report.op == "HalfBackward"
    assert report.filename == THIS_FILE
    assert report.lineno == _line_of("# BAD-FUNCTION-CALL")
    assert report.input_index == 0
    assert report.worst_index == ()  # a scalar input
    assert report.analytic == pytest.approx(0.5 * report.numeric, rel=1e-6)
    assert report.rel_error == pytest.approx(0.5, rel=1e-6)
    msg = str(report)
    assert msg == report.message
    assert "HalfBackward" in msg and f"{THIS_FILE}:{report.lineno}" in msg
    assert re.search(r"(?i)relative error 0\.5", msg), msg


def test_a_correct_custom_function_passes():
    def fn(x, w):
        return _composite(gg, x, w, middle=GoodSwish.apply)

    assert find_bad_backward(fn, gg.tensor(X0), gg.tensor(W0)) is None


def test_elementwise_worst_index_of_a_custom_function():
    class OneWrongElement(gg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            bump = np.zeros(x.shape)
            bump[2, 1] = 3.0
            return 2 * x * g + gg.tensor(bump)

    report = find_bad_backward(lambda x: OneWrongElement.apply(gg.tanh(x)).sum(),
                               gg.tensor(X0))
    assert report.op == "OneWrongElement"
    assert report.worst_index == (2, 1)
    assert report.analytic - report.numeric == pytest.approx(3.0, rel=1e-5)


def _wrong_tanh_rule(g, out, x):
    return g * (1 - out)  # should be 1 - out**2


def test_names_a_wrong_builtin_rule(monkeypatch):
    monkeypatch.setattr(elementwise.tanh, "vjp", (_wrong_tanh_rule,))

    def fn(x, w):
        h = gg.exp(x * 0.3) @ w
        h = gg.tanh(h)  # BAD-TANH
        return _composite(gg, h, w)

    report = find_bad_backward(fn, gg.tensor(X0), gg.tensor(W0))
    assert report is not None and report.op == "tanh"
    assert report.filename == THIS_FILE and report.lineno == _line_of("# BAD-TANH")
    assert report.input_index == 0
    assert len(report.worst_index) == 2
    assert report.rel_error > 1e-2
    # the message points at the (injected) rule's source
    rule_line = _wrong_tanh_rule.__code__.co_firstlineno
    assert f"Read the rule at {THIS_FILE}:{rule_line}" in report.message, report.message


def test_wrong_builtin_rule_is_restored_afterwards():
    # the monkeypatch above is undone: the same graph passes
    assert find_bad_backward(lambda x, w: gg.tanh(gg.exp(x * 0.3) @ w).sum(),
                             gg.tensor(X0), gg.tensor(W0)) is None


def test_multi_output_qr_passes():
    a = RNG.standard_normal((5, 3))

    def fn(a):
        q, r = gg.linalg.qr(a * 2.0)
        return (gg.tanh(q) * q).sum() + (r * r).sum() + q[:, 0].sum()

    assert find_bad_backward(fn, gg.tensor(a)) is None


def test_constants_inside_fn_are_seen():
    # scalars and non-grad tensors that the nodes do not save (add, where, concatenate)
    c = gg.tensor(RNG.standard_normal((4, 6)))

    def fn(x):
        y = gg.where(x > 0, gg.log(x + 3.0), c) + c
        z = gg.concatenate([y, c], 0)
        return gg.sqrt(z * z + 1.0).sum()

    assert find_bad_backward(fn, gg.tensor(X0)) is None


def test_integer_inputs_are_skipped():
    idx = gg.tensor(np.array([0, 2, 3]))

    def fn(x, idx):
        return gg.tanh(x[idx]).sum()

    assert find_bad_backward(fn, gg.tensor(X0), idx) is None


def test_float32_inputs_are_checked_in_float64():
    x = gg.tensor(X0.astype(np.float32))
    assert find_bad_backward(lambda x: gg.tanh(x).sum(), x) is None


def test_a_graph_of_300_nodes_in_seconds():
    def fn(x, w):
        h = x
        for _ in range(60):  # 5 ops per round
            h = gg.tanh(h @ w) * 0.9 + gg.sin(h) * 0.1
        return h.sum()

    x, w = gg.tensor(X0), gg.tensor(W0)
    assert len(walk([fn(x.requires_grad_(), w.requires_grad_())])) >= 300
    start = time.perf_counter()
    assert find_bad_backward(fn, gg.tensor(X0), gg.tensor(W0)) is None
    assert time.perf_counter() - start < 5.0


# --- gradcheck's failure message lists the worst elements --------------------------------

def _bumped(bumps):
    class Bumped(gg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return (x * x).sum()

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            extra = np.zeros(x.shape)
            for index, b in bumps.items():
                extra[index] = b
            return 2 * x * g + gg.tensor(extra)

    return Bumped.apply


def test_gradcheck_message_lists_the_worst_elements_with_indices():
    x = gg.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    bumps = {(0, 1): 1.0, (2, 3): 5.0, (1, 0): 3.0, (2, 2): 0.5, (0, 0): 2.0, (1, 1): 4.0,
             (1, 3): 0.25}
    with pytest.raises(GradcheckError) as info:
        gradcheck(_bumped(bumps), (x,))
    msg = str(info.value)
    lines = [ln for ln in msg.splitlines() if ln.startswith("  d output")]
    assert len(lines) == 5, msg
    assert "worst 5 of the 7 mismatching" in msg, msg
    # worst first, by size of the error: (2, 3), (1, 1), (1, 0), (0, 0), (0, 1)
    order = [(2, 3), (1, 1), (1, 0), (0, 0), (0, 1)]
    for line, index in zip(lines, order):
        assert f"element {index}" in line, msg
        assert "analytical" in line and "numerical" in line and "relative error" in line
    # values: analytical = 2x + bump, numerical = 2x
    xv = x.detach().numpy()
    first = lines[0]
    nums = [float(v) for v in re.findall(r"(?:analytical|numerical) (\S+),", first)]
    assert nums[0] == pytest.approx(2 * xv[2, 3] + 5.0, rel=1e-6)
    assert nums[1] == pytest.approx(2 * xv[2, 3], rel=1e-6, abs=1e-8)
    assert "find_bad_backward" in msg


def test_gradcheck_message_with_one_bad_element_lists_one():
    x = gg.tensor(RNG.standard_normal((2, 2)), requires_grad=True)
    with pytest.raises(GradcheckError) as info:
        gradcheck(_bumped({(1, 0): 1.0}), (x,))
    msg = str(info.value)
    assert "worst 1 of the 1 mismatching" in msg, msg
    assert [ln for ln in msg.splitlines() if ln.startswith("  d output")][0].count("(1, 0)") == 1


def test_kinks_are_not_blamed():
    # exact zeros at relu's kink (from padding) and ties in max: any value between the
    # one-sided slopes is a valid subgradient
    def fn(x):
        h = gg.relu(gg.pad(x, 1))
        h = gg.maximum(h, h[::-1] * 0.0 + 0.0) + gg.abs(gg.pad(x, 1))
        return (h * h[:, ::-1]).sum() + gg.max(gg.concatenate([x, x], 0), 0).sum()

    assert find_bad_backward(fn, gg.tensor(X0)) is None


def test_a_large_input_is_judged_directionally(monkeypatch):
    monkeypatch.setattr(elementwise.tanh, "vjp", (_wrong_tanh_rule,))
    x = gg.tensor(RNG.standard_normal((80, 80)))
    report = find_bad_backward(lambda x: gg.tanh(x * 0.5).sum(), x)
    assert report.op == "tanh" and report.worst_index is None
    assert "too many to search" in report.message


def test_docstring_example_runs(monkeypatch):
    import doctest

    from glassgrad.autograd import localize

    # the example uses the public spelling gg.autograd.find_bad_backward
    monkeypatch.setattr(gg.autograd, "find_bad_backward", find_bad_backward, raising=False)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for test in doctest.DocTestFinder().find(localize, globs={"gg": gg, "np": np}):
        runner.run(test)
    assert runner.tries > 0 and runner.failures == 0


def test_nothing_recorded_is_an_error_not_a_pass():
    with pytest.raises(ValueError, match="recorded no operation"):
        find_bad_backward(lambda n: gg.ones(3) * n, 2)
