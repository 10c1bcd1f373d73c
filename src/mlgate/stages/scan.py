"""`mlgate scan`: Trivy on an image, an image tarball or a directory, gated in Python."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from mlgate.stages.params import OutputFile
from mlgate.stages.stage import Progress

if TYPE_CHECKING:
    from mlgate.report.presentation import Presentation
    from mlgate.scan.config import ScanConfig
    from mlgate.scan.result import ScanResult


@dataclass(frozen=True)
class ScanStageConfig:
    core: ScanConfig
    sarif: str | None
    gitlab: str | None
    junit: str | None


@dataclass(frozen=True)
class ScanOutcome:
    result: ScanResult
    paths: dict[str, str]


class Scan:
    name = "scan"
    help = (
        "Scan an image, an image tarball or a directory with Trivy and decide the gate in "
        "Python: severity, CVSS, fix availability and ignore rules."
    )
    params: tuple[click.Parameter, ...] = (
        click.Option(["--image"], default=None, metavar="REF", help="Image reference to scan."),
        click.Option(
            ["--input", "input_"],
            default=None,
            metavar="IMAGE.tar",
            help="Image tarball (docker save / OCI layout) to scan.",
        ),
        click.Option(
            ["--fs"], default=None, metavar="DIR", help="Directory to scan as a filesystem."
        ),
        click.Option(
            ["--config"],
            default=None,
            metavar="DIR",
            help="Directory of IaC / Kubernetes files to scan for misconfigurations.",
        ),
        click.Option(
            ["--scanners"],
            default="vuln,secret",
            show_default=True,
            help="Comma-separated: vuln, secret, misconfig, license.",
        ),
        click.Option(
            ["--fail-on-severity"],
            default="HIGH",
            show_default=True,
            type=click.Choice(
                ["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL", "NONE"], case_sensitive=False
            ),
            help="Fail when a finding is at or above this severity (NONE: never on severity).",
        ),
        click.Option(
            ["--max-cvss"],
            type=float,
            default=None,
            help="Fail when a CVSS v3 base score (highest of NVD and vendors) is above this, "
            "e.g. 7.0.",
        ),
        click.Option(
            ["--ignore-unfixed"], is_flag=True, help="Ignore vulnerabilities with no fix yet."
        ),
        click.Option(
            ["--ignore-file", "ignore_files"],
            multiple=True,
            type=click.Path(dir_okay=False),
            help=".trivyignore or .trivyignore.yaml (expired_at, paths, statement). Repeatable.",
        ),
        click.Option(
            ["--vex", "vex"],
            multiple=True,
            type=click.Path(dir_okay=False),
            help="VEX document (OpenVEX, CycloneDX, CSAF) whose not_affected statements "
            "suppress findings. Repeatable.",
        ),
        click.Option(
            ["--db-repository", "db_repositories"],
            multiple=True,
            metavar="REPO",
            help="Vulnerability DB mirror (OCI repository); several are tried in order. "
            "Repeatable.",
        ),
        click.Option(
            ["--offline"],
            is_flag=True,
            help="Do not update the DB or checks: use what the cache holds.",
        ),
        click.Option(
            ["--cache-dir"],
            default=None,
            type=click.Path(file_okay=False),
            help="Trivy cache (DB) directory (default: the runner's tool cache or "
            "~/.cache/mlgate/trivy).",
        ),
        click.Option(["--timeout"], default="10m", show_default=True, help="Trivy's time limit."),
        click.Option(
            ["--trivy", "trivy_path"],
            default=None,
            type=click.Path(dir_okay=False),
            help="Trivy binary to use (default: $TRIVY, then PATH).",
        ),
        click.Option(
            ["--install-trivy"],
            default=None,
            metavar="VERSION",
            help="Download this Trivy release and verify it against the release's checksums "
            "file before use.",
        ),
        click.Option(
            ["--sarif", "sarif_path"],
            default=None,
            type=OutputFile(),
            help="Write a SARIF 2.1.0 report (GitHub code scanning).",
        ),
        click.Option(
            ["--gitlab-report", "gitlab_path"],
            default=None,
            type=OutputFile(),
            help="Write a GitLab container-scanning report (schema 15.x).",
        ),
        click.Option(
            ["--junit", "junit_path"],
            default=None,
            type=OutputFile(),
            help="Write a JUnit XML report.",
        ),
    )
    paths = frozenset({"input_", "fs", "config"})

    def config_from(self, values: Mapping[str, Any], environ: Mapping[str, str]) -> ScanStageConfig:
        from mlgate.errors import BadInput
        from mlgate.scan.config import Policy, ScanConfig

        targets = [
            (k, values[v])
            for k, v in (
                ("image", "image"),
                ("input", "input_"),
                ("fs", "fs"),
                ("config", "config"),
            )
            if values[v]
        ]
        if len(targets) != 1:
            raise BadInput("give exactly one of --image, --input, --fs or --config")
        kind, target = targets[0]
        fail_on = values["fail_on_severity"].upper()
        core = ScanConfig(
            kind=kind,
            target=target,
            scanners=tuple(s.strip() for s in values["scanners"].split(",") if s.strip()),
            policy=Policy(
                None if fail_on == "NONE" else fail_on, values["max_cvss"], values["ignore_unfixed"]
            ),
            ignore_files=values["ignore_files"],
            vex=values["vex"],
            db_repositories=values["db_repositories"],
            offline=values["offline"],
            cache_dir=values["cache_dir"],
            timeout=values["timeout"],
            trivy=values["trivy_path"],
            install_trivy=values["install_trivy"],
            environ=dict(environ),
        )
        return ScanStageConfig(
            core, values["sarif_path"], values["gitlab_path"], values["junit_path"]
        )

    def run(self, config: ScanStageConfig, progress: Progress) -> ScanOutcome:
        from mlgate.report.scan_files import write_reports
        from mlgate.scan.run import scan

        result = scan(config.core)
        return ScanOutcome(
            result,
            write_reports(result, sarif=config.sarif, gitlab=config.gitlab, junit=config.junit),
        )

    def present(self, outcome: ScanOutcome) -> Presentation:
        from mlgate.report.scan import present

        return present(outcome.result, outcome.paths)


STAGE = Scan()
