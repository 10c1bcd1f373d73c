"""`--set FILE:KEY.PATH=VALUE`: any other scalar, such as a model version, a KServe
`storageUri` or an Argo CD parameter picked by name (`parameters[name=model.version].value`).
"""

from __future__ import annotations

from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mlgate.errors import BadInput
from mlgate.manifests.config import Index, Match, SetTarget
from mlgate.manifests.kinds.base import Found, get, join, str_value
from mlgate.manifests.yamldoc import YamlFile, key_value


def find_set(doc: YamlFile, target: SetTarget) -> list[Found]:
    """Every document where the path exists; else the one place its last key can be added."""
    found: list[Found] = []
    inserts: list[Found] = []
    for doc_index, root in enumerate(doc.documents):
        hits, adds = _resolve(doc, root, target, (doc_index,), "")
        found.extend(hits)
        inserts.extend(adds)
    if found:
        return found
    if len(inserts) == 1:
        return inserts
    if len(inserts) > 1:
        raise BadInput(
            f"--set {target.spec[:80]!r}: {target.path_text} is missing in several documents "
            f"of {doc.rel}; add it to the one you mean first"
        )
    raise BadInput(f"--set {target.spec[:80]!r}: {target.path_text} not found in {doc.rel}")


def _resolve(doc, root: Node, target: SetTarget, path: tuple[Any, ...], display: str):
    frontier: list[tuple[Node, tuple[Any, ...], str]] = [(root, path, display)]
    inserts: list[Found] = []
    steps = target.path
    for depth, step in enumerate(steps):
        last = depth == len(steps) - 1
        nxt: list[tuple[Node, tuple[Any, ...], str]] = []
        for node, p, d in frontier:
            if isinstance(step, str) and isinstance(node, MappingNode):
                for k, v in node.value:
                    if isinstance(k, ScalarNode) and k.value == step:
                        nxt.append((v, (*p, key_value(k)), join(d, step)))
                        break
                else:
                    if last:
                        inserts.append(_insert(doc, node, target, (*p, step), join(d, step)))
            elif isinstance(step, Index) and isinstance(node, SequenceNode):
                if step.index < len(node.value):
                    nxt.append((node.value[step.index], (*p, step.index), f"{d}[{step.index}]"))
            elif isinstance(step, Match) and isinstance(node, SequenceNode):
                for i, item in enumerate(node.value):
                    if isinstance(item, MappingNode) and str_value(get(item, step.key)) == step.value:
                        nxt.append((item, (*p, i), f"{d}{step}"))
        frontier = nxt
    found = []
    for node, p, d in frontier:
        if not isinstance(node, ScalarNode):
            raise BadInput(f"--set {target.spec[:80]!r}: {d} in {doc.rel} is not a scalar")
        found.append(
            Found(p, d, "set", node.value, target.value, target.spec, node=node, keep_type=True)
        )
    return found, inserts


def _insert(doc, parent: MappingNode, target: SetTarget, path, display) -> Found:
    return Found(path, display, "set", None, target.value, target.spec,
                 insert_into=parent, insert_key=path[-1], keep_type=target.typed)
