"""``gg.compile`` on neural-network training steps: the compiled step equals the eager engine.

Each test builds a float64 model, a deep copy of it for the eager reference, and a loss
function that reaches the model through its closure (so its parameters and buffers are
captured by the trace, not passed in). One compiled call must return the eager loss and
leave in every parameter's ``.grad`` what ``loss_fn(*args).backward()`` leaves on the
copy (rtol = atol = 1e-12); in training mode the BatchNorm running statistics must move
as eager moves them, and dropout must draw its mask at run time from the same seeded
stream. Beyond single steps: whole training runs with SGD and Adam, retracing on a new
batch size, the train/eval cache key, the standalone module written by ``save`` (run in
a fresh interpreter without glassgrad) and the order and names of ``step.inputs``.

The eager engine is itself checked against PyTorch in test_nn_*.py and test_ops.py.
"""

from __future__ import annotations

import copy
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import glassgrad as gg

nn = gg.nn
F = gg.nn.functional

ROOT = Path(__file__).resolve().parents[1]
RTOL = ATOL = 1e-12
TRAIN_TOL = 1e-10


# --- helpers -----------------------------------------------------------------------------


def _close(actual, expected, what: str, tol: float = RTOL) -> None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol, err_msg=what)


def _clear_grads(model: nn.Module) -> None:
    for p in model.parameters():
        p.grad = None


def _grads(model: nn.Module) -> dict[str, np.ndarray]:
    """Every parameter's gradient by name (a copy); a parameter with none is an error."""
    out = {}
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} received no gradient"
        out[name] = np.array(p.grad.numpy(), copy=True)
    return out


def _buffers(model: nn.Module) -> dict[str, np.ndarray]:
    return {n: np.array(b.numpy(), copy=True) for n, b in model.named_buffers()}


def _params(model: nn.Module) -> dict[str, np.ndarray]:
    return {n: np.array(p.numpy(), copy=True) for n, p in model.named_parameters()}


def _assert_same(got: dict, want: dict, what: str, tol: float = RTOL) -> None:
    assert got.keys() == want.keys(), what
    for name in want:
        _close(got[name], want[name], f"{what} {name}", tol)


def _ce_loss(model: nn.Module):
    """Mean cross-entropy of ``model``'s logits; ``model`` is reached by closure."""
    def loss_fn(x, y):
        return F.cross_entropy(model(x), y)
    return loss_fn


def _bce_loss(model: nn.Module):
    """Mean binary cross-entropy of ``model``'s probabilities (closure over ``model``)."""
    def loss_fn(x, y):
        return F.binary_cross_entropy(model(x), y)
    return loss_fn


def _compiled_vs_eager(model, make_loss, args, seed=None, **compile_kw):
    """Compile ``make_loss(model)`` on ``args``, call it once, and do the eager step on a
    deep copy (both after ``gg.manual_seed(seed)`` when given). Asserts equal loss and
    gradients; returns (step, model, reference copy)."""
    ref = copy.deepcopy(model)
    step = gg.compile(make_loss(model), *args, **compile_kw)
    _step_once_both(step, model, ref, make_loss(ref), args, seed)
    return step, model, ref


def _step_once_both(step, model, ref, ref_loss, args, seed=None) -> None:
    """One compiled call on ``model`` and one eager step on ``ref`` from cleared
    gradients, under the same seed: loss, gradients and buffers must agree."""
    _clear_grads(model)
    _clear_grads(ref)
    if seed is not None:
        gg.manual_seed(seed)
    got = step(*args)
    if seed is not None:
        gg.manual_seed(seed)
    want = ref_loss(*args)
    want.backward()
    _close(got.item(), want.item(), "loss")
    _assert_same(_grads(model), _grads(ref), "grad of")
    _assert_same(_buffers(model), _buffers(ref), "buffer")


def _xor_model() -> nn.Module:
    gg.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 4), nn.Sigmoid(), nn.Linear(4, 1), nn.Sigmoid()).double()


def _xor_data():
    X, y = gg.data.xor()
    return gg.tensor(X.astype(np.float64)), gg.tensor(y.astype(np.float64))


def _relu_mlp() -> nn.Module:
    gg.manual_seed(1)
    return nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(),
                         nn.Linear(8, 3)).double()


def _class_data(n: int, features: int, classes: int, seed: int):
    rng = np.random.default_rng(seed)
    x = gg.tensor(rng.standard_normal((n, features)))
    y = gg.tensor(rng.integers(0, classes, n).astype(np.int64))
    return x, y


