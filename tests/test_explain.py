"""gg.explain walks the real backward pass in words; grad_fn is navigable by hand."""

from __future__ import annotations

import numpy as np

import glassgrad as gg


def test_the_seed_example_dx_is_3():
    x = gg.tensor(2.0, requires_grad=True)
    z = x * 3 + 5
    e = gg.explain(z)
    assert float(e.grads["x0"]) == 3.0
    text = str(e)
    assert "add(v1, const)" in text and "mul(x0, const)" in text
    assert "gx = g * y" in text  # mul's local rule, from its card
    assert x.grad is None  # nobody's .grad was touched
    z.backward()  # and the graph is still there
    assert float(x.grad) == 3.0


def test_fan_out_paths_add_up_to_4():
    a = gg.tensor(1.5, requires_grad=True)
    b = a + a
    c = b + b
    e = gg.explain(c)
    assert float(e.grads["x0"]) == 4.0
    text = str(e)
    assert "1 + 1 = 2" in text and "2 + 2 = 4" in text


def test_an_mlp_matches_autograd_grad_and_leaves_grads_alone():
    gg.manual_seed(0)
    model = gg.nn.Sequential(gg.nn.Linear(3, 4), gg.nn.Tanh(), gg.nn.Linear(4, 1))
    x = gg.randn(5, 3)
    loss = (model(x) ** 2).mean()
    params = dict(model.named_parameters())
    e = gg.explain(loss, params=params)
    want = gg.autograd.grad(loss, list(params.values()), retain_graph=True)
    for (name, p), g in zip(params.items(), want):
        np.testing.assert_array_equal(e.grads[name], g.numpy())
        assert p.grad is None
    text = str(e)
    assert "0.weight" in text and "norm" in text  # tensors shown by shape and norm
    html = e._repr_html_()
    assert html.startswith("<table>") and "0.weight" in html


def test_explain_a_primitive_shows_its_derivation_and_rule_source():
    text = gg.explain(gg.tanh)
    assert "1 - out**2" in text and "def vjp_x" in text and "elementwise.py" in text


def test_grad_fn_lists_its_inputs_and_saved_values():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = gg.tanh(x * 3.0)
    node = y.grad_fn
    assert node.inputs[0].name == "mul" and node.inputs[0].inputs[0] is x
    assert list(node.saved) == ["out"] and node.saved["out"].shape == (2,)
    text = node.describe()
    assert "tanh node" in text and "saved for backward: out (2,)" in text
    y.sum().backward()
    assert node.saved == {} and "freed" in node.describe()


def test_readme_explain_listing_is_what_explain_prints():
    import pathlib
    import re

    readme = (pathlib.Path(__file__).resolve().parent.parent / "README.md").read_text()
    pairs = re.findall(r"```python\n(.*?)```\s*```text\n(.*?)```", readme, flags=re.S)
    shown = next(out for code, out in pairs if "print(gg.explain(c))" in code).rstrip("\n")
    a = gg.tensor(1.5, requires_grad=True)
    b = a + a
    c = b + b
    assert str(gg.explain(c)) == shown
