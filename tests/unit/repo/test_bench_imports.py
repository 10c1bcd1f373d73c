"""bench/promote.py runs where pytest is not installed: the stand-ins it imports keep pytest
for their fixtures only. Checked in a subprocess whose `import pytest` fails, as it would on
a machine without it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

BLOCKED = (
    "import sys; sys.modules['pytest'] = None; sys.path[:0] = [{src!r}, {tests!r}];"
    "import runpy; bench = runpy.run_path({bench!r}, run_name='bench');"
    "from standins.gitlab_api import GitLabApiServer;"
    "from standins.github_api import WRITE_TOKEN, GitHubStandIn;"
    "import standins.gitlab_api as gl, standins.github_api as gh;"
    "assert not hasattr(gl, 'gitlab_api') and not hasattr(gh, 'github_standin');"
    "print('ok', sorted(k for k in bench if k.startswith('bench_')))"
)


def test_the_bench_and_its_stand_ins_import_without_pytest() -> None:
    code = BLOCKED.format(src=str(ROOT / "src"), tests=str(ROOT / "tests"),
                          bench=str(ROOT / "bench" / "promote.py"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok [") and "'bench_gitlab'" in proc.stdout
    assert "'bench_github'" in proc.stdout


def test_pytest_itself_is_really_blocked_in_that_subprocess() -> None:
    """The check above means something only if `import pytest` does fail there."""
    proc = subprocess.run([sys.executable, "-c", "import sys; sys.modules['pytest'] = None; "
                           "import pytest"], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "ModuleNotFoundError" in proc.stderr
