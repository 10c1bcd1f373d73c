"""Turning the shared landing options and the environment into typed settings."""

from __future__ import annotations

from mlgate.commands.common import current_environ
from mlgate.promote.config import Options, Target


def build_common(kw: dict, verb: str) -> tuple[dict[str, str], Target, Options]:
    from mlgate.promote.settings import build_options, build_target, check_name

    environ = current_environ()
    check_name(kw["app"], "--app")
    check_name(kw["environment"], "--environment")
    target = build_target(repo=kw["repo"], provider=kw["provider"], mode=kw["mode"],
                          base=kw["base"], api_url=kw["api_url"], environ=environ)
    options = build_options(
        author_name=kw["author_name"], author_email=kw["author_email"],
        committer_name=kw["committer_name"], committer_email=kw["committer_email"],
        signing_key=kw["signing_key"], signing_format=kw["signing_format"],
        max_attempts=kw["max_attempts"], labels=kw["labels"], reviewers=kw["reviewers"],
        auto_merge=kw["auto_merge"], verb=verb,
    )
    return environ, target, options
