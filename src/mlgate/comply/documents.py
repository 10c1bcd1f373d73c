"""Required documents of the model repository: a model card, a bias audit, a data sheet.

Each `--document PATH[:rule,...]` names a file the release must carry and what it must hold;
every rule is judged on its own so the report says which one failed. A document's facts (front
matter, headings, sha256) also go into the release policies' input, so a team can write richer
rules in Rego than these.

A model card is judged by what a reviewer would look for: `version` is met by a front-matter
field (`version`, `model_version`, `model-version`) equal to the candidate's version, or by the
word "version" followed by it in the text ("Model version: 7", "version v7"); a bare "7"
elsewhere is not enough, since registry versions are small numbers that appear everywhere.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

from mlgate import safe_load
from mlgate.errors import BadInput

MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
VERSION_FIELDS = ("version", "model_version", "model-version")
_AGE = re.compile(r"^(\d{1,5})([hdw])$")
_UNIT_SECONDS = {"h": 3600, "d": 86400, "w": 7 * 86400}
_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


@dataclass(frozen=True)
class DocumentSpec:
    path: str
    version: bool = False
    headings: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    max_age_seconds: int | None = None
    max_age: str | None = None       # as given, e.g. 90d
    spec: str = ""


@dataclass(frozen=True)
class DocumentCheck:
    path: str
    rule: str         # exists | version | heading=H | field=F | max-age=90d
    passed: bool
    message: str


@dataclass(frozen=True)
class DocumentFacts:
    path: str
    sha256: str
    front_matter: dict[str, Any] = field(default_factory=dict)
    headings: tuple[str, ...] = ()

    def to_input(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "front_matter": self.front_matter,
                "headings": list(self.headings)}


def parse_spec(text: str) -> DocumentSpec:
    """`PATH[:version,heading=H,field=F,max-age=90d]`; exit 2 naming an unknown rule."""
    path, _, rest = text.partition(":")
    label = f"--document {text[:200]!r}"
    if not path.strip():
        raise BadInput(f"{label}: give the document's path")
    version, headings, fields, age, age_text = False, [], [], None, None
    for item in (p.strip() for p in rest.split(",") if p.strip()) if rest else ():
        key, eq, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if key == "version" and not eq:
            version = True
        elif key == "heading" and value:
            headings.append(value)
        elif key == "field" and value:
            fields.append(value)
        elif key == "max-age" and _AGE.match(value):
            m = _AGE.match(value)
            assert m is not None
            age, age_text = int(m.group(1)) * _UNIT_SECONDS[m.group(2)], value
        else:
            raise BadInput(f"{label}: unknown rule {item[:80]!r} (version, heading=H, field=F, "
                           "max-age=Nd|Nh|Nw)")
    return DocumentSpec(path.strip(), version, tuple(headings), tuple(fields), age, age_text,
                        text)


def check_documents(specs: tuple[DocumentSpec, ...], root: str, version: str | None,
                    now: float | None = None
                    ) -> tuple[list[DocumentCheck], dict[str, DocumentFacts]]:
    """Every rule of every document, and the facts of those that exist. `version` is the
    candidate's; a `version` rule without one is bad input (exit 2)."""
    now = time.time() if now is None else now
    checks: list[DocumentCheck] = []
    facts: dict[str, DocumentFacts] = {}
    for spec in specs:
        real = _inside(root, spec.path)
        data = _read(real, spec.path)
        if data is None or not data.strip():
            what = "is missing" if data is None else "is empty"
            checks.append(DocumentCheck(spec.path, "exists", False, f"{spec.path} {what}"))
            continue
        checks.append(DocumentCheck(spec.path, "exists", True, f"{spec.path} is present"))
        text = safe_load.decode(data, f"--document {spec.path}")
        doc = DocumentFacts(spec.path, hashlib.sha256(data).hexdigest(),
                            front_matter(text, spec.path), headings(text))
        facts[spec.path] = doc
        if spec.version:
            checks.append(_version(spec, doc, text, version))
        for heading in spec.headings:
            found = any(h.casefold() == heading.casefold() for h in doc.headings)
            checks.append(DocumentCheck(
                spec.path, f"heading={heading}", found,
                f"{spec.path} has the heading {heading!r}" if found
                else f"{spec.path} has no heading {heading!r}"))
        for name in spec.fields:
            value = _field(doc.front_matter, name)
            ok = value not in (None, "", [], {})
            checks.append(DocumentCheck(
                spec.path, f"field={name}", ok,
                f"{spec.path} front matter sets {name}" if ok
                else f"{spec.path} front matter has no {name}"))
        if spec.max_age_seconds is not None:
            checks.append(_age(spec, root, now))
    return checks, facts


def _inside(root: str, path: str) -> str:
    base = os.path.realpath(root)
    real = os.path.realpath(os.path.join(base, path))
    if os.path.isabs(path) or not (real == base or real.startswith(base + os.sep)):
        raise BadInput(f"--document {path[:200]!r}: outside the model repository {root}")
    return real


