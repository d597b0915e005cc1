"""gg.optim.lr_scheduler against torch.optim.lr_scheduler: the same LR sequences.

Each scheduler drives a glassgrad optimizer and a PyTorch one from the same start; every
epoch the learning rates (``get_last_lr()`` and ``param_groups[i]["lr"]``), ``last_epoch``
and the parameters must agree.
"""

import warnings

import numpy as np
import pytest
import torch

import glassgrad as gg

_rng = np.random.default_rng(1)
INIT = [_rng.normal(size=(3,)), _rng.normal(size=(2, 2))]
EPOCHS = 35


def make_opts(lrs=(0.1, 0.02), **kwargs):
    """SGD with two groups of different lrs, in both libraries."""
    gp = [gg.tensor(a.copy(), requires_grad=True) for a in INIT]
    tp = [torch.tensor(a.copy(), requires_grad=True) for a in INIT]
    gopt = gg.optim.SGD([{"params": [gp[0]], "lr": lrs[0]}, {"params": [gp[1]], "lr": lrs[1]}],
                        momentum=0.5, **kwargs)
    topt = torch.optim.SGD([{"params": [tp[0]], "lr": lrs[0]},
                            {"params": [tp[1]], "lr": lrs[1]}], momentum=0.5, foreach=False,
                           **kwargs)
    return gp, tp, gopt, topt


def opt_step(gp, tp, gopt, topt):
    """One optimizer step of both, with the same gradients (those of sum(sin(p)))."""
    for g, t in zip(gp, tp):
        g.grad = np.cos(g.data)
        t.grad = torch.from_numpy(np.cos(g.data))
    gopt.step()
    topt.step()


def lrs(opt):
    return [group["lr"] for group in opt.param_groups]


def assert_same_schedule(gs, ts, gopt, topt):
    assert gs.last_epoch == ts.last_epoch
    np.testing.assert_allclose(gs.get_last_lr(), ts.get_last_lr(), rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(lrs(gopt), lrs(topt), rtol=1e-13, atol=1e-16)
    assert gs.get_last_lr() == lrs(gopt)


SCHEDULERS = [
    ("StepLR", {"step_size": 3}),
    ("StepLR", {"step_size": 4, "gamma": 0.5}),
    ("StepLR", {"step_size": 1, "gamma": 0.9}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("ExponentialLR", {"gamma": 1.05}),
    ("CosineAnnealingLR", {"T_max": 10}),
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.001}),
    ("CosineAnnealingLR", {"T_max": 1, "eta_min": 0.05}),
]
IDS = [f"{n}-" + "-".join(f"{k}={v}" for k, v in kw.items()) for n, kw in SCHEDULERS]


def make_scheds(name, kwargs, gopt, topt, **extra):
    gs = getattr(gg.optim.lr_scheduler, name)(gopt, **kwargs, **extra)
    ts = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs, **extra)
    return gs, ts


