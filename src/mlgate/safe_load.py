"""The one way mlgate reads a YAML or JSON file: bounded in size, depth and alias expansion.

Every such file is untrusted input (suites, ignore files, mlgate.yaml, evidence, MLmodel,
Trivy's output, step results read back), and each of these limits stops a file a few hundred
bytes long from taking a runner down:

- size: at most `limit` + 1 bytes are read, never the whole of an over-size file;
- alias expansion: a "billion laughs" file composes cheaply (aliases are shared nodes) but
  expands to ~10^9 nodes in any code that walks it, so it is refused before construction;
- nesting depth: libyaml's composer recurses in C and crashes the process (SIGSEGV) on
  ~100 000 nested `[`, and `json.loads` raises RecursionError; depth is checked on
  libyaml's event stream (iterative) before composing, and JSON's RecursionError is caught;
- UTF-8: a decode error names the line.

Errors are `BadInput` (or the class the caller gives) naming the input as the user gave it,
`--suite suites/x.yaml:3: …`, so one line tells which option, which file, which line.
Manifests (manifests/yamldoc.py) compose themselves, because they need node offsets for
in-place rewriting, but call `check_yaml_depth` and `check_alias_expansion` from here.
"""

from __future__ import annotations

import json
import math
from typing import Any

from mlgate.errors import BadInput, MlgateError

MiB = 1024 * 1024
MAX_BYTES = 10 * MiB
MAX_DEPTH = 100   # mlgate's own files nest < 10 levels, Trivy's JSON < 15; far below recursion
BOM = "\ufeff"


def _where(label: str, line: int | None) -> str:
    return f"{label}:{line}" if line else label


def read_bytes(path: str, label: str, *, limit: int = MAX_BYTES,
               error: type[MlgateError] = BadInput) -> bytes:
    """The file's bytes; reads at most limit+1 so an over-size file is never read whole."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except FileNotFoundError:
        raise error(f"{label}: no such file") from None
    except IsADirectoryError:
        raise error(f"{label}: is a directory, expected a file") from None
    except OSError as exc:
        raise error(f"{label}: cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise error(f"{label}: over the {_size(limit)} size limit")
    return data


def _size(limit: int) -> str:
    return f"{limit // MiB} MiB" if limit % MiB == 0 else f"{limit} bytes"


def decode(data: bytes, label: str, *, error: type[MlgateError] = BadInput) -> str:
    """UTF-8 text without a leading BOM; a bad byte is named by its line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise error(f"{label}:{line}: not UTF-8 text (byte {exc.start})") from None
    return text[1:] if text.startswith(BOM) else text


def read_text(path: str, label: str, *, limit: int = MAX_BYTES,
              error: type[MlgateError] = BadInput) -> str:
    return decode(read_bytes(path, label, limit=limit, error=error), label, error=error)


# --- YAML ----------------------------------------------------------------------------------


