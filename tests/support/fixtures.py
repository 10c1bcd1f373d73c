"""pytest fixtures around the loopback git server.

Use them from a test module or conftest with
`from support.fixtures import git_server  # noqa: F401` (or `pytest_plugins = ["support.fixtures"]`
in the root tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.gitserver import GitHttpServer, random_token


@pytest.fixture
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitHttpServer]:
    """A started GitHttpServer with users `writer` (write) and `reader` (read).

    Their tokens are random per test: `git_server.token("writer")`, `git_server.token("reader")`.
    No repositories yet: `git_server.create_repo(name, files)`.
    """
    root: Path = tmp_path_factory.mktemp("git-server")
    server = GitHttpServer(
        root,
        users={"writer": (random_token(), "write"), "reader": (random_token(), "read")},
    )
    with server:
        yield server
