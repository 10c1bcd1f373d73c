"""Maps holding a repository beside its tag/digest: Helm values (`image: {repository, tag}`,
with `registry` split out, at any depth such as `predictor.image`), Flux HelmRelease and Argo CD
`valuesObject` values, and any chart's sub-map like `redis: {repository, tag}`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from yaml.nodes import MappingNode

from mlgate.manifests.kinds.base import Context, Found, join, pairs, str_value
from mlgate.manifests.kinds.version_fields import Field, current_value, set_version
from mlgate.manifests.reference import ImageRef, normalize_name, try_parse_reference


class ImageMaps:
    name = "values"

    def visit(
        self, ctx: Context, node: MappingNode, path: tuple[Any, ...], display: str
    ) -> Iterable[Found]:
        fields = pairs(node)
        if "tag" not in fields and "digest" not in fields:
            return ()
        repo_key = "repository" if "repository" in fields else None
        if repo_key is None and path and path[-1] == "image" and "name" in fields:
            repo_key = "name"
        if repo_key is None:
            return ()
        repository = str_value(fields[repo_key][1])
        if not repository:
            return ()
        registry = str_value(fields["registry"][1]) if "registry" in fields else None
        full = f"{registry.rstrip('/')}/{repository}" if registry else repository
        if try_parse_reference(full) is None:
            return ()
        repo = normalize_name(full)
        new = ctx.images.get(repo)
        if new is None:
            return ()

        def field(key: str) -> Field:
            entry = fields.get(key)
            return Field(
                key=key,
                path=(*path, key),
                display=join(display, key),
                node=entry[1] if entry else None,
                parent=node,
            )

        tag, digest = field("tag"), field("digest")
        current = ImageRef(
            name=full,
            repository=repo,
            tag=current_value(tag),
            digest=current_value(digest),
        )
        return set_version(
            new=new,
            current=current,
            tag=tag,
            digest=digest,
            kind="helm values",
            where=f"{ctx.file.rel}:{node.start_mark.line + 1}",
            can_insert=False,
        )