def loader_class():
    """PyYAML's safe loader, libyaml's when present: parsing is the bulk of a rewrite's cost."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def check_yaml_depth(text: str, label: str, *, max_depth: int = MAX_DEPTH,
                     error: type[MlgateError] = BadInput) -> None:
    """Refuse YAML nested deeper than max_depth, before anything recursive touches it.

    libyaml's parser is iterative; walking its events costs a fraction of composing, and
    stops at the first event past the limit. Malformed YAML is left to the composer to report.
    """
    import yaml
    from yaml.events import CollectionEndEvent, CollectionStartEvent

    loader = loader_class()(text)
    depth = 0
    try:
        while (event := loader.get_event()) is not None:
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > max_depth:
                    line = event.start_mark.line + 1 if event.start_mark else None
                    raise error(f"{_where(label, line)}: nested more than {max_depth} levels "
                                "deep; refusing")
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return
    finally:
        loader.dispose()


def check_alias_expansion(documents: list, label: str, *,
                          error: type[MlgateError] = BadInput) -> None:
    """Refuse files whose aliases expand far beyond their size (a 'billion laughs' file).

    Composing keeps aliases as shared nodes, so the file parses cheaply; but any consumer that
    loads it (kubectl, Helm, Argo CD, GX, mlgate's own walks) would expand it, so it is refused.
    """
    sizes: dict[int, int] = {}
    nodes: dict[int, Any] = {}
    for root in documents:
        stack: list[tuple[Any, bool]] = [(root, False)]
        while stack:
            node, done = stack.pop()
            key = id(node)
            children = _children(node)
            if done:
                sizes[key] = 1 + sum(sizes[id(child)] for child in children)
                continue
            if key in sizes:
                continue
            sizes[key] = -1  # in progress: a cycle (recursive alias) shows up as -1
            nodes[key] = node
            stack.append((node, True))
            for child in children:
                if sizes.get(id(child)) == -1:
                    raise error(f"{_where(label, _line(child))}: recursive YAML alias")
                if id(child) not in sizes:
                    stack.append((child, False))
    distinct = len(sizes)
    expanded = sum(sizes[id(root)] for root in documents)
    limit = 10 * distinct + 10_000
    if expanded > limit:
        # the innermost node already over the limit is where the bomb is built
        key = min((k for k, s in sizes.items() if s > limit), key=sizes.__getitem__,
                  default=None)
        line = _line(nodes[key]) if key is not None else None
        raise error(f"{_where(label, line)}: YAML aliases expand {distinct} nodes to "
                    f"{expanded} (an alias bomb); refusing")


def _children(node) -> list:
    from yaml.nodes import MappingNode, SequenceNode

    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def _line(node) -> int | None:
    mark = getattr(node, "start_mark", None)
    return mark.line + 1 if mark is not None else None


def parse_yaml(text: str, label: str, *, max_depth: int = MAX_DEPTH,
               error: type[MlgateError] = BadInput) -> Any:
    """One YAML document as Python data (safe types only), within the limits above."""
    import yaml

    check_yaml_depth(text, label, max_depth=max_depth, error=error)
    loader = loader_class()(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if "*" in text:  # no alias, no expansion: skip the walk for the common case
            check_alias_expansion([node], label, error=error)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise error(f"{_where(label, line)}: invalid YAML: "
                    f"{exc.problem or exc.context or 'malformed'}") from None
    except yaml.YAMLError as exc:
        raise error(f"{label}: invalid YAML: {_one_line(exc)}") from None
    except RecursionError:
        raise error(f"{label}: YAML nested too deeply; refusing") from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. an int of 5000 digits
        raise error(f"{label}: invalid YAML value: {_one_line(exc)}") from None
    finally:
        loader.dispose()


def compose_yaml(text: str, label: str, *, max_depth: int = MAX_DEPTH,
                 error: type[MlgateError] = BadInput) -> list:
    """Every document of a YAML stream as node trees, never constructed (so an alias is one
    node, not its expansion): for code that only looks at a few keys of many files."""
    import yaml

    check_yaml_depth(text, label, max_depth=max_depth, error=error)
    try:
        return list(yaml.compose_all(text, Loader=loader_class()))
    except yaml.YAMLError as exc:
        raise error(f"{label}: invalid YAML: {_one_line(exc)}") from None
    except RecursionError:
        raise error(f"{label}: YAML nested too deeply; refusing") from None


def load_yaml(path: str, label: str, *, limit: int = MAX_BYTES,
              error: type[MlgateError] = BadInput) -> Any:
    return parse_yaml(read_text(path, label, limit=limit, error=error), label, error=error)


# --- JSON ----------------------------------------------------------------------------------


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def parse_json(text: str | bytes, label: str, *, max_depth: int = MAX_DEPTH,
               error: type[MlgateError] = BadInput) -> Any:
    """JSON as Python data: strict (no NaN/Infinity, finite floats, ints under Python's
    4300-digit limit), nested at most max_depth levels."""
    if isinstance(text, bytes):
        text = decode(text, label, error=error)
    elif text.startswith(BOM):
        text = text[1:]
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except json.JSONDecodeError as exc:
        raise error(f"{label}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise error(f"{label}: nested more than {max_depth} levels deep; refusing") from None
    except ValueError as exc:
        raise error(f"{label}: invalid JSON: {_one_line(exc)}") from None
    check_depth(value, label, max_depth=max_depth, error=error)
    return value


def load_json(path: str, label: str, *, limit: int = MAX_BYTES,
              error: type[MlgateError] = BadInput) -> Any:
    return parse_json(read_bytes(path, label, limit=limit, error=error), label, error=error)


def check_depth(value: Any, label: str, *, max_depth: int = MAX_DEPTH,
                error: type[MlgateError] = BadInput) -> None:
    """Refuse loaded data nested deeper than max_depth (iterative: itself cannot recurse)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            raise error(f"{label}: nested more than {max_depth} levels deep; refusing")
        stack.extend((child, depth + 1) for child in children
                     if isinstance(child, (dict, list)))


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]
