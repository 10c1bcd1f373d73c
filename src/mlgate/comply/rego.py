"""Evaluate the policies on the manifests and the release, through the regopy child process.

What each rule returned becomes a Finding, read as conftest reads it: a set (or array) of
messages, each a string or an object whose `msg` is the message and whose other keys are
details; a complete rule's single string or object is one message. rego-cpp reads the Rego v0
form `deny[msg] { ... }` as an object whose keys are the messages (values `true`); those are
taken as the messages too, so older policies keep working.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from mlgate import safe_load
from mlgate.comply.policies import Policies, line_and_column
from mlgate.errors import BadInput, ServiceError

DEFAULT_TIMEOUT = 300.0
MAX_MESSAGE = 2000


@dataclass(frozen=True)
class Subject:
    """One input to the policies: a manifest document (file, line) or the release."""

    document: Any
    file: str | None = None   # repo-relative, for data.mlgate.file and annotations
    line: int | None = None
    resource: str = ""        # Kind/name, or "release"


@dataclass(frozen=True)
class Finding:
    kind: str                 # deny | violation | warn
    rule: str                 # the rule's name, e.g. deny_no_latest
    package: str
    message: str
    details: dict | None = None
    file: str | None = None
    line: int | None = None
    resource: str = ""

    @property
    def fails(self) -> bool:
        return self.kind != "warn"


class Evaluation:
    """The policies' child process for one run of the gate, fed while the parent still reads.

    Why: the parent's clone, rewrite and YAML parsing and the child's evaluation each take a
    second or so on a thousand manifests; started first and fed file by file, the child
    evaluates one file's documents while the parent parses the next. Subjects are grouped as
    the bundles need them (one group per file when a policy reads data.mlgate.file). Use as a
    context manager: leaving it early (bad input, a failed clone) stops the child.
    """

    def __init__(self, policies: Policies, meta: dict[str, str], *,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.policies = policies
        self.meta = meta
        self.timeout = timeout
        self.per_file = any(f.reads_file for f in policies.files)
        # per group: (package, rule) pairs, their entrypoints, the subjects sent in it
        self.groups: list[tuple[list[tuple[str, str]], list[str], list[Subject]]] = []
        self._key: tuple | None = None
        self._proc: subprocess.Popen | None = None
        self._timer: threading.Timer | None = None
        self._expired = False
        self._out = self._err = None
        if policies.files:
            self._start()

    def __enter__(self) -> Evaluation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        env = dict(os.environ)
        here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = here + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH")
                                    else "")
        # the answer and the child's complaints go to files: a pipe the parent does not read
        # while it writes would fill and stop both
        self._out, self._err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "mlgate.comply.rego_worker"], stdin=subprocess.PIPE,
                stdout=self._out, stderr=self._err, env=env)
        except OSError:
            self.close()
            raise
        self._send(b"M", json.dumps([[f.path, f.source] for f in self.policies.files]))

    def _send(self, tag: bytes, text: str) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdin.closed:
            return
        try:
            proc.stdin.write(tag + text.encode("utf-8") + b"\n")
        except (BrokenPipeError, OSError):  # the child answered early (an error): read it then
            self._hang_up()

    def _hang_up(self) -> None:
        """Stop writing to the child. Closing flushes what is still buffered, which fails the
        same way once the child is gone: the pipe is closed all the same."""
        proc = self._proc
        if proc is not None and proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError, OSError, ValueError):
                proc.stdin.close()

    def prepare(self, packages: tuple[str, ...]) -> None:
        """Have the child compile these packages' bundle now (while the parent clones), when
        one bundle serves every file (no policy reads data.mlgate.file)."""
        if not self.per_file:
            self._open(packages, None)
            self._flush()

    def submit(self, packages: tuple[str, ...], subjects: Iterable[Subject]) -> None:
        """Send subjects to be judged by the rules of these packages."""
        for subject in subjects:
            if not self._open(packages, subject.file if self.per_file else None):
                return
            if self._timer is None:   # the policies' time counts from their first input
                self._timer = threading.Timer(self.timeout, self._expire)
                self._timer.daemon = True
                self._timer.start()
            text = _term(subject.document, _where(subject))
            self.groups[-1][2].append(subject)
            self._send(b"I", text)
        self._flush()

    def _open(self, packages: tuple[str, ...], file: str | None) -> bool:
        """Make the group for these packages and file the current one (a new bundle when it
        is not); False when there is nothing to evaluate."""
        entries = [(pkg, rule) for pkg in sorted(set(packages))
                   for rule in self.policies.rules(pkg)]
        if not entries or self._proc is None:
            return False
        entrypoints = [f"{pkg.replace('.', '/')}/{rule}" for pkg, rule in entries]
        key = (tuple(entrypoints), file)
        if key != self._key:
            self._key = key
            self.groups.append((entries, entrypoints, []))
            self._send(b"G", json.dumps({"data": {"mlgate": _meta(self.meta, file)},
                                         "entrypoints": entrypoints}))
        return True

    def _flush(self) -> None:
        proc = self._proc
        if proc is not None and proc.stdin is not None and not proc.stdin.closed:
            try:
                proc.stdin.flush()
            except (BrokenPipeError, OSError):
                self._hang_up()

    def _expire(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            self._expired = True
            proc.kill()

    def findings(self, idle: Callable[[], None] | None = None) -> list[Finding]:
        """Every finding of the submitted subjects; exit 2 for a policy that does not compile,
        3 when the evaluation fails or runs out of time. `idle` runs while the child finishes
        (the report's imports: the parent has nothing else to do then)."""
        proc = self._proc
        if proc is None:
            return []
        if not self.groups:
            self.close()
            return []
        self._hang_up()
        if idle is not None:
            idle()
        code = proc.wait()
        if self._timer is not None:
            self._timer.cancel()
        if self._expired and code == -signal.SIGKILL:
            raise ServiceError(f"the policies did not finish within {self.timeout:g} s "
                               f"(policies: {_folders(self.policies)})")
        stdout, stderr = _read(self._out), _read(self._err)
        answers = iter(_answer(code, stdout, stderr, self.policies)["results"])
        findings: list[Finding] = []
        for entries, entrypoints, subjects in self.groups:
            for subject, values in zip(subjects, next(answers), strict=True):
                for (pkg, rule), entrypoint in zip(entries, entrypoints, strict=True):
                    if entrypoint in values:
                        findings += _findings(values[entrypoint], pkg, rule, subject)
        return findings

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        self._hang_up()
        for f in (self._out, self._err):
            if f is not None:
                f.close()


def _read(f) -> bytes:
    f.seek(0)
    return f.read()


def _meta(meta: dict[str, str], file: str | None) -> dict[str, str]:
    return {**meta, "file": file} if file is not None else dict(meta)


def _term(document: Any, where: str = "the release") -> str:
    """The document as a Rego term (JSON is one); YAML's dates and other scalars as text.
    YAML's .nan and .inf have no JSON form: exit 2 naming the document."""
    try:
        return json.dumps(document, default=str, ensure_ascii=False, allow_nan=False)
    except ValueError:
        raise BadInput(f"{where}: a value is .nan or .inf, which the policies' input (JSON) "
                       "cannot hold") from None


def _where(subject: Subject) -> str:
    if subject.file is None:
        return "the release"
    return f"{subject.file}:{subject.line}" if subject.line else subject.file


def _answer(code: int, stdout: bytes, stderr: bytes, policies: Policies) -> dict:
    if code != 0:
        raise ServiceError(_crash(code, stderr, policies))
    # the policies' values are in it: bounded like any JSON mlgate reads (a policy may return
    # a value nested deeply enough to overflow a plain json.loads)
    try:
        answer = safe_load.parse_json(stdout, "the Rego engine's answer", error=ServiceError)
    except ServiceError as exc:
        raise ServiceError(f"{exc} {_last_line(stderr)}".strip()) from None
    if not isinstance(answer, dict):
        raise ServiceError("the Rego engine gave no readable answer")
    error = answer.get("error")
    if error is None:
        return answer
    if error["kind"] == "compile":
        raise BadInput(_compile_message(error["errors"], policies))
    message = error["message"]
    missing = re.match(r"Function not found: ([\w.]+)", message)
    if missing:  # rego-cpp finds an unknown function only when a rule calls it
        raise BadInput(_unknown_function(missing.group(1), policies))
    raise ServiceError(f"policy rule {error['entrypoint'].replace('/', '.')} failed to "
                       f"evaluate: {message[:500]}")


def _crash(code: int, stderr: bytes, policies: Policies) -> str:
    how = (f"signal {signal.Signals(-code).name}" if code < 0 and -code in signal.valid_signals()
           else f"exit code {code}")
    detail = _last_line(stderr)
    if "No module named 'regopy'" in stderr.decode("utf-8", "replace"):
        return "regopy is not installed: pip install 'mlgate[comply]'"
    return (f"the Rego engine (rego-cpp) stopped with {how} on the policies in "
            f"{_folders(policies)}: {detail or 'no message'} (a construct it cannot "
            "evaluate)")


def _last_line(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()
             if line.strip()]
    return lines[-1][:300] if lines else ""


def _folders(policies: Policies) -> str:
    names = sorted({os.path.dirname(f.path) or "." for f in policies.files})
    return ", ".join(names[:5]) + (" …" if len(names) > 5 else "")


def _compile_message(errors: list[dict], policies: Policies) -> str:
    sources = {f.path: f.source for f in policies.files}
    # rego-cpp lists an unclosed bracket once per enclosing one: the innermost is the cause
    first = max(errors, key=lambda e: (e.get("file") is not None, e.get("offset") or -1))
    file, offset = first.get("file"), first.get("offset")
    message = " ".join(str(first.get("message", "")).split())[:300]
    if file in sources and offset is not None:
        line, column = line_and_column(sources[file], offset)
        return f"policy {file}:{line}:{column}: does not compile: {message}"
    return f"policy does not compile: {message}"


def _unknown_function(name: str, policies: Policies) -> str:
    pattern = re.compile(rf"(?<![\w.]){re.escape(name)}\s*\(")
    for f in policies.files:
        found = pattern.search(f.source)
        if found:
            line = f.source.count("\n", 0, found.start()) + 1
            return f"policy {f.path}:{line}: does not compile: unknown function {name}"
    return f"policy does not compile: unknown function {name}"


def _findings(value: Any, package: str, rule: str, subject: Subject) -> list[Finding]:
    kind = rule.split("_", 1)[0]
    if isinstance(value, list):
        items = value
    elif isinstance(value, dict) and all(v is True for v in value.values()):
        items = list(value)   # the v0 form (an empty one when nothing fired)
    elif value is False or value is None:
        items = []
    else:
        items = [value]
    out = []
    for item in items:
        message, details = _message(item)
        out.append(Finding(kind, rule, package, message, details, subject.file, subject.line,
                           subject.resource))
    return out


def _message(item: Any) -> tuple[str, dict | None]:
    if isinstance(item, str):
        return item[:MAX_MESSAGE], None
    if isinstance(item, dict) and "msg" in item:
        details = {k: v for k, v in item.items() if k != "msg"}
        msg = item["msg"]
        return (msg if isinstance(msg, str) else json.dumps(msg))[:MAX_MESSAGE], details or None
    return json.dumps(item, sort_keys=True)[:MAX_MESSAGE], None
