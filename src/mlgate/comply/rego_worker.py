"""The one place regopy runs: a child process that compiles the policies and evaluates them.

Why a child: rego-cpp is a C++ library; some policies it cannot handle end in `terminate()`
(an abort that no Python `except` catches), and a policy may compute for as long as it likes. In
a child, an abort or a hang is a failed evaluation the parent reports (exit 3) with the policy
named, and the parent's own state (a half-written report, a temp checkout) is cleaned up as
usual. The child speaks JSON over stdin/stdout, one request and one answer.

Why bundles: rego-cpp compiles every module again on each plain query (about 5 ms with ten
policies, whatever the query); a bundle is compiled once and each entrypoint then costs tens of
microseconds. A bundle's data is fixed when it is built, so the documents are grouped by what
their `data.mlgate` must hold: one bundle when no policy reads `data.mlgate.file`, else one per
file.

Why streamed: the parent parses the manifests while the child evaluates them, so on two cores
the evaluation overlaps the clone, the rewrite and the parsing instead of following them. The
request comes as lines, each tagged by its first byte: `M` then the modules' JSON
([[name, source], ...]) once; `G` then a group's JSON ({"data": {...}, "entrypoints": [...]}),
which builds its bundle; `I` then one input's JSON text (JSON has no raw newline), evaluated as
it arrives, in the last group. At the end of stdin the answer is written once:
{"results": [[{entrypoint: value}, ...] per group]}, or {"error": {"kind": "compile" | "eval",
...}} as soon as one happens (the rest of the request is then left unread).
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from mlgate import safe_load
from mlgate.errors import MlgateError

# an error node of rego-cpp's error sequence: `(error N:NAME|OFFSET|LENGTH` (the location is
# absent for errors found outside a module), then `(errormsg N:TEXT)`; N is a byte count
_ERROR = re.compile(rb"\(error(?=[\s)])")
_LOCATION = re.compile(rb"\s*(\d+):")
_MESSAGE = re.compile(rb"\(errormsg (\d+):")
_SPAN = re.compile(rb"\|(\d+)\|(\d+)")
_NOTHING = '{"expressions":[[]]}'   # an empty set: no message, left out of the answer
_ERROR_MSG_KIND = 1801
_ERROR_CODE_KIND = 1803


def parse_errors(text: str) -> list[dict[str, Any]]:
    """rego-cpp's error sequence as [{"file", "offset", "message"}] (file and offset None when
    the error has no location). Lengths are byte counts, so the text is read as bytes."""
    data = text.encode("utf-8", "replace")
    found = []
    for match in _ERROR.finditer(data):
        pos = match.end()
        file, offset = None, None
        loc = _LOCATION.match(data, pos)
        if loc:
            start = loc.end()
            end = start + int(loc.group(1))
            file = data[start:end].decode("utf-8", "replace")
            span = _SPAN.match(data, end)
            if span:
                offset = int(span.group(1))
        msg = _MESSAGE.search(data, pos)
        if msg is None:
            continue
        start = msg.end()
        message = data[start:start + int(msg.group(1))].decode("utf-8", "replace")
        found.append({"file": file, "offset": offset, "message": message})
    return found or [{"file": None, "offset": None, "message": text.strip()[:500]}]


def _output_error(shared, impl) -> str:
    """The message of a failed evaluation: the error nodes' message and code."""
    from regopy.node import Node

    text = shared.rego_output_string(impl)
    if text.startswith("(error"):
        return "; ".join(e["message"] for e in parse_errors(text))
    parts: list[str] = []

    def walk(node: Node, depth: int) -> None:
        if depth > 6:
            return
        for i in range(len(node._children)):
            child = node.at(i)
            if child.kind in (_ERROR_MSG_KIND, _ERROR_CODE_KIND):
                value = shared.rego_node_value(child._impl)
                if value:
                    parts.append(value)
            else:
                walk(child, depth + 1)

    walk(Node(shared.rego_output_node(impl)), 0)
    return ": ".join(parts) or "evaluation failed"


def _new(shared):
    from regopy import LogLevel

    impl = shared.rego_new()
    shared.rego_set_log_level(impl, LogLevel.NONE)  # else rego-cpp prints errors to stdout
    return impl


