"""Where a canary's share is written: KServe's `canaryTrafficPercent` on the environment's
InferenceService by default, or the weights a person names (an HTTPRoute's or a
VirtualService's two backends).

Found in the checkout each step lands on, so the file is the one at that head, confined to the
environment folder like any --set (promote.promote._late_sets does that).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from mlgate.canary.config import KSERVE_ABSENT, KSERVE_FIELD, TrafficField
from mlgate.errors import BadInput
from mlgate.promote.config import LateSet

MAX_FILE_BYTES = 1 << 20
MAX_FILES = 2000
LateSets = Callable[[str, str], tuple[LateSet, ...]]


def parse_field(text: str) -> TrafficField:
    """`FILE:KEY.PATH` (the new model's weight) or `FILE:KEY.PATH=stable` (the other side)."""
    from mlgate.manifests.config import parse_set

    what = f"--traffic-field {text[:120]!r}"
    spec, stable = text, False
    if text.endswith("=stable"):
        spec, stable = text[: -len("=stable")], True
    try:   # --set's grammar: an "=" outside brackets starts a value
        target = parse_set(spec, value_optional=True)
    except BadInput:
        raise BadInput(f"{what}: expected FILE:KEY.PATH (relative to the environment folder)"
                       ) from None
    if target.value or spec.endswith("="):
        raise BadInput(f"{what}: FILE:KEY.PATH, or FILE:KEY.PATH=stable for the weight that "
                       "takes the rest")
    return TrafficField(target.file, target.path_text, stable)


def setter(fields: tuple[TrafficField, ...], share: int, app: str) -> LateSets:
    """The values a step sets, found in the checkout. Until the last step, undoing KServe's
    canary keeps its share at 0 %: the previous 100 % would send all traffic to the newest
    ready revision (the canary's) until the restored one is ready. Named weights split two
    workloads directly, so their previous values are restored as they were."""

    def sets(checkout: str, env_dir: str) -> tuple[LateSet, ...]:
        if not fields:
            file = find_inference_service(checkout, env_dir, app)
            return (LateSet(f"{file}:{KSERVE_FIELD}={share}", KSERVE_ABSENT,
                            None if share == 100 else "0"),)
        out = []
        for field in fields:
            _check_present(checkout, env_dir, field)
            out.append(LateSet(f"{field.file}:{field.path}={field.value(share)}"))
        return tuple(out)

    return sets


def _check_present(checkout: str, env_dir: str, field: TrafficField) -> None:
    """A named weight must already be in the file: a rollback restores the value it had, and
    a key that was not there has no value to restore."""
    from mlgate.manifests.config import parse_set
    from mlgate.manifests.inspect import current_value
    from mlgate.promote.confine import check_real, confine

    what = f"--traffic-field {field.file}:{field.path}"
    file = confine(env_dir, field.file, what)
    check_real(checkout, env_dir, file, what)
    target = parse_set(f"{file}:{field.path}=0")
    try:
        current_value(checkout, target)
    except BadInput:
        raise BadInput(f"{what}: no value there; the weight must be in the file before a "
                       "canary starts (e.g. weight: 0)") from None


def find_inference_service(checkout: str, env_dir: str, app: str) -> str:
    """The file (relative to the environment folder) of its one KServe InferenceService, or
    of the one named after the app when there are several."""
    found: list[tuple[str, str]] = []
    for rel, heads in _manifest_heads(checkout, env_dir):
        for kind, api, name in heads:
            if kind == "InferenceService" and api.startswith("serving.kserve.io/"):
                found.append((rel, name))
    chosen = found if len(found) < 2 else [f for f in found if f[1] == app]
    if len(chosen) == 1 and sum(1 for f in found if f[0] == chosen[0][0]) == 1:
        return chosen[0][0]
    where = f"the environment folder {env_dir!r}"
    if not found:
        raise BadInput(f"no KServe InferenceService in {where}: give --traffic-field "
                       "FILE:KEY.PATH for the weight the canary sets")
    names = ", ".join(f"{name} ({rel})" for rel, name in found[:5])
    raise BadInput(f"several InferenceServices in {where} ({names}): give --traffic-field "
                   f"FILE:{KSERVE_FIELD} for the one the canary moves")


def _manifest_heads(checkout: str, env_dir: str):
    """(file, [(kind, apiVersion, metadata.name) per document]) of the folder's YAML files.
    Read as node trees, never constructed: an alias bomb costs nothing unexpanded; a file
    that does not parse is skipped (the rewrite reports it if it is the one that matters)."""
    import yaml

    from mlgate.promote.confine import is_inside
    from mlgate.safe_load import compose_yaml, read_text

    root = os.path.join(checkout, env_dir)
    count = 0
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.endswith((".yaml", ".yml")):
                continue
            count += 1
            if count > MAX_FILES:
                raise BadInput(f"the environment folder {env_dir!r} holds over {MAX_FILES} "
                               "YAML files: give --traffic-field")
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            if os.path.islink(path) or not is_inside(env_dir or ".", f"{env_dir}/{rel}"):
                continue
            try:
                nodes = compose_yaml(read_text(path, rel, limit=MAX_FILE_BYTES), rel)
            except BadInput:
                continue
            yield rel, [_head(n) for n in nodes if isinstance(n, yaml.MappingNode)]


def _head(node) -> tuple[str, str, str]:
    import yaml

    top = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
    meta = top.get("metadata")
    name = ""
    if isinstance(meta, yaml.MappingNode):
        inner = {k.value: v for k, v in meta.value if isinstance(k, yaml.ScalarNode)}
        name = _scalar(inner.get("name"))
    return _scalar(top.get("kind")), _scalar(top.get("apiVersion")), name


def _scalar(node) -> str:
    import yaml

    return node.value if isinstance(node, yaml.ScalarNode) else ""
