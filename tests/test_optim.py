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
            assert to_numpy(gstate[key]).dtype == to_numpy(tstate[key]).dtype, key
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


def test_load_a_state_dict_saved_by_torch():
    """PyTorch's layout exactly: a torch state dict (as arrays) resumes a gg optimizer."""
    gp, tp = make_params()
    topt = torch.optim.Adam(two_groups(tp), lr=0.02, amsgrad=True, foreach=False)
    for _ in range(3):
        topt.zero_grad()
        torch_loss(tp).backward()
        topt.step()
    tsd = topt.state_dict()
    as_arrays = {
        "state": {i: {k: to_numpy(v) for k, v in s.items()} for i, s in tsd["state"].items()},
        "param_groups": copy.deepcopy(tsd["param_groups"]),
    }
    gp = [gg.tensor(t.detach().numpy().copy(), requires_grad=True) for t in tp]
    gopt = gg.optim.Adam(two_groups(gp))
    gopt.load_state_dict(as_arrays)
    assert gopt.param_groups[0]["amsgrad"] is True and gopt.param_groups[0]["lr"] == 0.03
    train(gopt, topt, gp, tp, steps=5, drop_b_at=-1)
    assert_params_close(gp, tp)


def test_load_state_dict_after_a_file_round_trip():
    """Keys as strings and hyper-parameters as arrays (what an .npz hands back) load too."""
    gp, tp = make_params()
    gopt, topt = make_opts("Adam", {"lr": 0.02, "betas": (0.8, 0.9)}, gp, tp)
    train(gopt, topt, gp, tp, steps=3)
    sd = gopt.state_dict()
    flat = {
        "state": {str(i): {k: np.asarray(v.data) for k, v in s.items()}
                  for i, s in sd["state"].items()},
        "param_groups": [{k: np.asarray(v) for k, v in g.items()} for g in sd["param_groups"]],
    }
    gp2 = [gg.tensor(p.data.copy(), requires_grad=True) for p in gp]
    gopt2 = gg.optim.Adam(gp2)
    gopt2.load_state_dict(flat)
    group = gopt2.param_groups[0]
    assert group["betas"] == (0.8, 0.9) and type(group["lr"]) is float
    assert group["amsgrad"] is False and group["params"][0] is gp2[0]
    train(gopt2, topt, gp2, tp, steps=4)
    assert_params_close(gp2, tp)


def test_load_state_dict_refusals_name_the_problem():
    gp, _ = make_params()
    opt = gg.optim.SGD(gp, lr=0.1, momentum=0.9)
    gg_loss(gp).backward()
    opt.step()
    sd = opt.state_dict()
    with pytest.raises(KeyError, match="missing keys \\['state'\\]"):
        opt.load_state_dict({"param_groups": sd["param_groups"]})
    with pytest.raises(KeyError, match="unexpected keys \\['extra'\\]"):
        opt.load_state_dict({**sd, "extra": 1})
    two = gg.optim.SGD(two_groups(gp), lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="1 parameter groups, this optimizer has 2"):
        two.load_state_dict(sd)
    short = gg.optim.SGD(gp[:2], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="param_groups\\[0\\] has 3 parameters .* 2 in this"):
        short.load_state_dict(sd)
    bad = copy.deepcopy(sd)
    bad["state"][1]["momentum_buffer"] = gg.zeros(5, dtype=np.float64)
    with pytest.raises(ValueError, match="state\\[1\\]\\['momentum_buffer'\\] has shape \\(5,\\)"):
        opt.load_state_dict(bad)
    stray = copy.deepcopy(sd)
    stray["state"][7] = {"momentum_buffer": np.zeros(2)}
    with pytest.raises(KeyError, match="parameter 7"):
        opt.load_state_dict(stray)
    nesterov = copy.deepcopy(sd)
    nesterov["param_groups"][0].update(nesterov=True, dampening=0.5)
    with pytest.raises(ValueError, match="Nesterov"):
        opt.load_state_dict(nesterov)


