"""The outside tools the tests drive (act, gitlab-ci-local, rsync, docker-registry, Java, the
linters): when one is missing, a test fails or skips, saying which tool and how to get it.

`./scripts/test` installs every one of them before it runs pytest and sets
MLGATE_TESTS_REQUIRE_TOOLS=1, so under it (and under CI, where `CI` is set) a missing tool is a
failure: a run that could have installed it never passes by skipping. A hand-run `pytest` on a
developer's machine skips instead, naming the tool.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

REQUIRE_TOOLS_ENV = "MLGATE_TESTS_REQUIRE_TOOLS"


def tools_required() -> bool:
    """True under ./scripts/test (MLGATE_TESTS_REQUIRE_TOOLS=1) and under CI (`CI` set)."""
    return os.environ.get(REQUIRE_TOOLS_ENV) == "1" or bool(os.environ.get("CI"))


def missing_tool(name: str, how: str) -> NoReturn:
    """Fail (scripts/test, CI) or skip (a hand-run pytest) the test that needs `name`."""
    message = f"{name} is not installed ({how}); ./scripts/test installs it"
    if tools_required():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
