"""`mlgate comply`: judge a release before its commit, on the manifests after the rewrite.

Order matters for what a user sees first: everything given on the command line is checked
(policies compile-free reading, evidence, document rules) before the config repo is cloned, so
a typo is exit 2 in milliseconds; the clone and the rewrite come next. The policies run in one
child process, started before the clone and fed each file's documents as soon as they are
parsed (so on two cores the evaluation overlaps the reading), the release last.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mlgate.comply.documents import DocumentSpec, check_documents
from mlgate.comply.fairness import judge, parse_limits
from mlgate.comply.policies import (
    MANIFEST_PACKAGE,
    RELEASE_PACKAGE,
    Policies,
    check_namespace,
    load_policies,
)
from mlgate.comply.rego import Evaluation, Subject
from mlgate.comply.release import gates_from, release_input
from mlgate.comply.result import ComplyResult, PolicyInfo
from mlgate.errors import BadInput


@dataclass(frozen=True)
class ComplyConfig:
    repo: str
    app: str
    environment: str
    env_path: str
    images: tuple[str, ...] = ()
    sets: tuple[str, ...] = ()
    provider: str = "git"
    base: str = "main"
    policies: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ("main",)
    evidence: tuple[str, ...] = ()
    model_version: str | None = None
    documents: tuple[DocumentSpec, ...] = ()
    fairness: tuple[str, ...] = ()   # --fairness limits on the benchmark's per-group figures
    model_repo: str = "."
    environ: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 300.0


def comply(cfg: ComplyConfig, idle: Callable[[], None] | None = None) -> ComplyResult:
    """The gate's verdict; `idle` is run while the policies' child finishes its last
    documents (the stage imports its report then)."""
    started = time.monotonic()
    if not cfg.policies and not cfg.documents and not cfg.fairness:
        raise BadInput("nothing to judge: give --policy, --document or --fairness")
    limits, min_group_size = parse_limits(cfg.fairness)
    for name in cfg.namespaces:
        check_namespace(name)
    policies = load_policies(cfg.policies) if cfg.policies else Policies(())
    gates = gates_from(cfg.evidence)
    fairness = judge(limits, min_group_size, gates.get("benchmark"), "the benchmark's result")
    version = cfg.model_version or _candidate_version(gates)
    if any(d.version for d in cfg.documents) and not version:
        raise BadInput("--document …:version needs the candidate's version: give "
                       "--model-version or the benchmark's result with --evidence")
    from mlgate.comply.manifests import read_environment

    meta = {"app": cfg.app, "environment": cfg.environment, "folder": cfg.env_path}
    manifest_packages = (MANIFEST_PACKAGE, *cfg.namespaces)
    with Evaluation(policies, meta, timeout=cfg.timeout) as rego:  # the child starts now
        rego.prepare(manifest_packages)
        env = read_environment(repo=cfg.repo, provider=cfg.provider, base=cfg.base,
                               app=cfg.app, environment=cfg.environment,
                               env_path=cfg.env_path, images=cfg.images, sets=cfg.sets,
                               environ=cfg.environ,
                               sink=lambda found: rego.submit(manifest_packages, found))
        checks, facts = check_documents(cfg.documents, cfg.model_repo, version)
        release = release_input(app=cfg.app, environment=cfg.environment, images=cfg.images,
                                gates=gates, version=version, documents=facts,
                                environ=cfg.environ)
        rego.submit((RELEASE_PACKAGE,), (Subject(release),))
        findings = rego.findings(idle)
    return ComplyResult(
        app=cfg.app,
        environment=cfg.environment,
        folder=env.folder,
        config_commit=env.commit,
        images=cfg.images,
        model_version=version,
        policies=tuple(PolicyInfo(f.path, f.package, f.sha256, f.rules) for f in policies.files),
        policies_sha256=policies.sha256 if policies.files else "",
        namespaces=cfg.namespaces,
        files=env.files,
        manifests=len(env.subjects),
        changed_files=env.rewrite.files,
        findings=tuple(findings),
        documents=tuple(checks),
        fairness=tuple(fairness),
        duration_s=round(time.monotonic() - started, 3),
    )


def _candidate_version(gates: dict[str, Any]) -> str | None:
    from mlgate.comply.release import candidate

    version = candidate(gates).get("version")
    return None if version in (None, "") else str(version)
