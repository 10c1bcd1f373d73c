"""The proof that a rewrite changed nothing but the values it meant to set.

The new text is composed again and walked in step with the original tree: every node must be
the same kind, every scalar the same tag and value, except the replaced scalars (which must now
read as exactly the intended tag and value) and the keys appended to a mapping. Comparing nodes,
not loaded objects, also catches a change of type or quoting that a load would hide, and costs
no Python object construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mlgate.errors import BadInput
from mlgate.manifests.yamldoc import STR_TAG, _Loader, plain_tag


@dataclass(frozen=True)
class Expected:
    tag: str
    value: str


def expected_for(rendered: str, value: str) -> Expected:
    """What a scalar written as `rendered` must read back as."""
    if rendered[:1] in ("'", '"'):
        return Expected(STR_TAG, value)
    return Expected(plain_tag(rendered), rendered)


def verify_nodes(
    old_docs: list[Node],
    new_text: str,
    rel: str,
    replaced: dict[int, Expected],
    appended: dict[int, list[tuple[str, Expected]]],
) -> list[Node]:
    """The new text's documents' nodes, once they match the old ones but for the edits."""
    try:
        new_docs = list(yaml.compose_all(new_text, Loader=_Loader))
    except yaml.YAMLError as exc:
        raise BadInput(f"{rel}: rewrite would produce invalid YAML ({exc}); refusing") from None
    if len(new_docs) != len(old_docs):
        _refuse(rel)
    seen: set[int] = set()
    stack = list(zip(old_docs, new_docs, strict=True))
    while stack:
        old, new = stack.pop()
        if id(old) in seen:
            continue
        seen.add(id(old))
        if type(old) is not type(new) or old.tag != new.tag and id(old) not in replaced:
            _refuse(rel)
        if isinstance(old, ScalarNode):
            want = replaced.get(id(old))
            got = (new.tag, new.value)
            if got != ((want.tag, want.value) if want else (old.tag, old.value)):
                _refuse(rel)
        elif isinstance(old, SequenceNode):
            if len(old.value) != len(new.value):
                _refuse(rel)
            stack.extend(zip(old.value, new.value, strict=True))
        elif isinstance(old, MappingNode):
            extra = appended.get(id(old), [])
            if len(new.value) != len(old.value) + len(extra):
                _refuse(rel)
            kept = _without_added(old, new, dict(extra), rel)
            for (ok, ov), (nk, nv) in zip(old.value, kept, strict=True):
                stack.append((ok, nk))
                stack.append((ov, nv))
    return new_docs


def _without_added(old: MappingNode, new: MappingNode, added: dict[str, Expected],
                   rel: str) -> list[tuple[Node, Node]]:
    """The new mapping's entries less the keys the rewrite added (at the end, or first when
    the mapping ended in a nested block), each checked to read as intended and to be a key
    the old mapping did not have."""
    present = {k.value for k, _ in old.value if isinstance(k, ScalarNode)}
    kept = []
    for nk, nv in new.value:
        key = nk.value if isinstance(nk, ScalarNode) else None
        if key in added and key not in present:
            want = added.pop(key)
            if not (isinstance(nv, ScalarNode) and (nv.tag, nv.value) == (want.tag, want.value)):
                _refuse(rel)
            continue
        kept.append((nk, nv))
    if added:
        _refuse(rel)
    return kept


def _refuse(rel: str) -> None:
    raise BadInput(f"{rel}: rewrite would change more than the target values; refusing")
