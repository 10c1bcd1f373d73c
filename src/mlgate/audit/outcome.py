"""What `mlgate wait-sync` and `mlgate verify` concluded about a promotion commit, kept in git.

A git note (`refs/notes/mlgate`) attaches the fact to the commit without a new commit on the
branch Argo CD or Flux watch: a commit there would move the revision the controller syncs, and
a rollback's "only while it is still the latest" would see it as a change. The notes ref is
pushed on its own; the branch is never fetched, changed or pushed.

One line per outcome, appended (never rewritten), in a format meant to be parsed:

    KIND OUTCOME TIME [DETAIL]

KIND is `wait-sync` or `verify`; OUTCOME one word (wait-sync: Healthy, Failed, Timeout;
verify: Argo Rollouts' phases Successful, Failed, Inconclusive, Error); TIME ISO 8601 UTC
(2026-12-06T23:05:00Z); DETAIL the rest of the line, optional (the CI run's URL). A line that
does not read this way is ignored by the readers, so a hand-written or hostile note cannot
break `mlgate status` or `mlgate metrics`.

Recording is best effort: a recorder that cannot fetch or push (no push rights, a remote that
is not git, the network) says so in one line and leaves the command's verdict alone.
"""

from __future__ import annotations

import random
import re
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from mlgate.errors import MlgateError
from mlgate.promote.config import Target
from mlgate.promote.git import Git, GitError, describe_failure, private_tempdir
from mlgate.redact import mask_secrets, strip_userinfo

