"""The README's and docs/pytorch-users.md's code blocks run as written (documentation that
cannot rot).

Every ```python block runs on its own in a fresh interpreter and prints something; where a
```text block follows it, that is what the block prints. The specific tests below check,
against independent references, that what a block claims is true.
"""

import contextlib
import inspect
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import glassgrad as gg

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PYTORCH_USERS = ROOT / "docs" / "pytorch-users.md"

# a ```python block (with an optional info string such as title="PyTorch"), then, if only
# blank lines separate them, the ```text block that shows its output
_BLOCK = re.compile(r"```python([^\n]*)\n(.*?)```(?:\s*?\n```text\n(.*?)```)?", re.S)
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _blocks(path: Path = README) -> list[dict]:
    """The python blocks of ``path`` in order: their info string, code and shown output."""
    return [{"info": m.group(1).strip(), "code": m.group(2), "shown": m.group(3)}
            for m in _BLOCK.finditer(path.read_text())]


def _code(marker: str, path: Path = README) -> str:
    """The one python block of ``path`` that contains ``marker``."""
    found = [b["code"] for b in _blocks(path) if marker in b["code"]]
    assert len(found) == 1, f"{len(found)} blocks of {path.name} contain {marker!r}"
    return found[0]


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``code`` alone in a fresh interpreter (no names from other blocks)."""
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def _numbers_agree(shown: str, got: str) -> bool:
    """Two printed numbers agree: within 1e-3 relative, or, for a number shown with two
    decimals or more, within one unit of its last digit (a rounding flip on another
    platform); a number shown with fewer decimals (0., 25.0, 3) must be the same."""
    mantissa, _, exponent = shown.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    slack = 10.0 ** (int(exponent or 0) - decimals) if decimals >= 2 else 0.0
    return abs(float(shown) - float(got)) <= slack + 1e-3 * abs(float(shown))


def _line_matches(shown: str, got: str) -> bool:
    """The same text around the numbers, and numbers that agree."""
    if _NUMBER.split(shown.rstrip()) != _NUMBER.split(got.rstrip()):
        return False
    return all(_numbers_agree(a, b)
               for a, b in zip(_NUMBER.findall(shown), _NUMBER.findall(got)))


def _shows(shown: str, out: str) -> str | None:
    """None if every line of ``shown`` is a line of ``out``, in order ("..." skips any
    number of lines); else the first line that is not."""
    lines = out.splitlines()
    at = 0
    for want in shown.splitlines():
        if want.strip() == "...":
            continue
        while at < len(lines) and not _line_matches(want, lines[at]):
            at += 1
        if at == len(lines):
            return want
        at += 1
    return None


def _skip_without_drawing(code: str) -> None:
    """Blocks that draw need Graphviz's dot or matplotlib (the [plot] extra)."""
    if ".plot(" in code:
        pytest.importorskip("matplotlib", reason="needs the [plot] extra")
    if "viz.draw" in code and shutil.which("dot") is None:
        pytest.importorskip("matplotlib", reason="needs Graphviz's dot or matplotlib")


