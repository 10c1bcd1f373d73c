"""The environment's manifests as the promotion would leave them, read and never written.

The config repo's base branch is cloned shallow into a private folder (a local path too, so a
working tree's uncommitted edits are not judged as if they were in git), the promotion's plan is
made exactly as promote makes it (same --path/--layout, --image, --set, confinement), and the
rewrite runs as a dry run whose new texts are taken from memory. Every YAML document under the
environment folder, changed or not, is then one policy input with its file and line.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from mlgate import safe_load
from mlgate.comply.rego import Subject
from mlgate.errors import BadInput, ServiceError
from mlgate.manifests.result import RewriteResult

MAX_DOCUMENTS = 100_000


@dataclass(frozen=True)
class Environment:
    subjects: tuple[Subject, ...]
    rewrite: RewriteResult
    folder: str          # the environment's folder in the config repo
    commit: str          # the base branch's head the manifests were read at
    files: int


def read_environment(*, repo: str, provider: str, base: str, app: str, environment: str,
                     env_path: str, images: tuple[str, ...], sets: tuple[str, ...],
                     environ: Mapping[str, str],
                     sink: Callable[[list[Subject]], None] | None = None) -> Environment:
    """The environment's documents after the rewrite; each file's documents are also handed to
    `sink` as soon as they are parsed (the policies' child judges them meanwhile)."""
    from mlgate.promote.config import Identity, Options, PromoteConfig
    from mlgate.promote.git import (
        Git,
        GitError,
        describe_failure,
        memory_tempdir,
        private_tempdir,
    )
    from mlgate.promote.promote import make_planner
    from mlgate.promote.settings import build_target

    target = build_target(repo=repo, provider=provider, mode="push", base=base, api_url=None,
                          environ=environ)
    me = Identity("mlgate", "mlgate@localhost")
    cfg = PromoteConfig(target=target, options=Options(me, me), app=app,
                        environment=environment, env_path=env_path, images=images, sets=sets,
                        environ=dict(environ))
    plan = make_planner(cfg, describe=False)  # a bad --image / --set: exit 2 before cloning
    private = private_tempdir("mlgate-comply-")
    work = None
    try:
        git = Git(private, target.credentials, private)
        repo = f"{private}/config"
        try:
            git.run("clone", "--quiet", "--no-checkout", *_borrowed(target.url),
                    "--single-branch", "--branch", base, "--no-tags", "--",
                    _source(target.url), repo)
            head = git.run("rev-parse", "HEAD", cwd=repo).stdout.strip()
            # the files are written where writing them is cheapest: in memory when they fit
            work = memory_tempdir("mlgate-comply-", _tree_size(git, repo))
            checkout = work or repo
            git.run(f"--work-tree={checkout}", "checkout", "--quiet", "--force", cwd=repo)
        except GitError as exc:
            raise ServiceError(describe_failure(exc, target.url)) from None
        return _documents(checkout, plan, env_path, head, sink)
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(private, ignore_errors=True)


def _borrowed(url: str) -> tuple[str, ...]:
    """A repository on this machine is borrowed (`--shared`: its objects are read in place,
    nothing is copied), since the scratch clone only reads and is gone at the end; a remote
    one is fetched shallow."""
    return ("--shared",) if url.startswith("file://") else ("--depth", "1")


def _source(url: str) -> str:
    # --shared works on a path, not a file:// URL (which always goes through a transport)
    return url[len("file://"):] if url.startswith("file://") else url


def _tree_size(git, repo: str) -> int:
    """The bytes a checkout of HEAD writes (its blobs' sizes; `git ls-tree -l`)."""
    out = git.run("ls-tree", "-r", "-l", "-z", "HEAD", cwd=repo).stdout
    total = 0
    for entry in out.split("\0"):
        fields = entry.split("\t", 1)[0].split()
        if len(fields) == 4 and fields[3].isdigit():
            total += int(fields[3])
    return total


def _documents(checkout: str, plan, env_path: str, head: str,
               sink: Callable[[list[Subject]], None] | None) -> Environment:
    from mlgate.manifests.engine import rewrite
    from mlgate.manifests.files import collect
    from mlgate.manifests.yamldoc import read_text

    planned = plan(checkout)
    candidates, _ = collect(checkout, (env_path,))
    pending = {c.rel: c for c in candidates}
    subjects: list[Subject] = []

    def take(cand, text: str | None, nodes: list | None) -> None:
        if pending.pop(cand.rel, None) is None:
            return  # outside the environment's folder (a --set file elsewhere), or seen
        if text is None:
            text, _ = read_text(cand.path, cand.rel)
        try:
            found = documents_of(text, cand.rel, nodes)
        except BadInput:
            if "{{" in text and not cand.explicit:
                return  # a Go/Helm template: not YAML until rendered, as the rewrite skips it
            raise
        subjects.extend(found)
        if len(subjects) > MAX_DOCUMENTS:
            raise BadInput(f"{env_path}: more than {MAX_DOCUMENTS} YAML documents")
        if sink is not None and found:
            sink(found)

    # each file judged as soon as the rewrite has planned it, from the nodes it parsed
    result = rewrite(replace(planned.config, dry_run=True), observe=take, diff=False)
    for cand in candidates:
        if cand.rel in pending:   # a file the rewrite was not asked to look at
            take(cand, None, None)
    return Environment(tuple(subjects), result, env_path, head, len(candidates))


def documents_of(text: str, rel: str, nodes: list | None = None) -> list[Subject]:
    """Every non-empty document of a YAML stream with the line it starts on; the shared
    loader's limits apply (depth, alias expansion), malformed YAML is exit 2 naming file:line.
    `nodes`, when the rewrite has composed the text already (within the same limits), are
    constructed without parsing the text again."""
    import yaml

    if nodes is not None:
        loader = safe_load.loader_class()("")
        try:
            return [Subject(value, rel, node.start_mark.line + 1, _resource(value))
                    for node in nodes if node is not None
                    for value in (loader.construct_document(node),) if value is not None]
        except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as exc:
            raise BadInput(f"{rel}: malformed YAML: {str(exc).splitlines()[0][:200]}") from None
        finally:
            loader.dispose()
    safe_load.check_yaml_depth(text, rel)
    loader = safe_load.loader_class()(text.lstrip("\ufeff"))
    out: list[Subject] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            if "*" in text:
                safe_load.check_alias_expansion([node], rel)
            value = loader.construct_document(node)
            if value is None:
                continue
            out.append(Subject(value, rel, node.start_mark.line + 1, _resource(value)))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{rel}:{mark.line + 1}" if mark is not None else rel
        raise BadInput(f"{where}: malformed YAML: {exc.problem or exc.context}") from None
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise BadInput(f"{rel}: malformed YAML: {str(exc).splitlines()[0][:200]}") from None
    finally:
        loader.dispose()
    return out


def _resource(value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    kind = value.get("kind")
    meta = value.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if isinstance(kind, str) and isinstance(name, str):
        return f"{kind}/{name}"
    return kind if isinstance(kind, str) else ""
