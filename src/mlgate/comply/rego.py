"""Evaluate the policies on the manifests and the release, through the regopy child process.

What each rule returned becomes a Finding, read as conftest reads it: a set (or array) of
messages, each a string or an object whose `msg` is the message and whose other keys are
details; a complete rule's single string or object is one message. rego-cpp reads the Rego v0
form `deny[msg] { ... }` as an object whose keys are the messages (values `true`); those are
taken as the messages too, so older policies keep working.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterable
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


@dataclass(frozen=True)
class Job:
    """Some packages' rules over some subjects (the manifest packages over every document;
    the release package over the release)."""

    packages: tuple[str, ...]
    subjects: tuple[Subject, ...]


def evaluate(policies: Policies, jobs: Iterable[Job], meta: dict[str, str], *,
             timeout: float = DEFAULT_TIMEOUT) -> list[Finding]:
    """Every finding of each job's rules on its subjects, in one child process (a subject
    with a file gets data.mlgate.file). Exit 2 for a policy that does not compile, 3 when the
    evaluation fails."""
    per_file = any(f.reads_file for f in policies.files)
    plans = []  # (entries, entrypoints, subjects, [(data, member indexes)])
    for job in jobs:
        entries = [(pkg, rule) for pkg in sorted(set(job.packages))
                   for rule in policies.rules(pkg)]
        if not entries or not job.subjects:
            continue
        groups: dict[str | None, list[int]] = {}
        for i, s in enumerate(job.subjects):
            groups.setdefault(s.file if per_file else None, []).append(i)
        plans.append((entries, [f"{pkg.replace('.', '/')}/{rule}" for pkg, rule in entries],
                      job.subjects, [({"mlgate": _meta(meta, key)}, members)
                                     for key, members in groups.items()]))
    if not plans:
        return []
    request = {
        "modules": [[f.path, f.source] for f in policies.files],
        "groups": [{"data": data, "entrypoints": entrypoints,
                    "inputs": [_term(subjects[i].document) for i in members]}
                   for _, entrypoints, subjects, groups in plans for data, members in groups],
    }
    answers = iter(_ask(request, policies, timeout)["results"])
    findings: list[Finding] = []
    for entries, entrypoints, subjects, groups in plans:
        for _, members in groups:
            for index, values in zip(members, next(answers), strict=True):
                subject = subjects[index]
                for (pkg, rule), entrypoint in zip(entries, entrypoints, strict=True):
                    if entrypoint in values:
                        findings += _findings(values[entrypoint], pkg, rule, subject)
    return findings


def _meta(meta: dict[str, str], file: str | None) -> dict[str, str]:
    return {**meta, "file": file} if file is not None else dict(meta)


def _term(document: Any) -> str:
    """The document as a Rego term (JSON is one); YAML's dates and other scalars as text."""
    return json.dumps(document, default=str, ensure_ascii=False, allow_nan=False)


def _ask(request: dict, policies: Policies, timeout: float) -> dict:
    env = dict(os.environ)
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = here + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "mlgate.comply.rego_worker"],
            input=json.dumps(request).encode("utf-8"), capture_output=True, timeout=timeout,
            env=env, check=False,
        )
    except subprocess.TimeoutExpired:
        raise ServiceError(f"the policies did not finish within {timeout:g} s "
                           f"(policies: {_folders(policies)})") from None
    if done.returncode != 0:
        raise ServiceError(_crash(done, policies))
    # the policies' values are in it: bounded like any JSON mlgate reads (a policy may return
    # a value nested deeply enough to overflow a plain json.loads)
    try:
        answer = safe_load.parse_json(done.stdout, "the Rego engine's answer",
                                      error=ServiceError)
    except ServiceError as exc:
        raise ServiceError(f"{exc} {_last_line(done.stderr)}".strip()) from None
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


def _crash(done: subprocess.CompletedProcess, policies: Policies) -> str:
    code = done.returncode
    how = (f"signal {signal.Signals(-code).name}" if code < 0 and -code in signal.valid_signals()
           else f"exit code {code}")
    detail = _last_line(done.stderr)
    if "No module named 'regopy'" in done.stderr.decode("utf-8", "replace"):
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