def _small_cnn() -> nn.Module:
    """The digits CNN's layer kinds at a smaller size: 1x6x6 images, 3 classes."""
    gg.manual_seed(2)
    return nn.Sequential(
        nn.Conv2d(1, 3, kernel_size=3, padding=1), nn.BatchNorm2d(3), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.4), nn.Linear(3 * 3 * 3, 3),
    ).double()


def _image_data(n: int = 6, seed: int = 3):
    rng = np.random.default_rng(seed)
    x = gg.tensor(rng.standard_normal((n, 1, 6, 6)))
    y = gg.tensor(rng.integers(0, 3, n).astype(np.int64))
    return x, y


def _backward_code(source: str) -> str:
    """The statements after the program's backward marker, comments dropped (the
    comments quote each rule's formula, which would match the searches below)."""
    marker = "# ---- backward"
    assert marker in source, "the program has no backward section"
    lines = source.split(marker, 1)[1].splitlines()[1:]
    return "\n".join(ln.split("#", 1)[0] for ln in lines)


# --- 1. the seed lesson's XOR network: sigmoid + BCE fused to p - y ------------------------


def test_xor_mlp_matches_eager_with_the_fused_backward():
    """Value and grads equal eager, and the output layer's backward is the hand-derived
    ``p - y``: no ``(1 - p)`` sigmoid-derivative factor and no division by ``p (1 - p)``
    for the output probability ``p``."""
    x, y = _xor_data()
    step, _, _ = _compiled_vs_eager(_xor_model(), _bce_loss, (x, y))
    backward = _backward_code(step.source)
    found = re.search(r"\((\w+) - y\)", backward)
    assert found, "no (p - y) term in the backward"
    p = found.group(1)
    assert f"(1 - {p})" not in backward
    assert "np.maximum" not in backward  # the clamped p (1 - p) denominator is gone
    assert backward.count("* (1 - ") == 1  # only the hidden layer's sigmoid derivative


def test_xor_mlp_unfused_matches_eager_and_keeps_each_rule():
    """fuse=False chains the BCE and sigmoid rules as eager does; still equal, and the
    output sigmoid's derivative is present (so the fused test above can tell them apart)."""
    x, y = _xor_data()
    step, _, _ = _compiled_vs_eager(_xor_model(), _bce_loss, (x, y), fuse=False)
    backward = _backward_code(step.source)
    p = re.search(r"\((\w+) - y\)", backward).group(1)
    assert f"(1 - {p})" in backward
    assert "np.maximum" in backward  # BCE's rule divides by the clamped p (1 - p)
    assert backward.count("* (1 - ") >= 2  # the hidden and the output sigmoid's derivative


# --- 2. ReLU MLP with cross-entropy on integer labels --------------------------------------


@pytest.mark.parametrize("kwargs", [{}, {"reduction": "sum"}, {"label_smoothing": 0.1}],
                         ids=["mean", "sum", "label-smoothing"])
def test_relu_mlp_cross_entropy_matches_eager(kwargs):
    """Linear/ReLU MLP, F.cross_entropy on int64 labels (three of its modes)."""
    x, y = _class_data(10, 5, 3, seed=4)

    def make_loss(model):
        def loss_fn(x, y):
            return F.cross_entropy(model(x), y, **kwargs)
        return loss_fn

    _compiled_vs_eager(_relu_mlp(), make_loss, (x, y))


# --- 3. a small CNN: BatchNorm and Dropout in eval and train mode --------------------------


def test_cnn_eval_matches_eager_and_leaves_buffers_alone():
    """Eval mode: running statistics are read, not written; dropout is the identity, so
    the program draws no random numbers."""
    model = _small_cnn().eval()
    before = _buffers(model)
    step, model, _ = _compiled_vs_eager(model, _ce_loss, _image_data())
    _assert_same(_buffers(model), before, "eval-mode buffer")
    assert "rng" not in step.source


def test_cnn_train_matches_eager_including_running_stats():
    """Train mode, three calls, each seeded like its eager twin: the dropout mask drawn
    at run time, the loss, the grads and BatchNorm's running_mean, running_var and
    num_batches_tracked (which must actually move) all equal eager."""
    model = _small_cnn().train()
    ref = copy.deepcopy(model)
    x, y = _image_data()
    start = _buffers(model)
    step = gg.compile(_ce_loss(model), x, y)
    for call, seed in enumerate((11, 12, 13), start=1):
        _step_once_both(step, model, ref, _ce_loss(ref), (x, y), seed)
        assert int(model[1].num_batches_tracked.item()) == call
    moved = _buffers(model)
    assert not np.allclose(moved["1.running_mean"], start["1.running_mean"])
    assert not np.allclose(moved["1.running_var"], start["1.running_var"])
    assert step.traces == 1


