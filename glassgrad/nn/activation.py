"""Activation modules (being built)."""


class ReLU:
    """ReLU activation (skeleton)."""


class LeakyReLU:
    """LeakyReLU activation (skeleton)."""


class Sigmoid:
    """Sigmoid activation (skeleton)."""


class Tanh:
    """Tanh activation (skeleton)."""


class GELU:
    """GELU activation (skeleton)."""


class Softmax:
    """Softmax activation (skeleton)."""


class LogSoftmax:
    """LogSoftmax activation (skeleton)."""


class Softplus:
    """Softplus activation (skeleton)."""


class ELU:
    """ELU activation (skeleton)."""
