"""`mlgate scan`: build Trivy's arguments, run it, read its JSON and decide the gate."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import time
from collections.abc import Mapping

from mlgate import safe_load
from mlgate.errors import BadInput
from mlgate.scan import ignores as ignore_rules
from mlgate.scan import parse
from mlgate.scan import policy as gate
from mlgate.scan.config import ScanConfig
from mlgate.scan.result import SEVERITIES, ScanResult
from mlgate.scan.trivy import Trivy, check_version, locate, run_json

SCANNERS = ("vuln", "secret", "misconfig", "license")
# ASCII digits only: Unicode \d would take "١٠m" (Arabic-Indic digits) as a duration
_DURATION = re.compile(r"([0-9]+)(s|m|h)", re.ASCII)


def parse_timeout(text: str) -> float:
    m = _DURATION.fullmatch(text.strip())
    if not m:
        raise BadInput(f"--timeout {text!r}: expected a duration like 90s, 10m or 1h")
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2)]


def default_cache_dir(environ: Mapping[str, str]) -> str:
    for base in (environ.get("RUNNER_TOOL_CACHE"), environ.get("XDG_CACHE_HOME")):
        if base:
            return os.path.join(base, "mlgate", "trivy")
    return os.path.join(os.path.expanduser("~"), ".cache", "mlgate", "trivy")


def validate(cfg: ScanConfig) -> None:
    from mlgate.manifests.reference import parse_user_reference

    if cfg.kind == "image":
        parse_user_reference(cfg.target, "--image", need_version=False)
    elif cfg.kind == "input":
        if not os.path.isfile(cfg.target):
            raise BadInput(f"--input {cfg.target!r}: no such file")
    elif not os.path.isdir(cfg.target):
        raise BadInput(f"--{cfg.kind} {cfg.target!r}: no such directory")
    unknown = set(cfg.scanners) - set(SCANNERS)
    if unknown or not cfg.scanners:
        raise BadInput(f"--scanners: choose from {', '.join(SCANNERS)}")
    sev = cfg.policy.fail_on_severity
    if sev is not None and sev not in SEVERITIES:
        raise BadInput(f"--fail-on-severity {sev!r}: one of {', '.join(SEVERITIES)}")
    if cfg.policy.max_cvss is not None and not 0 <= cfg.policy.max_cvss <= 10:
        raise BadInput("--max-cvss: between 0 and 10")
    for repo in cfg.db_repositories:
        parse_user_reference(repo, "--db-repository", need_version=False)
    for path in cfg.vex:
        if not os.path.isfile(path):
            raise BadInput(f"--vex {path!r}: no such file")
        # Trivy reads the VEX document, but it is untrusted input all the same: refuse an
        # over-size, too deep or non-JSON one here, as exit 2 naming it, not as a Trivy failure
        safe_load.load_json(path, f"--vex {path}")


def trivy_args(cfg: ScanConfig, cache_dir: str, timeout_s: float) -> list[str]:
    sub = {"image": "image", "input": "image", "fs": "fs", "config": "config"}[cfg.kind]
    # no version check and no telemetry: a gate should not phone home, and offline it cannot
    args = [sub, "--cache-dir", cache_dir, "--timeout", f"{int(timeout_s)}s", "--quiet",
            "--exit-code", "0", "--skip-version-check", "--disable-telemetry"]
    if cfg.kind != "config":
        args += ["--scanners", ",".join(cfg.scanners)]
        if "vuln" in cfg.scanners:
            for repo in cfg.db_repositories:
                args += ["--db-repository", repo]
            if cfg.offline:
                args += ["--skip-db-update", "--skip-java-db-update", "--offline-scan"]
    if cfg.offline:
        args.append("--skip-check-update")
    if cfg.kind != "config" and cfg.vex:
        for path in cfg.vex:
            args += ["--vex", os.path.abspath(path)]
        args.append("--show-suppressed")
    args += ["--severity", ",".join(SEVERITIES)]
    # absolute paths: Trivy runs in an empty directory so that no trivy.yaml or .trivyignore
    # lying in the working directory changes what it reports behind mlgate's back
    if cfg.kind == "input":
        args += ["--input", os.path.abspath(cfg.target)]
    elif cfg.kind == "image":
        args += ["--", cfg.target]
    else:
        args += ["--", os.path.abspath(cfg.target)]
    return args


def _relabel(f, absolute: str, given: str):
    return dataclasses.replace(f, target=f.target.replace(absolute, given),
                               location=f.location.replace(absolute, given))


def _trivy_path(cfg: ScanConfig, cache_dir: str, environ: Mapping[str, str]) -> str:
    """--install-trivy, else --trivy / $TRIVY / PATH; the actions set
    MLGATE_TRIVY_AUTO_INSTALL=<pinned version> so a runner without Trivy gets the pinned,
    checksum-verified release instead of failing."""
    from mlgate.scan.install import install

    if cfg.install_trivy:
        return install(cfg.install_trivy, cache_dir, environ)
    try:
        return locate(cfg.trivy, environ)
    except BadInput:
        pinned = environ.get("MLGATE_TRIVY_AUTO_INSTALL", "").strip()
        if pinned and not cfg.trivy and not environ.get("TRIVY"):
            return install(pinned, cache_dir, environ)
        raise


def scan(cfg: ScanConfig) -> ScanResult:
    environ = dict(cfg.environ if cfg.environ is not None else os.environ)
    validate(cfg)
    rules = [r for path in cfg.ignore_files for r in ignore_rules.load(path)]
    timeout_s = parse_timeout(cfg.timeout)
    cache_dir = os.path.abspath(cfg.cache_dir or default_cache_dir(environ))
    os.makedirs(cache_dir, exist_ok=True)
    path = _trivy_path(cfg, cache_dir, environ)
    trivy: Trivy = check_version(path, environ)
    env = {**environ, "TRIVY_NO_PROGRESS": "true", "TRIVY_DISABLE_VEX_NOTICE": "true"}
    started_at = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    started = time.perf_counter()
    report = run_json(trivy, trivy_args(cfg, cache_dir, timeout_s), env, timeout_s)
    duration = time.perf_counter() - started
    found, suppressed = parse.findings(report)
    if cfg.kind != "image":
        # Trivy names targets by the absolute path it was given; reports carry the target as
        # the user gave it, so alert identities do not change with the runner's checkout path
        given, absolute = cfg.target, os.path.abspath(cfg.target)
        found = [_relabel(f, absolute, given) for f in found]
        suppressed = [(_relabel(f, absolute, given), src, st) for f, src, st in suppressed]
    judged, notes = gate.decide(found, suppressed, rules, cfg.policy, dt.date.today())
    metadata = report.get("Metadata") if isinstance(report.get("Metadata"), dict) else {}
    os_info = metadata.get("OS") if isinstance(metadata.get("OS"), dict) else {}
    os_name = " ".join(str(os_info.get(k, "")) for k in ("Family", "Name")).strip()
    return ScanResult(
        target=cfg.target,
        target_kind=cfg.kind,  # type: ignore[arg-type]
        scanners=cfg.scanners if cfg.kind != "config" else ("misconfig",),
        policy=cfg.policy,
        findings=tuple(judged),
        ignores=tuple(notes),
        trivy_version=trivy.version,
        trivy_path=trivy.path,
        artifact_name=str(report.get("ArtifactName", ""))[:500].replace(
            os.path.abspath(cfg.target), cfg.target) if cfg.kind != "image"
        else str(report.get("ArtifactName", ""))[:500],
        os=os_name[:200],
        duration_s=duration,
        started_at=started_at,
    )
