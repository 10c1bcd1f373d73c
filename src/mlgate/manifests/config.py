"""The typed input of a rewrite, built once from the CLI and validated before any file is read."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

from mlgate.errors import BadInput
from mlgate.manifests.reference import ImageRef, parse_user_reference

MAX_SET_VALUE = 4096


@dataclass(frozen=True)
class Index:
    index: int

    def __str__(self) -> str:
        return f"[{self.index}]"


@dataclass(frozen=True)
class Match:
    """A list item chosen by a key's value, e.g. parameters[name=model.version]."""

    key: str
    value: str

    def __str__(self) -> str:
        return f"[{self.key}={self.value}]"


Step = Union[str, Index, Match]


@dataclass(frozen=True)
class SetTarget:
    file: str
    path: tuple[Step, ...]
    value: str
    spec: str
    # a key the rewrite adds is written as the value's own YAML type (a number stays a
    # number: KServe's canaryTrafficPercent is an integer); else as a string, as --set does
    typed: bool = False

    @property
    def path_text(self) -> str:
        return format_path(self.path)


@dataclass(frozen=True)
class FluxPolicy:
    policy: str  # "namespace:name"
    ref: ImageRef


@dataclass(frozen=True)
class ImageTarget:
    ref: ImageRef
    expect: ImageRef | None = None


@dataclass(frozen=True)
class RewriteConfig:
    root: str
    paths: tuple[str, ...]
    images: tuple[ImageTarget, ...]
    sets: tuple[SetTarget, ...]
    flux_policies: tuple[FluxPolicy, ...]
    dry_run: bool = False
    diff_path: str | None = None
    allow_missing: bool = False

    @classmethod
    def from_cli(
        cls,
        *,
        root: str,
        paths: tuple[str, ...],
        images: tuple[str, ...],
        sets: tuple[str, ...] = (),
        flux_policies: tuple[str, ...] = (),
        expect_current: tuple[str, ...] = (),
        dry_run: bool = False,
        diff_path: str | None = None,
        allow_missing: bool = False,
    ) -> RewriteConfig:
        refs = [parse_user_reference(text, "--image") for text in images]
        repos = [r.repository for r in refs]
        if len(set(repos)) != len(repos):
            raise BadInput("--image: the same repository is given twice")
        expects: dict[str, ImageRef] = {}
        for text in expect_current:
            exp = parse_user_reference(text, "--expect-current")
            if exp.repository not in repos:
                raise BadInput(f"--expect-current {text!r}: no --image for {exp.repository}")
            expects[exp.repository] = exp
        targets = tuple(ImageTarget(r, expects.get(r.repository)) for r in refs)
        set_targets = tuple(parse_set(s) for s in sets)
        policies = tuple(parse_flux_policy(p) for p in flux_policies)
        if not targets and not set_targets and not policies:
            raise BadInput("nothing to rewrite: give --image, --set or --flux-policy")
        return cls(
            root=root,
            paths=paths,
            images=targets,
            sets=set_targets,
            flux_policies=policies,
            dry_run=dry_run,
            diff_path=diff_path,
            allow_missing=allow_missing,
        )


_POLICY_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?:[a-z0-9]([-a-z0-9.]*[a-z0-9])?", re.ASCII)


def parse_flux_policy(spec: str) -> FluxPolicy:
    policy, eq, ref_text = spec.partition("=")
    policy = policy.strip()
    if not eq or not _POLICY_RE.fullmatch(policy):
        raise BadInput(f"--flux-policy {spec[:120]!r}: expected NAMESPACE:NAME=REF")
    return FluxPolicy(policy, parse_user_reference(ref_text.strip(), "--flux-policy"))


def parse_set(spec: str, value_optional: bool = False) -> SetTarget:
    """Parse FILE:KEY.PATH=VALUE. Keys with dots go in brackets: a["b.c"].d.

    With value_optional, FILE:KEY.PATH alone is accepted (a value to be read, not set).
    """
    file, colon, rest = spec.partition(":")
    if not colon or not file or not rest:
        raise BadInput(f"--set {spec[:120]!r}: expected FILE:KEY.PATH=VALUE")
    try:
        path, value = _split_path_value(rest, spec)
    except BadInput:
        if not value_optional:
            raise
        path, value = rest, ""
    if "\n" in value or "\r" in value or len(value) > MAX_SET_VALUE:
        raise BadInput(f"--set {spec[:60]!r}: the value must be one line under 4 KiB")
    return SetTarget(file=file, path=parse_path(path, spec), value=value, spec=spec)


def _split_path_value(rest: str, spec: str) -> tuple[str, str]:
    depth = 0
    quote = ""
    for i, ch in enumerate(rest):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'" and depth:
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "=" and depth == 0:
            return rest[:i], rest[i + 1 :]
    raise BadInput(f"--set {spec[:120]!r}: expected FILE:KEY.PATH=VALUE (no '=')")


_TOKEN_RE = re.compile(
    r"""\.?(?:
        (?P<key>[^.\[\]=]+)
      | \[(?P<index>[0-9]+)\]
      | \["(?P<dq>[^"]*)"\]
      | \['(?P<sq>[^']*)'\]
      | \[(?P<mkey>[^=\]\["']+)=(?P<mval>[^\]]*)\]
    )""",
    re.VERBOSE | re.ASCII,  # an index is ASCII digits: Unicode \d took "[١]" as [1]
)


def parse_path(text: str, spec: str) -> tuple[Step, ...]:
    steps: list[Step] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m or m.end() == pos or (pos == 0 and text.startswith(".")):
            raise BadInput(f"--set {spec[:120]!r}: cannot parse key path at {text[pos:][:40]!r}")
        if m.group("key") is not None:
            steps.append(m.group("key"))
        elif m.group("index") is not None:
            steps.append(Index(int(m.group("index"))))
        elif m.group("dq") is not None:
            steps.append(m.group("dq"))
        elif m.group("sq") is not None:
            steps.append(m.group("sq"))
        else:
            steps.append(Match(m.group("mkey").strip(), m.group("mval").strip()))
        pos = m.end()
    if not steps:
        raise BadInput(f"--set {spec[:120]!r}: empty key path")
    return tuple(steps)


def format_path(path: tuple[Step, ...]) -> str:
    out = ""
    for step in path:
        if isinstance(step, str):
            if re.fullmatch(r"[^.\[\]=\"']+", step):
                out += ("." if out else "") + step
            else:
                out += f'["{step}"]'
        else:
            out += str(step)
    return out
