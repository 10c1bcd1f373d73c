"""Flux image-automation setter markers: `# {"$imagepolicy": "ns:name"}` after a value, with
`:tag`, `:name` or `:digest` to set only that part.

Comments are invisible to a YAML parser, so markers are found in the text and tied to the
scalar that ends on the same line before the comment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from yaml.nodes import ScalarNode

from mlgate.errors import BadInput
from mlgate.manifests.config import FluxPolicy
from mlgate.manifests.kinds.base import Found

MARKER = "$imagepolicy"
_MARKER_RE = re.compile(r'#\s*\{\s*"\$imagepolicy"\s*:\s*"([^"]*)"\s*\}')


@dataclass(frozen=True)
class LineScalar:
    node: ScalarNode
    path: tuple[Any, ...]
    display: str


def find_markers(
    text: str, rel: str, scalars: dict[int, list[LineScalar]], policies: tuple[FluxPolicy, ...]
) -> list[Found]:
    by_policy = {p.policy: p for p in policies}
    found: list[Found] = []
    for m in _MARKER_RE.finditer(text):
        policy, _, part = _split(m.group(1))
        target = by_policy.get(policy)
        if target is None:
            continue
        line = text.count("\n", 0, m.start())
        before = [s for s in scalars.get(line, []) if s.node.end_mark.index <= m.start()]
        if not before:
            continue
        scalar = max(before, key=lambda s: s.node.end_mark.index)
        ref = target.ref
        if part == "tag":
            if not ref.tag:
                raise BadInput(f"{rel}:{line + 1}: marker wants a tag but {ref} has none")
            value = ref.tag
        elif part == "digest":
            if not ref.digest:
                raise BadInput(f"{rel}:{line + 1}: marker wants a digest but {ref} has none")
            value = ref.digest
        elif part == "name":
            value = ref.name
        elif part == "":
            value = str(ref)
        else:
            raise BadInput(f"{rel}:{line + 1}: unknown $imagepolicy field {part!r}")
        found.append(
            Found(
                path=scalar.path,
                display=scalar.display,
                kind=f"flux setter {m.group(1)}",
                old=scalar.node.value,
                new=value,
                target=policy,
                node=scalar.node,
            )
        )
    return found


def _split(spec: str) -> tuple[str, str, str]:
    parts = spec.split(":")
    if len(parts) == 3:
        return f"{parts[0]}:{parts[1]}", ":", parts[2]
    return spec, "", ""
