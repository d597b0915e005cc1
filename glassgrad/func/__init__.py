"""``gg.func``: functional transforms, as ``torch.func``.

``grad``, ``value_and_grad`` and ``vjp`` use reverse mode (one backward pass gives the
gradient with respect to every input); ``jvp`` uses true forward mode (tangents carried
alongside the values in one pass, no graph); ``jacrev`` builds a Jacobian from m backward
passes (one per output element) and ``jacfwd`` from n forward passes (one per input
element) — which is why deep learning, with millions of inputs and one scalar loss, uses
reverse mode. ``hessian`` is ``jacfwd(jacrev(f))``, forward-over-reverse. Transforms
compose: ``grad(grad(f))``, ``jacfwd(jacrev(f))``, ``jvp`` inside ``grad``...
"""

from .transforms import grad, hessian, jacfwd, jacrev, jvp, value_and_grad, vjp

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "jacrev", "jacfwd", "hessian"]
