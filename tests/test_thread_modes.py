"""Grad mode, anomaly mode and the forward level are per thread, as in PyTorch.

A ``no_grad()`` block, an ``optimizer.step()`` or a ``backward()`` in one thread must
never switch recording off in another; two threads training two models must end with
the parameters a sequential run gives.
"""

import sys
import threading

import numpy as np
import torch

import glassgrad as gg


def _make_model_and_data(seed):
    rng = np.random.default_rng(seed)
    model = gg.nn.Sequential(gg.nn.Linear(5, 8), gg.nn.Tanh(), gg.nn.Linear(8, 2))
    with gg.no_grad():
        for p in model.parameters():
            p.data[...] = rng.standard_normal(p.shape).astype(p.dtype) * 0.5
    x = rng.standard_normal((16, 5)).astype(np.float32)
    y = rng.integers(0, 2, size=16)
    return model, x, y


def _train(model, x, y, steps, barrier=None, missing=None):
    opt = gg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(steps):
        if barrier is not None:
            barrier.wait()  # lock-step: the other thread's step/backward runs meanwhile
        opt.zero_grad()
        loss = gg.nn.functional.cross_entropy(model(gg.tensor(x)), gg.tensor(y))
        loss.backward()
        if missing is not None and any(p.grad is None for p in model.parameters()):
            missing.append(True)
        opt.step()
        with gg.no_grad():  # an evaluation block racing the other thread's forward
            model(gg.tensor(x))
    return [np.array(p.data) for p in model.parameters()]


def test_two_threads_train_two_models_as_a_sequential_run_does():
    steps = 60
    sequential = [_train(*_make_model_and_data(s), steps) for s in (1, 2)]

    models = [_make_model_and_data(s) for s in (1, 2)]
    barrier = threading.Barrier(2)
    results, missing, errors = [None, None], [], []

    def work(i):
        try:
            results[i] = _train(*models[i], steps, barrier=barrier, missing=missing)
        except BaseException as err:  # surfaced below; a thread's exception is lost
            errors.append(err)
            barrier.abort()

    threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, so their ops interleave finely
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors, errors
    assert not missing, "a backward left p.grad None: recording was off in that thread"
    for got, want in zip(results, sequential):
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)


def _in_thread(fn):
    out = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    t.join()
    return out[0]


def test_no_grad_in_one_thread_leaves_other_threads_recording():
    entered, release = threading.Event(), threading.Event()

    def hold_no_grad():
        with gg.no_grad():
            entered.set()
            release.wait(10)

    t = threading.Thread(target=hold_no_grad)
    t.start()
    entered.wait(10)
    try:
        x = gg.ones(3, requires_grad=True)
        assert gg.is_grad_enabled()
        assert (x * 2).requires_grad
    finally:
        release.set()
        t.join()


def test_no_grad_blocks_exiting_in_interleaved_order_restore_grad_mode():
    # Thread A enters, B enters, A exits, B exits: with one global flag B's exit
    # restored the "off" it had seen on entry, and grad mode stayed off for good.
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def thread_a():
        with gg.no_grad():
            a_in.set()
            b_in.wait(10)
        seen["a"] = gg.is_grad_enabled()
        a_out.set()

    def thread_b():
        a_in.wait(10)
        with gg.no_grad():
            b_in.set()
            a_out.wait(10)
        seen["b"] = gg.is_grad_enabled()

    threads = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"a": True, "b": True}
    assert gg.is_grad_enabled()


def test_a_new_thread_starts_with_the_defaults_as_torch_does():
    with gg.no_grad(), torch.no_grad(), gg.autograd.detect_anomaly():
        ours = _in_thread(lambda: (gg.is_grad_enabled(), gg.autograd.is_anomaly_enabled()))
        theirs = _in_thread(lambda: (torch.is_grad_enabled(), torch.is_anomaly_enabled()))
    assert ours == theirs == (True, False)


def test_anomaly_mode_is_per_thread():
    entered, release = threading.Event(), threading.Event()

    def hold_anomaly():
        with gg.autograd.detect_anomaly():
            entered.set()
            release.wait(10)

    t = threading.Thread(target=hold_anomaly)
    t.start()
    entered.wait(10)
    try:
        assert not gg.autograd.is_anomaly_enabled()
        x = gg.tensor([0.0], requires_grad=True)
        gg.sqrt(x).sum().backward()  # inf gradient: an error only under anomaly mode
        assert np.isinf(x.grad.data[0])
    finally:
        release.set()
        t.join()


def test_forward_level_of_one_thread_is_invisible_to_another():
    entered, release = threading.Event(), threading.Event()
    seen = {}

    def f(x):
        entered.set()
        release.wait(10)
        return x * x

    def hold_jvp():
        seen["jvp"] = gg.func.jvp(f, (gg.tensor([3.0]),), (gg.tensor([1.0]),))

    t = threading.Thread(target=hold_jvp)
    t.start()
    entered.wait(10)
    try:
        # While the other thread sits inside jvp, ordinary reverse mode here is unaffected.
        x = gg.tensor([2.0, 5.0], requires_grad=True)
        (x * x).sum().backward()
        np.testing.assert_array_equal(x.grad.data, [4.0, 10.0])
    finally:
        release.set()
        t.join()
    out, tangent = seen["jvp"]
    np.testing.assert_array_equal(tangent.data, [6.0])
