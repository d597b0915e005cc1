"""``gg.nn``: layers, activations and losses with PyTorch's names, shapes and state dicts.

``gg.nn.functional`` (usually ``F``) holds the stateless forms, ``gg.nn.init`` the
initialisers and ``gg.nn.utils`` gradient clipping.

Examples
--------
>>> import glassgrad as gg
>>> net = gg.nn.Sequential(gg.nn.Linear(2, 8), gg.nn.Tanh(), gg.nn.Linear(8, 1))
>>> [k for k in net.state_dict()]
['0.weight', '0.bias', '2.weight', '2.bias']
"""

from . import functional, init, parallel, utils
from .activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Softplus, Tanh
from .container import ModuleList, Sequential
from .conv import Conv2d
from .linear import Dropout, Embedding, Flatten, Identity, Linear, Residual
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .module import Module, Parameter
from .normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from .parallel import SyncBatchNorm
from .pooling import AvgPool2d, MaxPool2d

__all__ = [
    "functional", "init", "utils", "parallel", "SyncBatchNorm",
    "Module", "Parameter", "Sequential", "ModuleList",
    "Linear", "Identity", "Flatten", "Residual", "Dropout", "Embedding",
    "Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "LayerNorm",
    "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "Softmax", "LogSoftmax", "Softplus", "ELU",
    "MSELoss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss",
]