def test_load_state_dict_copies_and_casts():
    """Loading copies the buffers (no aliasing with the dict) in the parameter's dtype."""
    gp, _ = make_params()
    opt = gg.optim.SGD(gp, lr=0.1, momentum=0.9)
    gg_loss(gp).backward()
    opt.step()
    sd = opt.state_dict()
    sd["state"][0]["momentum_buffer"] = np.ones((3, 4), dtype=np.float32)
    opt.load_state_dict(sd)
    buf = opt.state[gp[0]]["momentum_buffer"]
    assert buf.dtype == np.float64
    sd["state"][0]["momentum_buffer"][...] = 5
    np.testing.assert_array_equal(buf.data, 1.0)


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad_semantics_match_torch(set_to_none):
    """None grads skip the step; zeroed grads still step (momentum keeps moving them)."""
    gp, tp = make_params()
    gopt, topt = make_opts("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.1}, gp, tp)
    train(gopt, topt, gp, tp, steps=2, drop_b_at=-1)
    grad_array = gp[0].grad.data
    gopt.zero_grad(set_to_none=set_to_none)
    topt.zero_grad(set_to_none=set_to_none)
    if set_to_none:
        assert all(p.grad is None for p in gp)
    else:
        assert gp[0].grad.data is grad_array  # zeroed in place
        np.testing.assert_array_equal(gp[0].grad.data, 0.0)
        assert gp[2].grad is None  # never had one: stays None
    before = [p.data.copy() for p in gp]
    gopt.step()
    topt.step()
    moved = not np.array_equal(before[0], gp[0].data)
    assert moved == (not set_to_none)
    assert_params_close(gp, tp)


def test_zero_grad_keeps_working_after_create_graph():
    w = gg.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    opt = gg.optim.SGD([w], lr=0.1)
    (w**3).sum().backward(create_graph=True)
    assert w.grad.requires_grad
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(w.grad.data, 0.0)
    assert not w.grad.requires_grad


def test_step_with_closure_returns_the_loss():
    gp, tp = make_params()
    gopt, topt = make_opts("SGD", {"lr": 0.1, "momentum": 0.5}, gp, tp)

    def gg_closure():
        gopt.zero_grad()
        loss = gg_loss(gp)
        loss.backward()
        return loss

    def torch_closure():
        topt.zero_grad()
        loss = torch_loss(tp)
        loss.backward()
        return loss

    for _ in range(5):
        gl, tl = gopt.step(gg_closure), topt.step(torch_closure)
        np.testing.assert_allclose(gl.item(), tl.item(), rtol=1e-10)
    assert_params_close(gp, tp, rtol=1e-10, atol=1e-12)
    with gg.no_grad():  # the closure records a graph even when called under no_grad
        assert gopt.step(gg_closure) is not None


def test_float32_parameters_stay_float32():
    init = [a.astype(np.float32) for a in INIT]
    gp, tp = make_params(init)
    gopt, topt = make_opts("Adam", {"lr": 0.02, "amsgrad": True}, gp, tp)
    for _ in range(10):
        gopt.zero_grad()
        topt.zero_grad()
        gg_loss(gp).backward()
        copy_grads(gp, tp)
        gopt.step()
        topt.step()
    assert all(p.dtype == np.float32 for p in gp)
    state = gopt.state[gp[0]]
    assert state["exp_avg"].dtype == np.float32 and state["step"].dtype == np.float32
    assert state["step"].item() == topt.state[tp[0]]["step"].item() == 10
    assert_params_close(gp, tp, rtol=1e-5, atol=1e-6)


def test_step_while_a_graph_still_holds_the_parameter_explains():
    w = gg.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    opt = gg.optim.Adam([w])
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match=r"Adam.step: .*\['params'\]\[0\] .*backward of mul"):
        opt.step()
    loss.backward()  # releases the graph: now the step works
    opt.step()
    assert not np.array_equal(w.data, [1.0, 2.0])


