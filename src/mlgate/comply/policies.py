"""The policy files: found, read, and what each package declares, before anything is evaluated.

Following conftest, so a team's existing policies work unchanged: every `*.rego` under the
given folders except `*_test.rego` (OPA's unit tests), rules named `deny`, `warn` or
`violation`, alone or with a suffix (`deny_no_latest`), found by their name at the start of a
line as `opa fmt` writes them. rego-cpp has no call that lists a package's rules, and asking
for the whole package would evaluate its helper rules too (slower, and an error in a helper
would fail a rule that never uses it).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass

from mlgate import safe_load
from mlgate.errors import BadInput

MAX_POLICY_BYTES = 1024 * 1024
MAX_POLICY_FILES = 2000
MANIFEST_PACKAGE = "mlgate.manifest"
RELEASE_PACKAGE = "mlgate.release"

_PACKAGE = re.compile(r"^package[ \t]+([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)"
                      r"[ \t]*(?:#.*)?$", re.MULTILINE)
# a rule head at the start of a line: `deny contains msg if`, `deny[msg] {`, `warn_x := ...`
_RULE = re.compile(r"^((?:deny|warn|violation)(?:_[A-Za-z0-9_]*)?)(?=[ \t]*(?:contains\b|if\b"
                   r"|\[|\{|:=|=[^=]))", re.MULTILINE)
_COMMENT = re.compile(r"#[^\n]*")
_NAMESPACE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")


@dataclass(frozen=True)
class PolicyFile:
    path: str       # as shown: the --policy folder joined with the path inside it
    package: str
    sha256: str
    rules: tuple[str, ...]
    source: str = ""

    @property
    def reads_file(self) -> bool:
        """Whether the policy may read data.mlgate.file (which differs per file, so its rules
        are evaluated once per file): named outright, through `import data.mlgate`, or
        through a dynamic reference into data. Comments count too: erring towards slower."""
        text = self.source
        return "data[" in text or ("data.mlgate" in text and re.search(r"\bfile\b", text)
                                   is not None)


@dataclass(frozen=True)
class Policies:
    files: tuple[PolicyFile, ...]

    def rules(self, package: str) -> tuple[str, ...]:
        """The deny/warn/violation rules of a package, across all its files, in name order."""
        return tuple(sorted({r for f in self.files if f.package == package for r in f.rules}))

    def packages(self) -> set[str]:
        return {f.package for f in self.files}

    @property
    def sha256(self) -> str:
        """One hash of every policy file (path and content), for the evidence and trailers."""
        digest = hashlib.sha256()
        for f in sorted(self.files, key=lambda f: f.path):
            digest.update(f"{f.path}\0{f.sha256}\n".encode())
        return digest.hexdigest()


def check_namespace(name: str) -> str:
    if not _NAMESPACE.match(name or "") or len(name) > 200:
        raise BadInput(f"--namespace {name[:80]!r}: a Rego package name, e.g. main or "
                       "policies.k8s")
    return name


def load_policies(folders: tuple[str, ...]) -> Policies:
    """Every policy under the folders (a file given directly is taken as is); exit 2 naming a
    folder that does not exist or holds none, a file that is not UTF-8 Rego with a package."""
    files: list[PolicyFile] = []
    seen: set[str] = set()
    for folder in folders:
        found = _rego_files(folder)
        if not found:
            raise BadInput(f"--policy {folder}: no .rego policy in it")
        for path in found:
            real = os.path.realpath(path)
            if real in seen:
                continue
            seen.add(real)
            files.append(_read(path))
            if len(files) > MAX_POLICY_FILES:
                raise BadInput(f"--policy: more than {MAX_POLICY_FILES} policy files")
    return Policies(tuple(files))


def _rego_files(folder: str) -> list[str]:
    if os.path.isfile(folder):
        if not folder.endswith(".rego"):
            raise BadInput(f"--policy {folder}: not a .rego file or a folder of them")
        return [folder]
    if not os.path.isdir(folder):
        raise BadInput(f"--policy {folder}: no such folder")
    found = []
    for top, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.endswith(".rego") and not name.endswith("_test.rego"):
                path = os.path.join(top, name)
                if os.path.isfile(path):
                    found.append(path)
    return found


def _read(path: str) -> PolicyFile:
    data = safe_load.read_bytes(path, f"--policy {path}", limit=MAX_POLICY_BYTES)
    text = safe_load.decode(data, f"--policy {path}")
    if "\x00" in text:
        raise BadInput(f"--policy {path}: not a text file")
    bare = _COMMENT.sub("", text)
    package = _PACKAGE.search(bare)
    if package is None:
        raise BadInput(f"policy {path}:1: no 'package' declaration")
    return PolicyFile(
        path=path,
        package=package.group(1),
        sha256=hashlib.sha256(data).hexdigest(),
        rules=tuple(sorted(set(_RULE.findall(bare)))),
        source=text,
    )


def line_and_column(source: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a byte offset into the source (rego-cpp counts bytes)."""
    data = source.encode("utf-8")[:max(offset, 0)]
    line = data.count(b"\n") + 1
    column = len(data) - (data.rfind(b"\n") + 1) + 1
    return line, column
