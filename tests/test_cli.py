"""The ``glassgrad`` command end to end: train/eval, gradcheck, graph, and its errors.

Commands run in-process through ``glassgrad.cli.main`` (what the console script and
``python -m glassgrad`` call), except one check that the console entry point itself runs.
Claims the commands print are checked against independent computations: the saved model
reloaded by hand, central differences of the expression, gradcheck's verdict on a
Function whose backward is right or wrong.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import glassgrad as gg
from glassgrad.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("data", ["xor", "moons", "circles", "spirals"])
def test_train_toy_data_sets(tmp_path, capsys, data):
    code, out, _ = run(capsys, "train", "--data", data, "--epochs", "2", "--hidden", "8",
                       "--optimizer", "sgd", "--save", str(tmp_path / "m.npz"))
    assert code == 0
    epochs = re.findall(r"epoch +(\d+) +train loss ([\d.]+) +test loss ([\d.]+) +test "
                        r"accuracy ([\d.]+)", out)
    assert [e[0] for e in epochs] == ["1", "2"]
    assert (tmp_path / "m.npz").exists()


def test_train_save_then_eval_reports_the_saved_models_accuracy(tmp_path, capsys):
    path = tmp_path / "digits.npz"
    code, out, _ = run(capsys, "train", "--data", "digits", "--model", "cnn", "--epochs",
                       "2", "--limit", "200", "--save", str(path))
    assert code == 0
    last = re.findall(r"test accuracy ([\d.]+)", out)[-1]
    code, out, _ = run(capsys, "eval", str(path))
    assert code == 0
    assert f"accuracy {last}" in out
    # rebuilt by hand from the file: the same predictions
    from glassgrad.cli._train import build_model, load_data

    saved = gg.load(path)
    cfg = saved["config"]
    model = build_model("cnn", tuple(cfg["in_shape"]), cfg["n_classes"], ())
    model.load_state_dict(saved["state_dict"])
    model.eval()
    _, _, X_te, y_te, _ = load_data(["digits"], limit=200)
    with gg.no_grad():
        acc = float(np.mean(model(gg.tensor(X_te)).numpy().argmax(axis=1) == y_te))
    assert f"{acc:.3f}" == last


def test_train_compiled_equals_eager(capsys):
    argv = ["train", "--data", "moons", "--epochs", "2", "--hidden", "8", "--seed", "3"]
    _, eager, _ = run(capsys, *argv)
    _, compiled, _ = run(capsys, *argv, "--compile")
    metrics = re.compile(r"^epoch .*", re.M)
    assert metrics.findall(eager) == metrics.findall(compiled)
    assert "compiled step" in compiled


def test_train_monitor_prints_the_report_and_plots(tmp_path, capsys):
    png = tmp_path / "norms.png"
    code, out, _ = run(capsys, "train", "--data", "spirals", "--epochs", "1", "--monitor",
                       "--monitor-plot", str(png))
    assert code == 0
    assert "grad norm" in out and "Linear" in out
    assert png.stat().st_size > 5000


def _write_idx(path, array):
    codes = {np.uint8: 0x08}
    header = bytes([0, 0, codes[array.dtype.type], array.ndim])
    dims = b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    path.write_bytes(header + dims + array.tobytes())


def test_train_on_mnist_idx_files(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 64), ("t10k", 32)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 50, (n, 28, 28)).astype(np.uint8)
        images[np.arange(n), labels * 2 + 3, 5:20] = 255  # a learnable stroke per class
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte", images)
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", labels)
    code, out, _ = run(capsys, "train", "--data", "mnist", str(tmp_path), "--model", "cnn",
                       "--epochs", "1")
    assert code == 0
    assert "64 train / 32 test" in out


@pytest.mark.parametrize("argv, message", [
    (["train", "--data", "nope"], "unknown data set 'nope'"),
    (["train", "--data", "mnist"], "needs the folder"),
    (["train", "--data", "moons", "extra"], "takes no path"),
    (["train", "--data", "xor", "--model", "cnn"], "needs images"),
    (["train", "--data", "mnist", "/no/such/folder"], "not a folder"),
    (["train", "--data", "xor", "--epochs", "0"], "must be positive"),
    (["eval", "/no/such/file.npz"], "no such file"),
    (["graph", "x +"], "cannot parse"),
    (["graph", "tanh(w*x)", "--set", "x=2"], "w has no value"),
    (["graph", "x.real", "--set", "x=2"], "not allowed"),
    (["graph", "open(x)", "--set", "x=2"], "unknown function open()"),
    (["graph", "x*2", "--set", "x=2", "y=3"], "not in the expression"),
    (["graph", "x*2", "--set", "x=two"], "not a number"),
    (["gradcheck", "nofile.py:f"], "no such file"),
    (["compile", "missing-colon"], "expected FILE:NAME"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    code, _, err = run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err
    assert lines[0].startswith(f"glassgrad {argv[0]}: ")


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--data", "xor", "--optimizer", "lbfgs"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_graph_values_and_gradients_match_central_differences(tmp_path, capsys):
    out_path = tmp_path / "neuron.svg"
    code, out, _ = run(capsys, "graph", "tanh(w*x + b)", "--set", "x=2", "w=-3", "b=6.88",
                       "--out", str(out_path))
    assert code == 0
    value = float(re.search(r"= ([-\d.e]+)\n", out).group(1))
    assert value == pytest.approx(np.tanh(-3 * 2 + 6.88), rel=1e-6)
    f = {"x": lambda h: np.tanh(-3 * (2 + h) + 6.88), "w": lambda h: np.tanh((h - 3) * 2 + 6.88),
         "b": lambda h: np.tanh(-3 * 2 + 6.88 + h)}
    for name, fn in f.items():
        got = float(re.search(rf"dout/d{name} = ([-\d.e]+)", out).group(1))
        h = 1e-6
        assert got == pytest.approx((fn(h) - fn(-h)) / (2 * h), rel=1e-5)
    svg = out_path.read_text()
    assert svg.lstrip().startswith(("<?xml", "<svg")) and "tanh" in svg


def test_graph_of_a_vector_expression_sums_it(tmp_path, capsys):
    code, out, _ = run(capsys, "graph", "sum(w * x)", "--set", "w=1,2,3", "x=4,5,6",
                       "--out", str(tmp_path / "dot.png"))
    assert code == 0
    assert "= 32" in out
    assert "dout/dw = [4. 5. 6.]" in out
    assert (tmp_path / "dot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


FUNCTIONS_FILE = textwrap.dedent('''
    import glassgrad as gg

    class Swish(gg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            s = gg.sigmoid(x)
            ctx.save_for_backward(x, s)
            return x * s

        @staticmethod
        def backward(ctx, g):
            x, s = ctx.saved_tensors
            return g * (s + x * s * (1 - s))

    class BrokenSwish(Swish):
        @staticmethod
        def backward(ctx, g):            # sign error in the sigmoid's derivative
            x, s = ctx.saved_tensors
            return g * (s + x * s * (1 + s))

    def two_inputs(x, w):
        return gg.tanh(x @ w)

    layer = gg.nn.Sequential(gg.nn.Linear(4, 3), gg.nn.Tanh())
''')


@pytest.fixture
def functions_file(tmp_path):
    path = tmp_path / "mine.py"
    path.write_text(FUNCTIONS_FILE)
    return path


def test_gradcheck_passes_a_correct_function(functions_file, capsys):
    code, out, _ = run(capsys, "gradcheck", f"{functions_file}:Swish")
    assert code == 0 and "passed" in out


def test_gradcheck_fails_and_names_the_broken_function(functions_file, capsys):
    code, out, _ = run(capsys, "gradcheck", f"{functions_file}:BrokenSwish")
    assert code == 1
    assert "FAILED" in out
    assert "the op whose backward is wrong: BrokenSwish" in out


def test_gradcheck_functions_and_modules(functions_file, capsys):
    code, out, _ = run(capsys, "gradcheck", f"{functions_file}:two_inputs", "--inputs",
                       "3x4", "4x2")
    assert code == 0 and "(3, 4), (4, 2)" in out
    code, out, _ = run(capsys, "gradcheck", f"{functions_file}:layer", "--inputs", "5x4")
    assert code == 0 and "Module Sequential" in out
    code, _, err = run(capsys, "gradcheck", f"{functions_file}:Swish", "--inputs", "3", "3")
    assert code == 2 and "takes 1 input" in err


def test_console_entry_point_runs():
    done = subprocess.run([sys.executable, "-m", "glassgrad", "--help"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0
    for command in ("demo", "train", "eval", "gradcheck", "graph", "compile"):
        assert command in done.stdout
