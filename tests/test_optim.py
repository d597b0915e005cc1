"""gg.optim against torch.optim: same start, same gradients, same trajectory.

Every optimizer and variant runs ten steps beside PyTorch's (the oracle). The gradients
are computed by glassgrad's backward on a small float64 network and handed to both
optimizers, so what is compared is the update rule itself (to rtol 1e-12); one test also
lets each library compute its own gradients end to end.
"""

import copy
import doctest

import numpy as np
import pytest
import torch

import glassgrad as gg
from glassgrad.optim import adam, lr_scheduler, optimizer, rmsprop, sgd

RTOL, ATOL = 1e-12, 1e-14
_rng = np.random.default_rng(0)
X = _rng.normal(size=(6, 3))
Y = _rng.normal(size=(6, 4))
# W, b and a parameter that never gets a gradient (it must be skipped, as in torch)
INIT = [_rng.normal(size=(3, 4)), _rng.normal(size=(4,)), _rng.normal(size=(2,))]


def gg_loss(params):
    W, b, _ = params
    return ((gg.tanh(gg.tensor(X) @ W + b) - gg.tensor(Y)) ** 2).mean()


def torch_loss(params):
    W, b, _ = params
    return ((torch.tanh(torch.tensor(X) @ W + b) - torch.tensor(Y)) ** 2).mean()


def make_params(init=INIT):
    gp = [gg.tensor(a.copy(), requires_grad=True) for a in init]
    tp = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    return gp, tp


def one_group(ps):
    return list(ps)


def two_groups(ps):
    return [{"params": [ps[0]], "lr": 0.03}, {"params": [ps[1], ps[2]]}]


TORCH = {"SGD": torch.optim.SGD, "Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW,
         "RMSprop": torch.optim.RMSprop}


def make_opts(name, kwargs, gp, tp, groups=one_group):
    gopt = getattr(gg.optim, name)(groups(gp), **kwargs)
    topt = TORCH[name](groups(tp), foreach=False, **kwargs)  # the single-tensor reference
    return gopt, topt


def copy_grads(gp, tp):
    """Hand glassgrad's gradients to torch's parameters (None stays None)."""
    for g, t in zip(gp, tp):
        t.grad = None if g.grad is None else torch.from_numpy(g.grad.data.copy())


def train(gopt, topt, gp, tp, steps, drop_b_at=3):
    """``steps`` steps of both optimizers; at step ``drop_b_at`` b gets no gradient."""
    for k in range(steps):
        gopt.zero_grad()
        topt.zero_grad()
        gg_loss(gp).backward()
        if k == drop_b_at:
            gp[1].grad = None  # skipped this step: its own step count falls behind
        copy_grads(gp, tp)
        gopt.step()
        topt.step()


def assert_params_close(gp, tp, rtol=RTOL, atol=ATOL):
    for i, (g, t) in enumerate(zip(gp, tp)):
        np.testing.assert_allclose(g.data, t.detach().numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"parameter {i}")


def to_numpy(value):
    if isinstance(value, torch.Tensor):
        return value.detach().numpy().copy()
    if isinstance(value, gg.Tensor):
        return np.array(value.data)
    return value


def assert_state_dicts_match(gsd, tsd):
    """Same layout as PyTorch: state indices, buffer names, values; group keys, values."""
    assert sorted(gsd["state"]) == sorted(tsd["state"])
    for idx, tstate in tsd["state"].items():
        gstate = gsd["state"][idx]
        assert list(gstate) == list(tstate), f"state[{idx}] keys"
        for key in tstate:
            assert isinstance(gstate[key], gg.Tensor)
            np.testing.assert_allclose(to_numpy(gstate[key]), to_numpy(tstate[key]),
                                       rtol=RTOL, atol=ATOL, err_msg=f"state[{idx}][{key}]")
    assert len(gsd["param_groups"]) == len(tsd["param_groups"])
    for ggroup, tgroup in zip(gsd["param_groups"], tsd["param_groups"]):
        for key, value in ggroup.items():  # every glassgrad key is one of PyTorch's
            assert key in tgroup, f"group key {key!r} is not PyTorch's"
            assert value == tgroup[key], key


VARIANTS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.5}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.1, "maximize": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.3,
             "maximize": True}),
    ("Adam", {}),
    ("Adam", {"lr": 0.02}),
    ("Adam", {"lr": 0.02, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.02, "amsgrad": True}),
    ("Adam", {"lr": 0.02, "maximize": True}),
    ("Adam", {"lr": 0.02, "betas": (0.3, 0.8), "eps": 1e-3}),
    ("Adam", {"lr": 0.02, "weight_decay": 0.2, "amsgrad": True, "maximize": True}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.02, "weight_decay": 0.3}),
    ("AdamW", {"lr": 0.02, "weight_decay": 0.3, "amsgrad": True}),
    ("AdamW", {"lr": 0.02, "maximize": True, "betas": (0.5, 0.9)}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5}),
    ("RMSprop", {"lr": 0.01, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "maximize": True, "alpha": 0.5}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-4, "weight_decay": 0.1,
                 "momentum": 0.3, "centered": True}),
]
IDS = [f"{n}-" + ("-".join(f"{k}={v}" for k, v in kw.items()) or "defaults")
       for n, kw in VARIANTS]


