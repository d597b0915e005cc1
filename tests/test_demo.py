"""The demo is the main job (`make demo`): it must keep running and keep its checks."""

import glassgrad.demo as demo


def test_demo_runs_learns_xor_and_checks_gradients(tmp_path, capsys):
    demo.main(["--out", str(tmp_path)])  # asserts internally: gradients agree, XOR learned
    out = capsys.readouterr().out
    assert "engine gradients vs the hand-derived formulas" in out
    assert "final loss" in out
    assert (tmp_path / "xor.png").exists()


def test_hand_gradients_match_engine_at_random_weights():
    import numpy as np

    import glassgrad as gg

    start = demo.init_xor(seed=3)
    params = {k: gg.tensor(v, requires_grad=True) for k, v in start.items()}
    demo.forward(params, gg.tensor(demo.XOR_X), gg.tensor(demo.XOR_Y))[2].backward()
    by_hand = demo.hand_gradients(start, demo.XOR_X, demo.XOR_Y)
    for k, g in by_hand.items():
        np.testing.assert_allclose(params[k].grad.numpy(), g, rtol=1e-10, atol=1e-14)
