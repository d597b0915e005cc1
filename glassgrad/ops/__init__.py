"""All array operations. Each family module declares its ops on cards (forward, VJP,
JVP, derivation, and the names it is known by); this package only gathers the families'
``__all__`` lists into one namespace, which ``glassgrad`` re-exports. A test checks it
against the op registry (:data:`glassgrad.primitive.OPS`), so an op whose name is
missing from its family's ``__all__`` is named, not silently absent."""

from . import (
    arrange,
    compare,
    decomp,  # noqa: F401  (gg.linalg: registered here, exported by glassgrad.linalg)
    elementwise,
    exp_log,
    indexing,
    linalg,
    norms,  # noqa: F401  (gg.linalg, like decomp)
    products,
    reduction,
    scan,
    shape,
    trig,
)
from .arrange import *  # noqa: F403
from .compare import *  # noqa: F403
from .elementwise import *  # noqa: F403
from .exp_log import *  # noqa: F403
from .indexing import *  # noqa: F403
from .linalg import *  # noqa: F403
from .products import *  # noqa: F403
from .reduction import *  # noqa: F403
from .scan import *  # noqa: F403
from .shape import *  # noqa: F403
from .trig import *  # noqa: F403

FAMILIES = (elementwise, trig, exp_log, compare, reduction, scan, shape, arrange, indexing,
            linalg, products)
"""The families whose ops are top-level ``gg.*`` names. ``decomp`` holds ``gg.linalg.*``
(registered as ``linalg.<name>``, exported by :mod:`glassgrad.linalg`)."""

__all__ = [name for family in FAMILIES for name in family.__all__]
