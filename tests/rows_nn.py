"""Op-table rows: the nn primitives (fused losses, norms, conv, pooling, activations).

Part of the one op table (``op_table.ROWS``): every row runs through the same checks
(forward, VJP, JVP vs PyTorch; gradcheck; gradgradcheck).
"""

from __future__ import annotations

from op_table import row, names  # noqa: F401
