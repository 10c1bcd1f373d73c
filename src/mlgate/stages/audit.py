"""`mlgate audit COMMIT`: everything behind one config commit, every hash and signature
re-checked against the files the config repo keeps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from mlgate.stages.audit_inputs import READ_PARAMS, read_target, repo_label, write_markdown
from mlgate.stages.stage import Progress

if TYPE_CHECKING:
    from mlgate.audit.result import AuditResult
    from mlgate.promote.attest import PublicKey
    from mlgate.promote.config import Target
    from mlgate.report.presentation import Presentation


@dataclass(frozen=True)
class AuditConfig:
    target: Target
    commit: str
    key: PublicKey | None
    markdown_path: str | None


@dataclass(frozen=True)
class AuditOutcome:
    result: AuditResult
    target: Target


class Audit:
    name = "audit"
    help = (
        "From one config commit to everything behind it: environment, app, image and model "
        "version, gate verdicts, data hash, model commit, CI run, who and when. Every hash is "
        "re-checked against the evidence the config repo keeps, and the statement's signature "
        "with --public-key; exit 1 when anything is missing, altered, or unsigned where a key "
        "is required. COMMIT is a SHA (7 hex digits at least) or a tag (promote --tag)."
    )
    params: tuple[click.Parameter, ...] = (
        click.Argument(["commit"], metavar="COMMIT"),
        *READ_PARAMS,
        click.Option(["--public-key"], default=None, metavar="FILE",
                     help="PEM public key (Ed25519 or ECDSA P-256) the statement must be "
                     "signed with (promote --attestation-key); an unsigned or otherwise "
                     "signed statement then fails the audit. Keep it in the config repo "
                     "(e.g. .mlgate/attestation.pub) for verifiers."),
    )
    paths = frozenset({"repo", "public_key"})

    def config_from(self, values: Mapping[str, Any], environ: Mapping[str, str]
                    ) -> AuditConfig:
        commit = check_commit(values["commit"])
        key = None
        if values["public_key"]:
            from mlgate.promote.attest import load_public_key

            key = load_public_key(values["public_key"])
        return AuditConfig(read_target(values, environ), commit, key, values["markdown_path"])

    def run(self, config: AuditConfig, progress: Progress) -> AuditOutcome:
        from mlgate.audit.commit import audit
        from mlgate.audit.log import config_log

        import dataclasses

        with config_log(config.target) as log:
            result = audit(log, config.commit, config.key, repo=repo_label(config.target))
            outcomes = log.outcomes([result.commit]).get(result.commit, ())
            result = dataclasses.replace(result, outcomes=tuple(outcomes))
        outcome = AuditOutcome(result, config.target)
        write_markdown(config.markdown_path, self.present, outcome)
        return outcome

    def present(self, outcome: AuditOutcome) -> Presentation:
        from mlgate.report.audit import present_audit

        return present_audit(outcome.result, outcome.target)


def check_commit(text: str) -> str:
    """COMMIT: a SHA (7 hex digits at least) or a tag name as `git check-ref-format` allows
    it under refs/tags/ (promote --tag's names); exit 2 naming COMMIT otherwise."""
    import re

    from mlgate.cluster.revision import check_sha
    from mlgate.errors import BadInput

    if re.fullmatch(r"[0-9a-fA-F]+", text):
        return check_sha(text, "COMMIT", allow_short=True)
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}", text) or ".." in text or \
            "//" in text or text.endswith((".", "/", ".lock")) or "/." in text:
        raise BadInput(f"COMMIT {text[:60]!r}: expected a commit SHA or a tag name")
    return text


STAGE = Audit()
