"""One pass over every document of a file, asking each kind about each mapping.

Aliased nodes are visited once (an edit to an anchor changes every alias, as YAML means), so a
file that repeats a big anchor costs no more than its own size.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mlgate.manifests.kinds.argocd import ArgoCDSources
from mlgate.manifests.kinds.base import Context, Found, Kind, get, item_display, join, str_value
from mlgate.manifests.kinds.flux_markers import LineScalar
from mlgate.manifests.kinds.image_strings import ImageStrings
from mlgate.manifests.kinds.kustomize import KustomizeImages
from mlgate.manifests.kinds.value_maps import ImageMaps
from mlgate.manifests.reference import ImageRef
from mlgate.manifests.yamldoc import YamlFile, key_value

KINDS: tuple[Kind, ...] = (ImageStrings(), ImageMaps(), KustomizeImages(), ArgoCDSources())


def walk(
    doc: YamlFile, images: dict[str, ImageRef], want_lines: bool
) -> tuple[list[Found], dict[int, list[LineScalar]]]:
    found: list[Found] = []
    lines: dict[int, list[LineScalar]] = defaultdict(list)
    seen: set[int] = set()
    for doc_index, root in enumerate(doc.documents):
        api_version = kind = ""
        if isinstance(root, MappingNode):
            api_version = str_value(get(root, "apiVersion")) or ""
            kind = str_value(get(root, "kind")) or ""
        ctx = Context(doc, doc_index, api_version, kind, images)
        stack: list[tuple[Node, tuple[Any, ...], str]] = [(root, (doc_index,), "")]
        while stack:
            node, path, display = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, MappingNode):
                if images:
                    for k in KINDS:
                        found.extend(k.visit(ctx, node, path, display))
                children = [
                    (v, (*path, key_value(k)), join(display, k.value))
                    for k, v in node.value
                    if isinstance(k, ScalarNode)
                ]
            elif isinstance(node, SequenceNode):
                children = [
                    (item, (*path, i), item_display(display, i, item))
                    for i, item in enumerate(node.value)
                ]
            else:
                continue
            for child in reversed(children):
                if want_lines and isinstance(child[0], ScalarNode):
                    lines[child[0].end_mark.line].append(LineScalar(*child))
                stack.append(child)
    return found, lines
