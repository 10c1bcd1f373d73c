"""Kustomize `images:` entries (kustomization.yaml, and Flux Kustomization `spec.images`).

Kustomize matches an entry by `name` (the image as the base resources spell it) and replaces
it with `newName`; so an entry matches when either names the target repository, `newName` is
kept as it is, and `newTag`/`digest` are set, added when absent (kustomize defines both).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from yaml.nodes import MappingNode

from mlgate.manifests.kinds.base import (
    Context,
    Found,
    get,
    item_display,
    join,
    pairs,
    seq_items,
    str_value,
)
from mlgate.manifests.kinds.version_fields import Field, current_value, set_version
from mlgate.manifests.reference import ImageRef, normalize_name, try_parse_reference

KUSTOMIZATION_FILES = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization"})


def is_kustomization(ctx: Context) -> bool:
    return ctx.basename in KUSTOMIZATION_FILES or (
        ctx.kind == "Kustomization" and ctx.api_version.startswith("kustomize.config.k8s.io/")
    )


def is_flux_kustomization(ctx: Context) -> bool:
    return ctx.kind == "Kustomization" and ctx.api_version.startswith("kustomize.toolkit.fluxcd.io/")


class KustomizeImages:
    name = "kustomize"

    def visit(
        self, ctx: Context, node: MappingNode, path: tuple[Any, ...], display: str
    ) -> Iterable[Found]:
        at_root = len(path) == 1 and is_kustomization(ctx)
        at_flux_spec = path[1:] == ("spec",) and is_flux_kustomization(ctx)
        if not (at_root or at_flux_spec):
            return []
        images = get(node, "images")
        base_display = join(display, "images")
        found: list[Found] = []
        for index, entry in enumerate(seq_items(images)):
            if isinstance(entry, MappingNode):
                found.extend(
                    self._entry(ctx, entry, (*path, "images", index),
                                item_display(base_display, index, entry))
                )
        return found

    def _entry(
        self, ctx: Context, entry: MappingNode, path: tuple[Any, ...], display: str
    ) -> list[Found]:
        fields = pairs(entry)
        name = str_value(fields["name"][1]) if "name" in fields else None
        new_name = str_value(fields["newName"][1]) if "newName" in fields else None
        new = None
        for candidate in (new_name, name):
            if candidate and try_parse_reference(candidate) is not None:
                new = ctx.images.get(normalize_name(candidate))
                if new is not None:
                    break
        if new is None:
            return []

        def field(key: str) -> Field:
            item = fields.get(key)
            return Field(key, (*path, key), f"{display}.{key}", item[1] if item else None, entry)

        tag, digest = field("newTag"), field("digest")
        shown = new_name or name or ""
        current = ImageRef(shown, new.repository, current_value(tag), current_value(digest))
        return set_version(
            new=new,
            current=current,
            tag=tag,
            digest=digest,
            kind="kustomize image",
            where=f"{ctx.file.rel}:{entry.start_mark.line + 1}",
            can_insert=True,
        )
