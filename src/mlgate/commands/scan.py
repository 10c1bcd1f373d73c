"""`mlgate scan`: Trivy on an image, an image tarball or a directory, gated in Python."""

from __future__ import annotations

import click

from mlgate.commands.common import OutputFile, current_environ, finish, json_option

OUTPUTS: dict[str, str] = {
    "passed": "true when no finding blocks the promotion, else false.",
    "critical": "Number of CRITICAL findings (ignored ones not counted).",
    "high": "Number of HIGH findings.",
    "medium": "Number of MEDIUM findings.",
    "low": "Number of LOW findings.",
    "unknown": "Number of findings of UNKNOWN severity.",
    "max-cvss": "Highest CVSS v3 base score among the findings not ignored, or empty.",
    "sarif": "Path of the SARIF report, when --sarif was given.",
    "gitlab-report": "Path of the GitLab container-scanning report, when --gitlab-report was given.",
    "junit": "Path of the JUnit report, when --junit was given.",
}


@click.command("scan", help="Scan an image, an image tarball or a directory with Trivy and "
               "decide the gate in Python: severity, CVSS, fix availability and ignore rules.")
@click.option("--image", default=None, metavar="REF", help="Image reference to scan.")
@click.option("--input", "input_", default=None, metavar="IMAGE.tar",
              help="Image tarball (docker save / OCI layout) to scan.")
@click.option("--fs", default=None, metavar="DIR", help="Directory to scan as a filesystem.")
@click.option("--config", default=None, metavar="DIR",
              help="Directory of IaC / Kubernetes files to scan for misconfigurations.")
@click.option("--scanners", default="vuln,secret", show_default=True,
              help="Comma-separated: vuln, secret, misconfig, license.")
@click.option("--fail-on-severity", default="HIGH", show_default=True,
              type=click.Choice(["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL", "NONE"],
                                case_sensitive=False),
              help="Fail when a finding is at or above this severity (NONE: never on severity).")
@click.option("--max-cvss", type=float, default=None,
              help="Fail when a CVSS v3 base score (highest of NVD and vendors) is above this, "
                   "e.g. 7.0.")
@click.option("--ignore-unfixed", is_flag=True, help="Ignore vulnerabilities with no fix yet.")
@click.option("--ignore-file", "ignore_files", multiple=True, type=click.Path(dir_okay=False),
              help=".trivyignore or .trivyignore.yaml (expired_at, paths, statement). "
                   "Repeatable.")
@click.option("--vex", "vex", multiple=True, type=click.Path(dir_okay=False),
              help="VEX document (OpenVEX, CycloneDX, CSAF) whose not_affected statements "
                   "suppress findings. Repeatable.")
@click.option("--db-repository", "db_repositories", multiple=True, metavar="REPO",
              help="Vulnerability DB mirror (OCI repository); several are tried in order. "
                   "Repeatable.")
@click.option("--offline", is_flag=True,
              help="Do not update the DB or checks: use what the cache holds.")
@click.option("--cache-dir", default=None, type=click.Path(file_okay=False),
              help="Trivy cache (DB) directory (default: the runner's tool cache or "
                   "~/.cache/mlgate/trivy).")
@click.option("--timeout", default="10m", show_default=True, help="Trivy's time limit.")
@click.option("--trivy", "trivy_path", default=None, type=click.Path(dir_okay=False),
              help="Trivy binary to use (default: $TRIVY, then PATH).")
@click.option("--install-trivy", default=None, metavar="VERSION",
              help="Download this Trivy release and verify it against the release's checksums "
                   "file before use.")
@click.option("--sarif", "sarif_path", default=None, type=OutputFile(),
              help="Write a SARIF 2.1.0 report (GitHub code scanning).")
@click.option("--gitlab-report", "gitlab_path", default=None, type=OutputFile(),
              help="Write a GitLab container-scanning report (schema 15.x).")
@click.option("--junit", "junit_path", default=None, type=OutputFile(),
              help="Write a JUnit XML report.")
@json_option
def command(**kw) -> int:
    from mlgate.errors import BadInput
    from mlgate.report.scan import present
    from mlgate.report.scan_files import write_reports
    from mlgate.scan.config import Policy, ScanConfig
    from mlgate.scan.run import scan

    targets = [(k, kw[v]) for k, v in (("image", "image"), ("input", "input_"), ("fs", "fs"),
                                        ("config", "config")) if kw[v]]
    if len(targets) != 1:
        raise BadInput("give exactly one of --image, --input, --fs or --config")
    kind, target = targets[0]
    fail_on = kw["fail_on_severity"].upper()
    environ = current_environ()
    cfg = ScanConfig(
        kind=kind,
        target=target,
        scanners=tuple(s.strip() for s in kw["scanners"].split(",") if s.strip()),
        policy=Policy(None if fail_on == "NONE" else fail_on, kw["max_cvss"],
                      kw["ignore_unfixed"]),
        ignore_files=kw["ignore_files"],
        vex=kw["vex"],
        db_repositories=kw["db_repositories"],
        offline=kw["offline"],
        cache_dir=kw["cache_dir"],
        timeout=kw["timeout"],
        trivy=kw["trivy_path"],
        install_trivy=kw["install_trivy"],
        environ=environ,
    )
    result = scan(cfg)
    paths = write_reports(result, sarif=kw["sarif_path"], gitlab=kw["gitlab_path"],
                          junit=kw["junit_path"])
    return finish(present(result, paths), kw["json_path"])
