"""The promotion commit message: a summary line, the gates' evidence, and git trailers.

Trailers make the config repo's history the audit log and the rollback index: `git log
--grep` plus `git interpret-trailers` answer "what did production run before, who promoted it,
from which model commit and CI run, on what evidence" with nothing but git.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from mlgate import safe_load
from mlgate.errors import BadInput

MAX_EVIDENCE_BYTES = 5 * 1024 * 1024
# every character Python's str.splitlines() breaks at, and history's record separators: a
# value carrying one would otherwise read back as a trailer of its own (a forged
# Mlgate-Rollback-Of hides a live promotion from rollback) or split a history record
_TRAILER_SAFE = re.compile("\r\n|[\n\r\x0b\x0c\x1c-\x1f\x85\u2028\u2029]")


@dataclass(frozen=True)
class Evidence:
    """One gate's JSON result, as the gate commands write it with --json."""

    file: str
    sha256: str
    command: str
    verdict: str
    exit_code: int | None
    title: str

    @property
    def data(self) -> bytes:
        """The bytes hashed, so the commit can carry the result itself (evidence_dir). Not a
        field: a gate's result (up to 5 MiB) stays out of asdict() and every report's JSON."""
        return getattr(self, "_data", b"")

    def with_data(self, data: bytes) -> Evidence:
        object.__setattr__(self, "_data", data)  # frozen: set once, by evidence_from
        return self

    @property
    def passed(self) -> bool:
        return self.exit_code == 0


@dataclass(frozen=True)
class SetChange:
    file: str  # repo-relative
    path: str
    old: str | None
    new: str


@dataclass(frozen=True)
class Promotion:
    """What a promotion commit records; also what rollback reads back."""

    app: str
    environment: str
    previous: dict[str, str]  # normalised repository -> reference before
    new: dict[str, str]  # normalised repository -> reference after
    sets: tuple[SetChange, ...] = ()
    source: str | None = None
    # when the model repo's commit was made (ISO 8601 UTC): where lead time for changes starts
    source_time: str | None = None
    run_url: str | None = None
    evidence: tuple[Evidence, ...] = ()
    registry: str | None = None  # "model@alias previous->new"
    alias_when: str | None = None  # "verified": the alias moves once verify passes, not now
    rollback_of: str | None = None
    from_environment: str | None = None
    # with --from-environment and nothing named: the source environment's promotion copied
    # (its commit) and the evidence hashes it carried, so production links to what it ran
    from_commit: str | None = None
    from_evidence: tuple[str, ...] = ()  # "sha256 file", as the source recorded them
    folder: str | None = None  # the environment folder it changed: rollback finds it here
    extra: dict[str, str] = field(default_factory=dict)
    note: str | None = None  # said after the summary line, e.g. a canary's "(canary 5 %, step 2/4)"
    set_undo: tuple[str, ...] = ()  # "file:path=value" a rollback sets instead of the previous
    evidence_dir: str | None = None  # .mlgate/evidence/APP/ENV/ID, set by the landing
    actor: str | None = None  # who ran it (GITHUB_ACTOR / GITLAB_USER_LOGIN), for the statement


def load_evidence(paths: tuple[str, ...]) -> tuple[Evidence, ...]:
    # the shared loader: size, UTF-8, depth limits; the hash is of the bytes it read
    return tuple(evidence_from(path, safe_load.read_bytes(path, f"--evidence {path}",
                                                          limit=MAX_EVIDENCE_BYTES))
                 for path in paths)


def evidence_from(path: str, data: bytes) -> Evidence:
    """A gate's JSON result as the promotion records it: the hash is of exactly these bytes
    (a file read from disk, or what the pipeline just wrote), refused past the same limits."""
    if len(data) > MAX_EVIDENCE_BYTES:
        raise BadInput(f"--evidence {path}: over the {MAX_EVIDENCE_BYTES // (1024 * 1024)} MiB "
                       "size limit")
    doc = safe_load.parse_json(data, f"--evidence {path}")
    if not isinstance(doc, dict) or "command" not in doc:
        raise BadInput(f"--evidence {path!r}: not an mlgate result (no 'command')")
    code = doc.get("exit_code")
    return Evidence(
        file=os.path.basename(path),
        sha256=hashlib.sha256(data).hexdigest(),
        command=str(doc.get("command")),
        verdict=str(doc.get("verdict", "")),
        exit_code=code if isinstance(code, int) else None,
        title=str(doc.get("title", "")),
    ).with_data(data)


