"""The README's code blocks run as written (documentation that cannot rot)."""

import pathlib
import re

import numpy as np

import glassgrad as gg

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def _blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_ten_line_example_learns_xor():
    code = _blocks()[0]
    env: dict = {}
    np.random.seed(0)
    exec(compile(code, "README-example", "exec"), env)
    assert env["loss"].item() < 0.05


def test_custom_function_example_passes_gradcheck():
    code = next(b for b in _blocks() if "class Cube" in b)
    env: dict = {}
    exec(compile(code, "README-cube", "exec"), {"gg": gg, "np": np}, env)


def test_update_after_backward_example():
    code = next(b for b in _blocks() if "w.data -= lr" in b)
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    before = w
    exec(compile(code, "README-update", "exec"), {"gg": gg, "w": w, "lr": 0.1, "loss": loss})
    assert before is w
    np.testing.assert_allclose(w.numpy(), [1.0 - 0.4, 2.0 - 0.8], rtol=1e-6)


def test_func_and_tape_examples_run_and_agree():
    code = next(b for b in _blocks() if "gg.func.grad(f)(x)" in b)
    env: dict = {"gg": gg, "np": np}
    exec(compile(code, "README-func", "exec"), env)
    code = next(b for b in _blocks() if "GradientTape()" in b)
    env = {"gg": gg, "np": np}
    exec(compile(code, "README-tape", "exec"), env)
    np.testing.assert_allclose(env["dw"].numpy(), env["w"].grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(env["db"].numpy(), env["b"].grad.numpy(), rtol=1e-6)


def test_training_loop_example_runs_and_saves(tmp_path, monkeypatch):
    code = next(b for b in _blocks() if "DataLoader(TensorDataset" in b)
    monkeypatch.chdir(tmp_path)
    gg.manual_seed(0)
    env: dict = {"gg": gg, "np": np}
    exec(compile(code, "README-train", "exec"), env)
    assert (tmp_path / "digits-mlp.npz").exists()
    model = env["model"]
    model.eval()
    with gg.no_grad():
        acc = (model(gg.tensor(env["X_test"])).numpy().argmax(1) == env["y_test"]).mean()
    assert acc > 0.9


def test_how_it_works_card_declares_a_working_op():
    """The card shown in "How it works" is a complete op: run it under another name and
    compare with gg.tanh in both modes and through np.* dispatch."""
    from glassgrad import numpy_dispatch, primitive

    code = next(b for b in _blocks() if "class tanh" in b)
    code = code.replace("class tanh", "class readme_tanh").replace("np.tanh, method=True",
                                                                  "None, method=False")
    env = {"np": np, "primitive": primitive.primitive, "SAME": primitive.SAME}
    try:
        exec(compile(code, "README-card", "exec"), env)
        card = env["readme_tanh"]
        x = gg.tensor([0.3, -1.0], requires_grad=True)
        card(x).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), 1 - np.tanh(x.numpy()) ** 2, rtol=1e-6)
        _, t = gg.func.jvp(card, (gg.tensor([0.3]),), (gg.tensor([2.0]),))
        np.testing.assert_allclose(t.numpy(), 2 * (1 - np.tanh(0.3) ** 2), rtol=1e-6)
        assert "VJP:" in card.__doc__ and "JVP:" in card.__doc__
    finally:
        primitive.PRIMITIVES.pop("readme_tanh", None)
        primitive.OPS.pop("readme_tanh", None)
        numpy_dispatch.build()


def test_how_it_works_repr_points_at_the_rule():
    text = README.read_text()
    shown = re.search(r"<primitive sum \((glassgrad/ops/reduction\.py):(\d+)\)>", text)
    assert shown, "README shows where sum's rules are"
    assert repr(gg.sum) == shown.group(0), f"README shows {shown.group(0)}, now {gg.sum!r}"


def test_pytorch_style_training_loop_runs_and_learns():
    code = next(b for b in _blocks() if "images.view" in b)
    env: dict = {}
    exec(compile(code, "README-pytorch-loop", "exec"), env)
    assert env["accuracy"] > 0.6 and env["loss"].item() < 1.0


def test_graph_pictures_example_draws_and_prints(tmp_path, monkeypatch, capsys):
    import shutil

    import pytest

    if shutil.which("dot") is None:
        pytest.importorskip("matplotlib", reason="needs Graphviz's dot or matplotlib")
    code = next(b for b in _blocks() if "gg.viz.record()" in b)
    monkeypatch.chdir(tmp_path)
    env: dict = {}
    exec(compile(code, "README-viz", "exec"), env)
    assert "</svg>" in (tmp_path / "z.svg").read_text()
    assert "mul (*)" in capsys.readouterr().out and env["x"].grad.item() == 3.0


def test_compile_example_prints_the_seed_backward(capsys):
    code = next(b for b in _blocks() if "gg.compile(loss_fn" in b)
    env: dict = {}
    exec(compile(code, "README-compile", "exec"), env)
    out = capsys.readouterr().out
    assert "d_add2 = 0.25 * (sigmoid2 - y)" in out  # the seed's dz2 = (a2 - y) / n
    assert "d_add = d_sigmoid * sigmoid * (1 - sigmoid)" in out
    model, loss_fn, x, y = env["model"], env["loss_fn"], env["x"], env["y"]
    compiled = [p.grad.numpy().copy() for p in model.parameters()]
    for p in model.parameters():
        p.grad = None
    loss_fn(x, y).backward()
    for got, p in zip(compiled, model.parameters()):
        np.testing.assert_allclose(got, p.grad.numpy(), rtol=1e-6)
    assert env["loss"].item() == loss_fn(x, y).item()