def test_cnn_dropout_mask_is_drawn_on_every_call():
    """Two successive compiled calls draw different masks (the loss differs), and the
    pair equals two successive eager calls from the same seed."""
    model = _small_cnn().train()
    ref = copy.deepcopy(model)
    x, y = _image_data()
    step = gg.compile(_ce_loss(model), x, y)
    gg.manual_seed(21)
    compiled = [step(x, y).item() for _ in range(2)]
    gg.manual_seed(21)
    eager = [_ce_loss(ref)(x, y).item() for _ in range(2)]
    assert compiled[0] != compiled[1]
    _close(compiled, eager, "two successive losses")


def test_cnn_switching_train_and_eval_uses_the_right_trace():
    """train/eval flips between calls: each call behaves as eager in that mode, one
    trace per mode, reused when the mode comes back."""
    model = _small_cnn()
    ref = copy.deepcopy(model)
    x, y = _image_data()
    step = gg.compile(_ce_loss(model))
    for i, training in enumerate((True, False, True, False, True)):
        model.train(training)
        ref.train(training)
        before = _buffers(model)
        _step_once_both(step, model, ref, _ce_loss(ref), (x, y), seed=30 + i)
        changed = not np.array_equal(_buffers(model)["1.running_mean"],
                                     before["1.running_mean"])
        assert changed == training  # only train mode updates the running statistics
    assert step.traces == 2


# --- 4. the digits CNN of examples/cnn_digits.py on real digits ----------------------------


