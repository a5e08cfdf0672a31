"""``python -m itflow_bridge.cli``: the same as the ``itflow-bridge`` command."""

import sys

from . import main

sys.exit(main())
