"""Setting a tag and a digest kept in separate fields (Helm maps, Kustomize images, Argo CD
parameters), with one rule for all of them.

A stale digest beside a new tag would keep the old image running, so a new tag blanks an old
digest; a digest with no field to hold it goes into the tag field as `tag@digest` (which the
usual `{{ .repository }}:{{ .tag }}` template renders as a valid reference) or, where the
format defines the field (Kustomize), is added.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode

from mlgate.errors import BadInput
from mlgate.manifests.kinds.base import Found
from mlgate.manifests.reference import ImageRef


@dataclass(frozen=True)
class Field:
    """A tag or digest field: its value node, or where to add it when absent."""

    key: str
    path: tuple[Any, ...]
    display: str
    node: Node | None
    parent: MappingNode | None = None  # where to insert when node is None and inserting is allowed


def current_value(field: Field | None) -> str | None:
    if field is None or field.node is None:
        return None
    if isinstance(field.node, ScalarNode):
        return field.node.value or None
    return None


def set_version(
    *,
    new: ImageRef,
    current: ImageRef,
    tag: Field,
    digest: Field,
    kind: str,
    where: str,
    can_insert: bool,
) -> list[Found]:
    out: list[Found] = []

    def put(field: Field, value: str) -> None:
        if field.node is not None:
            if not isinstance(field.node, ScalarNode):
                raise BadInput(f"{where}: {field.display} is not a scalar; cannot set it")
            out.append(
                Found(
                    path=field.path,
                    display=field.display,
                    kind=kind,
                    old=field.node.value,
                    new=value,
                    target=new.repository,
                    node=field.node,
                    current=current,
                )
            )
        elif can_insert and field.parent is not None:
            out.append(
                Found(
                    path=field.path,
                    display=field.display,
                    kind=kind,
                    old=None,
                    new=value,
                    target=new.repository,
                    insert_into=field.parent,
                    insert_key=field.key,
                    current=current,
                )
            )
        else:
            raise BadInput(f"{where}: no {field.display!r} field to set for {new}")

    has_digest_field = digest.node is not None or can_insert
    if new.tag and new.digest:
        if has_digest_field:
            put(tag, new.tag)
            put(digest, new.digest)
        else:
            put(tag, f"{new.tag}@{new.digest}")
    elif new.tag:
        put(tag, new.tag)
        if current_value(digest):
            put(digest, "")
    elif new.digest:
        if not has_digest_field:
            raise BadInput(
                f"{where}: {new.repository} has no digest field beside {tag.display!r}; "
                "give a tag too (it is written as tag@digest)"
            )
        put(digest, new.digest)
    return out