@pytest.mark.parametrize("name,kwargs", VARIANTS, ids=IDS)
@pytest.mark.parametrize("groups", [one_group, two_groups], ids=["1group", "2groups"])
def test_ten_steps_match_torch(name, kwargs, groups):
    gp, tp = make_params()
    gopt, topt = make_opts(name, kwargs, gp, tp, groups)
    arrays = [p.data for p in gp]
    train(gopt, topt, gp, tp, steps=10)
    assert_params_close(gp, tp)
    np.testing.assert_array_equal(gp[2].data, INIT[2])  # never had a gradient
    assert all(p.data is a for p, a in zip(gp, arrays)), "updates must be in place"
    assert_state_dicts_match(gopt.state_dict(), topt.state_dict())


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.05, "amsgrad": True}),
    ("AdamW", {"lr": 0.05}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True}),
])
def test_end_to_end_each_library_its_own_gradients(name, kwargs):
    gp, tp = make_params()
    gopt, topt = make_opts(name, kwargs, gp, tp)
    for _ in range(10):
        gopt.zero_grad()
        topt.zero_grad()
        gg_loss(gp).backward()
        torch_loss(tp).backward()
        gopt.step()
        topt.step()
    assert_params_close(gp, tp, rtol=1e-10, atol=1e-12)


def test_groups_override_defaults_and_add_param_group():
    gp, tp = make_params()
    gopt = gg.optim.SGD([{"params": [gp[0]], "lr": 0.5, "momentum": 0.5}], lr=0.1,
                        momentum=0.9, nesterov=True)
    topt = torch.optim.SGD([{"params": [tp[0]], "lr": 0.5, "momentum": 0.5}], lr=0.1,
                           momentum=0.9, nesterov=True, foreach=False)
    gopt.add_param_group({"params": gp[1], "weight_decay": 0.2})  # a bare Tensor is fine
    topt.add_param_group({"params": tp[1], "weight_decay": 0.2})
    assert [g["lr"] for g in gopt.param_groups] == [0.5, 0.1]
    assert [g["momentum"] for g in gopt.param_groups] == [0.5, 0.9]
    assert gopt.param_groups[1]["params"][0] is gp[1]
    train(gopt, topt, gp, tp, steps=10)
    assert_params_close(gp, tp)
    assert_state_dicts_match(gopt.state_dict(), topt.state_dict())


def test_changing_group_lr_between_steps():
    gp, tp = make_params()
    gopt, topt = make_opts("Adam", {"lr": 0.01}, gp, tp, two_groups)
    for k in range(6):
        for opt in (gopt, topt):
            opt.param_groups[k % 2]["lr"] *= 0.7
        train(gopt, topt, gp, tp, steps=1)
    assert_params_close(gp, tp)


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1}),
    ("Adam", {"lr": 0.02, "amsgrad": True, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.02}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5, "centered": True}),
])
def test_state_dict_save_load_continues_identically(name, kwargs):
    gp, tp = make_params()
    gopt, topt = make_opts(name, kwargs, gp, tp, two_groups)
    train(gopt, topt, gp, tp, steps=4)
    sd = gopt.state_dict()
    assert_state_dicts_match(sd, topt.state_dict())
    frozen = {i: {k: to_numpy(v) for k, v in s.items()} for i, s in sd["state"].items()}

    # resume: fresh parameters holding the current values, a fresh optimizer with another
    # lr; loading brings back the hyper-parameters, buffers and step counts. Torch just
    # carries on: the two must agree.
    gp2 = [gg.tensor(p.data.copy(), requires_grad=True) for p in gp]
    gopt2 = getattr(gg.optim, name)(two_groups(gp2), lr=0.5)
    gopt2.load_state_dict(sd)
    assert [g["lr"] for g in gopt2.param_groups] == [0.03, kwargs.get("lr", 0.5)]
    train(gopt2, topt, gp2, tp, steps=6, drop_b_at=-1)
    assert_params_close(gp2, tp)
    assert_state_dicts_match(gopt2.state_dict(), topt.state_dict())

    # the saved dict is a snapshot: neither optimizer's later steps changed it
    gopt.step()
    for idx, state in frozen.items():
        for key, value in state.items():
            np.testing.assert_array_equal(to_numpy(sd["state"][idx][key]), value)
