"""Help for every command loads no heavy library: a CI runner with only the base install
(or a slow import of mlflow) must not pay for commands it does not run."""

from __future__ import annotations

import os
import subprocess
import sys

from mlgate.cli import COMMANDS

HEAVY = ["mlflow", "great_expectations", "sklearn", "pandas", "pyarrow", "github", "gitlab",
         "pyspark", "numpy", "requests", "regopy", "fairlearn", "kubernetes", "cryptography"]


def test_help_of_every_command_imports_nothing_heavy():
    code = (
        "import sys\n"
        "from mlgate.cli import main\n"
        f"for name in {sorted(COMMANDS)!r}:\n"
        "    assert main([name, '--help'], environ={}) == 0\n"
        f"loaded = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    env = dict(os.environ,
               PYTHONPATH=os.path.join(os.path.dirname(__file__), "..", "..", "..", "src"))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
