"""Every example in examples/ runs (fast settings), so none rots; the XOR programs agree.

Examples run from any working directory and write files only into the folder given by
``--out`` (by default a new folder in the working directory, never over tracked files).

The digits examples' full settings (the >= 97% test-accuracy goal) are slow-marked.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ALL = sorted(p.stem for p in EXAMPLES.glob("*.py"))
# the examples that write files, and the folder (in the working directory) they write
# into when no --out is given
DEFAULT_OUT = {"graph_pictures": "graph-pictures", "forward_vs_reverse": "forward-vs-reverse"}


def load(name: str):
    """Import examples/<name>.py as a module (examples/ is not a package)."""
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))  # xor_glassgrad imports its sibling xor_numpy
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_expected_examples_exist():
    assert {"xor_numpy", "xor_glassgrad", "mlp_digits", "cnn_digits"} <= set(ALL)


@pytest.mark.parametrize("name", ALL)
def test_every_example_runs_fast(name, capsys, tmp_path, monkeypatch):
    """Each example runs with --fast from an unrelated directory; it writes nothing there
    except, for the ones that draw, its default output folder (a new folder)."""
    monkeypatch.chdir(tmp_path)
    module = load(name)
    module.main(["--fast"])
    assert capsys.readouterr().out.strip()  # it reported something
    written = sorted(p.name for p in tmp_path.iterdir())
    if name in DEFAULT_OUT:
        assert written == [DEFAULT_OUT[name]]
        assert any(p.is_file() for p in (tmp_path / DEFAULT_OUT[name]).rglob("*"))
    else:
        assert written == []


@pytest.mark.parametrize("name", ALL)
def test_every_example_has_help(name, capsys):
    with pytest.raises(SystemExit) as stop:
        load(name).main(["--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage:") and "--fast" in text
    assert ("--out" in text) == (name in DEFAULT_OUT)


@pytest.mark.parametrize("name", sorted(DEFAULT_OUT) + ["xor_glassgrad"])
def test_example_script_runs_from_another_directory(name, tmp_path):
    """As a user runs it: ``python /path/to/examples/X.py --fast [--out DIR]`` from a
    directory that is neither the repository nor the output folder. Pictures go only into
    --out; nothing lands in the working directory. (xor_glassgrad imports its sibling.)"""
    cwd, chosen = tmp_path / "cwd", tmp_path / "chosen"
    cwd.mkdir()
    argv = [sys.executable, str(EXAMPLES / f"{name}.py"), "--fast"]
    if name in DEFAULT_OUT:
        argv += ["--out", str(chosen)]
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert list(cwd.iterdir()) == []
    if name in DEFAULT_OUT:
        pictures = list(chosen.rglob("*.png"))  # --fast draws one picture
        assert len(pictures) == 1 and pictures[0].stat().st_size > 0


@pytest.mark.parametrize("name", ["xor_numpy", "xor_glassgrad"])
def test_xor_full_run_learns_xor(name, capsys):
    load(name).main([])  # asserts internally: XOR learned (and, for glassgrad, same weights)
    assert "(0,0) (0,1) (1,0) (1,1)" in capsys.readouterr().out


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_engine_and_hand_derived_xor_gradients_agree(seed):
    assert load("xor_glassgrad").gradients_agree(seed, tol=1e-12) <= 1e-12


def test_the_agreement_check_catches_a_wrong_derivative(monkeypatch):
    xg = load("xor_glassgrad")
    right = xg.TwoLayerNet.backward

    def forgets_sigmoid_prime(self, X, y):
        grads = right(self, X, y)
        # the classic slip: dz1 = da1 instead of da1 * a1 (1 - a1)
        dz1 = ((self.a2 - y) / self.a2.size) @ self.W2.T
        grads["W1"] = X.T @ dz1
        return grads

    monkeypatch.setattr(xg.TwoLayerNet, "backward", forgets_sigmoid_prime)
    with pytest.raises(AssertionError, match="gradients differ"):
        xg.gradients_agree(0)


def test_hand_derived_xor_gradients_match_torch_and_central_differences():
    xn = load("xor_numpy")
    net = xn.TwoLayerNet(2, 4, 1, seed=3)
    assert xn.check_gradients(net, xn.X_XOR, xn.Y_XOR) < 1e-8

    params = {k: torch.tensor(v, requires_grad=True) for k, v in net.params().items()}
    X, y = torch.tensor(xn.X_XOR), torch.tensor(xn.Y_XOR)
    a1 = torch.sigmoid(X @ params["W1"] + params["b1"])
    a2 = torch.sigmoid(a1 @ params["W2"] + params["b2"])
    torch.nn.functional.binary_cross_entropy(a2, y).backward()
    net.forward(xn.X_XOR)
    for name, g in net.backward(xn.X_XOR, xn.Y_XOR).items():
        np.testing.assert_allclose(g, params[name].grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mlp_digits", "cnn_digits"])
def test_digits_example_reaches_97_percent(name, capsys):
    acc = load(name).main([])
    assert acc >= 0.97
    assert "test accuracy" in capsys.readouterr().out