@pytest.mark.parametrize("make,match", [
    (lambda p: gg.optim.SGD(p[0], lr=0.1), "wrap it in a list"),
    (lambda p: gg.optim.SGD([], lr=0.1), "empty parameter list"),
    (lambda p: gg.optim.SGD(set(p), lr=0.1), "not a set"),
    (lambda p: gg.optim.SGD([p[0], 3.0], lr=0.1), "params\\[1\\] is float"),
    (lambda p: gg.optim.SGD([p[0] * 2], lr=0.1), "not a leaf"),
    (lambda p: gg.optim.SGD([p[0], p[0]], lr=0.1), "appears twice"),
    (lambda p: gg.optim.SGD([{"params": [p[0]]}, {"params": [p[0]]}], lr=0.1),
     "more than one parameter group"),
    (lambda p: gg.optim.SGD(p, lr=-1.0), "invalid lr"),
    (lambda p: gg.optim.SGD(p, lr="0.1"), "invalid lr '0.1' \\(must be a number >= 0\\)"),
    (lambda p: gg.optim.SGD(p, lr=0.1, nesterov=True), "Nesterov"),
    (lambda p: gg.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
    (lambda p: gg.optim.Adam(p, betas=(1.0, 0.999)), "betas\\[0\\]"),
    (lambda p: gg.optim.Adam([{"params": p, "betas": (0.9, -0.1)}]), "betas\\[1\\]"),
    (lambda p: gg.optim.AdamW(p, eps=-1e-8), "invalid eps"),
    (lambda p: gg.optim.RMSprop(p, alpha=-0.5), "invalid alpha"),
])
def test_constructor_refusals(make, match):
    gp, _ = make_params()
    with pytest.raises((TypeError, ValueError), match=match):
        make(gp)


def test_torch_refuses_the_same_configurations():
    """The refusals above are PyTorch's too (where PyTorch checks them)."""
    _, tp = make_params()
    for make in (lambda: torch.optim.SGD([], lr=0.1),
                 lambda: torch.optim.SGD(tp, lr=0.1, nesterov=True),
                 lambda: torch.optim.Adam(tp, betas=(1.0, 0.999)),
                 lambda: torch.optim.SGD([{"params": [tp[0]]}, {"params": [tp[0]]}])):
        with pytest.raises(ValueError):
            make()


def test_a_user_written_optimizer_needs_only_its_rule():
    """Subclassing: defaults (with a required one) and ``_update``; the rest is inherited."""

    class SignSGD(gg.optim.Optimizer):
        """p <- p - lr * sign(g)"""

        def __init__(self, params, lr=optimizer.required):
            super().__init__(params, {"lr": lr})

        def _update(self, p, g, state, group):
            p -= group["lr"] * np.sign(g)

    gp, _ = make_params()
    with pytest.raises(ValueError, match="required hyper-parameter 'lr'"):
        SignSGD(gp)
    opt = SignSGD([{"params": gp[:1], "lr": 0.5}, {"params": gp[1:], "lr": 0.1}])
    gg_loss(gp).backward()
    grads = [p.grad.data.copy() for p in gp[:2]]
    opt.step()
    np.testing.assert_allclose(gp[0].data, INIT[0] - 0.5 * np.sign(grads[0]))
    np.testing.assert_allclose(gp[1].data, INIT[1] - 0.1 * np.sign(grads[1]))
    assert "Parameter Group 1" in repr(opt) and "lr: 0.1" in repr(opt)


def test_repr_lists_the_groups():
    gp, _ = make_params()
    text = repr(gg.optim.Adam(gp, lr=0.02))
    assert text.startswith("Adam (") and "betas: (0.9, 0.999)" in text and "lr: 0.02" in text


@pytest.mark.parametrize("module", [optimizer, sgd, adam, rmsprop, lr_scheduler])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
