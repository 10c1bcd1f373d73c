"""Reading promotions back from the config repo's history, by their trailers.

Only commit messages are needed, so the clone asks for commits and no trees or blobs
(--filter=tree:0): cheap even for a large config repo with a long history.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from mlgate.errors import ServiceError
from mlgate.promote.config import Target
from mlgate.promote.git import Git, GitError, describe_failure, private_tempdir
from mlgate.promote.message import parse_trailers

MAX_COMMITS = 5000


@dataclass(frozen=True)
class Recorded:
    """One mlgate commit for an app and environment, newest first in a history."""

    sha: str
    subject: str
    images: tuple[tuple[str, str], ...]  # (previous, new) references
    sets: tuple[tuple[str, str], ...]  # (previous "file:path=value", new "file:path=value")
    registry: str | None
    rollback_of: tuple[str, ...]
    evidence: tuple[str, ...] = ()  # "sha256 file" of each Mlgate-Evidence-Sha256
    folder: str | None = None  # Mlgate-Folder: the environment folder it changed
    reason: str | None = None  # Mlgate-Rollback-Reason: why a rollback was made

    @property
    def is_rollback(self) -> bool:
        return bool(self.rollback_of)


def read_history(target: Target, app: str, environment: str) -> list[Recorded]:
    out = []
    for sha, body in _log(target, f"^Mlgate-App: {app}$"):
        found = _parse(sha, body, app, environment)
        if found is not None:
            out.append(found)
    return out


def read_all(target: Target, app: str | None = None) -> dict[tuple[str, str], list[Recorded]]:
    """Every mlgate commit at the head of the base branch, by (app, environment), newest
    first: what each environment runs, for commands that look at all of them (sync-aliases)."""
    out: dict[tuple[str, str], list[Recorded]] = {}
    pattern = f"^Mlgate-App: {app}$" if app else "^Mlgate-App: "
    for sha, body in _log(target, pattern):
        values = dict(parse_trailers(body))
        key = (values.get("Mlgate-App", ""), values.get("Mlgate-Environment", ""))
        found = _parse(sha, body, *key) if all(key) else None
        if found is not None and (app is None or key[0] == app):
            out.setdefault(key, []).append(found)
    return out


def _log(target: Target, grep: str) -> list[tuple[str, str]]:
    """(sha, message) of the base branch's commits matching `grep`, newest first."""
    private = private_tempdir("mlgate-history-")
    try:
        git = Git(private, target.credentials, private)
        repo = os.path.join(private, "history.git")
        try:
            git.run("clone", "--quiet", "--bare", "--single-branch", "--branch", target.base,
                    "--filter=tree:0", "--no-tags", "--", target.url, repo)
            log = git.run("log", f"-{MAX_COMMITS}", "--format=%H%x1f%B%x1e",
                          f"--grep={grep}", "HEAD", cwd=repo).stdout
        except GitError as exc:
            raise ServiceError(describe_failure(exc, target.url)) from None
    finally:
        shutil.rmtree(private, ignore_errors=True)
    out = []
    for record in log.split("\x1e"):
        sha, sep, body = record.strip().partition("\x1f")
        if sep:
            out.append((sha, body))
    return out


def _parse(sha: str, body: str, app: str, environment: str) -> Recorded | None:
    pairs = parse_trailers(body)
    values: dict[str, list[str]] = {}
    for key, value in pairs:
        values.setdefault(key, []).append(value)
    if values.get("Mlgate-App") != [app] or values.get("Mlgate-Environment") != [environment]:
        return None
    prev, new = values.get("Mlgate-Previous", []), values.get("Mlgate-New", [])
    sprev, snew = values.get("Mlgate-Set-Previous", []), values.get("Mlgate-Set-New", [])
    return Recorded(
        sha=sha,
        subject=body.strip().splitlines()[0] if body.strip() else "",
        images=tuple(zip(prev, new, strict=False)),
        sets=tuple(zip(sprev, snew, strict=False)),
        registry=(values.get("Mlgate-Registry") or [None])[0],
        rollback_of=tuple(sha for v in values.get("Mlgate-Rollback-Of", []) for sha in v.split()),
        evidence=tuple(values.get("Mlgate-Evidence-Sha256", [])),
        folder=(values.get("Mlgate-Folder") or [None])[0],
        reason=(values.get("Mlgate-Rollback-Reason") or [None])[0],
    )


def live_promotions(history: list[Recorded]) -> list[Recorded]:
    """Promotions not yet rolled back, newest first: what `--steps N` counts back through."""
    undone = {sha for r in history for sha in r.rollback_of}
    return [r for r in history if not r.is_rollback and r.sha not in undone]