def _short(ref: str) -> str:
    """The version part of a reference for the summary line: a tag, or a short digest."""
    tail = ref.rsplit("/", 1)[-1]
    name, at, digest = tail.partition("@")
    _, colon, tag = name.partition(":")
    if colon:
        return tag
    return f"@{digest[7:19]}" if at else ref


def summary_line(p: Promotion, verb: str = "promote") -> str:
    line = _summary(p, verb)
    return f"{line} {p.note}" if p.note else line


def _summary(p: Promotion, verb: str) -> str:
    where = "in" if verb == "rollback" else "to"
    for repo, new in p.new.items():
        old = p.previous.get(repo)
        return f"{verb} {p.app} {where} {p.environment}: {_short(old) if old else 'none'} -> {_short(new)}"
    for s in p.sets:
        return f"{verb} {p.app} {where} {p.environment}: {s.path} {s.old} -> {s.new}"
    return f"{verb} {p.app} {where} {p.environment}"


def _cell(text: str) -> str:
    """A table cell from a gate's JSON: a `|` or a line break would break the table."""
    return _TRAILER_SAFE.sub(" ", text).replace("|", "\\|")


def evidence_markdown(evidence: tuple[Evidence, ...]) -> str:
    if not evidence:
        return "No gate evidence was attached."
    lines = ["| gate | verdict | exit | details |", "| --- | --- | --- | --- |"]
    for e in evidence:
        mark = "✅" if e.passed else "❌"
        lines.append(f"| {_cell(e.command)} | {mark} {_cell(e.verdict)} | {e.exit_code} | "
                     f"{_cell(e.title)} |")
    return "\n".join(lines)


def trailers(p: Promotion) -> list[tuple[str, str]]:
    out = [("Mlgate-App", p.app), ("Mlgate-Environment", p.environment)]
    if p.folder:
        out.append(("Mlgate-Folder", p.folder))
    for repo, new in p.new.items():
        out.append(("Mlgate-Previous", p.previous.get(repo) or "none"))
        out.append(("Mlgate-New", new))
    for s in p.sets:
        out.append(("Mlgate-Set-Previous", f"{s.file}:{s.path}={s.old if s.old is not None else ''}"))
        out.append(("Mlgate-Set-New", f"{s.file}:{s.path}={s.new}"))
    for undo in p.set_undo:
        out.append(("Mlgate-Set-Undo", undo))
    if p.from_environment:
        out.append(("Mlgate-From-Environment", p.from_environment))
    if p.from_commit:
        out.append(("Mlgate-From-Commit", p.from_commit))
    for hashed in p.from_evidence:
        out.append(("Mlgate-From-Evidence-Sha256", hashed))
    if p.source:
        out.append(("Mlgate-Source", p.source))
    if p.source and p.source_time:
        out.append(("Mlgate-Source-Time", p.source_time))
    if p.run_url:
        out.append(("Mlgate-Run", p.run_url))
    for e in p.evidence:
        out.append(("Mlgate-Evidence-Sha256", f"{e.sha256} {e.file}"))
    if p.evidence_dir:
        out.append(("Mlgate-Evidence-Dir", p.evidence_dir))
    if p.registry:
        out.append(("Mlgate-Registry", p.registry))
        if p.alias_when:
            out.append(("Mlgate-Alias-When", p.alias_when))
    if p.rollback_of:
        out.append(("Mlgate-Rollback-Of", p.rollback_of))
    out.extend(p.extra.items())
    return [(k, _TRAILER_SAFE.sub(" ", v)) for k, v in out]


def commit_message(p: Promotion, verb: str = "promote") -> str:
    body = []
    if p.sets:
        body.append("Values:")
        body += [f"- {s.file} {s.path}: {s.old} -> {s.new}" for s in p.sets]
        body.append("")
    if p.evidence:
        body.append("Evidence:")
        for e in p.evidence:
            body.append(f"- {e.command}: {e.verdict} (exit {e.exit_code}) {e.title}".rstrip())
        body.append("")
    trailer_block = "\n".join(f"{k}: {v}" for k, v in trailers(p))
    parts = [summary_line(p, verb), "", *body]
    parts = [_TRAILER_SAFE.sub(" ", part) for part in parts]  # subject and body stay lines
    parts.append(trailer_block)
    return "\n".join(parts) + "\n"


_REPO_SLUG = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


