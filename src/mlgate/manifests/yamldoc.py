"""YAML files as text plus node positions, so values can be replaced in place.

A load-and-dump round trip loses comments, quoting, key order and line endings (the defect
users of other image updaters report most). pyyaml's composer gives every node its start and
end offsets, so a scalar can be replaced by splicing the text and nothing else moves.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import Node, ScalarNode

from mlgate import safe_load
from mlgate.errors import BadInput
from mlgate.safe_load import check_alias_expansion, check_yaml_depth

MAX_FILE_BYTES = safe_load.MAX_BYTES
BOM = safe_load.BOM
STR_TAG = "tag:yaml.org,2002:str"

_Loader: Any = safe_load.loader_class()


@dataclass
class YamlFile:
    """One file: its text (BOM removed, line endings as they are) and its documents' nodes."""

    path: str
    rel: str
    text: str
    bom: bool
    documents: list[Node] = field(default_factory=list)

    def line_of(self, index: int) -> int:
        return self.text.count("\n", 0, index) + 1


def read_text(path: str, rel: str) -> tuple[str, bool]:
    """Read a file as UTF-8 text without newline translation (CRLF stays CRLF).

    One open and one read per file: a rewrite reads every file of a config repo, so a stat
    per file would be a measurable share of its time; the size limit is checked on the read
    (the shared loader's, so manifests are bounded like every other file mlgate reads).
    """
    data = safe_load.read_bytes(path, rel, limit=MAX_FILE_BYTES)
    return safe_load.decode(data, rel), data.startswith(BOM.encode("utf-8"))


def compose(text: str, rel: str) -> list[Node]:
    """All documents' node trees; malformed YAML, alias bombs and deep nesting are exit 2
    naming file:line. Depth is checked first: libyaml's composer recurses in C and crashes
    the process on deeply nested input instead of raising."""
    check_yaml_depth(text, rel)
    try:
        documents = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{rel}:{mark.line + 1}" if mark is not None else rel
        raise BadInput(f"{where}: malformed YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise BadInput(f"{rel}: malformed YAML: {exc}") from None
    except RecursionError:
        raise BadInput(f"{rel}: YAML nested too deeply") from None
    if "*" in text:  # no alias, no expansion: skip the walk for the common case
        check_alias_expansion(documents, rel)
    return documents


class Templated(Exception):
    """A file found by walking that parses only after a template engine ran (Go, Helm)."""


def load_relevant(
    path: str, rel: str, needles: tuple[str, ...] = (), explicit: bool = True
) -> YamlFile | None:
    """The parsed file, or None when its text holds none of `needles`: a file that cannot hold
    the reference is not parsed, which is most of a config repo. No needles: always parsed."""
    text, bom = read_text(path, rel)
    if needles and not any(n in text for n in needles):
        return None
    try:
        documents = compose(text, rel)
    except BadInput:
        if not explicit and "{{" in text:
            raise Templated(rel) from None
        raise
    return YamlFile(path, rel, text, bom, documents)


# --- values --------------------------------------------------------------------------------

_resolver = yaml.resolver.Resolver()
_PLAIN_SAFE = re.compile(r"^[A-Za-z0-9_./@~+=$%^][A-Za-z0-9_./@~+=$%^:,\- ]*$")


def key_value(node: Node) -> Any:
    """A mapping key as a loader sees it (so paths match what verify() loads)."""
    if isinstance(node, ScalarNode) and node.tag in _TYPED_KEY_TAGS and node.style in (None, ""):
        try:
            return yaml.load(node.value, Loader=_Loader)
        except yaml.YAMLError:
            return node.value
    return node.value if isinstance(node, ScalarNode) else None


_TYPED_KEY_TAGS = frozenset(
    f"tag:yaml.org,2002:{t}" for t in ("int", "float", "bool", "null", "timestamp")
)


def plain_tag(value: str) -> str:
    return _resolver.resolve(ScalarNode, value, (True, False))


def can_be_plain(value: str, flow: bool, want_tag: str) -> bool:
    """Whether `value` written unquoted reads back as the same text with the wanted type."""
    if not value or not _PLAIN_SAFE.match(value) or value != value.strip():
        return False
    if ": " in value or " #" in value or value.endswith(":"):
        return False
    if flow and any(c in value for c in ",[]{}"):
        return False
    return plain_tag(value) == want_tag


def double_quoted(value: str) -> str:
    """A YAML double-quoted scalar; JSON's escapes are a valid subset of YAML's."""
    return json.dumps(value, ensure_ascii=False)


def render_scalar(
    value: str, original: ScalarNode | None, flow: bool, keep_type: bool = False
) -> str:
    """Text to splice in for `value`, in the original's quoting style where that is safe.

    A plain `1.10` would read back as
    the float 1.1, so a string that would change type is double-quoted instead. With
    `keep_type` (--set), a number replacing a number (replicas, say) stays plain and typed.
    """
    style = getattr(original, "style", None) or None
    if style in ("|", ">"):
        raise BadInput("cannot rewrite a block scalar (| or >); use a single-line value")
    if style == "'" and "\n" not in value:
        return "'" + value.replace("'", "''") + "'"
    if style == '"':
        return double_quoted(value)
    original_tag = original.tag if original is not None else STR_TAG
    if keep_type and original_tag != STR_TAG and can_be_plain(value, flow, original_tag):
        return value
    if can_be_plain(value, flow, STR_TAG):
        return value
    return double_quoted(value)


_PROPERTIES_RE = re.compile(r"(?:[&!][^\s,\[\]{}]*\s+)+")


def scalar_span(text: str, node: ScalarNode) -> tuple[int, int]:
    """The offsets of a scalar's own text, after any anchor (&a) or tag (!!str) before it."""
    start, end = node.start_mark.index, node.end_mark.index
    m = _PROPERTIES_RE.match(text, start, end)
    return (m.end() if m else start), end


# --- edits ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    """Replace text[start:end] with `text`; `scalar` is the value's own text within it (what
    verification expects to read back)."""

    start: int
    end: int
    text: str
    scalar: str


def apply_edits(text: str, edits: list[Edit]) -> str:
    ordered = sorted(edits, key=lambda e: (e.start, e.end))
    for before, after in zip(ordered, ordered[1:]):
        if after.start < before.end:
            raise BadInput("two edits overlap in one file; refusing an ambiguous rewrite")
    out: list[str] = []
    pos = 0
    for edit in ordered:
        out.append(text[pos : edit.start])
        out.append(edit.text)
        pos = edit.end
    out.append(text[pos:])
    return "".join(out)
