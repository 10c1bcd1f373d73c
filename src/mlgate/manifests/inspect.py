"""Reading what an environment runs now: the current reference of each image, and values at
key paths. Promotions need it for the commit message, for --from-environment, and for
rollback's expectations, and it must agree exactly with what rewrite would change.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlgate.errors import BadInput
from mlgate.manifests.config import SetTarget
from mlgate.manifests.files import collect, resolve_inside, resolve_root
from mlgate.manifests.kinds.set_path import find_set
from mlgate.manifests.reference import ImageRef
from mlgate.manifests.walker import walk
from mlgate.manifests.yamldoc import Templated, load_relevant


@dataclass(frozen=True)
class Seen:
    file: str
    path: str
    ref: ImageRef


def current_references(root: str, paths: tuple[str, ...], repos: list[str]) -> dict[str, list[Seen]]:
    """Every reference to each repository under paths, with its current tag/digest."""
    real_root = resolve_root(root)
    candidates, _ = collect(real_root, paths)
    probe = {repo: ImageRef(repo, repo, "mlgate-probe", None) for repo in repos}
    short = tuple({r.rsplit("/", 1)[-1] for r in repos})
    seen: dict[str, list[Seen]] = {repo: [] for repo in repos}
    for cand in candidates:
        try:
            doc = load_relevant(cand.path, cand.rel, short, cand.explicit)
        except Templated:
            continue
        if doc is None:
            continue
        found, _ = walk(doc, probe, False)
        for f in found:
            if f.current is not None and f.target in seen:
                entry = Seen(cand.rel, f.display, f.current)
                if entry not in seen[f.target]:
                    seen[f.target].append(entry)
    return seen


def single_version(seen: list[Seen], repo: str, where: str) -> ImageRef:
    """The one version an environment runs of a repository; several is ambiguous (exit 2)."""
    versions = {(s.ref.tag, s.ref.digest) for s in seen}
    if not versions:
        raise BadInput(f"no reference to {repo} found in {where}")
    if len(versions) > 1:
        shown = ", ".join(sorted(f"{s.file}: {s.ref}" for s in seen))[:400]
        raise BadInput(f"{where} holds several versions of {repo}: {shown}")
    tag, digest = versions.pop()
    name = seen[0].ref.name
    return ImageRef(name, repo, tag, digest)


def current_value(root: str, target: SetTarget) -> str:
    """The value at target's file and key path (its value part is ignored)."""
    real_root = resolve_root(root)
    real = resolve_inside(real_root, target.file, "--set file")
    rel = target.file
    doc = load_relevant(real, rel)
    assert doc is not None
    found = [f for f in find_set(doc, target) if f.node is not None]
    values = {f.old for f in found}
    if len(values) != 1:
        raise BadInput(f"{rel}: {target.path_text} not found or not one value")
    return values.pop() or ""
