"""Which files a rewrite reads: every PATH kept inside --root, symlinks included.

A config repo can be passed whole: Helm chart templates and other text that only looks like
YAML are skipped and listed, not errors, so one call covers every environment folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from mlgate.errors import BadInput
from mlgate.manifests.result import Skipped

YAML_SUFFIXES = (".yaml", ".yml")
SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__"})


@dataclass(frozen=True)
class Candidate:
    path: str  # real path
    rel: str  # relative to root, for messages and outputs
    explicit: bool  # named directly (not found by walking a directory)


def resolve_root(root: str) -> str:
    real = os.path.realpath(root)
    if not os.path.isdir(real):
        raise BadInput(f"--root {root!r}: not a directory")
    return real


def inside(root: str, path: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def resolve_inside(root: str, given: str, what: str) -> str:
    """Resolve `given` against root; refuse anything that lands outside it."""
    if "\x00" in given or "\n" in given:
        raise BadInput(f"{what} {given!r}: invalid path")
    joined = given if os.path.isabs(given) else os.path.join(root, given)
    real = os.path.realpath(joined)
    if not inside(root, real):
        raise BadInput(f"{what} {given!r}: outside the root {root!r}; refusing")
    if not os.path.exists(real):
        raise BadInput(f"{what} {given!r}: no such file or directory")
    return real


def collect(root: str, paths: tuple[str, ...]) -> tuple[list[Candidate], list[Skipped]]:
    """The YAML files under `paths`, each once, in a stable order."""
    found: dict[str, Candidate] = {}
    skipped: list[Skipped] = []
    for given in paths:
        real = resolve_inside(root, given, "PATH")
        if os.path.isfile(real):
            rel = os.path.relpath(real, root)
            found.setdefault(real, Candidate(real, rel, explicit=True))
            continue
        for cand, skip in _walk(root, real):
            if cand is not None:
                found.setdefault(cand.path, cand)
            if skip is not None:
                skipped.append(skip)
    ordered = sorted(found.values(), key=lambda c: c.rel)
    return ordered, skipped


def _walk(root: str, top: str):
    """Walk with scandir, resolving only symlinks: a config repo can hold tens of thousands
    of files and a realpath per file would cost more than reading them."""
    prefix = len(root.rstrip(os.sep)) + 1  # every path below is under root: slice, no relpath
    stack = [(top, False)]
    while stack:
        directory, in_templates = stack.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            raise BadInput(f"{os.path.relpath(directory, root)}: cannot list: {exc.strerror}") from None
        names = {e.name for e in entries}
        is_chart = "Chart.yaml" in names or "Chart.yml" in names
        subdirs = []
        for entry in entries:
            rel = entry.path[prefix:]
            if entry.is_symlink():
                target = os.path.realpath(entry.path)
                if not inside(root, target):
                    raise BadInput(f"{rel}: symlink points outside the root; refusing")
                if os.path.isdir(target):
                    yield None, Skipped(rel + "/", "symlinked directory, not followed")
                    continue
                if not entry.name.endswith(YAML_SUFFIXES):
                    continue
                if not os.path.isfile(target):
                    yield None, Skipped(rel, "not a regular file")
                    continue
                real = target
                if inside(top, target):
                    # the file written is the target: name it, so git commits (and an API
                    # sends) the target's new content and the link stays a link; a target
                    # outside the walked folder keeps the link's name for the refusal to show
                    rel = target[prefix:]
            elif entry.is_dir(follow_symlinks=False):
                if entry.name not in SKIP_DIRS:
                    subdirs.append((entry.path, in_templates or (is_chart and entry.name == "templates")))
                continue
            elif not entry.name.endswith(YAML_SUFFIXES):
                continue
            elif not entry.is_file(follow_symlinks=False):
                yield None, Skipped(rel, "not a regular file")
                continue
            else:
                real = entry.path
            if in_templates:
                yield None, Skipped(rel, "Helm chart template")
                continue
            yield Candidate(real, rel, explicit=False), None
        stack.extend(reversed(subdirs))
