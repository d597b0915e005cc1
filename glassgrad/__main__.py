"""``python -m glassgrad``: the ``glassgrad`` command (see :mod:`glassgrad.cli`)."""

import sys

from .cli import main

sys.exit(main())
