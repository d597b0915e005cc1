"""The lessons of the seed page, run on the engine and written as a report.

Each lesson computes on glassgrad and returns a :class:`Section` of the report (text,
figures, tables, code and *claims*: the statements it makes, each checked by the
computation). ``glassgrad demo`` runs them in order (:data:`LESSONS` in
``glassgrad.demo``) and writes ``index.html``; see :mod:`._report`.
"""

from ._report import Claim, Context, Section, write_html

__all__ = ["Claim", "Context", "Section", "write_html"]
