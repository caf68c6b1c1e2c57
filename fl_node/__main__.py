"""``python -m fl_node``: the same as the ``fl-node`` command."""

import sys

from fl_node.cli import main

sys.exit(main())
