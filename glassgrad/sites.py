"""Which source files are "the user's code", for messages that say where an op was made.

Anomaly mode and ``find_bad_backward`` report the innermost frame outside the engine.
The package's own programs that *use* the engine as a user would (the lessons, the demo,
the command line) count as user code: a lesson's broken Function is named at its line in
the lesson, not at whoever called the lesson.
"""

from __future__ import annotations

import os

__all__ = ["is_user_file"]

_PKG_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_USER_PARTS = tuple(_PKG_DIR + p for p in ("lessons" + os.sep, "cli" + os.sep, "demo.py"))


def is_user_file(filename: str) -> bool:
    """Whether ``filename`` is outside the engine (or one of its user-level programs)."""
    path = os.path.abspath(filename)
    return not path.startswith(_PKG_DIR) or path.startswith(_USER_PARTS)
