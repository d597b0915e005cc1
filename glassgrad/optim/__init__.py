"""gg.optim: optimizers and learning-rate schedulers with PyTorch's exact update rules.

The training loop you know from PyTorch::

    opt = gg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = gg.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
    for epoch in range(epochs):
        for x, y in loader:
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
        sched.step()

Each optimizer's update rule is a few lines of NumPy in its ``_update`` method, with the
formula in its class docstring; starting from the same values with the same gradients,
the parameters follow PyTorch's trajectory.
"""

from . import lr_scheduler
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "lr_scheduler"]
