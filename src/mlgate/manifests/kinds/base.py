"""What a kind finds, and the context it is given, while the walker visits every mapping."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mlgate.manifests.reference import ImageRef, try_parse_reference
from mlgate.manifests.yamldoc import STR_TAG, YamlFile


@dataclass(frozen=True)
class Found:
    """One value to set. `node` is the scalar to replace; with `insert_into`, a key to add."""

    path: tuple[Any, ...]
    display: str
    kind: str
    old: str | None
    new: str
    target: str  # repository, flux policy or --set spec: what "matched nothing" is about
    node: ScalarNode | None = None
    insert_into: MappingNode | None = None
    insert_key: str | None = None
    current: ImageRef | None = None  # the whole reference this field belongs to
    keep_type: bool = False  # --set: a number may replace a number and stay a number


@dataclass
class Context:
    file: YamlFile
    doc_index: int
    api_version: str
    kind: str
    images: dict[str, ImageRef]  # normalised repository -> new reference

    @property
    def basename(self) -> str:
        return self.file.rel.replace("\\", "/").rsplit("/", 1)[-1]


class Kind(Protocol):
    name: str

    def visit(
        self, ctx: Context, node: MappingNode, path: tuple[Any, ...], display: str
    ) -> Iterable[Found]: ...


def str_value(node: Node | None) -> str | None:
    if isinstance(node, ScalarNode) and node.tag == STR_TAG:
        return node.value
    return None


def pairs(node: MappingNode) -> dict[str, tuple[ScalarNode, Node]]:
    """String keys of a mapping with their key and value nodes (first one wins, as loaders do)."""
    out: dict[str, tuple[ScalarNode, Node]] = {}
    for key, value in node.value:
        if isinstance(key, ScalarNode) and key.tag == STR_TAG and key.value not in out:
            out[key.value] = (key, value)
    return out


def get(node: MappingNode, key: str) -> Node | None:
    for k, v in node.value:
        if isinstance(k, ScalarNode) and k.value == key and k.tag == STR_TAG:
            return v
    return None


def seq_items(node: Node | None) -> list[Node]:
    return list(node.value) if isinstance(node, SequenceNode) else []


def join(display: str, key: Any) -> str:
    return f"{display}.{key}" if display else str(key)


def item_display(display: str, index: int, item: Node) -> str:
    if isinstance(item, MappingNode):
        name = str_value(get(item, "name"))
        if name is not None and "]" not in name:
            return f"{display}[name={name}]"
    return f"{display}[{index}]"


def match_ref(text: str | None, ctx: Context) -> tuple[ImageRef, ImageRef] | None:
    """(current, new) when `text` is a reference to one of the target repositories."""
    if text is None:
        return None
    ref = try_parse_reference(text)
    if ref is None or ref.repository not in ctx.images:
        return None
    return ref, ctx.images[ref.repository]


def with_version(current: ImageRef, new: ImageRef) -> str:
    """The reference as written in the manifest, with the new tag/digest part."""
    return current.name + new.version
