"""Registers the e2e harness's fixtures (see harness.py for what they do); `git_server` comes
from tests/support/fixtures.py, registered in tests/conftest.py."""

from __future__ import annotations

from harness import (  # noqa: F401  (fixtures, found by pytest by name)
    act_bin,
    config_repo_files,
    config_url,
    gitlab_ci_local_bin,
    make_repo,
    mlgate_bin,
    mlgate_canary_bin,
    mlgate_checkout,
    mlgate_landing_bin,
    mlgate_pipeline_bin,
    mlgate_validate_bin,
    mlgate_verify_bin,
    mlgate_wait_sync_bin,
    run_act,
    run_gitlab_ci_local,
    runner,
    venv_root,
)