def _check_block(block: dict, cwd: Path) -> str:
    """Run one block alone; it exits 0, prints, and prints what the page shows."""
    _skip_without_drawing(block["code"])
    result = _run(block["code"], cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip(), "the block prints nothing a reader could compare"
    if block["shown"] is not None:
        missing = _shows(block["shown"], result.stdout)
        assert missing is None, f"shown but not printed: {missing!r}\nprinted:\n{result.stdout}"
    return result.stdout


def _first_line(code: str) -> str:
    return next(line for line in code.splitlines() if line and not line.startswith("import"))


# -- every block, on its own --------------------------------------------------------------

README_BLOCKS = _blocks()


@pytest.mark.slow  # a fresh interpreter per block: ~13 s for all of them
@pytest.mark.parametrize("block", README_BLOCKS,
                         ids=[f"{i}:{_first_line(b['code'])[:30]}"
                              for i, b in enumerate(README_BLOCKS)])
def test_every_readme_block_runs_alone_and_prints_what_it_shows(block, tmp_path):
    _check_block(block, tmp_path)


def test_the_readme_has_blocks_and_shows_output():
    """The generic test above is not vacuous: the README's examples are found, and most
    show their output."""
    assert len(README_BLOCKS) >= 10
    assert sum(b["shown"] is not None for b in README_BLOCKS) >= 10


def test_the_output_check_catches_a_wrong_number():
    """``_shows`` is strict where it matters: text, order and numbers beyond rounding."""
    out = "loss 0.0023, predictions [0. 1. 1. 0.]\nnext line"
    assert _shows("loss 0.0023, predictions [0. 1. 1. 0.]", out) is None
    assert _shows("loss 0.0024, predictions [0. 1. 1. 0.]", out) is None  # last digit
    assert _shows("loss 0.0031, predictions [0. 1. 1. 0.]", out) is not None
    assert _shows("loss 0.0023, predictions [1. 1. 1. 0.]", out) is not None
    assert _shows("next line\nloss 0.0023, predictions [0. 1. 1. 0.]", out) is not None
    assert _shows("loss 0.0023, predictions [0. 1. 1. 0.]\n...\nnext line", out) is None
    assert _shows("2.797e-04", "2.797e-04") is None
    assert _shows("2.797e-04", "2.9e-04") is not None


PAGE_BLOCKS = _blocks(PYTORCH_USERS)
PAIRS = [(a, b) for a, b in zip(PAGE_BLOCKS, PAGE_BLOCKS[1:])
         if a["info"] == 'title="PyTorch"' and b["info"] == 'title="glassgrad"']
PAIRED = [id(b) for pair in PAIRS for b in pair]
SINGLE = [b for b in PAGE_BLOCKS if id(b) not in PAIRED]


@pytest.mark.parametrize("block", SINGLE, ids=[_first_line(b["code"])[:30] for b in SINGLE])
def test_pytorch_users_page_blocks_run_alone(block, tmp_path):
    _check_block(block, tmp_path)


def _exec_printing(code: str, name: str) -> str:
    """Run ``code`` in a namespace of its own (in this process: torch is imported once)
    and return what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, name, "exec"), {"__name__": name})
    return out.getvalue()


@pytest.mark.parametrize("pair", PAIRS, ids=[f"idiom{i}" for i in range(len(PAIRS))])
def test_pytorch_users_idioms_print_the_same_in_both(pair, tmp_path, monkeypatch):
    """Each side-by-side pair: the PyTorch block and the glassgrad block both run and print
    the same lines (PyTorch 2.13.0 is the reference), and that is what the page shows."""
    pytest.importorskip("torch")
    torch_block, gg_block = pair
    assert "import torch" in torch_block["code"] and "glassgrad" in gg_block["code"]
    assert "torch" not in gg_block["code"]
    monkeypatch.chdir(tmp_path)  # the state-dict pair writes its checkpoint here
    want = _exec_printing(torch_block["code"], "pytorch_users_torch")
    got = _exec_printing(gg_block["code"], "pytorch_users_glassgrad")
    assert want.strip() and got == want
    assert _shows(gg_block["shown"], got) is None, got


def test_the_pytorch_users_page_pairs_every_idiom():
    """The idioms the page promises are there, each as a runnable pair."""
    assert len(PAIRS) >= 9
    text = "\n".join(b["code"] for pair in PAIRS for b in pair)
    for idiom in ("requires_grad=True", ".backward()", "no_grad", "opt.step()",
                  "nn.Module", "load_state_dict", "autograd.Function", "register_hook",
                  "func import", "register_forward_hook"):
        assert idiom in text, idiom


# -- the README's shape -------------------------------------------------------------------

def test_readme_links_stay_inside_the_repository():
    """Every relative link of the README names a file of this repository (no ../shared)."""
    text = README.read_text()
    assert "../" not in text
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [t for t in targets if not re.match(r"[a-z]+:", t)]
    assert "docs/api.md" in local and "docs/pytorch-users.md" in local
    missing = [t for t in local if not (ROOT / t).exists()]
    assert not missing, f"README links to missing files: {missing}"


def test_two_commands_are_two():
    section = README.read_text().split("## Two commands", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]


# -- what particular blocks claim ---------------------------------------------------------

def test_ten_line_example_learns_xor():
    env: dict = {}
    exec(compile(README_BLOCKS[0]["code"], "README-example", "exec"), env)
    assert env["loss"].item() < 0.05
    assert np.array_equal(env["a2"].numpy().ravel() > 0.5, [False, True, True, False])


def test_the_card_shown_is_the_real_card():
    """The README shows gg.tanh's card as it is in glassgrad/ops/elementwise.py."""
    block = next(b for b in README_BLOCKS if "gg.tanh.card" in b["code"])
    assert block["shown"].strip() == inspect.getsource(gg.tanh.card).strip()


def test_how_it_works_card_declares_a_working_op():
    """The card shown in "How it works" is a complete op: run it under another name and
    compare with NumPy's tanh in both modes."""
    from glassgrad import numpy_dispatch, primitive

    card = next(b for b in README_BLOCKS if "gg.tanh.card" in b["code"])["shown"]
    card = card.replace("class tanh", "class readme_tanh").replace("np.tanh, method=True",
                                                                  "None, method=False")
    env = {"np": np, "primitive": primitive.primitive, "SAME": primitive.SAME}
    try:
        exec(compile(card, "README-card", "exec"), env)
        op = env["readme_tanh"]
        x = gg.tensor([0.3, -1.0], requires_grad=True)
        op(x).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), 1 - np.tanh(x.numpy()) ** 2, rtol=1e-6)
        _, t = gg.func.jvp(op, (gg.tensor([0.3]),), (gg.tensor([2.0]),))
        np.testing.assert_allclose(t.numpy(), 2 * (1 - np.tanh(0.3) ** 2), rtol=1e-6)
        assert "VJP:" in op.__doc__ and "JVP:" in op.__doc__
    finally:
        primitive.PRIMITIVES.pop("readme_tanh", None)
        primitive.OPS.pop("readme_tanh", None)
        numpy_dispatch.build()


