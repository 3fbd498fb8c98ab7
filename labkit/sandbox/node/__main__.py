"""``python -m labkit.sandbox.node <cluster>``: run the node agent (started by the supervisor)."""

import sys

from .agent import main

sys.exit(main(sys.argv))