def _github_repo_url(environ: Mapping[str, str]) -> str | None:
    """The model repo's URL on a GitHub runner; act derives GITHUB_REPOSITORY from a
    non-GitHub origin URL, which is used as it is (without credentials)."""
    repository = environ.get("GITHUB_REPOSITORY", "")
    if _REPO_SLUG.fullmatch(repository):  # not .match: "$" also matches before a final \n
        return f"{environ.get('GITHUB_SERVER_URL', 'https://github.com')}/{repository}"
    if "://" in repository:
        from mlgate.redact import redact_url

        return redact_url(repository).removesuffix(".git")
    return None


def run_url(environ: Mapping[str, str]) -> str | None:
    repo, run_id = _github_repo_url(environ), environ.get("GITHUB_RUN_ID")
    if repo and run_id:
        return f"{repo}/actions/runs/{run_id}"
    return environ.get("CI_JOB_URL") or environ.get("CI_PIPELINE_URL") or None


def source(environ: Mapping[str, str]) -> str | None:
    repo, sha = _github_repo_url(environ), environ.get("GITHUB_SHA")
    if repo and sha:
        return f"{repo}@{sha}"
    if environ.get("CI_PROJECT_URL") and environ.get("CI_COMMIT_SHA"):
        return f"{environ['CI_PROJECT_URL']}@{environ['CI_COMMIT_SHA']}"
    return None


def source_time(environ: Mapping[str, str], cwd: str | None = None) -> str | None:
    """When the model repo's commit (the one `source` names) was made, ISO 8601 UTC: the
    start of lead time for changes, which the config repo cannot know otherwise. GitLab
    gives it (CI_COMMIT_TIMESTAMP); on GitHub a push event's payload does
    (head_commit.timestamp); elsewhere the checkout in `cwd` does, when it holds that commit.
    None when none of them says, or says something that is not a time: a promotion never
    fails for want of it."""
    if _github_repo_url(environ) and environ.get("GITHUB_SHA"):
        sha = environ["GITHUB_SHA"]
        event = environ.get("GITHUB_EVENT_PATH")
        stamp = _event_time(event, sha) if event else None
    elif environ.get("CI_PROJECT_URL") and environ.get("CI_COMMIT_SHA"):
        sha = environ["CI_COMMIT_SHA"]
        stamp = utc_iso(environ.get("CI_COMMIT_TIMESTAMP", ""))
    else:
        return None
    return stamp or _checkout_time(sha, cwd or os.getcwd(), environ)


def utc_iso(text: str) -> str | None:
    """An ISO 8601 time with its offset as UTC `YYYY-MM-DDTHH:MM:SSZ`; None when it is not
    one (a time without an offset is not guessed at)."""
    from datetime import datetime, timezone

    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _event_time(path: str, sha: str) -> str | None:
    """head_commit.timestamp of a push event's payload, when that commit is the one built."""
    from mlgate.errors import MlgateError

    try:
        doc = safe_load.load_json(path, "GITHUB_EVENT_PATH")
    except MlgateError:
        return None
    head = doc.get("head_commit") if isinstance(doc, dict) else None
    if not isinstance(head, dict) or head.get("id") not in (sha, None):
        return None
    stamp = head.get("timestamp")
    return utc_iso(stamp) if isinstance(stamp, str) else None


def _checkout_time(sha: str, cwd: str, environ: Mapping[str, str]) -> str | None:
    """The committer date of `sha` in the checkout at `cwd`, if it is there."""
    import subprocess

    if not re.fullmatch(r"[0-9a-f]{40,64}", sha):
        return None
    env = {"PATH": environ.get("PATH", os.environ.get("PATH", "/usr/bin:/bin")),
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
           "GIT_TERMINAL_PROMPT": "0", "GIT_NO_LAZY_FETCH": "1"}
    try:
        proc = subprocess.run(["git", "-c", "core.hooksPath=/dev/null", "log", "-1",
                               "--format=%cI", sha, "--"], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return utc_iso(proc.stdout) if proc.returncode == 0 and proc.stdout.strip() else None


def actor(environ: Mapping[str, str]) -> str | None:
    """Who ran the promotion, as the CI names them (recorded in the statement)."""
    return environ.get("GITHUB_ACTOR") or environ.get("GITLAB_USER_LOGIN") or None


def parse_trailers(message: str) -> list[tuple[str, str]]:
    """Trailers of a commit message (the last paragraph of `Key: value` lines).

    Lines end at "\n" only, as git's do: str.splitlines() would also break at U+2028 and
    other characters a value may carry."""
    out = []
    for line in message.strip().rpartition("\n\n")[2].split("\n"):
        key, sep, value = line.partition(": ")
        if sep and re.fullmatch(r"[A-Za-z0-9-]+", key):
            out.append((key, value.strip()))
    return out
