"""Which emitter fits where the command runs, from the environment alone.

Kept apart from the emitters so tests (and `MLGATE_CI`) can pick one explicitly, and so the
rules are in one place: GitHub Actions (and `act`) set GITHUB_ACTIONS=true, GitLab CI sets
GITLAB_CI=true, and gitlab-ci-local sets GITLAB_CI=false but still defines CI_SERVER_URL and
runs dotenv reports, so it is treated as GitLab too.
"""

from __future__ import annotations

from collections.abc import Mapping

from mlgate.ci.base import Emitter
from mlgate.errors import BadInput

OVERRIDE_ENV = "MLGATE_CI"
KINDS = ("github", "gitlab", "local", "quiet")


def detect_kind(environ: Mapping[str, str]) -> str:
    """'github', 'gitlab' or 'local'; MLGATE_CI, when set, wins over detection."""
    forced = environ.get(OVERRIDE_ENV, "").strip().lower()
    if forced:
        if forced not in KINDS:
            raise BadInput(f"{OVERRIDE_ENV}: expected one of {', '.join(KINDS)}, got {forced!r}")
        return forced
    if environ.get("GITHUB_ACTIONS") == "true":
        return "github"
    if environ.get("GITLAB_CI") == "true":
        return "gitlab"
    if environ.get("GITLAB_CI") == "false" and environ.get("CI_SERVER_URL"):
        return "gitlab"  # gitlab-ci-local
    return "local"


def detect(environ: Mapping[str, str]) -> Emitter:
    kind = detect_kind(environ)
    if kind == "github":
        from mlgate.ci.github import GitHubEmitter

        return GitHubEmitter(environ)
    if kind == "gitlab":
        from mlgate.ci.gitlab import GitLabEmitter

        return GitLabEmitter(environ)
    if kind == "quiet":
        from mlgate.ci.quiet import QuietEmitter

        return QuietEmitter(environ)
    from mlgate.ci.local import LocalEmitter

    return LocalEmitter(environ)
