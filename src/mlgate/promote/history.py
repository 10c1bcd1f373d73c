"""Reading promotions back from the config repo's history, by their trailers.

Only commit messages are needed, so the clone asks for commits and no trees or blobs
(--filter=tree:0): cheap even for a large config repo with a long history.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass

from mlgate.errors import GateFailed, ServiceError
from mlgate.promote.config import Target
from mlgate.promote.git import Git, GitError, describe_failure, private_tempdir
from mlgate.promote.message import parse_trailers

MAX_COMMITS = 5000
# "model@alias before -> after", as promote writes it (promote._registry_trailer)
_REGISTRY = re.compile(r"(?P<model>.+)@(?P<alias>[A-Za-z0-9_-]{1,255}) "
                       r"(?P<before>none|[0-9]{1,18}) -> (?P<after>[0-9]{1,18})")


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
    # Mlgate-Alias-When: "verified" when the alias waits for verify; None (or "landed") when it
    # moved with the commit; anything else is not mlgate's and is read as still waiting
    alias_when: str | None = None
    # a canary's step (Mlgate-Canary "STEP/TOTAL", or "aborted" for the commit that sent its
    # traffic back to 0 %), its id and the traffic share the commit set
    canary: str | None = None
    canary_id: str | None = None
    canary_weight: str | None = None
    set_undo: tuple[str, ...] = ()  # Mlgate-Set-Undo: what a rollback sets instead
    # what the audit commands show besides (mlgate.audit): the model repo commit, the CI run,
    # where the evidence files are kept in the config repo, who committed it and when
    app: str = ""
    environment: str = ""
    source: str | None = None  # Mlgate-Source: model repo@commit
    source_time: str | None = None  # Mlgate-Source-Time: when that commit was made (UTC)
    run: str | None = None  # Mlgate-Run: the CI run's URL
    evidence_dir: str | None = None  # Mlgate-Evidence-Dir: the evidence's folder in the repo
    author: str = ""  # "name <email>" (read only by the audit's log, else empty)
    when: int = 0  # committer date, seconds since the epoch (idem)

    @property
    def is_rollback(self) -> bool:
        return bool(self.rollback_of)

    @property
    def alias_waits(self) -> bool:
        """The alias move this promotion recorded waits for verify (it did not move with the
        commit). Fail-safe: an unknown or repeated Mlgate-Alias-When waits too."""
        return self.alias_when not in (None, "landed")


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
        found = record_from(sha, body)
        if found is not None and (app is None or found.app == app):
            out.setdefault((found.app, found.environment), []).append(found)
    return out


def _log(target: Target, grep: str) -> list[tuple[str, str]]:
    """(sha, message) of the base branch's commits matching `grep`, newest first."""
    private = private_tempdir("mlgate-history-")
    try:
        git, repo = clone_commits(target, private)
        try:
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


def clone_commits(target: Target, private: str, *, trees: bool = False) -> tuple[Git, str]:
    """A bare clone of the base branch in `private` holding its commits only (no trees or
    blobs: --filter=tree:0; with `trees`, --filter=blob:none, for a log limited to paths),
    and the Git that reaches it; ServiceError naming the remote."""
    git = Git(private, target.credentials, private)
    repo = os.path.join(private, "history.git")
    try:
        git.run("clone", "--quiet", "--bare", "--single-branch", "--branch", target.base,
                "--filter=blob:none" if trees else "--filter=tree:0", "--no-tags", "--",
                target.url, repo)
    except GitError as exc:
        raise ServiceError(describe_failure(exc, target.url)) from None
    return git, repo


def _parse(sha: str, body: str, app: str, environment: str) -> Recorded | None:
    found = record_from(sha, body)
    if found is None or found.app != app or found.environment != environment:
        return None
    return found