@pytest.mark.parametrize("name,kwargs", SCHEDULERS, ids=IDS)
def test_lr_sequence_and_trajectory_match_torch(name, kwargs):
    gp, tp, gopt, topt = make_opts()
    gs, ts = make_scheds(name, kwargs, gopt, topt)
    assert gs.base_lrs == ts.base_lrs == [0.1, 0.02]
    assert [g["initial_lr"] for g in gopt.param_groups] == [0.1, 0.02]
    assert_same_schedule(gs, ts, gopt, topt)
    seen = set()
    for _ in range(EPOCHS):
        opt_step(gp, tp, gopt, topt)
        gs.step()
        ts.step()
        assert_same_schedule(gs, ts, gopt, topt)
        seen.add(round(gs.get_last_lr()[0], 12))
    assert len(seen) >= 2  # the schedule did change the rate
    for g, t in zip(gp, tp):
        np.testing.assert_allclose(g.data, t.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name,kwargs", SCHEDULERS[::2], ids=IDS[::2])
def test_state_dict_resume_matches_torch(name, kwargs):
    gp, tp, gopt, topt = make_opts()
    gs, ts = make_scheds(name, kwargs, gopt, topt)
    for _ in range(12):
        opt_step(gp, tp, gopt, topt)
        gs.step()
        ts.step()
    opt_sd, sched_sd = gopt.state_dict(), gs.state_dict()
    assert "optimizer" not in sched_sd and sched_sd["last_epoch"] == 12
    # PyTorch's recipe: build optimizer and scheduler, then load both
    gp2 = [gg.tensor(p.data.copy(), requires_grad=True) for p in gp]
    gopt2 = gg.optim.SGD([{"params": [gp2[0]]}, {"params": [gp2[1]]}], lr=1.0)
    gs2 = getattr(gg.optim.lr_scheduler, name)(gopt2, **kwargs)
    gopt2.load_state_dict(opt_sd)
    gs2.load_state_dict(sched_sd)
    for _ in range(EPOCHS - 12):
        opt_step(gp2, tp, gopt2, topt)
        gs2.step()
        ts.step()
        assert_same_schedule(gs2, ts, gopt2, topt)
    np.testing.assert_allclose(gp2[1].data, tp[1].detach().numpy(), rtol=1e-12)


def test_scheduler_state_dict_after_a_file_round_trip():
    """Lists come back as arrays and numbers as 0-d arrays from an .npz: still loads."""
    _, _, gopt, _ = make_opts()
    gs = gg.optim.lr_scheduler.StepLR(gopt, step_size=2)
    gopt.step()
    for _ in range(3):
        gs.step()
    flat = {k: np.asarray(v) for k, v in gs.state_dict().items()}
    gs2 = gg.optim.lr_scheduler.StepLR(gopt, step_size=5)
    gs2.load_state_dict(flat)
    assert gs2.state_dict() == gs.state_dict()
    assert type(gs2.last_epoch) is int and type(gs2.base_lrs) is list


def test_scheduler_load_refuses_another_schedulers_state():
    _, _, gopt, _ = make_opts()
    step = gg.optim.lr_scheduler.StepLR(gopt, step_size=2)
    cosine = gg.optim.lr_scheduler.CosineAnnealingLR(gopt, T_max=5)
    with pytest.raises(KeyError, match="missing keys \\['T_max', 'eta_min'\\]"):
        cosine.load_state_dict(step.state_dict())


def test_two_schedulers_on_one_optimizer_compose_as_in_torch():
    """The recursive form: each multiplies the current lr, so they stack."""
    gp, tp, gopt, topt = make_opts()
    g1, t1 = make_scheds("StepLR", {"step_size": 5, "gamma": 0.5}, gopt, topt)
    g2, t2 = make_scheds("ExponentialLR", {"gamma": 0.95}, gopt, topt)
    for _ in range(EPOCHS):
        opt_step(gp, tp, gopt, topt)
        for gs, ts in ((g1, t1), (g2, t2)):
            gs.step()
            ts.step()
        assert_same_schedule(g2, t2, gopt, topt)


@pytest.mark.parametrize("name,kwargs", SCHEDULERS, ids=IDS)
def test_lr_set_by_hand_carries_on_as_in_torch(name, kwargs):
    gp, tp, gopt, topt = make_opts()
    gs, ts = make_scheds(name, kwargs, gopt, topt)
    for epoch in range(EPOCHS):
        if epoch == 6:
            for opt in (gopt, topt):
                opt.param_groups[1]["lr"] = 0.3
        opt_step(gp, tp, gopt, topt)
        gs.step()
        ts.step()
        assert_same_schedule(gs, ts, gopt, topt)


@pytest.mark.parametrize("name,kwargs", SCHEDULERS, ids=IDS)
def test_step_with_epoch_uses_the_closed_form_as_torch(name, kwargs):
    gp, tp, gopt, topt = make_opts()
    gs, ts = make_scheds(name, kwargs, gopt, topt)
    opt_step(gp, tp, gopt, topt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epoch in (3, 4, 9, 17, 2):
            with pytest.warns(UserWarning, match="deprecated"):
                gs.step(epoch)
            ts.step(epoch)
            assert_same_schedule(gs, ts, gopt, topt)


@pytest.mark.parametrize("name,kwargs", SCHEDULERS, ids=IDS)
def test_resume_with_last_epoch_as_torch(name, kwargs):
    gp, tp, gopt, topt = make_opts()
    with pytest.raises(KeyError, match="initial_lr"):
        getattr(gg.optim.lr_scheduler, name)(gopt, last_epoch=5, **kwargs)
    with pytest.raises(KeyError):
        getattr(torch.optim.lr_scheduler, name)(topt, last_epoch=5, **kwargs)
    for opt in (gopt, topt):
        for group, lr in zip(opt.param_groups, (0.5, 0.25)):
            group["initial_lr"] = lr
    gs, ts = make_scheds(name, kwargs, gopt, topt, last_epoch=5)
    assert_same_schedule(gs, ts, gopt, topt)
    for _ in range(12):
        opt_step(gp, tp, gopt, topt)
        gs.step()
        ts.step()
        assert_same_schedule(gs, ts, gopt, topt)


def test_warns_when_the_scheduler_steps_before_the_optimizer():
    _, _, gopt, topt = make_opts()
    gs = gg.optim.lr_scheduler.ExponentialLR(gopt, gamma=0.5)
    ts = torch.optim.lr_scheduler.ExponentialLR(topt, gamma=0.5)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        ts.step()
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        gs.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # in the right order: no warning
        gopt.step()
        gg.optim.lr_scheduler.ExponentialLR(gopt, gamma=0.5).step()


def test_refusals():
    _, _, gopt, _ = make_opts()
    with pytest.raises(TypeError, match="is not an Optimizer"):
        gg.optim.lr_scheduler.StepLR(object(), step_size=2)
    with pytest.raises(ValueError, match="step_size"):
        gg.optim.lr_scheduler.StepLR(gopt, step_size=0)
    with pytest.raises(ValueError, match="T_max"):
        gg.optim.lr_scheduler.CosineAnnealingLR(gopt, T_max=0)


def test_checkpoint_through_gg_save_resumes_as_torch_continues(tmp_path):
    """Optimizer + scheduler state through a real .npz file: the run resumes exactly."""
    gp, tp, gopt, topt = make_opts()
    gs, ts = make_scheds("CosineAnnealingLR", {"T_max": 8, "eta_min": 0.001}, gopt, topt)
    for _ in range(10):
        opt_step(gp, tp, gopt, topt)
        gs.step()
        ts.step()
    path = tmp_path / "checkpoint.npz"
    gg.save({"optimizer": gopt.state_dict(), "scheduler": gs.state_dict()}, path)
    checkpoint = gg.load(path)
    gp2 = [gg.tensor(p.data.copy(), requires_grad=True) for p in gp]
    gopt2 = gg.optim.SGD([{"params": [gp2[0]]}, {"params": [gp2[1]]}], lr=1.0)
    gs2 = gg.optim.lr_scheduler.CosineAnnealingLR(gopt2, T_max=8, eta_min=0.001)
    gopt2.load_state_dict(checkpoint["optimizer"])
    gs2.load_state_dict(checkpoint["scheduler"])
    assert gopt2.param_groups[0]["momentum"] == 0.5
    for _ in range(EPOCHS - 10):
        opt_step(gp2, tp, gopt2, topt)
        gs2.step()
        ts.step()
        assert_same_schedule(gs2, ts, gopt2, topt)
    for g, t in zip(gp2, tp):
        np.testing.assert_allclose(g.data, t.detach().numpy(), rtol=1e-12, atol=1e-14)
