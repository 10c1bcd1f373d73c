"""`image: repo:tag` strings: workload containers (Pod, Deployment, StatefulSet, DaemonSet,
ReplicaSet, Job, CronJob, Argo Rollouts, KServe), Helm values, Compose and Actions files.

Matching on the key and the parsed repository, not on the document kind, is what lets one
rule serve every workload kind and every depth (initContainers, ephemeralContainers, a
chart's `predictor.image`), while a value that is not a reference to the target never matches.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from yaml.nodes import MappingNode, ScalarNode

from mlgate.manifests.kinds.base import Context, Found, join, match_ref, str_value, with_version

IMAGE_KEYS = frozenset({"image", "containerImage"})


class ImageStrings:
    name = "image"

    def visit(
        self, ctx: Context, node: MappingNode, path: tuple[Any, ...], display: str
    ) -> Iterable[Found]:
        for key, value in node.value:
            if not (isinstance(key, ScalarNode) and key.value in IMAGE_KEYS):
                continue
            text = str_value(value)
            matched = match_ref(text, ctx)
            if matched is None:
                continue
            current, new = matched
            assert isinstance(value, ScalarNode)
            yield Found(
                path=(*path, key.value),
                display=join(display, key.value),
                kind="image",
                old=text,
                new=with_version(current, new),
                target=new.repository,
                node=value,
                current=current,
            )
