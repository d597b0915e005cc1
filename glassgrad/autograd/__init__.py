"""``gg.autograd``: gradients on demand, custom Functions, and gradient checking."""

from ..anomaly import AnomalyError, detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from ..engine import observe_backward, observe_forward
from ..graph import saved_by, walk
from .checkpoint import SavedTensorsSummary, checkpoint, saved_tensors_summary
from .function import Function, FunctionCtx
from .grad import grad
from .gradcheck import GradcheckError, gradcheck, gradgradcheck, numerical_gradient
from .localize import BadBackward, find_bad_backward

__all__ = [
    "grad", "Function", "FunctionCtx", "gradcheck", "gradgradcheck", "numerical_gradient",
    "GradcheckError", "detect_anomaly", "AnomalyError", "is_anomaly_enabled",
    "set_detect_anomaly",
    "saved_by", "observe_backward", "observe_forward", "walk",
    "checkpoint", "saved_tensors_summary", "SavedTensorsSummary",
    "find_bad_backward", "BadBackward",
]