NOTES_REF = "refs/notes/mlgate"
KINDS = ("wait-sync", "verify")
MAX_DETAIL = 300
ATTEMPTS = 5
_LINE = re.compile(r"(wait-sync|verify) ([A-Za-z]{1,20}) "
                   r"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)(?: (\S.*))?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
# what wait-sync's outcome is called in the note: one word, capitalized like verify's phases
WAIT_SYNC_WORDS = {"ready": "Healthy", "failed": "Failed", "timeout": "Timeout"}


@dataclass(frozen=True)
class Outcome:
    """One line of a promotion commit's note."""

    kind: str  # wait-sync | verify
    outcome: str  # Healthy, Failed, Timeout | Successful, Failed, Inconclusive, Error
    when: str  # ISO 8601 UTC
    detail: str | None = None  # the CI run's URL, when known

    @property
    def timestamp(self) -> int:
        return int(datetime.fromisoformat(self.when.replace("Z", "+00:00")).timestamp())

    def line(self) -> str:
        return " ".join(p for p in (self.kind, self.outcome, self.when, self.detail) if p)


@dataclass(frozen=True)
class Recording:
    """What recording an outcome came to: the line written, or why it was not."""

    commit: str  # the commit the note is (or was to be) on
    line: str
    recorded: bool
    warning: str | None = None  # one line, no secrets: why the note was not written


def outcome_now(kind: str, outcome: str, detail: str | None = None,
                now: float | None = None) -> Outcome:
    """An Outcome stamped now, its detail made one printable line (capped, any user:password@
    of a URL in it removed: a note is readable by everyone who can read the repo)."""
    if kind not in KINDS or not re.fullmatch(r"[A-Za-z]{1,20}", outcome):
        raise ValueError(f"not an outcome: {kind} {outcome}")
    when = datetime.fromtimestamp(time.time() if now is None else now, timezone.utc)
    clean = strip_userinfo(_CONTROL.sub(" ", detail or "")).strip()[:MAX_DETAIL] or None
    return Outcome(kind, outcome, when.strftime("%Y-%m-%dT%H:%M:%SZ"), clean)


def parse_note(text: str) -> tuple[Outcome, ...]:
    """The outcome lines of a note, in the order they stand; anything else is skipped."""
    found = []
    for line in text.splitlines():
        match = _LINE.fullmatch(line.strip())
        if match is None:
            continue
        try:
            datetime.fromisoformat(match[3].replace("Z", "+00:00"))
        except ValueError:  # 2026-13-45: shaped like a time, not one
            continue
        found.append(Outcome(match[1], match[2], match[3], (match[4] or "")[:MAX_DETAIL] or None))
    return tuple(found)


def last_of(outcomes: tuple[Outcome, ...], kind: str) -> Outcome | None:
    """The latest outcome of `kind` (by its time; of equal times, the later line): the order
    of lines is not trusted, since merging two recorders' notes may sort them."""
    mine = [(o.timestamp, i, o) for i, o in enumerate(outcomes) if o.kind == kind]
    return max(mine)[2] if mine else None


def record(target: Target, sha: str, outcome: Outcome, *, attempts: int = ATTEMPTS,
           environ: Mapping[str, str] | None = None) -> Recording:
    """Append `outcome` to the note of commit `sha` under refs/notes/mlgate in the config repo
    and push the notes ref alone. Another recorder's push in between (non-fast-forward) is met
    by fetching the new notes and appending again, up to `attempts` times. Never raises for a
    remote's refusal: a Recording with a warning says what went wrong."""
    line = outcome.line()
    if not _SHA.fullmatch(sha):
        return Recording(sha, line, False, f"not recorded: {sha[:60]!r} is not a full commit sha")
    private = private_tempdir("mlgate-notes-")
    try:
        git = Git(private, target.credentials, private, environ)
        repo = f"{private}/notes.git"
        identity = {"user.name": "mlgate", "user.email": "mlgate@users.noreply.localhost"}
        git.run("init", "--quiet", "--bare", repo)
        for attempt in range(max(1, attempts)):
            fetched = git.run("fetch", "--quiet", "--no-tags", "--", target.url,
                              f"+{NOTES_REF}:{NOTES_REF}", cwd=repo, check=False)
            if fetched.returncode != 0 and not _no_such_ref(fetched.stderr):
                raise GitError(("fetch",), fetched.returncode, fetched.stdout, fetched.stderr)
            # the commit itself is never fetched: a note needs only its full name
            git.run("notes", f"--ref={NOTES_REF}", "append", "-m", line, sha, cwd=repo,
                    config=identity)
            pushed = git.run("push", "--quiet", "--porcelain", "--", target.url,
                             f"{NOTES_REF}:{NOTES_REF}", cwd=repo, check=False)
            if pushed.returncode == 0:
                return Recording(sha, line, True)
            if not _raced(pushed.stdout + pushed.stderr):
                raise GitError(("push",), pushed.returncode, pushed.stdout, pushed.stderr)
            git.run("update-ref", "-d", NOTES_REF, cwd=repo)  # start again from theirs
            # jittered, growing: recorders that collided do not collide again in lockstep
            time.sleep(random.uniform(0.05, 0.2) * (attempt + 1))
        return Recording(sha, line, False, f"not recorded: {refs_busy(target.url, attempts)}")
    except GitError as exc:
        return Recording(sha, line, False, "not recorded: " + describe_failure(exc, target.url))
    except Exception as exc:  # noqa: BLE001 - best effort: never the command's verdict
        said = _CONTROL.sub(" ", str(exc))
        if target.credentials:
            said = mask_secrets(said, (target.credentials.token,))
        return Recording(sha, line, False, f"not recorded: {type(exc).__name__}: {said[:200]}")
    finally:
        shutil.rmtree(private, ignore_errors=True)


def record_outcome(repo: str, revision: str, kind: str, outcome: str,
                   environ: Mapping[str, str], provider: str | None = None,
                   now: float | None = None) -> Recording:
    """What a command calls once it concluded: the config repo and its credentials exactly as
    promote takes them (--provider's token variables; without --provider, as wait-sync's
    ancestry check does, the first of MLGATE_GIT_TOKEN, GITHUB_TOKEN, GITLAB_TOKEN), the CI
    run's URL as the detail. Never raises: a bad --repo is a warning here too (the command
    itself already judged the live model)."""
    from mlgate.promote.message import run_url

    line = outcome_now(kind, outcome, run_url(environ), now)
    try:
        target = target_for(repo, environ, provider)
    except MlgateError as exc:
        return Recording(revision, line.line(), False, f"not recorded: {exc}")
    return record(target, revision, line, environ=dict(environ))


def target_for(repo: str, environ: Mapping[str, str], provider: str | None = None) -> Target:
    """The config repo to record in (BadInput for a --repo that is neither a URL nor a git
    repository); only its URL and credentials matter, a note is on no branch."""
    from mlgate.promote.git import check_repo_url
    from mlgate.promote.settings import credentials

    url = check_repo_url(repo)
    creds = None
    for name in (provider,) if provider else ("git", "github", "gitlab"):
        creds = credentials(name, environ)
        if creds:
            break
    return Target(url=url, provider=provider or "git", mode="push", base="main",
                  credentials=creds)


def refs_busy(url: str, attempts: int) -> str:
    from mlgate.redact import redact_url

    return (f"{redact_url(url)}'s {NOTES_REF} moved on every one of {attempts} tries "
            "(other recorders)")


def _no_such_ref(stderr: str) -> bool:
    """The repo has no notes yet: the first recorder creates the ref."""
    lowered = stderr.lower()
    return "couldn't find remote ref" in lowered or "could not find remote ref" in lowered


def _raced(text: str) -> bool:
    lowered = text.lower()
    return any(s in lowered for s in ("non-fast-forward", "fetch first", "[rejected]",
                                      "stale info", "cannot lock ref", "failed to update ref"))
