"""Ignore rules, applied in Python so the report can say what was ignored and which entries
expired: `.trivyignore` (IDs, `exp:YYYY-MM-DD`) and `.trivyignore.yaml` (`expired_at`, paths,
statements). An expired entry no longer ignores anything, and says so."""

from __future__ import annotations

import datetime as dt
import fnmatch
import os
from dataclasses import dataclass

from mlgate import safe_load
from mlgate.errors import BadInput
from mlgate.scan.result import Finding

_YAML_SECTIONS = {"vulnerabilities": "vulnerability", "misconfigurations": "misconfiguration",
                  "secrets": "secret", "licenses": "license"}


@dataclass(frozen=True)
class Rule:
    id: str
    source: str
    kinds: frozenset[str]
    paths: tuple[str, ...] = ()
    expires: dt.date | None = None
    statement: str = ""

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires < today

    def matches(self, f: Finding) -> bool:
        if f.kind not in self.kinds or f.id != self.id:
            return False
        if not self.paths:
            return True
        where = [p for p in (f.location, f.target) if p]
        return any(fnmatch.fnmatch(w, pattern) for w in where for pattern in self.paths)


ALL_KINDS = frozenset({"vulnerability", "secret", "misconfiguration", "license"})


MAX_IGNORE_BYTES = 5 * 1024 * 1024


def load(path: str) -> list[Rule]:
    """Rules from one ignore file, read through the shared loader (size, UTF-8, depth and
    alias-bomb limits); an over-size file is refused rather than cut short silently."""
    text = safe_load.read_text(path, f"--ignore-file {path}", limit=MAX_IGNORE_BYTES)
    name = os.path.basename(path)
    if name.endswith((".yaml", ".yml")):
        return _load_yaml(text, path)
    return _load_plain(text, path)


def _date(value: object, path: str, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise BadInput(f"--ignore-file {path!r}: {where}: invalid date {value!r}") from None


def _load_plain(text: str, path: str) -> list[Rule]:
    rules = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        expires = None
        for extra in parts[1:]:
            if extra.startswith("exp:"):
                expires = _date(extra[4:], path, f"line {number}")
        rules.append(Rule(parts[0], ".trivyignore", ALL_KINDS, expires=expires))
    return rules


def _load_yaml(text: str, path: str) -> list[Rule]:
    doc = safe_load.parse_yaml(text, f"--ignore-file {path}") or {}
    if not isinstance(doc, dict):
        raise BadInput(f"--ignore-file {path!r}: expected a mapping of sections")
    rules = []
    for section, kind in _YAML_SECTIONS.items():
        entries = doc.get(section) or []
        if not isinstance(entries, list):
            raise BadInput(f"--ignore-file {path!r}: {section} must be a list")
        for i, entry in enumerate(entries):
            where = f"{section}[{i}]"
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                raise BadInput(f"--ignore-file {path!r}: {where} needs an id")
            paths = entry.get("paths") or []
            if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
                raise BadInput(f"--ignore-file {path!r}: {where}.paths must be a list of strings")
            expires = _date(entry["expired_at"], path, where) if entry.get("expired_at") else None
            rules.append(Rule(entry["id"], ".trivyignore.yaml", frozenset({kind}), tuple(paths),
                              expires, str(entry.get("statement") or "")[:500]))
    return rules