def test_how_it_works_repr_points_at_the_rule():
    text = README.read_text()
    shown = re.search(r"<primitive sum \((glassgrad/ops/reduction\.py):(\d+)\)>", text)
    assert shown, "README shows where sum's rules are"
    assert repr(gg.sum) == shown.group(0), f"README shows {shown.group(0)}, now {gg.sum!r}"
    path, line = shown.group(1), int(shown.group(2))
    assert "def vjp" in (ROOT / path).read_text().splitlines()[line - 1]


def test_custom_function_example_passes_gradcheck_and_catches_the_slip(capsys):
    env: dict = {}
    exec(compile(_code("class Cube"), "README-cube", "exec"), env)
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == ["True", "True"]
    assert out[2].startswith("gradcheck failed: input 0")
    assert "relative error 0.333" in out[2]  # the wrong rule is 2/3 of the right one
    assert isinstance(env["x"], gg.Tensor) and env["x"].dtype == np.float64


def test_update_after_backward_example(capsys):
    """Refused before backward; after it both updates apply, the second one in place."""
    code = _code("w.data -= lr")
    code = code.replace("with gg.no_grad():", "before = w\nwith gg.no_grad():")
    env: dict = {}
    exec(compile(code, "README-update", "exec"), env)
    assert env["before"] is env["w"]
    np.testing.assert_allclose(env["w"].numpy(), [1.0 - 0.4, 2.0 - 0.8], rtol=1e-6)
    assert "refused" in capsys.readouterr().out


def test_func_and_tape_examples_run_and_agree():
    env: dict = {}
    exec(compile(_code("gg.func.grad(f)(x)"), "README-func", "exec"), env)
    x = env["x"].numpy()
    np.testing.assert_allclose(env["J1"].numpy(), np.diag(1 - np.tanh(x) ** 2), rtol=1e-12)
    hessian = gg.func.hessian(env["f"])(env["x"]).numpy()
    np.testing.assert_allclose(hessian, np.diag(2 * np.cos(x) - x * np.sin(x)), rtol=1e-12)
    env = {}
    exec(compile(_code("GradientTape()"), "README-tape", "exec"), env)
    np.testing.assert_allclose(env["dw"].numpy(), env["w"].grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(env["db"].numpy(), env["b"].grad.numpy(), rtol=1e-6)
    X, y, w = env["X"].numpy(), env["y"].numpy(), np.array([[0.5], [-0.3]])
    np.testing.assert_allclose(env["dw"].numpy(), X.T @ (X @ w - y), rtol=1e-6)  # 2/m = 1


def test_training_loop_example_runs_and_saves(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env: dict = {}
    exec(compile(_code("DataLoader(TensorDataset"), "README-train", "exec"), env)
    assert (tmp_path / "digits-mlp.npz").exists()
    model = env["model"]
    model.eval()
    with gg.no_grad():
        acc = (model(gg.tensor(env["X_test"])).numpy().argmax(1) == env["y_test"]).mean()
    assert acc > 0.9 and acc == pytest.approx(env["accuracy"])


def test_monitor_example_flags_the_deep_sigmoid_stack(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib", reason="the block draws with the [plot] extra")
    monkeypatch.chdir(tmp_path)
    env: dict = {}
    exec(compile(_code("gg.diagnostics.Monitor"), "README-monitor", "exec"), env)
    assert [f.kind for f in env["mon"].diagnose()] == ["vanishing"]
    assert (tmp_path / "grad_norms.png").stat().st_size > 0


def test_pytorch_style_training_loop_runs_and_learns():
    env: dict = {}
    exec(compile(_code("images.view", PYTORCH_USERS), "pytorch-users-loop", "exec"), env)
    assert env["accuracy"] > 0.6 and env["loss"].item() < 1.0


def test_graph_pictures_example_draws_and_prints(tmp_path, monkeypatch, capsys):
    code = _code("gg.viz.record()")
    _skip_without_drawing(code)
    monkeypatch.chdir(tmp_path)
    env: dict = {}
    exec(compile(code, "README-viz", "exec"), env)
    assert "</svg>" in (tmp_path / "z.svg").read_text()
    assert "mul (*)" in capsys.readouterr().out and env["x"].grad.item() == 3.0


def test_compile_example_prints_the_seed_backward(capsys):
    env: dict = {}
    exec(compile(_code("gg.compile(loss_fn"), "README-compile", "exec"), env)
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
