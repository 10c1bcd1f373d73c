"""What a scan is asked to do: the target, the scanners, Trivy's options and the gate's policy.

The inputs of `mlgate scan`, kept apart from its result (scan/result.py) as in every concern
package: `<package>/config.py` holds what goes in, `<package>/result.py` what comes out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    fail_on_severity: str | None = "HIGH"
    max_cvss: float | None = None
    ignore_unfixed: bool = False


@dataclass(frozen=True)
class ScanConfig:
    kind: str  # image | input | fs | config
    target: str
    scanners: tuple[str, ...]
    policy: Policy
    ignore_files: tuple[str, ...] = ()
    vex: tuple[str, ...] = ()
    db_repositories: tuple[str, ...] = ()
    offline: bool = False
    cache_dir: str | None = None
    timeout: str = "10m"
    trivy: str | None = None
    install_trivy: str | None = None
    environ: Mapping[str, str] | None = None
