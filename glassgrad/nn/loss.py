"""Loss modules (being built)."""


class MSELoss:
    """MSELoss (skeleton)."""


class BCELoss:
    """BCELoss (skeleton)."""


class BCEWithLogitsLoss:
    """BCEWithLogitsLoss (skeleton)."""


class CrossEntropyLoss:
    """CrossEntropyLoss (skeleton)."""


class NLLLoss:
    """NLLLoss (skeleton)."""