def _cnn_digits_example():
    path = ROOT / "examples" / "cnn_digits.py"
    spec = importlib.util.spec_from_file_location("example_cnn_digits_compile", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_digits_cnn_matches_eager(training):
    """build_model() of the example, float64, on 12 standardised digits from
    prepare_data(): compiled equals eager, in eval and in train mode (seeded dropout)."""
    example = _cnn_digits_example()
    X_train, _, y_train, _ = example.prepare_data()
    x = gg.tensor(X_train[:12].astype(np.float64))
    y = gg.tensor(y_train[:12].astype(np.int64))
    gg.manual_seed(5)
    model = example.build_model().double().train(training)
    _compiled_vs_eager(model, _ce_loss, (x, y), seed=41)


# --- 5. whole training runs -------------------------------------------------------------------


def _train(model, loss_fn, x, y, make_opt, compiled: bool, steps: int = 50) -> list[float]:
    """The usual loop (zero_grad, loss and grads, opt.step); with ``compiled`` the middle
    is one call of the compiled step. Returns the losses."""
    opt = make_opt(model.parameters())
    step = gg.compile(loss_fn, x, y) if compiled else None
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        if compiled:
            loss = step(x, y)
        else:
            loss = loss_fn(x, y)
            loss.backward()
        opt.step()
        losses.append(loss.item())
    if compiled:
        assert step.traces == 1  # parameters updated in place do not retrace
    return losses


@pytest.mark.parametrize("make_opt", [
    pytest.param(lambda ps: gg.optim.SGD(ps, lr=0.7), id="sgd"),
    pytest.param(lambda ps: gg.optim.SGD(ps, lr=0.3, momentum=0.9), id="sgd-momentum"),
    pytest.param(lambda ps: gg.optim.Adam(ps, lr=0.05), id="adam"),
])
def test_training_with_the_compiled_step_follows_eager(make_opt):
    """50 full-batch XOR steps each way from identical weights: the same losses and the
    same final parameters (within 1e-10), and the parameters did move."""
    x, y = _xor_data()
    eager_model = _xor_model()
    compiled_model = copy.deepcopy(eager_model)
    start = _params(eager_model)
    eager = _train(eager_model, _bce_loss(eager_model), x, y, make_opt, compiled=False)
    compiled = _train(compiled_model, _bce_loss(compiled_model), x, y, make_opt, compiled=True)
    _close(compiled, eager, "losses", TRAIN_TOL)
    _assert_same(_params(compiled_model), _params(eager_model), "final", TRAIN_TOL)
    assert max(np.max(np.abs(v - start[k])) for k, v in _params(eager_model).items()) > 1e-3


def test_training_a_cnn_with_dropout_follows_eager():
    """20 Adam steps of the small CNN in train mode, both sides seeded once at the
    start: dropout masks, BatchNorm statistics and weights stay in lockstep."""
    x, y = _image_data(8, seed=6)
    eager_model = _small_cnn().train()
    compiled_model = copy.deepcopy(eager_model)

    def make_opt(ps):
        return gg.optim.Adam(ps, lr=0.01)

    gg.manual_seed(50)
    eager = _train(eager_model, _ce_loss(eager_model), x, y, make_opt, False, steps=20)
    gg.manual_seed(50)
    compiled = _train(compiled_model, _ce_loss(compiled_model), x, y, make_opt, True, steps=20)
    _close(compiled, eager, "losses", TRAIN_TOL)
    _assert_same(_params(compiled_model), _params(eager_model), "final", TRAIN_TOL)
    _assert_same(_buffers(compiled_model), _buffers(eager_model), "final buffer", TRAIN_TOL)


# --- 6. a new batch size traces again -------------------------------------------------------


def test_a_new_batch_size_retraces_and_the_old_one_is_cached():
    """Batch 4, then 3, then 4 again: two traces, every call equal to eager."""
    x, y = _xor_data()
    model = _xor_model()
    ref = copy.deepcopy(model)
    step = gg.compile(_bce_loss(model), x, y)
    assert step.traces == 1
    for batch, traces in ((x, y), 1), ((x[:3], y[:3]), 2), ((x, y), 2), ((x[1:], y[1:]), 2):
        _step_once_both(step, model, ref, _bce_loss(ref), batch)
        assert step.traces == traces


# --- 7. the saved module runs without glassgrad ---------------------------------------------

_RUN_SAVED = """
import importlib.util, sys
sys.modules["glassgrad"] = None  # any import of glassgrad now fails
import numpy as np
module_path, data_path, out_path, *names = sys.argv[1:]
spec = importlib.util.spec_from_file_location("saved_step", module_path)
saved = importlib.util.module_from_spec(spec)
spec.loader.exec_module(saved)
data = np.load(data_path)
value, grads = saved.value_and_grad(*[data[n] for n in names])
np.savez(out_path, value=np.asarray(value), **{f"g{i}": g for i, g in enumerate(grads)})
"""


def _saved_case(name: str):
    if name == "xor":
        return _xor_model(), _bce_loss, _xor_data()
    return _small_cnn().eval(), _ce_loss, _image_data()


@pytest.mark.parametrize("case", ["xor", "cnn-eval"])
def test_saved_module_runs_in_a_fresh_interpreter(case, tmp_path):
    """save() writes a module importing only NumPy; run in ``python -I`` with glassgrad
    blocked, fed the inputs (in input_names order) through an .npz, it returns the eager
    loss and the gradients of the parameters, in the parameters' order."""
    model, make_loss, args = _saved_case(case)
    ref = copy.deepcopy(model)
    step = gg.compile(make_loss(model), *args)
    path = step.save(tmp_path / "step.py")
    text = path.read_text()
    imports = [ln for ln in text.splitlines() if ln.lstrip().startswith(("import ", "from "))]
    assert imports and not any("glassgrad" in ln for ln in imports)

    names = step.input_names
    np.savez(tmp_path / "inputs.npz", **{n: t.numpy() for n, t in zip(names, step.inputs)})
    out = tmp_path / "out.npz"
    proc = subprocess.run([sys.executable, "-I", "-c", _RUN_SAVED, str(path),
                           str(tmp_path / "inputs.npz"), str(out), *names],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr

    want = make_loss(ref)(*args)
    want.backward()
    result = np.load(out)
    _close(result["value"], want.item(), "saved loss")
    want_grads = list(_grads(ref).items())
    assert len(result.files) == 1 + len(want_grads)
    for i, (pname, g) in enumerate(want_grads):
        _close(result[f"g{i}"], g, f"saved grad of {pname}")


# --- 8. inputs: arguments, then captured tensors in module order -----------------------------


def _identifier(dotted: str) -> str:
    """A state-dict name as a Python identifier: dots to underscores, ``p`` before a
    leading digit (``0.weight`` -> ``p0_weight``)."""
    name = dotted.replace(".", "_")
    return "p" + name if name[0].isdigit() else name


def test_inputs_are_arguments_then_parameters_in_module_order():
    x, y = _class_data(4, 5, 3, seed=7)
    model = _relu_mlp()
    step = gg.compile(_ce_loss(model), x, y)
    assert step.inputs[0] is x and step.inputs[1] is y
    params = list(model.named_parameters())
    assert [id(t) for t in step.inputs[2:]] == [id(p) for _, p in params]
    assert step.input_names == ["x", "y"] + [_identifier(n) for n, _ in params]


def test_inputs_of_a_train_mode_cnn_include_its_buffers():
    """Parameters first (module order), then the buffers the step reads and writes."""
    model = _small_cnn().train()
    step = gg.compile(_ce_loss(model), *_image_data())
    named = list(model.named_parameters()) + list(model.named_buffers())
    assert [id(t) for t in step.inputs[2:]] == [id(t) for _, t in named]
    assert step.input_names[2:] == [_identifier(n) for n, _ in named]


class _Classifier(nn.Module):
    """A module whose loss is a method: compiling the bound method captures ``self``."""

    def __init__(self):
        super().__init__()
        self.body = _relu_mlp()

    def loss(self, x, y):
        return F.cross_entropy(self.body(x), y)


def test_a_bound_method_captures_self_and_names_by_attribute():
    gg.manual_seed(8)
    net = _Classifier().double()
    ref = copy.deepcopy(net)
    x, y = _class_data(6, 5, 3, seed=9)
    step = gg.compile(net.loss, x, y)
    params = list(net.named_parameters())
    assert [id(t) for t in step.inputs[2:]] == [id(p) for _, p in params]
    assert step.input_names[2:] == [_identifier(n) for n, _ in params]
    assert step.input_names[2] == "body_0_weight"
    _step_once_both(step, net, ref, ref.loss, (x, y))


# --- gg.compile(optimizer=...): the whole training step, update included -------------------

SGD_SETTINGS = [dict(lr=0.7), dict(lr=0.5, momentum=0.9),
                dict(lr=0.3, momentum=0.9, dampening=0.1, weight_decay=1e-3),
                dict(lr=0.3, momentum=0.9, nesterov=True, weight_decay=1e-3, maximize=False)]


def _sgd_pair(settings):
    model, ref = _xor_model(), _xor_model()
    return model, ref, gg.optim.SGD(model.parameters(), **settings), \
        gg.optim.SGD(ref.parameters(), **settings)


@pytest.mark.parametrize("settings", SGD_SETTINGS, ids=lambda s: ",".join(s))
def test_compiled_training_step_with_the_optimizer_equals_eager(settings):
    """``step = gg.compile(loss_fn, x, y, optimizer=opt)``; ``step(x, y)`` is
    ``opt.zero_grad(); loss_fn(x, y).backward(); opt.step()``: 40 steps give the same
    parameters, gradients, momentum buffers and step count as eager."""
    x, y = _xor_data()
    model, ref, opt, ref_opt = _sgd_pair(settings)
    step = gg.compile(lambda x, y: F.binary_cross_entropy(model(x), y), x, y, optimizer=opt,
                      fuse=False)
    for i in range(40):
        loss = step(x, y)
        ref_opt.zero_grad()
        want = F.binary_cross_entropy(ref(x), y)
        want.backward()
        ref_opt.step()
        _close(loss.item(), want.item(), f"loss at step {i}")
    _assert_same(dict(model.named_parameters()), dict(ref.named_parameters()), "param")
    _assert_same(_grads(model), _grads(ref), "grad of")
    for p, q in zip(model.parameters(), ref.parameters()):
        for key, value in ref_opt.state.get(q, {}).items():
            _close(opt.state[p][key].numpy(), value.numpy(), f"state {key}")
    assert opt._step_count == ref_opt._step_count == 40
    assert step.traces == 1
    source = step.source
    assert "# ---- optimizer step" in source and " -= " in source
    if settings.get("momentum"):
        assert "momentum_buffer" in source


def test_first_step_runs_eagerly_until_the_optimizer_has_its_state():
    """A momentum buffer starts as the first gradient (another formula than later
    steps): the first call is eager, the trace comes with the second."""
    x, y = _xor_data()
    model, _, opt, _ = _sgd_pair(dict(lr=0.5, momentum=0.9))
    step = gg.compile(lambda x, y: F.binary_cross_entropy(model(x), y), x, y, optimizer=opt)
    assert step.traces == 0
    step(x, y)
    assert step.traces == 0 and all("momentum_buffer" in opt.state[p]
                                    for p in model.parameters())
    step(x, y)
    assert step.traces == 1


def test_a_new_learning_rate_or_a_reloaded_state_traces_again():
    x, y = _xor_data()
    model, ref, opt, ref_opt = _sgd_pair(dict(lr=0.5, momentum=0.9))
    step = gg.compile(lambda x, y: F.binary_cross_entropy(model(x), y), x, y, optimizer=opt,
                      fuse=False)
    sched = gg.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    ref_sched = gg.optim.lr_scheduler.StepLR(ref_opt, step_size=3, gamma=0.5)

    def eager():
        ref_opt.zero_grad()
        F.binary_cross_entropy(ref(x), y).backward()
        ref_opt.step()

    for _ in range(7):
        step(x, y)
        eager()
        sched.step()
        ref_sched.step()
    assert step.traces == 3  # lr 0.5, 0.25, 0.125 (the first call was eager)
    saved = copy.deepcopy(ref_opt.state_dict())
    opt.load_state_dict(saved)  # new state tensors: the program must not write stale ones
    ref_opt.load_state_dict(copy.deepcopy(saved))
    for _ in range(3):
        step(x, y)
        eager()
    _assert_same(dict(model.named_parameters()), dict(ref.named_parameters()), "param")
    for p, q in zip(model.parameters(), ref.parameters()):
        _close(opt.state[p]["momentum_buffer"].numpy(),
               ref_opt.state[q]["momentum_buffer"].numpy(), "momentum buffer")


def test_optimizers_it_cannot_trace_are_refused_with_the_reason():
    x, y = _xor_data()
    model = _xor_model()
    with pytest.raises(TypeError, match="only gg.optim.SGD"):
        gg.compile(lambda x, y: F.binary_cross_entropy(model(x), y), x, y,
                   optimizer=gg.optim.Adam(model.parameters()))
    opt = gg.optim.SGD(model.parameters(), lr=0.1)
    monitor = gg.diagnostics.Monitor(model, opt)
    with pytest.raises(TypeError, match="wrapped"):
        gg.compile(lambda x, y: F.binary_cross_entropy(model(x), y), x, y, optimizer=opt)
    monitor.remove()


def test_the_whole_step_refuses_to_write_a_parameter_a_live_graph_saved():
    x, y = _xor_data()
    model, _, opt, _ = _sgd_pair(dict(lr=0.5))
    step = gg.compile(lambda x, y: F.binary_cross_entropy(model(x), y), x, y, optimizer=opt)
    pending = (model[0].weight * 2).sum()  # a graph that saved the weight
    with pytest.raises(RuntimeError, match="live graph"):
        step(x, y)
    pending.backward()
    step(x, y)  # the graph is gone: fine


def test_a_failed_guard_leaves_the_running_statistics_as_they_were():
    """Batch norm writes its running statistics into the caller's arrays; a guard after
    it that fails sends the call to another program. The writes come after the last
    guard, so the statistics are updated once per call, as in eager mode."""
    def make():
        gg.manual_seed(3)
        return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).double()

    model, ref = make(), make()

    def loss_fn(x):
        h = model(x)
        return (h * h).sum() if bool(h[:, 0].sum() > 0) else (h ** 3).sum()  # guarded

    def ref_fn(x):
        h = ref(x)
        return (h * h).sum() if bool(h[:, 0].sum() > 0) else (h ** 3).sum()

    rng = np.random.default_rng(0)
    step = gg.compile(loss_fn)
    for _ in range(8):
        x = gg.tensor(rng.standard_normal((5, 3)))
        step(x)
        ref_fn(x).backward()
    assert step.traces == 2  # both branches taken, each traced once; guards switched
    _assert_same(_buffers(model), _buffers(ref), "buffer")
    _assert_same(_grads(model), _grads(ref), "grad of")


def test_the_whole_step_refuses_parameters_whose_gradients_are_averaged_after_it():
    """Under DistributedDataParallel the mean gradient arrives through post-accumulate
    hooks, after the program: an update inside the program would use the local gradient
    and silently drift from the other ranks."""
    x, y = _xor_data()
    model = _xor_model()
    gg.nn.parallel.DistributedDataParallel(model)
    opt = gg.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match="post-accumulate-grad hook"):
        gg.compile(lambda x, y: F.binary_cross_entropy(model(x), y), x, y, optimizer=opt)
    step = gg.compile(lambda x, y: F.binary_cross_entropy(model(x), y), x, y)  # fine
    step(x, y)
    assert model[0].weight.grad is not None
