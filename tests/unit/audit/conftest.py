"""What every audit test starts from: the example config repo as a bare remote."""

from __future__ import annotations

import pytest
from support.configrepo import example_remote


@pytest.fixture
def remote(tmp_path):
    return example_remote(tmp_path)
