"""Reading mlgate.yaml: YAML, then `${NAME}` expansion, then the JSON Schema, then the checks a
schema cannot express (a `from` naming a later environment, a gate with no section).

Every refusal is exit 2 with the file and the key path (`environments[1].from`), because the
person fixing it is looking at the file, not at mlgate's code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from mlgate import safe_load
from mlgate.errors import BadInput
from mlgate.pipeline.canary_section import check_section
from mlgate.interface import section_key
from mlgate.pipeline.schema import GATES

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\$")
# ASCII digits: \d would take any Unicode digit ("٣") as a model version
_MODEL_VERSION_URI = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>[0-9]+)\Z")
MAX_BYTES = 1 << 20


@dataclass(frozen=True)
class Environment:
    name: str
    gates: tuple[str, ...]
    source: str | None            # `from`: the environment whose versions this one takes
    alias: str | None
    set: tuple[str, ...]
    images: tuple[str, ...]
    promote: dict[str, Any]       # the promote section with this environment's overrides
    # after the promotion: wait for the controller, then measure the live model
    wait_sync: dict[str, Any] | None = None
    verify: dict[str, Any] | None = None
    # promote in steps of traffic instead (mlgate canary), judged by the two sections above
    canary: dict[str, Any] | None = None
    # the compliance gate's options for this environment, over the top-level section's
    compliance: dict[str, Any] | None = None


@dataclass(frozen=True)
class PipelineConfig:
    path: Path
    app: str
    model_name: str | None
    model_version: str | None
    sections: dict[str, dict[str, Any]]          # each gate's top-level section, as written
    environments: tuple[Environment, ...]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def environment(self, name: str | None) -> Environment:
        if name is None:
            return self.environments[0]
        for env in self.environments:
            if env.name == name:
                return env
        raise BadInput(f"--environment {name}: not in {self.path.name} (environments: "
                       f"{', '.join(e.name for e in self.environments)})")


def _where(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def expand(value: Any, environ: Mapping[str, str], path: tuple = ()) -> Any:
    """`${NAME}` from the environment in every string ($$ is a literal $); unset is an error."""
    if isinstance(value, dict):
        return {k: expand(v, environ, path + (k,)) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, environ, path + (i,)) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        if name not in environ:
            raise BadInput(f"{_where(path)}: ${{{name}}} is not set in the environment")
        return environ[name]

    return _VAR.sub(sub, value)


def _as_list(value) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return (str(value),)


def load(path: str | Path, environ: Mapping[str, str]) -> PipelineConfig:
    p = Path(path)
    label = str(path)
    # the shared loader: size, UTF-8, nesting depth and alias bombs refused as exit 2
    data = safe_load.load_yaml(str(p), f"--config {label}", limit=MAX_BYTES)
    if not isinstance(data, dict):
        raise BadInput(f"--config {label}: expected a mapping at the top level")
    try:
        data = expand(data, environ)
    except BadInput as exc:
        raise BadInput(f"{label}: {exc}") from None
    _check_schema(label, data)
    return _build(p.resolve(), label, data)


def _check_schema(label: str, data: dict) -> None:
    import jsonschema

    from mlgate.pipeline.schema import option_problem, shipped

    problem = option_problem(data)   # click's own check of each option value, before any gate
    if problem:
        raise BadInput(f"{label}: {_where(problem[0])}: {problem[1]}")
    validator = jsonschema.Draft202012Validator(shipped())
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.absolute_path),
                                                                list(map(str, e.absolute_path))))
    if not errors:
        return
    err = errors[0]
    best = jsonschema.exceptions.best_match([err]) or err
    message = best.message
    if best.validator == "additionalProperties":
        message = message.replace("Additional properties are not allowed", "unknown key(s)")
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    raise BadInput(f"{label}: {_where(best.absolute_path)}: {message}{more}")


def _build(path: Path, label: str, data: dict) -> PipelineConfig:
    model = data.get("model") or {}
    version = model.get("version")
    sections = {g: dict(data[section_key(g)]) for g in GATES if section_key(g) in data}
    name = model.get("name")
    if version is None:
        m = _MODEL_VERSION_URI.match(str((sections.get("benchmark") or {}).get("candidate", "")))
        if m and (name is None or m.group("name") == name):
            version = m.group("version")
    base_promote = dict(data["promote"])
    envs: list[Environment] = []
    seen: set[str] = set()
    for i, raw in enumerate(data["environments"]):
        where = f"environments[{i}]"
        env_name = raw["name"]
        if env_name in seen:
            raise BadInput(f"{label}: {where}.name: {env_name!r} appears twice")
        source = raw.get("from")
        if source is not None and source not in seen:
            raise BadInput(f"{label}: {where}.from: {source!r} is not an earlier environment")
        own = {"comply"} if isinstance(raw.get("compliance"), dict) else set()
        default_gates = () if source else tuple(g for g in GATES if g in sections or g in own)
        gates = tuple(raw.get("gates", default_gates))
        for j, gate in enumerate(gates):
            if gate not in sections and gate not in own:
                raise BadInput(f"{label}: {where}.gates[{j}]: {gate!r} has no "
                               f"{section_key(gate)}: section")
        if source and "comply" in gates:
            raise BadInput(f"{label}: {where}.gates: comply cannot judge a promotion `from` "
                           "another environment yet (its images are known only at the head)")
        alias = raw.get("alias")
        if alias and not name:
            raise BadInput(f"{label}: {where}.alias: needs model.name (the registered model)")
        sets = _as_list(raw.get("set"))
        if any("{version}" in s for s in sets) and version is None and not source:
            raise BadInput(f"{label}: {where}.set uses {{version}} but no model version is "
                           "known: set model.version or benchmark.candidate: models:/NAME/N")
        images = _as_list(raw.get("image", data.get("image")))
        _check_images(label, f"{where}.image" if "image" in raw else "image", images, source)
        if not images and not sets:
            raise BadInput(f"{label}: {where}: nothing to promote: give image (top level or "
                           "here) or set")
        env = Environment(env_name, gates, source, alias, sets, images,
                          {**base_promote, **(raw.get("promote") or {})},
                          _section(raw.get("wait-sync")), _section(raw.get("verify")),
                          _section(raw.get("canary")), _section(raw.get("compliance")))
        if env.canary is not None:
            try:
                check_section(where, env.canary, env.promote, env.wait_sync, env.verify)
            except BadInput as exc:
                raise BadInput(f"{label}: {exc}") from None
        envs.append(env)
        seen.add(env_name)
    return PipelineConfig(path, data["app"], name, None if version is None else str(version),
                          sections, tuple(envs), data)


def _section(value: Any) -> dict[str, Any] | None:
    return dict(value) if isinstance(value, dict) else None


def _check_images(label: str, key: str, images: tuple[str, ...], source: str | None) -> None:
    """Refuse a bad image reference while the file is read, naming the key, so no gate runs
    first (promote would refuse it only after every gate had spent its time)."""
    from mlgate.manifests.reference import parse_user_reference

    for i, image in enumerate(images):
        at = key if len(images) == 1 else f"{key}[{i}]"
        # with from: the image is just the repository to copy; else a tag or digest is needed
        parse_user_reference(image, f"{label}: {at}", need_version=source is None)
