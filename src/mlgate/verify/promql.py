"""Filling a check's query: `{app}`, `{environment}`, `{namespace}`, `{model_version}`, a
canary's `{canary}` and `{revision}`, and `{window}`.

The first four are names a pipeline takes from its input, so they are PromQL-escaped and
allowed only inside a string literal (`app="{app}"`): outside one, an escaped value could still
end the selector and add a query of its own (`x} or vector(1)`), so such a template is refused.
`{window}` is the range mlgate writes itself (a duration such as `30s`) and may stand anywhere.
"""

from __future__ import annotations

import re

from mlgate.errors import BadInput

LABELS = ("app", "environment", "namespace", "model_version", "canary", "revision")
# known only while a canary runs: the new image's tag, and the serving revision it created
CANARY_LABELS = ("canary", "revision")
_PLACEHOLDER = re.compile(
    r"\{(app|environment|namespace|model_version|canary|revision|window)\}")
# bytes that were not UTF-8 (a command line decodes them to lone surrogates) have no form in a
# PromQL string and would stop the request being encoded
_SURROGATE = re.compile("[\ud800-\udfff]")


def escape(value: str) -> str:
    """A value as it may stand between double quotes in PromQL (Go's string-literal rules):
    backslash, the quote and line breaks escaped; other control characters as \\xHH."""
    out = []
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def duration(seconds: float) -> str:
    """A PromQL duration for a range: whole seconds as `30s`, else milliseconds."""
    ms = max(1, round(seconds * 1000))
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def fill(template: str, labels: dict[str, str], window: float, what: str) -> str:
    """The query with its placeholders replaced; BadInput naming `what` when a label
    placeholder stands outside a string literal or names a label that has no value."""
    if _SURROGATE.search(template):
        raise BadInput(f"{what}: the query is not valid UTF-8 (it cannot be sent to Prometheus)")
    out: list[str] = []
    quote = ""
    i = 0
    while i < len(template):
        ch = template[i]
        found = _PLACEHOLDER.match(template, i)
        if found:
            key = found.group(1)
            if key == "window":
                out.append(duration(window))
            else:
                if quote != '"':
                    raise BadInput(f"{what}: {{{key}}} must stand inside a double-quoted "
                                   f'string (e.g. {key}="{{{key}}}"), where it is escaped')
                if not labels.get(key):
                    given = ("only in mlgate canary" if key in CANARY_LABELS else
                             f"--{key.replace('_', '-')}")
                    raise BadInput(f"{what}: the query uses {{{key}}} but no value is given "
                                   f"({given})")
                if _SURROGATE.search(labels[key]):
                    raise BadInput(f"{what}: the value of --{key.replace('_', '-')} is not "
                                   "valid UTF-8 (it cannot be sent to Prometheus)")
                out.append(escape(labels[key]))
            i = found.end()
            continue
        if quote:
            if ch == "\\" and quote != "`":   # an escape: the next character is not the end
                out.append(template[i:i + 2])
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "\"'`":
            quote = ch
        elif ch == "#":
            raise BadInput(f"{what}: the query holds a comment (#); write it without one")
        out.append(ch)
        i += 1
    if quote:
        raise BadInput(f"{what}: the query has an unterminated string")
    return "".join(out)