def record_from(sha: str, body: str, author: str = "", when: int = 0) -> Recorded | None:
    """The commit as an mlgate record, whatever its app and environment; None when it names
    no single app and environment (a hand-made or foreign trailer is not a record)."""
    values: dict[str, list[str]] = {}
    for key, value in parse_trailers(body):
        values.setdefault(key, []).append(value)
    apps, environments = values.get("Mlgate-App", []), values.get("Mlgate-Environment", [])
    if len(apps) != 1 or len(environments) != 1 or not apps[0] or not environments[0]:
        return None
    prev, new = values.get("Mlgate-Previous", []), values.get("Mlgate-New", [])
    sprev, snew = values.get("Mlgate-Set-Previous", []), values.get("Mlgate-Set-New", [])
    return Recorded(
        sha=sha,
        subject=body.strip().split("\n", 1)[0] if body.strip() else "",
        images=tuple(zip(prev, new, strict=False)),
        sets=tuple(zip(sprev, snew, strict=False)),
        registry=(values.get("Mlgate-Registry") or [None])[0],
        rollback_of=tuple(sha for v in values.get("Mlgate-Rollback-Of", []) for sha in v.split()),
        evidence=tuple(values.get("Mlgate-Evidence-Sha256", [])),
        folder=(values.get("Mlgate-Folder") or [None])[0],
        reason=(values.get("Mlgate-Rollback-Reason") or [None])[0],
        alias_when=_one_value(values.get("Mlgate-Alias-When", [])),
        canary=_one_value(values.get("Mlgate-Canary", [])),
        canary_id=_one_value(values.get("Mlgate-Canary-Id", [])),
        canary_weight=_one_value(values.get("Mlgate-Canary-Weight", [])),
        set_undo=tuple(values.get("Mlgate-Set-Undo", [])),
        app=apps[0],
        environment=environments[0],
        source=_one_value(values.get("Mlgate-Source", [])),
        source_time=_one_value(values.get("Mlgate-Source-Time", [])),
        run=_one_value(values.get("Mlgate-Run", [])),
        evidence_dir=_one_value(values.get("Mlgate-Evidence-Dir", [])),
        author=author,
        when=when,
    )


def _one_value(found: list[str]) -> str | None:
    """A trailer that should appear once: its value, or all of them when they disagree (a
    hand-made "landed" beside a "verified" must not read as either)."""
    distinct = list(dict.fromkeys(found))
    return None if not distinct else ", ".join(distinct)


def parse_registry(text: str) -> tuple[str, str, str | None, str] | None:
    """(model, alias, before, after) of a recorded `Mlgate-Registry`; None when it does not
    read as one (history is not trusted: a hand-made trailer is skipped, not followed)."""
    found = _REGISTRY.fullmatch(text.strip())
    if found is None:
        return None
    before = found["before"]
    return found["model"], found["alias"], None if before == "none" else before, found["after"]


def live_promotions(history: list[Recorded]) -> list[Recorded]:
    """Promotions not yet rolled back, newest first: what `--steps N` counts back through."""
    undone = {sha for r in history for sha in r.rollback_of}
    return [r for r in history if not r.is_rollback and r.sha not in undone]


def live_groups(live: list[Recorded]) -> list[list[Recorded]]:
    """Live promotions as what a rollback undoes, newest first: a canary's step commits (one
    canary id, one after another) are one promotion made in several commits, so undoing it
    undoes them all and restores what the environment ran before its first step."""
    groups: list[list[Recorded]] = []
    for record in live:
        if groups and record.canary_id and groups[-1][-1].canary_id == record.canary_id:
            groups[-1].append(record)
        else:
            groups.append([record])
    return groups


def check_live(of: str, live: list[Recorded], app: str, environment: str, what: str) -> None:
    """Acting on one named promotion (verify undoing or confirming what it verified) goes
    ahead only while that promotion is what the environment runs: if another landed since,
    acting on "the last one" would act on the newer one, which nobody judged. `what` says
    what was not done ("not rolled back")."""
    if live and live[0].sha == of:
        return
    if any(r.sha == of for r in live):
        raise GateFailed(f"promotion {of[:12]} of {app} in {environment} is no longer the "
                         f"latest ({live[0].sha[:12]} landed after it): {what}")
    raise GateFailed(f"promotion {of[:12]} of {app} in {environment} is not a live promotion "
                     f"(already rolled back, or not an mlgate promotion of it): {what}")
