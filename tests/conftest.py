from __future__ import annotations

import os
import sys

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)

# The loopback git server's fixtures (`git_server`) and the real Prometheus ones
# (`prometheus_stack`, once per session), for every test directory.
pytest_plugins = ["support.fixtures", "support.prometheus"]
