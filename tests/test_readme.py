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