def _read(real: str, path: str) -> bytes | None:
    if not os.path.exists(real):
        return None
    if not os.path.isfile(real):
        raise BadInput(f"--document {path[:200]!r}: not a file")
    return safe_load.read_bytes(real, f"--document {path}", limit=MAX_DOCUMENT_BYTES)


def front_matter(text: str, path: str) -> dict[str, Any]:
    """The YAML between a leading `---` line and the next `---` or `...` line, as a mapping
    (none: empty); malformed front matter is exit 2 naming the document."""
    text = text.lstrip("\ufeff")
    lines = text.splitlines()
    if not lines or lines[0].rstrip() != "---":
        return {}
    for i, line in enumerate(lines[1:], start=1):
        if line.rstrip() in ("---", "..."):
            value = safe_load.parse_yaml("\n".join(lines[1:i]), f"--document {path} front matter")
            if value is None:
                return {}
            if not isinstance(value, dict):
                raise BadInput(f"--document {path}: front matter is not a mapping")
            return {str(k): _plain(v) for k, v in value.items()}
    return {}


def _plain(value: Any) -> Any:
    """Front-matter values as JSON has them (a YAML date becomes its ISO text)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def headings(text: str) -> tuple[str, ...]:
    """The Markdown headings (ATX `## Title` and setext underlined), outside code fences."""
    found: list[str] = []
    fenced = False
    previous = ""
    body = text.lstrip("\ufeff")
    if body.startswith("---"):
        lines = body.splitlines()
        for i, line in enumerate(lines[1:], start=1):
            if line.rstrip() in ("---", "..."):
                body = "\n".join(lines[i + 1:])
                break
    for line in body.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            previous = ""
            continue
        if fenced:
            continue
        atx = _ATX.match(line)
        if atx:
            found.append(atx.group(2).strip())
        elif _SETEXT.match(line) and previous.strip() and not previous.startswith("    "):
            found.append(previous.strip())
        previous = line
    return tuple(found)


def _field(front: dict[str, Any], name: str) -> Any:
    if name in front:
        return front[name]
    value: Any = front
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _version(spec: DocumentSpec, doc: DocumentFacts, text: str, version: str | None
             ) -> DocumentCheck:
    if not version:
        raise BadInput(f"--document {spec.spec[:200]!r}: the version rule needs the candidate's "
                       "version: give --model-version or the benchmark's --evidence")
    for name in VERSION_FIELDS:
        if name in doc.front_matter and str(doc.front_matter[name]).strip() == version:
            return DocumentCheck(spec.path, "version", True,
                                 f"{spec.path} names version {version} ({name})")
    named = re.compile(rf"\bversion\b[^\w\n]{{0,3}}v?{re.escape(version)}(?![\w.])",
                       re.IGNORECASE)
    if named.search(text):
        return DocumentCheck(spec.path, "version", True, f"{spec.path} names version {version}")
    others = sorted({str(doc.front_matter[n]) for n in VERSION_FIELDS if n in doc.front_matter})
    said = f" (it names {', '.join(others)})" if others else ""
    return DocumentCheck(spec.path, "version", False,
                         f"{spec.path} does not name the candidate's version {version}{said}")


def _age(spec: DocumentSpec, root: str, now: float) -> DocumentCheck:
    rule = f"max-age={spec.max_age}"
    changed = last_changed(root, spec.path)
    assert spec.max_age_seconds is not None
    if changed is None:
        return DocumentCheck(spec.path, rule, False,
                             f"{spec.path} has no commit in the model repository's history")
    age = now - changed
    days = age / 86400
    if age > spec.max_age_seconds:
        return DocumentCheck(spec.path, rule, False,
                             f"{spec.path} last changed {days:.0f} days ago (max {spec.max_age})")
    return DocumentCheck(spec.path, rule, True,
                         f"{spec.path} changed {days:.0f} days ago (max {spec.max_age})")


def last_changed(root: str, path: str) -> int | None:
    """The commit time of the last commit that changed the file; exit 2 when the model
    repository is not in git or is a shallow clone whose boundary hides that commit (CI
    checkouts fetch one commit by default, and every file would then look new)."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", root, *args], capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            raise BadInput(f"--document {path}: max-age needs the model repository in git "
                           f"({done.stderr.strip()[:200] or 'git failed'})")
        return done.stdout

    out = git("log", "-1", "--format=%H %ct", "--", path).split()
    if not out:
        return None
    sha, when = out[0], int(out[1])
    if git("rev-parse", "--is-shallow-repository").strip() == "true":
        # --git-dir is relative to root, or absolute (which os.path.join keeps)
        shallow = os.path.join(root, git("rev-parse", "--git-dir").strip(), "shallow")
        with open(shallow, encoding="ascii", errors="replace") as handle:
            boundary = handle.read().split()
        if sha in boundary:
            raise BadInput(f"--document {path}: max-age cannot be judged in a shallow clone "
                           "(check out the whole history, e.g. fetch-depth: 0)")
    return when
