"""One `git log` over the config repo's base branch, parsed in one pass into mlgate records.

A local path is read where it is (no clone at all); a URL is cloned bare with commits only
(--filter=tree:0). Either way git itself keeps only commits with an Mlgate-App trailer line
(--grep), so a 100k-commit history costs about what printing it once costs, and every app and
environment comes out of the same read instead of one log per app.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from mlgate.audit.outcome import NOTES_REF, Outcome, parse_note
from mlgate.errors import BadInput, ServiceError
from mlgate.promote.config import Target
from mlgate.promote.git import GIT_TIMEOUT, Git, GitError, private_tempdir
from mlgate.promote.history import Recorded, clone_commits, record_from
from mlgate.promote.evidence_dir import ROOT
from mlgate.promote.message import MAX_EVIDENCE_BYTES

# a commit per NUL (-z); its first line "SHA TIMESTAMP", the second its author (git refuses
# newlines in an identity), then the raw message
_FORMAT = "--format=%H %ct%n%an <%ae>%n%B"
_HEAD = re.compile(r"([0-9a-f]{40,64}) ([0-9]{1,12})")
# what Git.run sets on every call: no credential helper, no hooks, no ext:: transport
_SAFE = ("-c", "credential.helper=", "-c", "core.hooksPath=/dev/null",
         "-c", "protocol.ext.allow=never")
_CHUNK = 1 << 20
_FILE = re.compile(r"[A-Za-z0-9._-]{1,200}")
_OBJECT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
MAX_NOTE_BYTES = 64 * 1024
_FOLDER = re.compile(r"[A-Za-z0-9._/-]{1,500}")


@dataclass(frozen=True)
class Blob:
    """One evidence file as the commit holds it: its bytes, or why there are none."""

    data: bytes | None
    problem: str | None = None  # "missing", "too large"


class ConfigLog:
    """The repository a log was read from, kept while the caller still needs its files."""

    def __init__(self, git: Git, repo: str, ref: str, *, partial: bool = False):
        # partial: a commits-only clone, where every tree read is a fetch from the remote
        self.git, self.repo, self.ref, self.partial = git, repo, ref, partial
        self._notes_fetched = False

    def records(self, app: str | None = None) -> list[Recorded]:
        """Every mlgate record on the branch (of `app` only, when given), newest first."""
        return list(self.iter_records(app))

    def iter_records(self, app: str | None = None) -> Iterator[Recorded]:
        """The records newest first, parsed while git still walks the history (read in
        chunks, not awaited whole): the parsing costs next to nothing beside the walk, and a
        caller that has what it needs stops reading, which stops git."""
        grep = f"--grep=^Mlgate-App: {app}$" if app else "--grep=^Mlgate-App: "
        with tempfile.TemporaryFile() as errors:
            proc = subprocess.Popen(["git", *_SAFE, "log", "-z", _FORMAT, grep, self.ref, "--"],
                                    cwd=self.repo, env=self.git.env(), stdout=subprocess.PIPE,
                                    stderr=errors)
            assert proc.stdout is not None
            finished = False
            try:
                tail = b""
                for chunk in iter(lambda: proc.stdout.read1(_CHUNK), b""):
                    *entries, tail = (tail + chunk).split(b"\0")
                    yield from self._parse(entries, app)
                yield from self._parse([tail], app)
                finished = True
            finally:
                if not finished:  # the caller stopped early (or failed): git is not needed
                    proc.kill()
                    proc.wait()
                    proc.stdout.close()
            try:
                code = proc.wait(timeout=GIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise ServiceError(f"git log timed out after {GIT_TIMEOUT} s") from None
            proc.stdout.close()
            if code != 0:
                errors.seek(0)
                said = self.git.scrub(errors.read(2000).decode(errors="replace")).strip()
                raise ServiceError(f"git log over {self.ref}: {said[:300]}")

    def evidence_index(self, app: str | None = None) -> set[tuple[str, str]] | None:
        """The app and environment pairs `.mlgate/evidence/APP/ENV/` holds at the branch's
        head: every pair a promotion kept its evidence for. None when the repo keeps none, or
        when reading trees would mean fetching them (a commits-only clone)."""
        if self.partial:
            return None
        out = subprocess.run(["git", *_SAFE, "ls-tree", "-d", "-r", "-z", "--name-only",
                              self.ref, "--", f"{ROOT}/{app}/" if app else f"{ROOT}/"],
                             cwd=self.repo, env=self.git.env(), capture_output=True,
                             timeout=GIT_TIMEOUT, check=False)
        if out.returncode != 0:
            return None
        pairs = set()
        for path in out.stdout.decode(errors="replace").split("\0"):
            parts = path.split("/")
            if len(parts) == 4 and path.startswith(ROOT + "/"):
                pairs.add((parts[2], parts[3]))
        return pairs or None

    @staticmethod
    def _parse(entries: list[bytes], app: str | None) -> list[Recorded]:
        found = []
        for raw in entries:
            head, _, rest = raw.decode(errors="replace").lstrip("\n").partition("\n")
            author, _, body = rest.partition("\n")
            match = _HEAD.fullmatch(head)
            if match is None:
                continue
            record = record_from(match[1], body, author, int(match[2]))
            if record is not None and (app is None or record.app == app):
                found.append(record)
        return found

    def recent_folders(self, count: int = 200) -> list[str]:
        """The Mlgate-Folder values of the newest `count` records: a cheap guess (git stops
        after `count` matches) of where the environments live, so the automation rate's log
        can start beside the records' own log instead of after it."""
        out = self._git("log", f"-{count}", "--grep=^Mlgate-Folder: ",
                        "--format=%(trailers:key=Mlgate-Folder,valueonly,separator=%x00)",
                        self.ref, "--")
        return [f for f in out.replace("\n", "\0").split("\0") if f.strip()]

    def start_touching(self, folders: list[str]) -> Touching:
        """Start, in the background, one `git log --name-only` limited to the top directories
        of `folders` (one literal pathspec each: git prunes every other subtree, where a
        pathspec per folder costs a match per folder at every tree entry)."""
        tops = sorted({path.split("/", 1)[0] for path in map(_inside, folders) if path})
        return Touching(self, tops)

    def _git(self, *args: str) -> str:
        try:
            proc = subprocess.run(["git", *_SAFE, *args], cwd=self.repo, env=self.git.env(),
                                  capture_output=True, timeout=GIT_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise ServiceError(f"git {args[0]} timed out after {GIT_TIMEOUT} s") from None
        if proc.returncode != 0:
            said = self.git.scrub(proc.stderr.decode(errors="replace")).strip()
            raise ServiceError(f"git {args[0]} over {self.ref}: {said[:300]}")
        return proc.stdout.decode(errors="replace")

    def blobs(self, wanted: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], Blob]:
        """(commit, folder, file) -> that file as the commit holds it, in one `git cat-file
        --batch`. Only names that read as a folder inside the repo and a plain file name are
        asked for: the trailers naming them are not trusted."""
        keys = [k for k in dict.fromkeys(wanted) if evidence_path(k[1], k[2]) is not None]
        if not keys:
            return {}
        found = self.read([f"{c}:{evidence_path(d, f)}" for c, d, f in keys])
        return dict(zip(keys, found, strict=True))

    def outcomes(self, shas: list[str]) -> dict[str, tuple[Outcome, ...]]:
        """Each commit's wait-sync and verify outcomes (mlgate.audit.outcome), from the notes
        under refs/notes/mlgate: one `git notes list` and one `git cat-file --batch` for all.
        A URL's commits-only clone fetches the notes ref first (whole: a notes tree is small).
        No notes ref, or a note that is not outcome lines, is no outcome: never an error."""
        wanted = set(shas)
        if not wanted:
            return {}
        if self.partial and not self._notes_fetched:
            self._notes_fetched = True
            self.git.run("fetch", "--quiet", "--no-filter", "--no-tags", "origin",
                         f"+{NOTES_REF}:{NOTES_REF}", cwd=self.repo, check=False)
        listed = subprocess.run(["git", *_SAFE, "notes", f"--ref={NOTES_REF}", "list"],
                                cwd=self.repo, env=self.git.env(), capture_output=True,
                                timeout=GIT_TIMEOUT, check=False)
        if listed.returncode != 0:
            return {}
        notes: dict[str, str] = {}
        for line in listed.stdout.decode(errors="replace").splitlines():
            blob, _, sha = line.partition(" ")
            if sha in wanted and _OBJECT.fullmatch(blob):
                notes[sha] = blob
        found = self.read(list(notes.values())) if notes else []
        out = {}
        for sha, blob in zip(notes, found, strict=True):
            if blob.data is not None:
                # the newest lines are the last ones: a huge note is read by its tail
                out[sha] = parse_note(blob.data[-MAX_NOTE_BYTES:].decode(errors="replace"))
        return out

    def read(self, specs: list[str]) -> list[Blob]:
        """Each "commit:path" as a Blob, in one `git cat-file --batch` (a path holding a
        newline cannot be asked for in that protocol: it reads as missing)."""
        asked = [s for s in specs if "\n" not in s]
        if not asked:
            return [Blob(None, "missing") for _ in specs]
        try:
            proc = subprocess.run(["git", *_SAFE, "cat-file", "--batch"],
                                  cwd=self.repo, env=self.git.env(),
                                  input="".join(s + "\n" for s in asked).encode(),
                                  capture_output=True, timeout=GIT_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise ServiceError(f"git cat-file timed out after {GIT_TIMEOUT} s") from None
        if proc.returncode != 0:
            raise ServiceError("git cat-file: " + proc.stderr.decode(errors="replace")[:300])
        got = dict(zip(asked, _batch(proc.stdout, len(asked)), strict=True))
        return [got.get(s, Blob(None, "missing")) for s in specs]


class Touching:
    """A path-limited `git log` running while the caller reads the records; `commits` waits
    for it. Its output goes to a file, so git never blocks on a pipe nobody reads yet."""

    def __init__(self, log: ConfigLog, tops: list[str]):
        self.log, self.tops = log, tops
        self._out = tempfile.TemporaryFile()
        self._err = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            # --no-renames: finding renames would read blobs, which a URL's clone lacks
            ["git", *_SAFE, "-c", "core.quotePath=true", "log", "--format=%x00%H %ct %ae",
             "--name-only", "--no-renames", log.ref, "--", *(f":(literal){t}" for t in tops)],
            cwd=log.repo, env=log.git.env(), stdout=self._out, stderr=self._err,
        ) if tops else None

    def __enter__(self) -> Touching:
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop git if the caller gave up before reading it (an error in between)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._out.close()
        self._err.close()

    def commits(self, folders: list[str]) -> list[tuple[str, int, str]]:
        """(sha, committer time, author email) of every commit that changed a file under one
        of `folders`, newest first (git's default history simplification: a merge that only
        brings a branch's commits in is not listed, the commits are). A folder outside the
        top directories this log was started with gets a log of its own."""
        wanted = {path for path in map(_inside, folders) if path}
        missing = sorted({f.split("/", 1)[0] for f in wanted} - set(self.tops))
        found = self._read(wanted) if self._proc is not None else []
        if missing:
            with Touching(self.log, missing) as extra:
                seen = {sha for sha, _, _ in found}
                found += [c for c in extra._read(wanted) if c[0] not in seen]
            found.sort(key=lambda c: -c[1])
        return found

    def _read(self, wanted: set[str]) -> list[tuple[str, int, str]]:
        assert self._proc is not None
        try:
            code = self._proc.wait(timeout=GIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            raise ServiceError(f"git log timed out after {GIT_TIMEOUT} s") from None
        if code != 0:
            self._err.seek(0)
            said = self.log.git.scrub(self._err.read(2000).decode(errors="replace")).strip()
            raise ServiceError(f"git log over {self.log.ref}: {said[:300]}")
        self._out.seek(0)
        found = []
        for entry in self._out.read().decode(errors="replace").split("\0"):
            head, _, names = entry.partition("\n")
            sha, _, rest = head.partition(" ")
            stamp, _, email = rest.partition(" ")
            if stamp.isdigit() and any(_under(name, wanted) for name in names.split("\n")
                                       if name):
                found.append((sha, int(stamp), email))
        return found


def _under(name: str, folders: set[str]) -> bool:
    """Whether the file `name` lies in one of `folders` (one set lookup per parent)."""
    at = name.rfind("/")
    while at > 0:
        name = name[:at]
        if name in folders:
            return True
        at = name.rfind("/")
    return False


def evidence_path(folder: str, file: str) -> str | None:
    """`folder/file` when the folder is relative and inside the repo and the file a plain
    name; None for anything else (no `..`, no absolute path, nothing but [A-Za-z0-9._/-])."""
    norm = _inside(folder)
    if norm is None or not _FILE.fullmatch(file) or file in (".", ".."):
        return None
    return f"{norm}/{file}"


def _inside(folder: str) -> str | None:
    """A folder as a path inside the repo, or None (absolute, `..`, odd characters)."""
    norm = posixpath.normpath(folder)
    if (not _FOLDER.fullmatch(norm) or norm.startswith("/") or norm == "."
            or ".." in norm.split("/")):
        return None
    return norm


def _batch(out: bytes, count: int) -> Iterator[Blob]:
    at = 0
    for _ in range(count):
        end = out.index(b"\n", at)
        header = out[at:end].split()
        at = end + 1
        if len(header) != 3 or header[1] != b"blob":
            if len(header) == 3:  # a tree or something else under that name
                at += int(header[2]) + 1
            yield Blob(None, "missing")
            continue
        size = int(header[2])
        data = out[at:at + size]
        at += size + 1
        yield Blob(None, "too large") if size > MAX_EVIDENCE_BYTES else Blob(data)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@contextmanager
def config_log(target: Target, *, trees: bool = False) -> Iterator[ConfigLog]:
    """The base branch's log: a local repository in place, a remote one cloned commits-only
    (with `trees`, trees too, for ConfigLog.touching) into a private folder removed
    afterwards."""
    if target.url.startswith("file://"):
        path = target.url[len("file://"):]
        git = Git(path, None, path)
        yield ConfigLog(git, path, _local_ref(git, path, target.base))
        return
    private = private_tempdir("mlgate-audit-")
    try:
        git, repo = clone_commits(target, private, trees=trees)
        yield ConfigLog(git, repo, "HEAD", partial=True)
    finally:
        shutil.rmtree(private, ignore_errors=True)


def _local_ref(git: Git, path: str, base: str) -> str:
    """The base branch of a local repository: its own, or the one it last fetched."""
    names = (f"refs/heads/{base}", f"refs/remotes/origin/{base}")
    try:
        out = git.run("for-each-ref", "--format=%(refname)", *names, cwd=path).stdout.split()
    except GitError as exc:
        raise ServiceError(f"git for-each-ref in {path}: {exc.stderr.strip()[:300]}") from None
    for name in names:
        if name in out:
            return name
    raise BadInput(f"--base {base!r}: no such branch in {path}")