class Evaluator:
    """The child's state between lines: one runner, the current group's bundle, the answers."""

    def __init__(self) -> None:
        from regopy import rego_shared

        self.shared = rego_shared
        self.runner = _new(rego_shared)
        self.modules: list[list[str]] = []
        self.group: dict[str, Any] | None = None
        self.bundle = None
        self.answers: list[list[dict[str, Any]]] = []

    def modules_line(self, modules: list[list[str]]) -> None:
        self.modules = modules

    def group_line(self, group: dict[str, Any]) -> dict[str, Any] | None:
        """Open a group: its bundle built now, or the compile error as the answer."""
        self._free()
        self.group = group
        self.answers.append([])
        if not group["entrypoints"]:
            return None
        builder = _new(self.shared)
        try:
            bundle = _build(self.shared, builder, self.modules, group)
        finally:
            self.shared.rego_free(builder)
        if isinstance(bundle, dict):
            return bundle
        self.bundle = bundle
        return None

    def input_line(self, text: str) -> dict[str, Any] | None:
        """Evaluate one input in the open group, or the evaluation error as the answer."""
        if self.group is None:
            raise ValueError("an input line before any group line")
        index = len(self.answers[-1])
        if self.bundle is None:   # a group without entrypoints: nothing to ask
            self.answers[-1].append({})
            return None
        values, error = _run(self.shared, self.runner, self.bundle,
                             self.group["entrypoints"], text, index)
        if error is not None:
            return error
        self.answers[-1].append(values)
        return None

    def _free(self) -> None:
        if self.bundle is not None:
            self.shared.rego_free_bundle(self.bundle)
            self.bundle = None


def serve(lines) -> dict[str, Any]:
    """The answer to a request read line by line (see the module's docstring)."""
    evaluator = Evaluator()
    for raw in lines:
        tag, body = raw[:1], raw[1:]
        if tag == b"M":
            evaluator.modules_line(json.loads(body))
        elif tag == b"G":
            error = evaluator.group_line(json.loads(body))
            if error is not None:
                return error
        elif tag == b"I":
            error = evaluator.input_line(body.decode("utf-8").rstrip("\n"))
            if error is not None:
                return error
        elif raw.strip():
            raise ValueError(f"unknown request line {raw[:20]!r}")
    evaluator._free()
    return {"results": evaluator.answers}


def _build(shared, builder, modules, group):
    """The group's compiled bundle, or the compile error as the answer."""
    from regopy import RegoError

    try:
        for name, source in modules:
            shared.rego_add_module(builder, name, source)
        shared.rego_add_data_json(builder, json.dumps(group["data"]))
        for entrypoint in group["entrypoints"]:
            shared.rego_add_entrypoint(builder, entrypoint)
        bundle = shared.rego_build(builder)
    except RegoError as exc:
        return {"error": {"kind": "compile", "errors": parse_errors(str(exc.args[0]))}}
    if not shared.rego_bundle_ok(bundle):
        shared.rego_free_bundle(bundle)
        return {"error": {"kind": "compile",
                          "errors": parse_errors(shared.rego_get_error(builder))}}
    return bundle


def _run(shared, runner, bundle, entrypoints, text, index):
    """One input's value of each entrypoint (an undefined one left out), or the first
    evaluation error."""
    from regopy import RegoError

    shared.rego_set_input_term(runner, text)
    values: dict[str, Any] = {}
    for entrypoint in entrypoints:
        try:
            impl = shared.rego_bundle_query_entrypoint(runner, bundle, entrypoint)
        except RegoError as exc:
            return None, _eval_error(entrypoint, index, "; ".join(
                e["message"] for e in parse_errors(str(exc.args[0]))))
        try:
            out = shared.rego_output_string(impl)
            if not shared.rego_output_ok(impl) or out.startswith("(error"):
                return None, _eval_error(entrypoint, index, _output_error(shared, impl))
            if out == _NOTHING:
                continue  # the common answer (nothing fired) needs no parsing
            if out != "undefined":
                try:
                    parsed = safe_load.parse_json(out, "rego-cpp's output")
                except MlgateError as exc:  # seen: sprintf's %s of another rule's string
                    return None, _eval_error(entrypoint, index, "rego-cpp returned a value "
                                             "that " + ("is not JSON" if "invalid JSON"
                                                        in str(exc) else
                                                        f"cannot be read: {exc}"))
                expressions = (parsed.get("expressions") if isinstance(parsed, dict)
                               else None) or []
                if expressions:
                    values[entrypoint] = expressions[0]
        finally:
            shared.rego_free_output(impl)
    return values, None


def _eval_error(entrypoint: str, index: int, message: str) -> dict[str, Any]:
    return {"error": {"kind": "eval", "entrypoint": entrypoint, "input": index,
                      "message": message}}


if __name__ == "__main__":  # the child's whole protocol: request lines in, one answer out
    sys.stdout.write(json.dumps(serve(sys.stdin.buffer)))
    sys.stdout.flush()
