"""Argo CD Application and ApplicationSet sources: `helm.parameters` (`image.repository` with
`image.tag`, or a whole `image` reference) and `kustomize.images` strings
(`[old=]new[:tag][@digest]`). `helm.valuesObject` is ordinary values, found by value_maps.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from yaml.nodes import MappingNode, ScalarNode

from mlgate.manifests.kinds.base import (
    Context,
    Found,
    get,
    join,
    match_ref,
    seq_items,
    str_value,
)
from mlgate.manifests.kinds.version_fields import Field, current_value, set_version
from mlgate.manifests.reference import ImageRef, normalize_name, try_parse_reference

ARGO_KINDS = frozenset({"Application", "ApplicationSet"})


def is_argo(ctx: Context) -> bool:
    return ctx.kind in ARGO_KINDS and ctx.api_version.startswith("argoproj.io/")


class ArgoCDSources:
    name = "argocd"

    def visit(
        self, ctx: Context, node: MappingNode, path: tuple[Any, ...], display: str
    ) -> Iterable[Found]:
        if not is_argo(ctx) or not path:
            return []
        if path[-1] == "helm":
            return self._helm(ctx, node, path, display)
        if path[-1] == "kustomize":
            return self._kustomize(ctx, node, path, display)
        return []

    def _helm(self, ctx: Context, node: MappingNode, path: tuple[Any, ...], display: str):
        params: dict[str, tuple[int, MappingNode, Any]] = {}
        items = seq_items(get(node, "parameters"))
        base = join(display, "parameters")
        for index, item in enumerate(items):
            if isinstance(item, MappingNode):
                name = str_value(get(item, "name"))
                if name is not None and name not in params:
                    params[name] = (index, item, get(item, "value"))
        found: list[Found] = []
        for name, (index, item, value) in params.items():
            where = f"{ctx.file.rel}:{item.start_mark.line + 1}"
            item_path = (*path, "parameters", index)
            shown = f"{base}[name={name}].value"
            if name == "image" or name.endswith(".image"):
                matched = match_ref(str_value(value), ctx)
                if matched and isinstance(value, ScalarNode):
                    current, new = matched
                    found.append(Found((*item_path, "value"), shown, "argocd helm parameter",
                                       value.value, current.name + new.version, new.repository,
                                       node=value, current=current))
            elif name == "repository" or name.endswith(".repository"):
                found.extend(self._split_params(ctx, params, name, path, base, where))
        return found

    def _split_params(self, ctx, params, name, path, base, where) -> list[Found]:
        prefix = name[: -len("repository")]
        repository = str_value(params[name][2])
        if not repository:
            return []
        registry = str_value(params[prefix + "registry"][2]) if prefix + "registry" in params else None
        full = f"{registry.rstrip('/')}/{repository}" if registry else repository
        if try_parse_reference(full) is None:
            return []
        new = ctx.images.get(normalize_name(full))
        if new is None:
            return []

        def field(key: str) -> Field:
            entry = params.get(prefix + key)
            if entry is None:
                return Field(prefix + key, (), f"{base}[name={prefix}{key}].value", None)
            index, _item, value = entry
            return Field("value", (*path, "parameters", index, "value"),
                         f"{base}[name={prefix}{key}].value", value)

        tag, digest = field("tag"), field("digest")
        current = ImageRef(full, new.repository, current_value(tag), current_value(digest))
        return set_version(new=new, current=current, tag=tag, digest=digest,
                           kind="argocd helm parameter", where=where, can_insert=False)

    def _kustomize(self, ctx: Context, node: MappingNode, path: tuple[Any, ...], display: str):
        found: list[Found] = []
        base = join(display, "images")
        for index, item in enumerate(seq_items(get(node, "images"))):
            text = str_value(item)
            if text is None or not isinstance(item, ScalarNode):
                continue
            old_name, eq, new_part = text.partition("=")
            if not eq:
                old_name, new_part = "", text
            ref = try_parse_reference(new_part)
            if ref is None:
                continue
            new = ctx.images.get(ref.repository)
            if new is None and old_name and try_parse_reference(old_name) is not None:
                new = ctx.images.get(normalize_name(old_name))
            if new is None:
                continue
            value = (f"{old_name}=" if eq else "") + ref.name + new.version
            current = ImageRef(ref.name, new.repository, ref.tag, ref.digest)
            found.append(Found((*path, "images", index), f"{base}[{index}]", "argocd kustomize image",
                               text, value, new.repository, node=item, current=current))
        return found
