"""The typed result of the compliance gate: what was judged, every finding, the verdict."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mlgate.comply.documents import DocumentCheck
from mlgate.comply.fairness import FairnessCheck
from mlgate.comply.rego import Finding


@dataclass(frozen=True)
class PolicyInfo:
    path: str
    package: str
    sha256: str
    rules: tuple[str, ...]


@dataclass(frozen=True)
class ComplyResult:
    app: str
    environment: str
    folder: str                       # the environment's folder in the config repo
    config_commit: str                # the head the manifests were read at
    images: tuple[str, ...]
    model_version: str | None
    policies: tuple[PolicyInfo, ...]
    policies_sha256: str
    namespaces: tuple[str, ...]       # conftest packages evaluated per document, beside mlgate.manifest
    files: int                        # YAML files under the folder
    manifests: int                    # documents given to the manifest policies
    changed_files: tuple[str, ...]    # what the promotion's rewrite changes
    findings: tuple[Finding, ...]
    documents: tuple[DocumentCheck, ...]
    fairness: tuple[FairnessCheck, ...] = ()
    duration_s: float = 0.0

    @property
    def failures(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.fails)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if not f.fails)

    @property
    def failed_documents(self) -> tuple[DocumentCheck, ...]:
        return tuple(d for d in self.documents if not d.passed)

    @property
    def failed_fairness(self) -> tuple[FairnessCheck, ...]:
        return tuple(f for f in self.fairness if not f.passed)

    @property
    def passed(self) -> bool:
        return not self.failures and not self.failed_documents and not self.failed_fairness

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["passed"] = self.passed
        data["counts"] = {"deny": len(self.failures), "warn": len(self.warnings),
                          "documents_failed": len(self.failed_documents),
                          "fairness_failed": len(self.failed_fairness)}
        return data
